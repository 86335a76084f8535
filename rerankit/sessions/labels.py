"""Relevance of every item of the lists being scored, derived from a session log.

Sources (``labels=``):
* ``"clicks"`` with ``enhance`` (spec: "Labels from clicks"): ``none`` rel(i, d) is the click
  on d at interaction i; ``forward`` (NUM paper's assumption A2, default) the maximum click on
  d at interaction i or later; ``session`` the maximum click on d anywhere in the session;
* ``"labels"``: the graded labels in the log (topic-level judgements such as TREC Session's),
  rel(i, d) = the label of d in that session whatever i;
* ``"gains"``: the real-valued gains in the log (e.g. cwl gain files' 0.2/0.4/0.6), used as
  labels like ``"labels"``; the metrics then use them as gains as they are;
* ``"qrels"``: the session's judgements, rel(i, d) = qrels(d);
* ``"auto"`` (:func:`resolve_source`): the first of clicks, gains, labels, qrels the log has.

Asking for a source the log has no values of is an error naming the missing field, never a
log of zeros.

The lists may be the ones logged (log evaluation) or a system's (system evaluation): a
document the log never showed gets rel = 0 from clicks and labels. A document shown twice in
one list counts as clicked at i if either occurrence was clicked.

All of it is one stable sort of the items by (session, document) and segmented maxima, so
a million sessions take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import (
    encode_strings,
    group_starts,
    max_within_groups,
    ranks_within_groups,
    suffix_max_within_groups,
)
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.sessions.model import SessionLog

LabelSource = Literal["auto", "clicks", "labels", "gains", "qrels"]
SOURCES = ("clicks", "gains", "labels", "qrels")
_FIELD = {"clicks": "'clicks' or 'clicked'", "labels": "'labels'", "gains": "'gains'",
          "qrels": "'qrels'"}
Enhance = Literal["none", "forward", "session"]
LengthSource = Literal["unit", "lengths", "dwell"]


def resolve_source(log: SessionLog, labels: str) -> str:
    """The label source to use: ``labels`` itself if the log has values for it, the first
    source the log holds for ``"auto"``; an error naming the missing field otherwise."""
    holds = log.holds()
    if labels == "auto":
        for source in SOURCES:
            if holds[source]:
                return source
        raise InputFormatError(log.source, "nothing to score with: no session has "
                               f"{', '.join(_FIELD[s] for s in SOURCES)}")
    if labels not in SOURCES:
        raise ValueError(f"labels must be auto, {', '.join(SOURCES)}, got {labels!r}")
    if not holds[labels]:
        present = [s for s in SOURCES if holds[s]]
        hint = f"; it has {', '.join(present)} (use --labels {present[0]} or auto)" \
            if present else ""
        raise InputFormatError(log.source, f"labels={labels!r} but no session has field "
                               f"{_FIELD[labels]}{hint}")
    return labels


@dataclass(frozen=True)
class Lists:
    """Ranked lists to score, one per interaction of the log (items sorted by interaction
    then rank). Document codes index the log's ``doc_ids``; codes >= len(doc_ids) are
    documents the log never showed."""

    item_inter: np.ndarray
    item_rank: np.ndarray
    item_doc: np.ndarray
    logged: bool = False            # these are the log's own items

    @classmethod
    def shown(cls, log: SessionLog) -> Lists:
        """The lists the users saw."""
        return cls(log.item_inter, log.item_rank, log.item_doc, logged=True)

    @classmethod
    def from_run(cls, log: SessionLog, run: Run) -> Lists:
        """A system's lists: run query ids are ``<session id>:<interaction>`` (1-based, the
        interaction's position in its session), ranked as trec_eval ranks. Interactions the
        run has no rows for get an empty list (the user still pays the reformulation)."""
        ranked = run.ranked()
        codes, distinct = encode_strings(ranked.qid)
        ordinal = log.interaction_ordinal()
        index = {f"{log.session_ids[s]}:{o}": i for i, (s, o) in
                 enumerate(zip(log.inter_session.tolist(), ordinal.tolist(), strict=True))}
        names = pc.cast(distinct, pa.string()).to_pylist()
        unknown = [q for q in names if q not in index]
        if unknown:
            raise InputFormatError(run.origin, f"run query '{unknown[0]}' is not a "
                                   "'<session id>:<interaction>' of the sessions "
                                   f"({len(unknown)} unknown ids)")
        inter = np.array([index[q] for q in names], dtype=np.int64)[codes]
        rank = ranks_within_groups(codes)
        known = pc.index_in(ranked.docid, value_set=pa.array(log.doc_ids, type=pa.string()))
        unseen_codes, _ = encode_strings(ranked.docid)
        doc = np.where(pc.is_valid(known).to_numpy(zero_copy_only=False),
                       known.fill_null(0).to_numpy(zero_copy_only=False),
                       len(log.doc_ids) + unseen_codes).astype(np.int64)
        order = np.lexsort((rank, inter))
        return cls(inter[order], rank[order], doc[order])


@dataclass(frozen=True)
class Judged:
    """What the metrics need: per list item its relevance and reading cost, and per session
    the ideal set (documents with a positive label, with their label and cost)."""

    item_session: np.ndarray
    item_inter: np.ndarray
    item_rank: np.ndarray
    item_doc: np.ndarray
    item_rel: np.ndarray
    item_length: np.ndarray
    ideal_session: np.ndarray
    ideal_doc: np.ndarray
    ideal_rel: np.ndarray
    ideal_length: np.ndarray
    inter_session: np.ndarray      # per interaction of the log: its session
    inter_ordinal: np.ndarray      # per interaction of the log: 1-based position in session


def judge(log: SessionLog, lists: Lists, labels: LabelSource = "auto",
          enhance: Enhance = "forward", length: LengthSource = "unit") -> Judged:
    """Relevance and length of every list item, and each session's ideal set."""
    labels = resolve_source(log, labels)
    if enhance not in ("none", "forward", "session"):
        raise ValueError(f"enhance must be none, forward or session, got {enhance!r}")
    if length not in ("unit", "lengths", "dwell"):
        raise ValueError(f"length must be unit, lengths or dwell, got {length!r}")
    width = np.int64(max(len(log.doc_ids), int(lists.item_doc.max(initial=0)) + 1))
    item_session = log.inter_session[lists.item_inter]
    cost = {"unit": None, "lengths": log.item_length, "dwell": log.item_dwell}[length]
    if cost is not None and np.isnan(cost).any():
        first = int(np.flatnonzero(np.isnan(cost))[0])
        inter = int(log.item_inter[first])
        field_name = "lengths" if length == "lengths" else "dwell"
        raise InputFormatError(log.source, f"length={length!r} needs field '{field_name}' for "
                               f"every shown result; session "
                               f"'{log.session_ids[log.inter_session[inter]]}', interaction "
                               f"{int(log.interaction_ordinal()[inter])} has none")

    # Events: what the log says about (session, document) at an interaction.
    event_value = {"clicks": log.item_click, "labels": log.item_label,
                   "gains": log.item_gain, "qrels": log.item_label}[labels]
    has_value = ~np.isnan(event_value)
    mode = enhance if labels == "clicks" else "session"
    if lists.logged and labels != "qrels":
        n_events = 0
        session, doc, inter = item_session, lists.item_doc, lists.item_inter
        value = np.where(has_value, event_value, -np.inf)
        event_mask = has_value
    else:
        if labels == "qrels":
            ev_session, ev_doc = log.qrels_session, log.qrels_doc
            ev_inter, ev_value = np.full(ev_session.size, -1), log.qrels_grade
        else:
            ev_session = log.inter_session[log.item_inter[has_value]]
            ev_doc, ev_inter = log.item_doc[has_value], log.item_inter[has_value]
            ev_value = event_value[has_value]
        n_events = ev_session.size
        session = np.concatenate([ev_session, item_session])
        doc = np.concatenate([ev_doc, lists.item_doc])
        inter = np.concatenate([ev_inter, lists.item_inter])
        value = np.concatenate([ev_value, np.full(lists.item_doc.size, -np.inf)])
        event_mask = np.arange(session.size) < n_events
    group = session * width + doc
    # Inside a group, items in interaction order (log items already are; the log's events and
    # a system's items are interleaved by interaction, events first at equal interaction).
    order = np.argsort(group, kind="stable") if n_events == 0 else np.lexsort((inter, group))
    g, t, v = group[order], inter[order], value[order]
    if mode == "session":
        best = max_within_groups(v, g)
    else:
        new_block = np.r_[True, (g[1:] != g[:-1]) | (t[1:] != t[:-1])]
        at_interaction = max_within_groups(v, np.cumsum(new_block))  # duplicates: either
        best = suffix_max_within_groups(at_interaction, g) if mode == "forward" else \
            at_interaction
    rel = np.empty_like(best)
    rel[order] = best
    item_rel = rel[n_events:] if n_events else rel
    item_rel = np.where(np.isfinite(item_rel), item_rel, 0.0)

    # The ideal set: every (session, document) with a positive label, cost of first reading.
    group_max = np.empty_like(best)
    group_max[order] = max_within_groups(np.where(event_mask[order], v, -np.inf), g)
    first_of_group = np.zeros(group.size, dtype=bool)
    first_of_group[order[group_starts(g)]] = True
    keep = first_of_group & (group_max > 0) & np.isfinite(group_max)
    if labels == "qrels":
        keep &= event_mask
    ideal_session, ideal_doc, ideal_rel = session[keep], doc[keep], group_max[keep]

    item_length = np.ones(lists.item_doc.size)
    ideal_length = np.ones(ideal_doc.size)
    if cost is not None:
        item_length, ideal_length = _lengths(log, cost, item_session, lists.item_doc,
                                             ideal_session, ideal_doc, width, lists.logged)
    return Judged(item_session, lists.item_inter, lists.item_rank, lists.item_doc, item_rel,
                  item_length, ideal_session, ideal_doc, ideal_rel, ideal_length,
                  log.inter_session, log.interaction_ordinal())


def _lengths(log: SessionLog, cost: np.ndarray, item_session: np.ndarray,
             item_doc: np.ndarray, ideal_session: np.ndarray, ideal_doc: np.ndarray,
             width: np.int64, logged: bool) -> tuple[np.ndarray, np.ndarray]:
    """Reading cost of list items (their own when logged, else the document's first logged
    cost in the session, else 1) and of ideal documents (first logged cost, else 1)."""
    key = log.item_session * width + log.item_doc
    order = np.argsort(key, kind="stable")
    first = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    known_keys, known_cost = key[order][first], cost[order][first]

    def lookup(sessions: np.ndarray, docs: np.ndarray) -> np.ndarray:
        wanted = sessions * width + docs
        slot = np.minimum(np.searchsorted(known_keys, wanted), known_keys.size - 1)
        return np.where(known_keys[slot] == wanted, known_cost[slot], 1.0)

    item_length = cost.copy() if logged else lookup(item_session, item_doc)
    return item_length, lookup(ideal_session, ideal_doc)
