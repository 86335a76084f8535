"""The numbers of a report, per dataset: every run's per-query values on the queries all
its runs answered, the judged-hole view, and the comparisons with the baseline.

* Runs on different datasets (or splits) are never compared; each dataset is a group with
  its own baseline (the one given, or its first folder).
* Within a group, runs are evaluated on their common queries (the queries every run of the
  group has results for and the qrels judge), so a run evaluated on a seeded subset is
  compared on that subset; the page says how many queries each run loses.
* Judged holes: the share of each query's top 10 that has no judgement (absent from the
  qrels, or graded negative: "in the pool, unjudged"), and nDCG@10 over judged documents
  only (trec_eval ``-J``, condensed lists) beside the standard nDCG@10.
* Comparisons: :func:`rerankit.evaluation.compare` (paired test, bootstrap CI, Holm across
  the group's comparisons), plus wins and losses per query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import ranks_within_groups
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.evaluation import compare, evaluate, parse_measures
from rerankit.evaluation.coverage import coverage
from rerankit.evaluation.measures import comparable_measures
from rerankit.reporting.results import (
    Collection,
    Result,
    check_dataset_files,
    load_collection,
)

#: Rows per query the page embeds (and ranks it can show); deeper rows are counted only.
EMBEDDED_DEPTH = 100
HOLE_DEPTH = 10


@dataclass
class RunView:
    """One run on its group's common queries; arrays follow ``Group.query_ids``."""

    result: Result
    colour: str
    values: np.ndarray       # the report's measure
    ndcg: np.ndarray         # nDCG@10
    condensed: np.ndarray    # nDCG@10 over judged documents only (-J)
    unjudged: np.ndarray     # share of the top 10 without a judgement
    head_rows: np.ndarray    # documents in the top 10 (fewer when a query has fewer)
    top: Run                 # the top EMBEDDED_DEPTH rows per common query, ranked
    grades: np.ndarray       # per row of ``top``: the grade, NaN where unjudged
    depth: int               # the most rows any query has in the full run
    stage_scores: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def unjudged_overall(self) -> float:
        """Unjudged documents among all top-10 documents of the common queries."""
        return float((self.unjudged * self.head_rows).sum() / max(1, self.head_rows.sum()))


@dataclass
class ComparisonRow:
    run: RunView
    baseline: RunView
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    significant: bool
    wins: int
    losses: int
    ties: int


@dataclass
class Group:
    """The runs of one dataset, baseline first."""

    name: str
    collection: Collection
    query_ids: list[str]
    runs: list[RunView]
    comparisons: list[ComparisonRow]
    notes: list[str]

    @property
    def baseline(self) -> RunView:
        return self.runs[0]


def resolve_measure(measure: str) -> str:
    """trec_eval's name of a measure or alias (``nDCG@10`` -> ``ndcg_cut_10``); the page
    shows one measure, which a paired test must be able to compare (the rule of
    :func:`rerankit.evaluation.measures.comparable_measures`, as ``rerankit compare``)."""
    resolved = parse_measures([measure])
    if len(resolved) != 1:
        raise InputFormatError("--measure", f"'{measure}' names {len(resolved)} measures; the "
                               "report shows one: name a single measure (e.g. ndcg_cut_10)")
    (kept,), _ = comparable_measures([measure])
    return kept.key                       # iprec_at_recall_0.501, not the rounded _0.50


def analyse(results: list[Result], colours: dict[str, str], baseline: Result | None,
            measure: str, test: str, alpha: float) -> list[Group]:
    """One :class:`Group` per dataset, in the order the folders were given."""
    by_group: dict[str, list[Result]] = {}
    for result in results:
        by_group.setdefault(result.group, []).append(result)
    groups = []
    for name, members in by_group.items():
        if baseline is not None and baseline in members:
            members = [baseline, *[m for m in members if m is not baseline]]
        groups.append(_group(name, members, colours, measure, test, alpha))
    return groups


def _group(name: str, members: list[Result], colours: dict[str, str], measure: str,
           test: str, alpha: float) -> Group:
    for member in members:
        check_dataset_files(member)
    collection = load_collection(members[0])
    notes = list(collection.notes)
    covered = coverage(collection.qrels, [m.run for m in members], [m.name for m in members])
    query_ids = covered.common
    if any(len(a) != len(query_ids) for a in covered.answered):
        notes.append(f"The runs answered different query sets ({covered.answered_counts()} "
                     f"judged queries): all numbers of this dataset but the stored metrics "
                     f"are on the {len(query_ids)} queries every run answered.")
    if len({json.dumps(m.manifest.get("dataset_files"), sort_keys=True) for m in members}) > 1:
        notes.append(f"The dataset files differ between these runs (checksums in their "
                     f"manifest.json); all are judged with the judgements of "
                     f"{members[0].name}'s dataset.")
    qrels = _restrict_qrels(collection.qrels, query_ids)
    views = [_view(m, colours[m.name], qrels, query_ids, measure) for m in members]
    comparisons = _compare(views, qrels, measure, test, alpha) if len(views) > 1 else []
    return Group(name, collection, query_ids, views, comparisons, notes)


def _restrict_qrels(qrels: Qrels, query_ids: list[str]) -> Qrels:
    keep = pc.is_in(qrels.qid, value_set=pa.array(query_ids, pa.string()))
    rows = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    index = pa.array(rows)
    return Qrels(qrels.qid.take(index), qrels.docid.take(index), qrels.grade[rows], qrels.name)


def _restrict_run(run: Run, query_ids: list[str]) -> Run:
    keep = pc.is_in(run.qid, value_set=pa.array(query_ids, pa.string()))
    return run.take(np.flatnonzero(keep.to_numpy(zero_copy_only=False)))


def _view(result: Result, colour: str, qrels: Qrels, query_ids: list[str],
          measure: str) -> RunView:
    run = _restrict_run(result.run, query_ids)
    wanted = list(dict.fromkeys([measure, "ndcg_cut_10"]))
    standard = evaluate(qrels, run, wanted, average_complete=True)
    condensed = evaluate(qrels, run, ["ndcg_cut_10"], average_complete=True, judged_only=True)
    top = run.top_k(EMBEDDED_DEPTH)
    codes = _query_positions(top, query_ids)
    order = np.argsort(codes, kind="stable")        # queries in query_ids order, ranked
    top, codes = top.take(order), codes[order]
    grades = _grades(top, qrels)
    judged = ~np.isnan(grades) & (np.nan_to_num(grades, nan=-1) >= 0)
    in_head = ranks_within_groups(codes) <= HOLE_DEPTH
    head_rows = np.bincount(codes[in_head], minlength=len(query_ids))
    head_unjudged = np.bincount(codes[in_head & ~judged], minlength=len(query_ids))
    unjudged = head_unjudged / np.maximum(1, head_rows)
    stages = [(label, *_scores_of(stage, top)) for label, stage in result.stages]
    return RunView(result, colour, _by_query(standard, measure, query_ids),
                   _by_query(standard, "ndcg_cut_10", query_ids),
                   _by_query(condensed, "ndcg_cut_10", query_ids), unjudged, head_rows, top,
                   grades, int(np.bincount(_query_positions(run, query_ids)).max()), stages)


def _by_query(result, measure: str, query_ids: list[str]) -> np.ndarray:
    position = {q: i for i, q in enumerate(result.query_ids)}
    values = result.values[measure]
    return np.array([values[position[q]] if q in position else 0.0 for q in query_ids])


def _query_positions(run: Run, query_ids: list[str]) -> np.ndarray:
    """Per row of ``run``, the index of its query in ``query_ids``."""
    return pc.index_in(run.qid, value_set=pa.array(query_ids, pa.string())).to_numpy(
        zero_copy_only=False).astype(np.int64)


def _grades(run: Run, qrels: Qrels) -> np.ndarray:
    """Per row of ``run``: its grade, NaN when the qrels do not list the pair."""
    rows = pa.table({"q": pc.cast(run.qid, pa.string()), "d": pc.cast(run.docid, pa.string()),
                     "row": np.arange(len(run))})
    judged = pa.table({"q": pc.cast(qrels.qid, pa.string()),
                       "d": pc.cast(qrels.docid, pa.string()), "grade": qrels.grade})
    joined = rows.join(judged, ["q", "d"], join_type="left outer")
    out = np.full(len(run), np.nan)
    grade = joined["grade"].to_numpy(zero_copy_only=False).astype(np.float64)
    out[joined["row"].to_numpy()] = grade
    return out


def _scores_of(stage: Run, top: Run) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``top``: the stage's score and rank (NaN / 0 where it did not score the
    document)."""
    ranked = stage.ranked()
    rows = pa.table({"q": pc.cast(top.qid, pa.string()), "d": pc.cast(top.docid, pa.string()),
                     "row": np.arange(len(top))})
    scored = pa.table({"q": pc.cast(ranked.qid, pa.string()),
                       "d": pc.cast(ranked.docid, pa.string()),
                       "score": ranked.score, "rank": ranked.ranks()})
    joined = rows.join(scored, ["q", "d"], join_type="left outer")
    order = joined["row"].to_numpy()
    scores = np.full(len(top), np.nan)
    ranks = np.zeros(len(top), dtype=np.int64)
    scores[order] = joined["score"].to_numpy(zero_copy_only=False).astype(np.float64)
    ranks[order] = np.nan_to_num(joined["rank"].to_numpy(zero_copy_only=False)
                                 .astype(np.float64)).astype(np.int64)
    return scores, ranks


def _compare(views: list[RunView], qrels: Qrels, measure: str, test: str,
             alpha: float) -> list[ComparisonRow]:
    query_ids = qrels.query_ids
    report = compare(qrels, [_restrict_run(v.result.run, query_ids).rename(v.result.name)
                             for v in views], [measure], test=test, alpha=alpha)
    base = views[0]
    rows = []
    for view, c in zip(views[1:], report.comparisons, strict=True):
        diff = view.values - base.values
        rows.append(ComparisonRow(view, base, c.delta, c.ci_low, c.ci_high, c.p_value,
                                  c.p_adjusted, c.significant, int((diff > 0).sum()),
                                  int((diff < 0).sum()), int((diff == 0).sum())))
    return rows
