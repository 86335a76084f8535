"""Measure kernels: pure functions of a :class:`JudgedRanking`, one per trec_eval family.

They see only the retrieved documents that are judged (plus per-query counts): every
trec_eval measure here depends on unjudged documents only through their rank positions.

Each returns one float64 value per qrels query (queries without results get the value
trec_eval gives them under ``-c``). Per-query sums use ``np.bincount`` over rows in rank
order, which adds in the same sequence as trec_eval's loops, so values agree with
trec_eval to the last bit rather than merely to four decimals. Log discounts come from
the C library's ``log2`` (via ``math.log2``), as in trec_eval.
"""

from __future__ import annotations

import math

import numpy as np

from rerankit.data.columns import cumsum_within_groups, group_starts, suffix_max_within_groups
from rerankit.evaluation.ranking import JudgedRanking

MIN_GEO_MEAN = 0.00001  # trec_eval's floor for geometric means


class RankingStats:
    """Quantities shared by several measures, computed once per evaluation."""

    def __init__(self, jr: JudgedRanking) -> None:
        self.jr = jr
        nq = jr.num_queries
        level = jr.relevance_level
        self.is_rel = jr.row_rel >= level
        self.cum_rel = cumsum_within_groups(self.is_rel.astype(np.int64), jr.row_query)
        self.num_ret = jr.num_ret.astype(np.float64)
        self.num_rel_ret = np.bincount(jr.row_query[self.is_rel], minlength=nq).astype(np.float64)
        relevant = (jr.qrels_grade >= 0) & (jr.qrels_grade >= level)
        self.num_rel = np.bincount(jr.qrels_query[relevant], minlength=nq).astype(np.float64)
        nonrel = (jr.qrels_grade >= 0) & (jr.qrels_grade < level)
        self.num_judged_nonrel = np.bincount(jr.qrels_query[nonrel], minlength=nq).astype(
            np.float64)

    def per_query(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum ``weights`` (or count rows) over the rows selected by ``mask``, per query."""
        rows = self.jr.row_query[mask]
        w = None if weights is None else weights[mask]
        return np.bincount(rows, weights=w, minlength=self.jr.num_queries).astype(np.float64)

    def divide(self, numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        """``numerator / denominator`` with 0 where the denominator is 0 (trec_eval)."""
        out = np.zeros_like(numerator)
        np.divide(numerator, denominator, out=out, where=denominator > 0)
        return out


def _discount(ranks: np.ndarray) -> np.ndarray:
    """log2(rank + 1) from the C library's log2, the function trec_eval calls."""
    top = int(ranks.max()) if ranks.size else 0
    table = np.array([1.0] + [math.log2(r + 1) for r in range(1, top + 1)])
    return table[ranks]


def num_ret(s: RankingStats, _: float | None) -> np.ndarray:
    return s.num_ret


def num_rel(s: RankingStats, _: float | None) -> np.ndarray:
    return s.num_rel


def num_rel_ret(s: RankingStats, _: float | None) -> np.ndarray:
    return s.num_rel_ret


def average_precision(s: RankingStats, cutoff: float | None) -> np.ndarray:
    """Sum of precision at each relevant retrieved rank (up to ``cutoff``) / num_rel."""
    mask = s.is_rel if cutoff is None else s.is_rel & (s.jr.row_rank <= cutoff)
    precision = s.cum_rel / s.jr.row_rank
    return s.divide(s.per_query(mask, precision), s.num_rel)


def map_(s: RankingStats, _: float | None) -> np.ndarray:
    return average_precision(s, None)


def map_cut(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return average_precision(s, cutoff)


def gm_map(s: RankingStats, _: float | None) -> np.ndarray:
    """Per-query AP; the summary is a geometric mean (see :func:`summarise`)."""
    return average_precision(s, None)


def precision(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return s.per_query(s.is_rel & (s.jr.row_rank <= cutoff)) / cutoff


def recall(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return s.divide(s.per_query(s.is_rel & (s.jr.row_rank <= cutoff)), s.num_rel)


def r_precision(s: RankingStats, _: float | None) -> np.ndarray:
    within_r = s.jr.row_rank <= s.num_rel[s.jr.row_query]
    return s.divide(s.per_query(s.is_rel & within_r), s.num_rel)


def _first_relevant(s: RankingStats) -> np.ndarray:
    return s.is_rel & (s.cum_rel == 1)


def recip_rank(s: RankingStats, _: float | None) -> np.ndarray:
    return s.per_query(_first_relevant(s), 1.0 / s.jr.row_rank)


def recip_rank_cut(s: RankingStats, cutoff: float | None) -> np.ndarray:
    mask = _first_relevant(s) & (s.jr.row_rank <= cutoff)
    return s.per_query(mask, 1.0 / s.jr.row_rank)


def success(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return s.per_query(_first_relevant(s) & (s.jr.row_rank <= cutoff))


def bpref(s: RankingStats, _: float | None) -> np.ndarray:
    """trec_eval's bpref: judged non-relevant documents ranked above each relevant one."""
    jr = s.jr
    judged_nonrel = (jr.row_rel >= 0) & (jr.row_rel < jr.relevance_level)
    judged_rel = (jr.row_rel >= 0) & (jr.row_rel >= jr.relevance_level)
    nonrel_above = cumsum_within_groups(judged_nonrel.astype(np.int64), jr.row_query)
    r = s.num_rel[jr.row_query]
    n = s.num_judged_nonrel[jr.row_query]
    penalty = np.zeros(len(r))
    np.divide(np.minimum(nonrel_above, r), np.minimum(n, r), out=penalty,
              where=(nonrel_above > 0) & (np.minimum(n, r) > 0))
    total = s.per_query(judged_rel, 1.0 - penalty)
    return np.where(s.num_rel > 0, s.divide(total, s.num_rel), total)


def _dcg(s: RankingStats, cutoff: float | None) -> np.ndarray:
    jr = s.jr
    gains = np.where(jr.row_rel > 0, jr.row_rel, 0).astype(np.float64)
    mask = gains > 0
    if cutoff is not None:
        mask &= jr.row_rank <= cutoff
    return s.per_query(mask, gains / _discount(jr.row_rank))


def _ideal_dcg(s: RankingStats, cutoff: float | None) -> np.ndarray:
    """DCG of the judgements sorted by grade descending (positive grades only)."""
    jr = s.jr
    positive = jr.qrels_grade > 0
    queries, grades = jr.qrels_query[positive], jr.qrels_grade[positive]
    order = np.lexsort((-grades, queries))
    queries, grades = queries[order], grades[order].astype(np.float64)
    ranks = np.arange(1, queries.size + 1) - np.repeat(
        group_starts(queries), np.diff(np.append(group_starts(queries), queries.size)))
    keep = np.ones(queries.size, bool) if cutoff is None else ranks <= cutoff
    return np.bincount(queries[keep], weights=(grades / _discount(ranks))[keep],
                       minlength=jr.num_queries)


def ndcg(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return s.divide(_dcg(s, cutoff), _ideal_dcg(s, cutoff))


def ndcg_cut(s: RankingStats, cutoff: float | None) -> np.ndarray:
    return ndcg(s, cutoff)


def iprec_at_recall(s: RankingStats, level: float | None) -> np.ndarray:
    """Interpolated precision at a recall level (trec_eval 9: cut-off = int(level*R + 0.9))."""
    jr = s.jr
    rel_rows = np.flatnonzero(s.is_rel)
    rel_query = jr.row_query[rel_rows]
    prec = s.cum_rel[rel_rows] / jr.row_rank[rel_rows]
    best_after = suffix_max_within_groups(prec, rel_query)
    first = np.full(jr.num_queries, -1, dtype=np.int64)
    starts = group_starts(rel_query)
    first[rel_query[starts]] = starts
    cut = np.floor(level * s.num_rel + 0.9).astype(np.int64)
    out = np.zeros(jr.num_queries)
    usable = (first >= 0) & (cut <= s.num_rel_ret)
    index = first[usable] + np.maximum(cut[usable] - 1, 0)
    out[usable] = best_after[index]
    return out


KERNELS = {
    "num_ret": num_ret,
    "num_rel": num_rel,
    "num_rel_ret": num_rel_ret,
    "map": map_,
    "gm_map": gm_map,
    "Rprec": r_precision,
    "bpref": bpref,
    "recip_rank": recip_rank,
    "iprec_at_recall": iprec_at_recall,
    "P": precision,
    "recall": recall,
    "ndcg": ndcg,
    "ndcg_cut": ndcg_cut,
    "map_cut": map_cut,
    "success": success,
    "recip_rank_cut": recip_rank_cut,
}
