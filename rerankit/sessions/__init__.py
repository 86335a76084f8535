"""Session-level evaluation: session logs, click-derived labels, NUM and other session
metrics, meta-evaluation. See :mod:`rerankit.sessions.metrics` for what is the NUM paper's and
what is rerankit's convention."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.sessions.converters import read_sessions
from rerankit.sessions.graphcm import read_graphcm
from rerankit.sessions.labels import (
    Enhance,
    Judged,
    LabelSource,
    LengthSource,
    Lists,
    judge,
    resolve_source,
)
from rerankit.sessions.metrics import (
    GAIN_SUM_LIMIT,
    METRICS,
    SessionParams,
    grade_text,
    per_query,
    session_metrics,
    u_measure,
)
from rerankit.sessions.model import SessionLog, read_jsonl

__all__ = ["METRICS", "SessionLog", "SessionParams", "SessionScores", "demo_log_path",
           "evaluate_queries", "evaluate_sessions", "read_graphcm", "read_jsonl",
           "read_sessions", "u_measure"]


def demo_log_path() -> Path:
    """The shipped demo log: 80 SIMULATED sessions with clicks, graded labels and session and
    query satisfaction, for trying the meta-evaluation (how it is generated:
    tests/test_sessions_demo.py). Its correlations say nothing about real users."""
    return Path(__file__).parent / "demo" / "satisfaction.jsonl"


@dataclass(frozen=True)
class SessionScores:
    """Per-session values of each metric (NaN where undefined) and their summaries."""

    session_ids: list[str]
    values: dict[str, np.ndarray]
    labels: str = "clicks"          # the label source used (after ``"auto"``)

    def mean(self, metric: str) -> float:
        """Mean over the sessions where the metric is defined."""
        v = self.values[metric]
        return float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")

    def undefined(self, metric: str) -> int:
        """How many sessions have no value (e.g. NUM without any relevant document)."""
        return int(np.isnan(self.values[metric]).sum())

    def to_tsv_lines(self, satisfaction: np.ndarray | None = None):
        """``session_id<TAB>metric<TAB>value`` lines, ``nan`` for undefined values; with
        ``satisfaction`` (one per session or query, NaN: none) also a ``satisfaction`` line
        for every unit that has one."""
        for i, sid in enumerate(self.session_ids):
            for metric, v in self.values.items():
                yield f"{sid}\t{metric}\t{'nan' if np.isnan(v[i]) else repr(float(v[i]))}\n"
            if satisfaction is not None and not np.isnan(satisfaction[i]):
                yield f"{sid}\tsatisfaction\t{float(satisfaction[i])!r}\n"


def evaluate_sessions(log: SessionLog, metrics: tuple[str, ...] = ("num", "umeasure", "sdcg",
                                                                   "nsdcg", "srbp"),
                      params: SessionParams | None = None, labels: LabelSource = "auto",
                      enhance: Enhance = "forward", length: LengthSource = "unit",
                      run: Run | None = None) -> SessionScores:
    """Score the logged lists (log evaluation) or ``run``'s lists (system evaluation) of every
    session, with labels from clicks (``enhance``), logged grades, real gains, or session
    qrels; ``"auto"`` takes the first of clicks, gains, labels, qrels the log has, and a
    source the log lacks is an error (never a log of zeros).

    With ``labels="gains"`` the logged values are the gains: ``params.gain`` is not applied
    (a gain of 0.4 counts 0.4). A run is ranked as trec_eval ranks (score descending, ties by
    document id descending), not in file order, as everywhere in rerankit."""
    source, params, judged = _judged(log, params, labels, enhance, length, run)
    values = session_metrics(judged, log.num_sessions, params, tuple(metrics))
    return SessionScores(log.session_ids, values, source)


def evaluate_queries(log: SessionLog, metrics: tuple[str, ...] = ("num", "umeasure", "sdcg",
                                                                  "nsdcg", "srbp"),
                     params: SessionParams | None = None, labels: LabelSource = "auto",
                     enhance: Enhance = "forward", length: LengthSource = "unit",
                     run: Run | None = None) -> SessionScores:
    """Query-level values of the session metrics, one per interaction (ids
    ``<session id>:<n>``): every interaction scored as a one-query session with the labels
    of its whole session (see :func:`rerankit.sessions.metrics.per_query`), for correlation
    with per-query satisfaction."""
    source, params, judged = _judged(log, params, labels, enhance, length, run)
    values = session_metrics(per_query(judged), log.num_interactions, params, tuple(metrics))
    ids = [f"{log.session_ids[s]}:{o}" for s, o in
           zip(log.inter_session.tolist(), log.interaction_ordinal().tolist(), strict=True)]
    return SessionScores(ids, values, source)


def _judged(log, params, labels, enhance, length, run):
    source = resolve_source(log, labels)
    params = params or SessionParams()
    if source == "gains":
        params = replace(params, gain="linear", gain_map=())
    lists = Lists.shown(log) if run is None else Lists.from_run(log, run)
    judged = judge(log, lists, source, enhance, length)
    _check_gain_map(log, params, judged, source)
    _check_gain_sums(log, params, judged, source)
    return source, params, judged


def _check_gain_map(log: SessionLog, params: SessionParams, judged: Judged,
                    source: str) -> None:
    """Refuse a positive grade the gain map lacks before scoring, naming the log, the first
    session that uses one (and the interaction and document, or the judged document) and
    every such grade: :meth:`SessionParams.gain_of` sees only arrays of grades. The grades
    checked are the ones the metrics take gains of: items within the depth, and each
    session's ideal set."""
    in_depth = judged.item_rank <= params.depth
    items = np.flatnonzero(in_depth & params.unmapped(judged.item_rel))
    ideal = np.flatnonzero(params.unmapped(judged.ideal_rel))
    if not items.size and not ideal.size:
        return
    sessions = np.concatenate([judged.item_session[items], judged.ideal_session[ideal]])
    grades = np.concatenate([judged.item_rel[items], judged.ideal_rel[ideal]])
    first = int(sessions.min())
    in_first = items[judged.item_session[items] == first]
    if in_first.size:
        k = int(in_first[0])
        inter = int(judged.item_inter[k])
        where = (f"session '{log.session_ids[first]}', interaction "
                 f"{int(judged.inter_ordinal[inter])}, document "
                 f"'{log.doc_ids[judged.item_doc[k]]}'")
        grade = judged.item_rel[k]
    else:
        k = int(ideal[judged.ideal_session[ideal] == first][0])
        where = (f"session '{log.session_ids[first]}', document "
                 f"'{log.doc_ids[judged.ideal_doc[k]]}'")
        grade = judged.ideal_rel[k]
    lacking = ", ".join(grade_text(g) for g in np.unique(grades))
    count = np.unique(sessions).size
    raise InputFormatError(log.source, f"{where}: grade {grade_text(grade)} has no gain in "
                           f"the gain map ({params.gain_map_text()}); {source} grades the "
                           f"map lacks: {lacking} (in {count} "
                           f"session{'s' if count > 1 else ''})")


def _check_gain_sums(log: SessionLog, params: SessionParams, judged: Judged,
                     source: str) -> None:
    """Refuse, before scoring, a session whose gains could sum past float64's range: exp
    gains 2^r - 1 of grades r from about 1022 up (2^1024 is past it), gain-map values or
    logged gains near 1e308, or many large ones. Every metric of a session (and of each of
    its queries) is at most the gains of its items within the depth plus, per query, the
    gains of its ideal set; where that bound is within :data:`GAIN_SUM_LIMIT` no sum can
    overflow, so no metric is inf, no ratio NaN and numpy warns of nothing. The message
    names the log, the session, its largest gain and the grade it comes from, and the
    limit."""
    in_depth = judged.item_rank <= params.depth
    n = log.num_sessions
    with np.errstate(over="ignore", invalid="ignore"):
        item_gain = params.gain_of(judged.item_rel[in_depth])
        ideal_gain = params.gain_of(judged.ideal_rel)
        queries = np.bincount(judged.inter_session, minlength=n)
        bound = (np.bincount(judged.item_session[in_depth], weights=item_gain, minlength=n)
                 + queries * np.bincount(judged.ideal_session, weights=ideal_gain,
                                         minlength=n))
    over = np.flatnonzero(~(bound <= GAIN_SUM_LIMIT))
    if not over.size:
        return
    first = int(over[0])
    gains = np.concatenate([item_gain[judged.item_session[in_depth] == first],
                            ideal_gain[judged.ideal_session == first]])
    grades = np.concatenate([judged.item_rel[in_depth][judged.item_session[in_depth] == first],
                             judged.ideal_rel[judged.ideal_session == first]])
    k = int(np.argmax(gains))
    grade, value = grades[k], float(gains[k])
    if source == "gains":
        largest = f"logged gain {value:.4g}"
    elif params.gain_map:
        largest = f"grade {grade:g}, gain {value:.4g} in the gain map"
    elif params.gain == "exp":
        largest = f"grade {grade:g}, exp gain 2^{grade:g} - 1 = {value:.4g}"
    else:
        largest = f"grade {grade:g}, linear gain {value:.4g}"
    count = over.size
    raise InputFormatError(log.source, f"session '{log.session_ids[first]}': its gains could "
                           f"sum past {GAIN_SUM_LIMIT:.4g} (half of float64's largest value), "
                           "where its metrics would overflow to inf or NaN; its largest: "
                           f"{largest} ({count} session{'s' if count > 1 else ''} past the "
                           "limit)")
