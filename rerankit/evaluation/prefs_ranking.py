"""Rank a run the way trec_eval 10.0's judgement-group code does, and find the judged rows.

trec_eval reads scores as doubles and ranks by score descending; ties are broken by
document id, *ascending* for preference judgements (``form_prefs_counts.c``) but descending
for ``qrels_jg`` (``form_res_rels_jg.c``, as for ordinary qrels). Only queries that have
judgements are ranked. Under ``-c`` a judged query without results gets trec_eval's
stand-in ranking: one document, ``ceci_nest_pas_un_docno``, with score 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import ranks_within_groups
from rerankit.data.run import Run
from rerankit.errors import InputFormatError

STAND_IN_DOCNO = "ceci_nest_pas_un_docno"


@dataclass(frozen=True)
class RankedRun:
    """Ranked rows of the judged queries (after ``-M``), sorted by query then rank."""

    has_results: np.ndarray     # bool per judged query: the run has rows for it
    num_ret: np.ndarray         # int64 per judged query: documents ranked (after -M)
    query: np.ndarray           # int64 per row: index into the judged query ids
    docid: pa.Array             # string per row
    rank: np.ndarray            # int64 per row, 1-based
    ignored_queries: list[str]  # run queries without judgements

    def lookup(self, query: np.ndarray, docid: pa.Array) -> np.ndarray:
        """1-based rank of each (query, document) pair, 0 where it was not retrieved."""
        ranked = pa.table({"q": pa.array(self.query), "d": self.docid,
                           "rank": pa.array(self.rank)})
        wanted = pa.table({"q": pa.array(query, type=pa.int64()), "d": docid,
                           "i": pa.array(np.arange(len(query)))})
        joined = wanted.join(ranked, keys=["q", "d"], join_type="left outer")
        out = np.zeros(len(query), dtype=np.int64)
        rank = joined["rank"].fill_null(0).to_numpy()
        out[joined["i"].to_numpy()] = rank
        return out


def rank_run(run: Run, query_ids: list[str], docid_order: str, max_docs: int | None,
             average_complete: bool) -> RankedRun:
    """Rank ``run`` for the queries ``query_ids`` (``docid_order``: how ties are broken,
    "ascending" or "descending"); ``max_docs`` keeps the top rows of each query (``-M``)."""
    if max_docs is not None and max_docs < 0:
        raise ValueError(f"max_docs must be >= 0, got {max_docs}")
    if len(run) and np.isnan(np.sum(run.score)):
        run.check_finite(run.name)
    qid = pc.cast(run.qid, pa.string())
    position = pc.index_in(qid, value_set=pa.array(query_ids, type=pa.string()))
    judged = pc.is_valid(position)
    ignored = pc.unique(qid.filter(pc.invert(judged))).to_pylist()
    table = pa.table({
        "q": pc.cast(position, pa.int64()),
        "d": pc.cast(run.docid, pa.string()),
        "s": pa.array(np.asarray(run.score, dtype=np.float64) + 0.0),  # -0.0 ties with 0.0
    }).filter(judged)
    has_results = np.zeros(len(query_ids), dtype=bool)
    has_results[pc.unique(table["q"]).to_numpy()] = True
    if average_complete and not has_results.all():
        missing = np.flatnonzero(~has_results)
        table = pa.concat_tables([table, pa.table({
            "q": pa.array(missing, type=pa.int64()),
            "d": pa.array([STAND_IN_DOCNO] * missing.size, type=pa.string()),
            "s": pa.array(np.ones(missing.size)),
        })])
    if not run.verified_unique:
        _check_unique(table, query_ids, run.name)
    order = pc.sort_indices(table, sort_keys=[("q", "ascending"), ("s", "descending"),
                                              ("d", docid_order)])
    table = table.take(order)
    query = table["q"].to_numpy()
    rank = ranks_within_groups(query)
    docid = table["d"].combine_chunks()
    if max_docs is not None:
        top = rank <= max_docs
        query, rank, docid = query[top], rank[top], docid.filter(pa.array(top))
    num_ret = np.bincount(query, minlength=len(query_ids)).astype(np.int64)
    return RankedRun(has_results, num_ret, query, docid, rank, sorted(ignored))


def _check_unique(table: pa.Table, query_ids: list[str], source: str) -> None:
    counted = table.group_by(["q", "d"]).aggregate([("s", "count")])
    twice = pc.greater(counted["s_count"], 1).to_numpy(zero_copy_only=False)
    if twice.any():
        k = int(np.flatnonzero(twice)[0])
        raise InputFormatError(
            source, f"document '{counted['d'][k].as_py()}' appears twice for query "
            f"'{query_ids[counted['q'][k].as_py()]}'; trec_eval refuses duplicate documents "
            "(deduplicate first)")
