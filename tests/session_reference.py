"""An independent, deliberately plain implementation of ../shared/docs/session-metrics.md:
one Python loop per session, no shared code with rerankit.sessions. Tests compare the two."""

from __future__ import annotations

import math


def gain(r, kind):
    if r <= 0:
        return 0.0
    return 2.0 ** r - 1.0 if kind == "exp" else float(r)


def labels_at(session, i, enhance, source, qrels=None):
    """rel(i, d) for every document d known to the session."""
    rel = {}
    inters = session["interactions"]
    if source == "qrels":
        return dict(qrels)
    for j, it in enumerate(inters):
        for pos, d in enumerate(it["results"]):
            if source == "labels":
                value = it.get("labels", [None] * len(it["results"]))[pos]
                if value is None:
                    continue
            else:
                value = it.get("clicks", [0] * len(it["results"]))[pos]
                if enhance == "none" and j != i:
                    continue
                if enhance == "forward" and j < i:
                    continue
            rel[d] = max(rel.get(d, -math.inf), value)
    return rel


def ideal_set(session, source, qrels=None):
    best = {}
    for i in range(len(session["interactions"])):
        for d, r in labels_at(session, i, "session", source, qrels).items():
            best[d] = max(best.get(d, -math.inf), r)
    return {d: r for d, r in best.items() if r > 0}


def num_and_u(session, depth, L, c, kind, enhance, source="clicks", qrels=None):
    pos, u, credited = 0.0, 0.0, set()
    for i, it in enumerate(session["interactions"]):
        rel = labels_at(session, i, enhance, source, qrels)
        if i > 0:
            pos += c
        for d in it["results"][:depth]:
            pos += 1
            r = rel.get(d, 0)
            if r > 0 and d not in credited:
                credited.add(d)
                u += gain(r, kind) * max(0.0, 1 - pos / L)
    ideal = sorted(ideal_set(session, source, qrels).items(),
                   key=lambda x: (-gain(x[1], kind), x[0]))
    u_ideal = sum(gain(r, kind) * max(0.0, 1 - (k + 1) / L) for k, (_, r) in enumerate(ideal))
    return (u / u_ideal if u_ideal > 0 else math.nan), u


def sdcg_pair(session, depth, kind, b, bq, source, enhance="forward", qrels=None):
    total = 0.0
    n = len(session["interactions"])
    for j, it in enumerate(session["interactions"], 1):
        rel = labels_at(session, j - 1, enhance, source, qrels)
        inner, seen = 0.0, set()
        for r, d in enumerate(it["results"][:depth], 1):
            if d not in seen:  # a document listed twice gains once per list
                inner += gain(rel.get(d, 0), kind) / math.log(r + b - 1, b)
            seen.add(d)
        total += inner / math.log(j + bq - 1, bq)
    ideal = sorted(ideal_set(session, source, qrels).values(), reverse=True)[:depth]
    idcg = sum(gain(r, kind) / math.log(k + b - 1, b) for k, r in enumerate(ideal, 1))
    ideal_session = idcg * sum(1 / math.log(j + bq - 1, bq) for j in range(1, n + 1))
    return total, (total / ideal_session if ideal_session > 0 else math.nan)


def srbp(session, depth, p, b, source, enhance="forward", qrels=None):
    total = 0.0
    for m, it in enumerate(session["interactions"], 1):
        rel = labels_at(session, m - 1, enhance, source, qrels)
        seen = set()
        for k, d in enumerate(it["results"][:depth], 1):
            r = 1.0 if rel.get(d, 0) > 0 and d not in seen else 0.0
            seen.add(d)
            total += ((p - b * p) / (1 - b * p)) ** (m - 1) * (b * p) ** (k - 1) * r
    return (1 - p) * total
