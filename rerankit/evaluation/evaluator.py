"""``evaluate(qrels, run, measures)``: trec_eval-exact values, aggregate and per query."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.evaluation.kernels import KERNELS, MIN_GEO_MEAN, RankingStats
from rerankit.evaluation.measures import (
    BEIR_CUTOFFS,
    COUNT_FAMILIES,
    SUMMARY_ONLY,
    Measure,
    parse_measures,
)
from rerankit.evaluation.ranking import judge_ranking

QrelsLike = Qrels | Mapping[str, Mapping[str, int]] | str | Path
RunLike = Run | Mapping[str, Mapping[str, float]] | str | Path

DEFAULT_MEASURES = tuple(
    f"{family}.{','.join(str(k) for k in BEIR_CUTOFFS)}"
    for family in ("ndcg_cut", "map_cut", "recall", "P", "recip_rank_cut")
)
BEIR_NAMES = {"ndcg_cut": "NDCG", "map_cut": "MAP", "recall": "Recall", "P": "P",
              "recip_rank_cut": "MRR"}


@dataclass(frozen=True)
class EvaluationResult:
    """Values of every requested measure, per query and aggregated as trec_eval does."""

    measures: list[Measure]
    run_name: str
    query_ids: list[str]                    # queries with results, in trec_eval order
    values: dict[str, np.ndarray]           # measure name -> value per query in query_ids
    aggregate: dict[str, float]             # measure name -> summary value ("all")
    num_queries: int                        # queries averaged over (trec_eval's num_q)
    ignored_run_queries: list[str] = field(default_factory=list)
    queries_without_results: list[str] = field(default_factory=list)

    @property
    def per_query(self) -> dict[str, dict[str, float]]:
        """``{qid: {measure: value}}`` for queries with results (pytrec_eval's form)."""
        names = [m.name for m in self.measures if m.family not in SUMMARY_ONLY]
        return {
            qid: {name: float(self.values[name][i]) for name in names}
            for i, qid in enumerate(self.query_ids)
        }

    def __getitem__(self, measure: str) -> float:
        """Aggregate value by trec_eval name or alias (``result["nDCG@10"]``)."""
        if measure in self.aggregate:
            return self.aggregate[measure]
        (resolved,) = parse_measures([measure])
        return self.aggregate[resolved.name]

    def beir(self) -> dict[str, float]:
        """Aggregates under BEIR's names (``NDCG@10``, ``MAP@100``, ``Recall@100``, ``P@10``,
        ``MRR@10``) for the cut-off measures that were computed."""
        out = {}
        for m in self.measures:
            if m.family in BEIR_NAMES and m.param is not None:
                out[f"{BEIR_NAMES[m.family]}@{int(m.param)}"] = self.aggregate[m.name]
        return out

    def to_trec_eval(self, per_query: bool = False, summary: bool = True) -> str:
        """Text identical to trec_eval's output for the same measures and options."""
        from rerankit.evaluation.trec_output import format_trec_eval

        return format_trec_eval(self, per_query=per_query, summary=summary)

    def to_json(self, per_query: bool = False) -> str:
        """JSON with ``aggregate`` (trec_eval names) and optionally ``per_query``."""
        payload: dict = {"run": self.run_name, "num_q": self.num_queries,
                         "aggregate": {k: v for k, v in self.aggregate.items() if k != "runid"}}
        if per_query:
            payload["per_query"] = self.per_query
        return json.dumps(payload, indent=2, sort_keys=False)


def evaluate(
    qrels: QrelsLike,
    run: RunLike,
    measures: Sequence[str] | str | None = None,
    relevance_level: int = 1,
    average_complete: bool = False,
    judged_only: bool = False,
    max_docs: int | None = None,
    ignore_identical_ids: bool = False,
    verify: bool = False,
) -> EvaluationResult:
    """Evaluate ``run`` against ``qrels``; numbers equal trec_eval's.

    Args:
        qrels: :class:`Qrels`, ``{qid: {docid: grade}}``, or a qrels file path.
        run: :class:`Run`, ``{qid: {docid: score}}``, or a TREC run file path.
        measures: trec_eval names or aliases (see :func:`parse_measures`). Default: BEIR's
            table, nDCG / MAP / Recall / P / MRR at k = 1, 3, 5, 10, 100, 1000.
        relevance_level: minimum grade counted as relevant (trec_eval ``-l``).
        average_complete: average over every qrels query, a query without results
            counting 0 (trec_eval ``-c``). Otherwise only queries with results count.
        judged_only: drop unjudged documents before measuring (trec_eval ``-J``).
        max_docs: evaluate only the top ``max_docs`` documents per query (``-M``).
        ignore_identical_ids: drop documents whose id equals the query id (BEIR's option,
            for corpora where queries are also documents, e.g. ArguAna, Quora).
        verify: recompute every per-query value with trec_eval's C code (pytrec_eval) and
            raise :class:`VerificationError` on any difference (slow on big runs).
    """
    qrels = as_qrels(qrels)
    run = as_run(run)
    wanted = parse_measures(list(measures) if measures is not None else list(DEFAULT_MEASURES))
    jr = judge_ranking(qrels, run, relevance_level, max_docs, judged_only, ignore_identical_ids)
    run_queries = set(pc.unique(run.qid).to_pylist())
    matched = jr.has_results
    if not matched.any():
        raise InputFormatError(
            run.name,
            f"no query of the run has judgements in {qrels.name} (run queries e.g. "
            f"{sorted(run_queries)[:3]}, qrels queries e.g. {jr.query_ids[:3]}): are these "
            "the right files?",
        )
    stats = RankingStats(jr)
    averaged = np.ones(jr.num_queries, bool) if average_complete else matched
    values: dict[str, np.ndarray] = {}
    aggregate: dict[str, float] = {}
    for m in wanted:
        if m.family == "runid":
            aggregate["runid"] = run.name
            continue
        if m.family == "num_q":
            aggregate["num_q"] = int(averaged.sum())
            continue
        per_query = KERNELS[m.family](stats, m.param)
        values[m.name] = per_query[matched]
        aggregate[m.name] = _summarise(m, per_query[averaged], int(averaged.sum()))
    result = EvaluationResult(
        measures=wanted,
        run_name=run.name,
        query_ids=[q for q, has in zip(jr.query_ids, matched, strict=True) if has],
        values=values,
        aggregate=aggregate,
        num_queries=int(averaged.sum()),
        ignored_run_queries=sorted(run_queries - set(jr.query_ids)),
        queries_without_results=[q for q, has in zip(jr.query_ids, matched, strict=True)
                                 if not has],
    )
    if verify:
        from rerankit.evaluation.verify import verify_with_trec_eval

        checked_run = run
        if ignore_identical_ids:
            same = pc.equal(pc.cast(run.qid, pa.string()), pc.cast(run.docid, pa.string()))
            checked_run = run.take(np.flatnonzero(~same.to_numpy(zero_copy_only=False)))
        if max_docs is not None:
            checked_run = checked_run.top_k(max_docs)
        verify_with_trec_eval(result, qrels, checked_run, relevance_level, judged_only)
    return result


def _summarise(measure: Measure, values: np.ndarray, count: int) -> float:
    """trec_eval's summary: sums for counts, geometric mean for gm_*, else the mean."""
    if values.size == 0:
        return 0.0
    if measure.family in COUNT_FAMILIES:
        return float(values.sum())
    if measure.family == "gm_map":
        logs = np.log(np.maximum(values, MIN_GEO_MEAN))
        return math.exp(float(np.cumsum(logs)[-1]) / count)
    return float(np.cumsum(values)[-1]) / count  # sequential, in qid order, like trec_eval


def as_qrels(qrels: QrelsLike) -> Qrels:
    """Qrels from a Qrels object, a ``{qid: {docid: grade}}`` dict or a file path."""
    if isinstance(qrels, Qrels):
        return qrels
    if isinstance(qrels, (str, Path)):
        return Qrels.read(qrels)
    return Qrels.from_dict(qrels)


def as_run(run: RunLike) -> Run:
    """A Run from a Run object, a ``{qid: {docid: score}}`` dict or a TREC run file path."""
    if isinstance(run, Run):
        return run
    if isinstance(run, (str, Path)):
        return Run.read_trec(run)
    return Run.from_dict(run)
