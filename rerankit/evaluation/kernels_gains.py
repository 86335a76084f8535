"""Gain-based kernels: ndcg (with ``level=gain`` parameters), dcg, ideal_dcg, ndcg_rel,
Rndcg, G, rbp, rbp_resid, and ndcg_cut (which always uses the grade as gain).

trec_eval's gains (gain_init.c), per query: parameters ``level=gain`` first, in the order
given, then every other grade from 0 to the query's highest with gain = grade. The list is
sorted with a comparator that truncates the gain difference to an int, so gains less than 1
apart compare equal and the comparison is not transitive: the order then depends on the
sort algorithm, and :func:`glibc_qsort_order` follows the C library trec_eval runs on
(glibc's merge sort). The ideal ranking walks the sorted list from the end: all documents of
an entry, then the next entry with documents, stopping at the first entry with documents and
a gain <= 0; it never starts when the list's last entry (with documents or not) has a gain
<= 0. Relevance levels in parameters must be integers >= 0 and distinct (trec_eval silently
ignores or double-counts the others; :mod:`rerankit.evaluation.measures` rejects them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from rerankit.data.columns import group_starts
from rerankit.evaluation.kernels_util import (
    NEGATIVE_NAN,
    c_log2,
    log2_of_rank_plus_one,
    sequential_cumsum,
)

if TYPE_CHECKING:
    from rerankit.evaluation.kernels import RankingStats

DEFAULT_RBP_P = 0.9
#: largest grade the gain table walks level by level (a 3e9 grade would otherwise hang);
#: the evaluator refuses larger ones for GAIN_FAMILIES, naming the qrels line
MAX_GAIN_LEVEL = 1 << 20
GAIN_FAMILIES = frozenset({"G", "dcg", "ideal_dcg", "ndcg", "ndcg_rel", "Rndcg", "rbp"})


class Gains:
    """The gain table of one parameter list and the ideal ranking it implies per query."""

    def __init__(self, s: RankingStats, pairs: tuple) -> None:
        jr = s.jr
        nq = jr.num_queries
        judged = jr.qrels_grade >= 0
        top = int(jr.qrels_grade[judged].max()) if judged.any() else 0
        #: each query's highest judged grade (-1 for none): its gain list ends there
        self.top_of_query = np.full(nq, -1, dtype=np.int64)
        np.maximum.at(self.top_of_query, jr.qrels_query[judged], jr.qrels_grade[judged])
        given = [(int(name), float(value)) for name, value in pairs if name != "p"]
        self.param_gains = np.array([gain for _, gain in given])
        # levels above every grade in the qrels match no document: left out of the arrays
        size = top + 1
        self.overridden = np.zeros(size, dtype=bool)
        self.gain_of_level = np.arange(size, dtype=np.float64)
        for level, gain in given:
            if level < size:
                self.gain_of_level[level] = gain
                self.overridden[level] = True

        rel = jr.row_rel
        self.row_gain = np.where(rel >= 0, self.gain_of_level[np.clip(rel, 0, size - 1)], 0.0)
        self.nonzero = self.row_gain != 0
        self.row_term = np.where(self.nonzero, self.row_gain / log2_of_rank_plus_one(
            np.maximum(jr.row_rank, 1)), 0.0)
        self.dcg = s.per_query(self.nonzero, self.row_term)

        # ideal ranking: judged documents by walk position, cut at the first entry with
        # documents whose gain is <= 0; none where the walk never starts
        query = jr.qrels_query[judged]
        grade = jr.qrels_grade[judged]
        walk, starts = self._walk_positions(given, query, grade)
        gain = self.gain_of_level[grade]
        cut = np.where(starts, np.iinfo(np.int64).max, -1)
        np.minimum.at(cut, query[gain <= 0], walk[gain <= 0])
        keep = walk < cut[query]
        query, walk, gain = query[keep], walk[keep], gain[keep]
        order = np.lexsort((walk, query))
        self.ideal_query, self.ideal_gain = query[order], gain[order]
        self.ideal_len = np.bincount(self.ideal_query, minlength=nq)
        self.ideal_start = np.concatenate(([0], np.cumsum(self.ideal_len)[:-1]))
        position = np.arange(self.ideal_query.size) - self.ideal_start[self.ideal_query] + 1
        self.ideal_position = position
        ideal_term = self.ideal_gain / log2_of_rank_plus_one(position)
        self.idcg = np.bincount(self.ideal_query, weights=ideal_term, minlength=nq)
        self.ideal_cum = sequential_cumsum(ideal_term, self.ideal_query)

    def _walk_positions(self, given: list[tuple[int, float]], query: np.ndarray,
                        grade: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For judged qrels rows (``query``, ``grade``), each one's entry position in its
        query's walk (0 = walked first), and per query whether the walk starts at all (the
        sorted list's last entry has a gain > 0).

        Integral gains compare exactly, so any stable sort gives trec_eval's order, and
        every query's list is the one sorted list of all levels less those above its highest
        grade: one sort serves all queries. Fractional gains are sorted per highest grade,
        in glibc's order."""
        tops = np.unique(self.top_of_query[self.top_of_query >= 0]).tolist()
        walk = np.zeros(grade.size, dtype=np.int64)
        starts = np.zeros(self.top_of_query.size, dtype=bool)
        integral = all(gain == int(gain) for _, gain in given)
        if integral and tops:  # the walk starts where the query's largest gain is > 0
            levels = {level for level, _ in given}
            given_top = max((gain for _, gain in given), default=-np.inf)
            for t in tops:
                plain = t  # the query's highest level without a given gain (-1: none)
                while plain in levels:
                    plain -= 1
                starts[self.top_of_query == t] = max(given_top, plain) > 0
            tops = tops[-1:]
        query_top = self.top_of_query[query]
        for t in tops:
            entries = _gain_list(given, t)
            if integral:
                ordered = sorted(entries, key=lambda entry: entry[1])
            else:
                ordered = glibc_qsort_order(entries, _compare_gains)
                starts[self.top_of_query == t] = ordered[-1][1] > 0
            position = np.zeros(t + 1, dtype=np.int64)
            for at, (level, _) in enumerate(reversed(ordered)):
                if level <= t:
                    position[level] = at
            rows = slice(None) if integral else query_top == t
            walk[rows] = position[grade[rows]]
        return walk, starts


def _gain_list(given: list[tuple[int, float]], top: int) -> list[tuple[int, float]]:
    """trec_eval's unsorted gain list for a query whose highest grade is ``top``."""
    levels = {level for level, _ in given}
    return given + [(level, float(level)) for level in range(top + 1) if level not in levels]


def _compare_gains(a: tuple[int, float], b: tuple[int, float]) -> int:
    """trec_eval's ``comp_rel_gain``: the gain difference converted to C's int (truncated)."""
    return int(a[1] - b[1])


def glibc_qsort_order(items: list, compare: Callable[[Any, Any], int]) -> list:
    """``items`` in the order glibc's ``qsort`` leaves them: a top-down merge sort that
    splits n items into n // 2 and the rest and takes the left item when ``compare`` gives
    <= 0. For a consistent comparison any stable sort agrees; for one that is not
    transitive (trec_eval's gain comparator) only this order gives trec_eval's numbers."""
    if len(items) <= 1:
        return list(items)
    half = len(items) // 2
    left = glibc_qsort_order(items[:half], compare)
    right = glibc_qsort_order(items[half:], compare)
    merged, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if compare(left[i], right[j]) <= 0:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]

def _gains(s: RankingStats, pairs: tuple | None) -> Gains:
    key = tuple(pairs or ())
    return s.cached(("gains", key), lambda: Gains(s, key))


def _row_prefix(s: RankingStats, values_cum: np.ndarray, query: np.ndarray,
                rank: np.ndarray) -> np.ndarray:
    """``values_cum`` (a running sum over rows) at the last row of ``query`` with rank <=
    ``rank``; 0.0 where there is none."""
    jr = s.jr
    width = np.int64(max(int(jr.row_rank.max()) if jr.row_rank.size else 0,
                         int(rank.max()) if rank.size else 0) + 2)
    keys = jr.row_query.astype(np.int64) * width + jr.row_rank
    at = np.searchsorted(keys, query.astype(np.int64) * width + rank, side="right") - 1
    valid = at >= 0
    valid[valid] = jr.row_query[at[valid]] == query[valid]
    return np.where(valid, values_cum[np.maximum(at, 0)] if values_cum.size else 0.0, 0.0)


def dcg(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    return _gains(s, pairs).dcg


def ideal_dcg(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    return _gains(s, pairs).idcg


def ndcg(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    g = _gains(s, pairs)
    return s.divide(g.dcg, g.idcg)


def ndcg_cut(s: RankingStats, cutoff: float) -> np.ndarray:
    """nDCG of the top ``cutoff`` documents, gains = grades (no gain parameters)."""
    jr = s.jr
    mask = (jr.row_rel > 0) & (jr.row_rank <= cutoff)
    gains = np.where(jr.row_rel > 0, jr.row_rel, 0).astype(np.float64)
    found = s.per_query(mask, gains / log2_of_rank_plus_one(np.maximum(jr.row_rank, 1)))
    positive = jr.qrels_grade > 0
    queries, grades = jr.qrels_query[positive], jr.qrels_grade[positive]
    order = np.lexsort((-grades, queries))
    queries, grades = queries[order], grades[order].astype(np.float64)
    starts = group_starts(queries)
    ranks = np.arange(1, queries.size + 1) - np.repeat(
        starts, np.diff(np.append(starts, queries.size)))
    keep = ranks <= cutoff
    ideal = np.bincount(queries[keep], weights=(grades / log2_of_rank_plus_one(ranks))[keep],
                        minlength=jr.num_queries)
    return s.divide(found, ideal)


def ndcg_rel(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    """nDCG averaged over the documents with positive gain: at each retrieved one, then
    the final nDCG for each one not retrieved."""
    jr = s.jr
    g = _gains(s, pairs)
    positive = g.row_gain > 0
    found_cum = sequential_cumsum(g.row_term, jr.row_query)
    length = g.ideal_len[jr.row_query]
    ideal_here = np.zeros(jr.row_rank.size)
    upto = np.minimum(jr.row_rank, length)
    some = upto > 0
    ideal_here[some] = g.ideal_cum[(g.ideal_start[jr.row_query] + upto - 1)[some]]
    with np.errstate(all="ignore"):
        total = s.per_query(positive, found_cum / ideal_here)
        missed = g.ideal_len - s.per_query(positive)
        total = total + missed * g.dcg / g.idcg
        return np.where(total > 0, total / g.ideal_len, 0.0)


def rndcg(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    """Mean nDCG at the ranks where the ideal gain changes (and at num_ret)."""
    jr = s.jr
    g = _gains(s, pairs)
    nq = jr.num_queries
    iq, gain = g.ideal_query, g.ideal_gain
    change = np.ones(iq.size, dtype=bool)
    change[1:] = (iq[1:] != iq[:-1]) | (gain[1:] != gain[:-1])
    change &= g.ideal_position > 1
    # a boundary b has the first b ideal documents behind it; b = length ends the walk
    bq = np.concatenate([iq[change], np.flatnonzero(g.ideal_len > 0)])
    bpos = np.concatenate([g.ideal_position[change] - 1, g.ideal_len[g.ideal_len > 0]])
    order = np.lexsort((bpos, bq))
    bq, bpos = bq[order], bpos[order]
    found_cum = sequential_cumsum(g.row_term, jr.row_query)
    ret = jr.num_ret[bq]
    found = _row_prefix(s, found_cum, bq, np.minimum(bpos, ret))
    ideal = g.ideal_cum[g.ideal_start[bq] + bpos - 1]
    extra = (g.ideal_len >= 1) & (g.ideal_len + 1 < jr.num_ret)
    eq = np.flatnonzero(extra)
    terms_q = np.concatenate([bq, eq])
    with np.errstate(all="ignore"):
        terms = np.concatenate([found / ideal, g.dcg[eq] / g.idcg[eq]])
        # stable sort keeps each query's boundaries, then its final term, in order
        order = np.argsort(terms_q, kind="stable")
        total = np.bincount(terms_q[order], weights=terms[order], minlength=nq)
        count = np.bincount(terms_q, minlength=nq)
        value = np.where(count > 0, total / np.maximum(count, 1), NEGATIVE_NAN)
    return np.where(s.num_rel > 0, value, 0.0)


def g(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    """trec_eval's G: gain / log2(2 + ideal cost so far - gain so far), normalised by the
    total ideal gain (each ideal step costs at least 1)."""
    jr = s.jr
    gains = _gains(s, pairs)
    sum_results = sequential_cumsum(gains.row_gain, jr.row_query)
    cost_cum = sequential_cumsum(np.maximum(gains.ideal_gain, 1.0), gains.ideal_query)
    length = gains.ideal_len[jr.row_query]
    start = gains.ideal_start[jr.row_query]
    rank = jr.row_rank
    inside = np.minimum(rank, length)
    cost = np.zeros(rank.size)
    some = inside > 0
    cost[some] = cost_cum[(start + inside - 1)[some]]
    cost = np.where(rank > length, cost + (rank - length), cost)
    nz = gains.nonzero
    terms = np.zeros(rank.size)
    terms[nz] = gains.row_gain[nz] / c_log2((2.0 + cost[nz]) - sum_results[nz])
    results_g = s.per_query(nz, terms)
    sum_ideal = np.bincount(gains.ideal_query, weights=gains.ideal_gain,
                            minlength=jr.num_queries)
    return s.divide(results_g, sum_ideal)


def _persistence(pairs: tuple | None) -> float:
    p = DEFAULT_RBP_P
    for name, value in pairs or ():
        if name == "p":
            p = value
    return p


def _powers(p: float, count: int) -> np.ndarray:
    """p^0 .. p^(count-1) by repeated multiplication, as trec_eval's ``cur_p *= p``."""
    return np.concatenate(([1.0], np.cumprod(np.full(max(count - 1, 0), p))))


def rbp(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    """Rank-biased precision (Moffat & Zobel), gains rescaled to [0, 1] per query when
    any lies outside, as trec_eval."""
    jr = s.jr
    p = _persistence(pairs)
    gains = _gains(s, pairs)
    row_gain = gains.row_gain
    low, high = _gain_range(gains)
    rescale = (low < 0) | (high > 1)
    q = jr.row_query
    with np.errstate(all="ignore"):
        scaled = np.where(rescale[q], (row_gain - low[q]) / (high[q] - low[q]), row_gain)
    scaled = np.where(jr.row_rel >= 0, scaled, 0.0)
    top = int(jr.row_rank.max()) if jr.row_rank.size else 0
    powers = _powers(p, top + 1)
    nz = scaled != 0
    total = s.per_query(nz, scaled * powers[np.maximum(jr.row_rank, 1) - 1])
    return (1.0 - p) * total


def _gain_range(gains: Gains) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest gain in each query's gain list: the parameter gains plus
    grade = gain for the other grades from 0 to the query's highest."""
    top = gains.top_of_query
    levels = np.arange(gains.gain_of_level.size)
    in_list = (levels[None, :] <= top[:, None]) & ~gains.overridden[None, :]
    table = np.where(in_list, levels[None, :].astype(np.float64), np.nan)
    extra = gains.param_gains
    low = np.fmin(np.nanmin(table, axis=1, initial=np.inf), extra.min(initial=np.inf))
    high = np.fmax(np.nanmax(table, axis=1, initial=-np.inf), extra.max(initial=-np.inf))
    return low, high


def rbp_resid(s: RankingStats, pairs: tuple | None) -> np.ndarray:
    """RBP residual: the weight of unjudged ranks (unpooled or pooled but unjudged) plus
    that beyond the ranking, when any retrieved document is unjudged."""
    jr = s.jr
    p = _persistence(pairs)
    ret = jr.retrieved.astype(np.int64)
    top = int(ret.max()) if ret.size else 0
    powers = _powers(p, top + 1)
    geometric = np.concatenate(([0.0], np.cumsum(powers)))
    judged = jr.row_rel >= 0
    judged_weight = s.per_query(judged, powers[np.maximum(jr.row_rank, 1) - 1])
    unjudged = ret - s.per_query(judged)
    value = powers[ret] + (1 - p) * (geometric[ret] - judged_weight)
    return np.where(unjudged > 0, value, 0.0)
