"""Measure kernels: pure functions of a :class:`JudgedRanking`, one per trec_eval family.

They see only the retrieved documents that are in the qrels (plus per-query counts):
judged rows (grade >= 0) and, where the ranking keeps them, pooled-but-unjudged rows
(grade < 0, trec_eval's RELVALUE_UNJUDGED). A retrieved document without a row is "not
in the pool"; every trec_eval measure depends on those only through rank positions and
counts (``num_ret``).

``KERNELS[family](stats, param)`` returns one value per qrels query: float64, or for the
text families (relstring) an object array of str. Queries without results (``has_results``
false) get the value of trec_eval's stand-in ranking under ``-c`` (one unpooled document,
``JudgedRanking.retrieved``); the evaluator then resets what trec_eval resets by name
(:func:`rerankit.evaluation.evaluator.reset_stand_in`). Per-query sums use
``np.bincount`` over rows in rank order, which adds in the same sequence as trec_eval's
loops, so values agree with trec_eval to the last bit rather than merely to four decimals;
log discounts come from the C library's ``log2``. Where trec_eval 10.0 differs from 9.0.x,
kernels branch on ``stats.compat``.

Gain-based families (ndcg with gains, dcg, ideal_dcg, ndcg_rel, Rndcg, G, rbp) are in
:mod:`rerankit.evaluation.kernels_gains`.
"""

from __future__ import annotations

import numpy as np

from rerankit.data.columns import cumsum_within_groups, group_starts, suffix_max_within_groups
from rerankit.evaluation.kernels_util import (
    NEGATIVE_NAN,
    c_log,
    c_long,
    log2_of_rank_plus_one,
    lround,
)
from rerankit.evaluation.ranking import JudgedRanking

MIN_GEO_MEAN = 0.00001  # trec_eval's floor for geometric means
INFAP_EPSILON = 0.00001  # trec_eval's smoothing in infAP


class RankingStats:
    """Quantities shared by several measures, computed once per evaluation."""

    def __init__(self, jr: JudgedRanking) -> None:
        self.jr = jr
        self.compat = getattr(jr, "compat", "10")
        self.num_docs_in_coll = getattr(jr, "num_docs_in_coll", 0)
        nq = jr.num_queries
        level = jr.relevance_level
        self.judged = jr.row_rel >= 0
        self.is_rel = self.judged & (jr.row_rel >= level)
        self.is_nonrel = self.judged & (jr.row_rel < level)
        self.cum_rel = cumsum_within_groups(self.is_rel.astype(np.int64), jr.row_query)
        self.num_ret = jr.num_ret.astype(np.float64)
        self.num_rel_ret = np.bincount(jr.row_query[self.is_rel], minlength=nq).astype(np.float64)
        relevant = (jr.qrels_grade >= 0) & (jr.qrels_grade >= level)
        self.num_rel = np.bincount(jr.qrels_query[relevant], minlength=nq).astype(np.float64)
        nonrel = (jr.qrels_grade >= 0) & (jr.qrels_grade < level)
        self.num_judged_nonrel = np.bincount(jr.qrels_query[nonrel], minlength=nq).astype(
            np.float64)
        self._cache: dict = {}

    def per_query(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum ``weights`` (or count rows) over the rows selected by ``mask``, per query."""
        rows = self.jr.row_query[mask]
        w = None if weights is None else weights[mask]
        return np.bincount(rows, weights=w, minlength=self.jr.num_queries).astype(np.float64)

    def divide(self, numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        """``numerator / denominator`` with 0 where the denominator is 0 (trec_eval)."""
        out = np.zeros_like(numerator, dtype=np.float64)
        np.divide(numerator, denominator, out=out, where=denominator > 0)
        return out

    def rel_within(self, cutoff: float) -> np.ndarray:
        """Relevant retrieved documents at ranks <= ``cutoff``, per query."""
        return self.per_query(self.is_rel & (self.jr.row_rank <= cutoff))

    def cached(self, key, compute):
        """``compute()`` once per evaluation (shared by the cut-offs of one family)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


def num_ret(s: RankingStats, _) -> np.ndarray:
    return s.num_ret


def num_rel(s: RankingStats, _) -> np.ndarray:
    return s.num_rel


def num_rel_ret(s: RankingStats, _) -> np.ndarray:
    return s.num_rel_ret


def num_nonrel_judged_ret(s: RankingStats, _) -> np.ndarray:
    return s.per_query(s.is_nonrel)


def _ap_terms(s: RankingStats) -> np.ndarray:
    return s.cum_rel / s.jr.row_rank


def average_precision(s: RankingStats, cutoff: float | None) -> np.ndarray:
    """Sum of precision at each relevant retrieved rank (up to ``cutoff``) / num_rel."""
    mask = s.is_rel if cutoff is None else s.is_rel & (s.jr.row_rank <= cutoff)
    return s.divide(s.per_query(mask, _ap_terms(s)), s.num_rel)


def map_(s: RankingStats, _) -> np.ndarray:
    return average_precision(s, None)


def map_cut(s: RankingStats, cutoff: float) -> np.ndarray:
    return average_precision(s, cutoff)


def gm_map(s: RankingStats, _) -> np.ndarray:
    """Per-query AP; the summary is a geometric mean (summary rule "gmean")."""
    return average_precision(s, None)


def yaap(s: RankingStats, _) -> np.ndarray:
    """log((1 + sum of precisions at relevant ranks) / (1 + num_rel - that sum))."""
    total = s.per_query(s.is_rel, _ap_terms(s))
    return c_log((1.0 + total) / ((1.0 + s.num_rel) - total))


def precision(s: RankingStats, cutoff: float) -> np.ndarray:
    return s.rel_within(cutoff) / cutoff


def relative_p(s: RankingStats, cutoff: float) -> np.ndarray:
    """Relevant in the top ``cutoff`` / min(cutoff, num_rel)."""
    return s.divide(s.rel_within(cutoff), np.minimum(cutoff, s.num_rel))


def recall(s: RankingStats, cutoff: float) -> np.ndarray:
    return s.divide(s.rel_within(cutoff), s.num_rel)


def r_precision(s: RankingStats, _) -> np.ndarray:
    within_r = s.jr.row_rank <= s.num_rel[s.jr.row_query]
    return s.divide(s.per_query(s.is_rel & within_r), s.num_rel)


def rprec_mult(s: RankingStats, multiple: float) -> np.ndarray:
    """Precision at rank (long)(multiple * num_rel + 0.9), 0 when that rank is 0."""
    cut = c_long(multiple * s.num_rel + 0.9)
    mask = s.is_rel & (s.jr.row_rank <= cut[s.jr.row_query])
    return s.divide(s.per_query(mask), cut.astype(np.float64))


def _first_relevant(s: RankingStats) -> np.ndarray:
    return s.is_rel & (s.cum_rel == 1)


def recip_rank(s: RankingStats, _) -> np.ndarray:
    return s.per_query(_first_relevant(s), 1.0 / s.jr.row_rank)


def recip_rank_cut(s: RankingStats, cutoff: float) -> np.ndarray:
    mask = _first_relevant(s) & (s.jr.row_rank <= cutoff)
    return s.per_query(mask, 1.0 / s.jr.row_rank)


def success(s: RankingStats, cutoff: float) -> np.ndarray:
    return s.per_query(_first_relevant(s) & (s.jr.row_rank <= cutoff))


def unjudged(s: RankingStats, cutoff: float) -> np.ndarray:
    """Share of the top ``cutoff`` not judged (unpooled or pooled but unjudged)."""
    judged = s.per_query(s.judged & (s.jr.row_rank <= cutoff))
    return (np.minimum(cutoff, s.num_ret) - judged) / cutoff


def _bpref(s: RankingStats) -> np.ndarray:
    """trec_eval's bpref: judged non-relevant documents ranked above each relevant one."""
    jr = s.jr
    nonrel_above = cumsum_within_groups(s.is_nonrel.astype(np.int64), jr.row_query)
    r = s.num_rel[jr.row_query]
    n = s.num_judged_nonrel[jr.row_query]
    penalty = np.zeros(len(r))
    np.divide(np.minimum(nonrel_above, r), np.minimum(n, r), out=penalty,
              where=(nonrel_above > 0) & (np.minimum(n, r) > 0))
    total = s.per_query(s.is_rel, 1.0 - penalty)
    return np.where(s.num_rel > 0, s.divide(total, s.num_rel), total)


def bpref(s: RankingStats, _) -> np.ndarray:
    return _bpref(s)


def gm_bpref(s: RankingStats, _) -> np.ndarray:
    """Per-query bpref; the summary is a geometric mean (summary rule "gmean")."""
    return _bpref(s)


def inf_ap(s: RankingStats, _) -> np.ndarray:
    """Inferred AP (Yilmaz & Aslam): precision above each relevant document estimated
    from the judged documents above it; unpooled documents count as non-relevant."""
    jr = s.jr
    pooled_unjudged = ~s.judged
    n = cumsum_within_groups(s.is_nonrel.astype(np.int64), jr.row_query)
    u = cumsum_within_groups(pooled_unjudged.astype(np.int64), jr.row_query)
    j = (jr.row_rank - 1).astype(np.float64)
    seen = (s.cum_rel - 1 + n + u).astype(np.float64)
    with np.errstate(all="ignore"):
        later = (1.0 / (j + 1.0) + (j / (j + 1.0)) * (seen / j)
                 * (((s.cum_rel - 1) + INFAP_EPSILON) / ((s.cum_rel - 1 + n) + 2 * INFAP_EPSILON)))
    term = np.where(j == 0, 1.0, later)
    total = s.per_query(s.is_rel, term)
    return np.where(s.num_rel > 0, s.divide(total, s.num_rel), total)


def bin_g(s: RankingStats, _) -> np.ndarray:
    """Mean over relevant documents of 1 / log2(2 + non-relevant retrieved before it)."""
    jr = s.jr
    nonrel_before = jr.row_rank - s.cum_rel            # 3 + i - rel_so_far = 2 + this
    total = s.per_query(s.is_rel, 1.0 / log2_of_rank_plus_one(nonrel_before + 1))
    return s.divide(total, s.num_rel)


def _interpolated(s: RankingStats, levels: tuple[float, ...]) -> list[np.ndarray]:
    """trec_eval's interpolated precision at recall ``levels`` (given order), one array per
    level, following its reverse walk over the ranking exactly (also for unsorted or
    out-of-range levels, as 11pt_avg allows).

    Level k's cut is a number of relevant documents: lround(level * num_rel) in 10.0,
    (long)(level * num_rel + 0.9) in 9.0.x. Walking the levels from the last, cuts above
    num_rel_ret at the start give 0; a cut c in [1, walked position] gives the best
    precision at or after the c-th relevant document; any other cut stops the walk, and it
    and all remaining levels get the interpolated precision at the first relevant document.
    """
    jr = s.jr
    nq = jr.num_queries
    rel_rows = np.flatnonzero(s.is_rel)
    rel_query = jr.row_query[rel_rows]
    best_after = suffix_max_within_groups(s.cum_rel[rel_rows] / jr.row_rank[rel_rows],
                                          rel_query)
    first = np.zeros(nq, dtype=np.int64)
    starts = group_starts(rel_query)
    first[rel_query[starts]] = starts
    nrr = s.num_rel_ret.astype(np.int64)
    # interpolated precision once the walk is over: at the first relevant document, or
    # num_rel_ret / num_ret = 0 without one (0/0 when nothing was retrieved, as trec_eval;
    # a query without results is evaluated on a one-document stand-in ranking)
    final = np.zeros(nq)
    has_rel = nrr > 0
    final[has_rel] = best_after[first[has_rel]]
    final[(nrr == 0) & (jr.retrieved == 0)] = NEGATIVE_NAN
    values = [np.zeros(nq) for _ in levels]
    skipping = np.ones(nq, dtype=bool)
    stopped = np.zeros(nq, dtype=bool)
    position = nrr.copy()
    for k in range(len(levels) - 1, -1, -1):
        raw = levels[k] * s.num_rel
        cut = lround(raw) if s.compat != "9" else c_long(raw + 0.9)
        skipping &= cut > nrr
        active = ~skipping
        match = active & ~stopped & (cut >= 1) & (cut <= position)
        values[k][match] = best_after[(first + np.maximum(cut, 1) - 1)[match]]
        position[match] = cut[match]
        stopped |= active & ~match
        values[k][stopped] = final[stopped]
    return values


def iprec_at_recall(s: RankingStats, level: float) -> np.ndarray:
    """Interpolated precision at a recall level (trec_eval's cut-offs are sorted)."""
    return _interpolated(s, (level,))[0]


def eleven_pt_avg(s: RankingStats, levels: tuple[float, ...]) -> np.ndarray:
    """Mean interpolated precision over ``levels``, summed from the last level as trec_eval."""
    values = _interpolated(s, levels)
    total = np.zeros(s.jr.num_queries)
    for v in values[::-1]:
        total = total + v
    return total / len(levels)


def set_p(s: RankingStats, _) -> np.ndarray:
    return s.divide(s.num_rel_ret, s.num_ret)


def set_recall(s: RankingStats, _) -> np.ndarray:
    return s.divide(s.num_rel_ret, s.num_rel)


def set_relative_p(s: RankingStats, _) -> np.ndarray:
    denominator = np.where(s.num_rel > 0, np.minimum(s.num_ret, s.num_rel), 0.0)
    return s.divide(s.num_rel_ret, denominator)


def set_map(s: RankingStats, _) -> np.ndarray:
    denominator = np.where(s.num_rel > 0, s.num_ret * s.num_rel, 0.0)
    return s.divide(s.num_rel_ret * s.num_rel_ret, denominator)


def set_f(s: RankingStats, params: tuple[float, ...]) -> np.ndarray:
    """F-measure of the retrieved set, beta = params[0] (trec_eval's formula and order)."""
    x = params[0]
    found = s.num_rel_ret > 0
    out = np.zeros(s.jr.num_queries)
    p = s.num_rel_ret[found] / s.num_ret[found]
    r = s.num_rel_ret[found] / s.num_rel[found]
    with np.errstate(all="ignore"):
        out[found] = (x + 1.0) * p * r / (x * p + r)
    return out


def utility(s: RankingStats, params: tuple[float, ...]) -> np.ndarray:
    """p1 * rel_ret + p2 * nonrel_ret + p3 * rel_missed + p4 * nonrel_missed (-N docs)."""
    a, b, c, d = params
    nrr, ret, rel = s.num_rel_ret, s.jr.retrieved, s.num_rel
    return (a * nrr + b * (ret - nrr) + c * (rel - nrr)
            + d * (s.num_docs_in_coll + nrr - ret - rel))


def relstring(s: RankingStats, params: tuple[float, ...]) -> np.ndarray:
    """The grades of the top documents as text, quoted as trec_eval prints it: a digit per
    judged document ('>' above 9), '-' unpooled, '.' pooled but unjudged."""
    jr = s.jr
    width = max(0, int(c_long(np.array([params[0]]))[0]))
    length = np.minimum(width, jr.retrieved).astype(np.int64)
    width = int(length.max()) if length.size else 0
    chars = np.full((jr.num_queries, max(width, 1)), b"\0", dtype="S1")
    chars[np.arange(width)[None, :] < length[:, None]] = b"-"
    top = jr.row_rank <= length[jr.row_query]
    rel = jr.row_rel[top]
    digit = np.where(rel > 9, ord(">"), np.where(rel >= 0, ord("0") + np.clip(rel, 0, 9),
                                                   ord(".")))
    chars[jr.row_query[top], jr.row_rank[top] - 1] = digit.astype(np.uint8).view("S1")
    text = chars.view(f"S{chars.shape[1]}").ravel()
    return np.array([f"'{t.decode('ascii')}'" for t in text], dtype=object)


def _kernels() -> dict:
    from rerankit.evaluation import kernels_gains as g

    return {
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
        "relstring": relstring,
        "recall": recall,
        "infAP": inf_ap,
        "gm_bpref": gm_bpref,
        "Rprec_mult": rprec_mult,
        "utility": utility,
        "11pt_avg": eleven_pt_avg,
        "binG": bin_g,
        "G": g.g,
        "dcg": g.dcg,
        "ideal_dcg": g.ideal_dcg,
        "ndcg": g.ndcg,
        "ndcg_rel": g.ndcg_rel,
        "Rndcg": g.rndcg,
        "ndcg_cut": g.ndcg_cut,
        "map_cut": map_cut,
        "relative_P": relative_p,
        "success": success,
        "set_P": set_p,
        "set_relative_P": set_relative_p,
        "set_recall": set_recall,
        "set_map": set_map,
        "set_F": set_f,
        "num_nonrel_judged_ret": num_nonrel_judged_ret,
        "yaap": yaap,
        "rbp": g.rbp,
        "rbp_resid": g.rbp_resid,
        "unj": unjudged,
        "recip_rank_cut": recip_rank_cut,
    }


KERNELS = _kernels()
__all__ = ["KERNELS", "MIN_GEO_MEAN", "RankingStats"]
