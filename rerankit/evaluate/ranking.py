"""Align a run with qrels the way trec_eval does, with array operations only.

The result, :class:`JudgedRanking`, holds for every evaluated row its query index, its
1-based rank and its relevance value, with rows ordered by query and rank. Measures are
pure functions of it (see :mod:`rerankit.evaluate.kernels`).

trec_eval's conventions, reproduced exactly:
* only queries present in the qrels are evaluated; run queries without qrels are ignored;
* scores are compared as 32-bit floats (trec_eval stores them as C ``float``), and ties
  are broken by document id in descending byte order; the rank column is ignored;
* relevance value of a retrieved document: its grade if judged (grade >= 0), -2 if it is
  in the qrels with a negative grade ("pooled, unjudged"), -1 if not in the qrels;
* ``max_docs`` (``-M``) keeps the top rows of every query after ranking;
* ``judged_only`` (``-J``) drops documents whose relevance value is negative, after
  ranking, keeping the order of the rest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit.data.columns import ranks_within_groups
from rerankit.data.hashing import duplicate_candidates, pair_keys
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError

NOT_IN_QRELS = -1
POOLED_UNJUDGED = -2


@dataclass(frozen=True)
class JudgedRanking:
    """A run joined with qrels; rows sorted by (query, rank)."""

    query_ids: list[str]            # every qrels query, sorted as trec_eval sorts them
    has_results: np.ndarray         # bool per query: the run has rows for it
    row_query: np.ndarray           # int64 per row: index into query_ids
    row_rank: np.ndarray            # int64 per row: 1-based rank
    row_rel: np.ndarray             # int64 per row: relevance value (see module doc)
    qrels_query: np.ndarray         # int64 per judgement: index into query_ids
    qrels_grade: np.ndarray         # int64 per judgement
    relevance_level: int

    @property
    def num_queries(self) -> int:
        return len(self.query_ids)


def judge_ranking(
    qrels: Qrels,
    run: Run,
    relevance_level: int = 1,
    max_docs: int | None = None,
    judged_only: bool = False,
    ignore_identical_ids: bool = False,
) -> JudgedRanking:
    """Rank ``run`` per query in trec_eval order and attach relevance from ``qrels``."""
    if len(qrels) == 0:
        raise InputFormatError(qrels.name, "qrels are empty")
    query_ids = sorted(pc.unique(qrels.qid).to_pylist(), key=lambda s: s.encode("utf-8"))
    query_table = pa.array(query_ids, type=pa.string())
    qrels_query = pc.index_in(qrels.qid, value_set=query_table).to_numpy().astype(np.int64)

    qid, docid, score = run.qid, run.docid, run.score
    if ignore_identical_ids:
        keep = pc.invert(pc.equal(qid, docid))
        qid, docid, score = qid.filter(keep), docid.filter(keep), score[keep.to_numpy(
            zero_copy_only=False)]
    run_query = pc.index_in(qid, value_set=query_table)
    if run_query.null_count:
        keep = pc.is_valid(run_query)
        run_query, docid = run_query.filter(keep), docid.filter(keep)
        score = score[keep.to_numpy(zero_copy_only=False)]
    row_query = run_query.to_numpy(zero_copy_only=False).astype(np.int64)
    if np.isnan(score).any():
        run.check_finite(run.name)

    with ThreadPoolExecutor(max_workers=2) as pool:
        duplicates = pool.submit(_check_no_duplicates, row_query, docid, query_ids, run.name)
        relevance = pool.submit(_lookup_relevance, row_query, docid, qrels, qrels_query)
        order = _trec_order(row_query, score, docid)
        duplicates.result()
        row_rel = relevance.result()

    row_query, row_rel = row_query[order], row_rel[order]
    row_rank = ranks_within_groups(row_query)
    has_results = np.zeros(len(query_ids), dtype=bool)
    has_results[row_query] = True
    if max_docs is not None:
        keep_rows = row_rank <= max_docs
        row_query, row_rel, row_rank = row_query[keep_rows], row_rel[keep_rows], row_rank[keep_rows]
    if judged_only:
        keep_rows = row_rel >= 0
        row_query, row_rel = row_query[keep_rows], row_rel[keep_rows]
        row_rank = ranks_within_groups(row_query)
    return JudgedRanking(query_ids, has_results, row_query, row_rank, row_rel,
                         qrels_query, qrels.grade.astype(np.int64), relevance_level)


def _trec_order(row_query: np.ndarray, score: np.ndarray, docid: pa.Array) -> np.ndarray:
    """Row order by query, then float32 score descending, then document id descending."""
    bits = (score.astype(np.float32) + np.float32(0.0)).view(np.uint32)  # +0.0: -0.0 == 0.0
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
    key = (row_query.astype(np.uint64) << np.uint64(32)) | (~ascending).astype(np.uint64)
    if key.size and not np.all(key[1:] >= key[:-1]):
        order = np.argsort(key, kind="stable")
        key = key[order]
    else:
        order = np.arange(key.size)
    tied = np.flatnonzero(key[1:] == key[:-1])
    if tied.size:
        positions = np.unique(np.concatenate([tied, tied + 1]))
        rows = order[positions]
        table = pa.table({"k": key[positions], "d": docid.take(pa.array(rows))})
        within = pc.sort_indices(table, sort_keys=[("k", "ascending"), ("d", "descending")])
        order = order.copy()
        order[positions] = rows[within.to_numpy()]
    return order


def _lookup_relevance(row_query: np.ndarray, docid: pa.Array, qrels: Qrels,
                      qrels_query: np.ndarray) -> np.ndarray:
    """Relevance value of every run row (grade, -2 pooled unjudged, -1 not in qrels)."""
    judged_docs = pc.unique(qrels.docid)
    run_doc = pc.index_in(docid, value_set=judged_docs)
    qrels_doc = pc.index_in(qrels.docid, value_set=judged_docs).to_numpy().astype(np.int64)
    width = np.int64(len(judged_docs))
    qrels_key = qrels_query * width + qrels_doc
    by_key = np.argsort(qrels_key)
    sorted_keys = qrels_key[by_key]
    rel = np.full(len(row_query), NOT_IN_QRELS, dtype=np.int64)
    found_doc = np.flatnonzero(pc.is_valid(run_doc).to_numpy(zero_copy_only=False))
    if found_doc.size:
        doc_codes = run_doc.filter(pc.is_valid(run_doc)).to_numpy().astype(np.int64)
        keys = row_query[found_doc] * width + doc_codes
        slot = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
        hit = sorted_keys[slot] == keys
        grades = qrels.grade[by_key[slot[hit]]]
        rel[found_doc[hit]] = np.where(grades >= 0, grades, POOLED_UNJUDGED)
    return rel


def _check_no_duplicates(row_query: np.ndarray, docid: pa.Array, query_ids: list[str],
                         source: str) -> None:
    candidates = duplicate_candidates(pair_keys(row_query, docid))
    seen: set[tuple[int, str]] = set()
    for row in candidates.tolist():
        pair = (int(row_query[row]), docid[row].as_py())
        if pair in seen:
            raise InputFormatError(
                source, f"document '{pair[1]}' appears twice for query '{query_ids[pair[0]]}'; "
                "trec_eval refuses duplicate documents (deduplicate the run first)")
        seen.add(pair)
