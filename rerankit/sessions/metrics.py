"""Session metrics (the README section "Session-level evaluation"): NUM, U-measure, sDCG,
nsDCG, sRBP and per-query aggregates, computed for every session at once with ``np.bincount``.

What comes from where:
* NUM (Chen, Dou, Mao 2024): its two assumptions are implemented as stated. A1, an ideal
  system satisfies the user with one query: the ideal trailtext is one list of every
  document with a positive label, by gain (then length, then id). A2, click-through
  enhancement: ``enhance="forward"`` labels. NUM = U(actual) / U(ideal).
* Our conventions, as the specification fixes them (the paper's exact formulas are not
  available): U-measure over the trailtext (Sakai and Dou 2013) with patience ``L``, the
  reformulation item of cost ``c`` before every query but the first, depth ``k``, gains
  ``exp`` (2^r - 1) or ``linear`` or a grade -> gain map (cwl-style real gains), a document
  credited once per session (first time it has a positive label), lengths per result or 1.
  Every one of these is a parameter.
* Position convention (``position``): ``"end"`` (default, the specification's) counts an
  item's position at its end, pos_k = l_1 + ... + l_k; ``"start"`` at its beginning,
  pos_k = l_1 + ... + l_(k-1), which is cwl's U-measure (its weight of item k is
  max(0, 1 - start_k / L)). Same L, same lengths, ``position="start"``: cwl's weights.
* rerankit's own conventions: labels and the ideal set use the full logged lists, the
  trailtext only the top ``k``; a session whose ideal U is 0 has no NUM (NaN), is left out of
  means and is counted; with variable lengths NUM can exceed 1 slightly, as the gain-ordered
  ideal is not always the best order; sRBP uses binary relevance (label > 0); the per-query
  nDCG of the aggregates uses the session's ideal ranking of labelled documents; a document
  listed twice in one list (real logs do this) keeps both rank positions, but only its first
  occurrence in that list gains in sDCG, sRBP and nDCG (NUM credits it once per session).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from rerankit.data.columns import group_starts
from rerankit.sessions.labels import Judged

Gain = Literal["exp", "linear"]
Position = Literal["end", "start"]
METRICS = ("num", "umeasure", "sdcg", "nsdcg", "srbp", "ndcg_mean", "ndcg_max", "ndcg_first",
           "ndcg_last", "found")
#: The largest sum of gains a session (or trailtext) may have: half of float64's largest
#: value. Every metric value and every partial sum behind it is a sum of gains times weights
#: in [0, 1] (discounts >= 1), so a session within this bound cannot overflow to inf (nor
#: a ratio of two infs become NaN); the half leaves room for the rounding of sums taken in
#: another order. A session past it is refused, never scored as inf or NaN.
GAIN_SUM_LIMIT = float(np.finfo(np.float64).max) / 2


@dataclass(frozen=True)
class SessionParams:
    """Every parameter of every session metric, validated on construction."""

    depth: int = 10              # k: results read per query
    patience: float = 20.0       # L of the U-measure / NUM
    reformulation_cost: float = 1.0   # c
    gain: Gain = "exp"
    sdcg_b: float = 2.0          # rank discount base
    sdcg_bq: float = 4.0         # query discount base
    srbp_p: float = 0.8          # persistence
    srbp_b: float = 0.64         # balance between going down and reformulating
    position: Position = "end"   # U / NUM: an item's position at its end or its start
    gain_map: tuple[tuple[float, float], ...] = ()   # (grade, gain) pairs or a dict; replaces
    #                                                  `gain` (cwl-style real gains)

    def __post_init__(self) -> None:
        if isinstance(self.gain_map, Mapping):
            object.__setattr__(self, "gain_map", tuple(sorted(self.gain_map.items())))
        checks = [
            (isinstance(self.depth, numbers.Integral) and self.depth >= 1,
             f"depth must be an integer >= 1, got {self.depth}"),
            (0 < self.patience < math.inf,
             f"L (patience) must be a finite number > 0, got {self.patience}"),
            (0 <= self.reformulation_cost < math.inf,
             f"c (reformulation cost) must be a finite number >= 0, got "
             f"{self.reformulation_cost}"),
            (self.gain in ("exp", "linear"), f"gain must be exp or linear, got {self.gain!r}"),
            (1 < self.sdcg_b < math.inf,
             f"sDCG b must be a finite number > 1, got {self.sdcg_b}"),
            (1 < self.sdcg_bq < math.inf,
             f"sDCG bq must be a finite number > 1, got {self.sdcg_bq}"),
            (0 < self.srbp_p < 1, f"sRBP p must be in (0, 1), got {self.srbp_p}"),
            (0 < self.srbp_b <= 1, f"sRBP b must be in (0, 1], got {self.srbp_b}"),
            (self.position in ("end", "start"),
             f"position must be end or start, got {self.position!r}"),
            (all(math.isfinite(g) and v >= 0 and math.isfinite(v) for g, v in self.gain_map),
             "gain map values must be finite numbers >= 0"),
            (len({g for g, _ in self.gain_map}) == len(self.gain_map),
             "gain map lists a grade twice"),
        ]
        for ok, message in checks:       # NaN fails every comparison, so is refused too
            if not ok:
                raise ValueError(message)

    def gain_of(self, rel: np.ndarray) -> np.ndarray:
        """Gain of every grade: the gain map's value, else ``gain`` (grades <= 0 give 0
        unless mapped). A positive grade missing from a gain map is an error."""
        if not self.gain_map:
            return gain(rel, self.gain)
        found, values = self._mapped(rel)
        missing = ~found & (rel > 0)
        if missing.any():
            raise ValueError(f"grade {grade_text(rel[missing][0])} has no gain in the gain "
                             f"map ({self.gain_map_text()})")
        return np.where(found, values, 0.0)

    def unmapped(self, rel: np.ndarray) -> np.ndarray:
        """Which grades :meth:`gain_of` refuses: positive grades a gain map lacks (none
        without a gain map), so that a caller who knows where each grade comes from can
        name the session that holds one."""
        if not self.gain_map:
            return np.zeros(np.shape(rel), dtype=bool)
        return ~self._mapped(rel)[0] & (rel > 0)

    def gain_map_text(self) -> str:
        """The gain map as ``1=0.2, 2=0.4``, for messages."""
        return ", ".join(f"{grade_text(g)}={v:g}" for g, v in self.gain_map)

    def _mapped(self, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each grade is in the gain map, and its gain there (meaningless where
        it is not)."""
        grades = np.array([g for g, _ in self.gain_map], dtype=float)
        values = np.array([v for _, v in self.gain_map], dtype=float)
        order = np.argsort(grades)
        grades, values = grades[order], values[order]
        slot = np.minimum(np.searchsorted(grades, rel), grades.size - 1)
        return grades[slot] == rel, values[slot]


def grade_text(g: float) -> str:
    """A grade as written in a gain map: ``3``, not ``3.0``."""
    return str(int(g)) if float(g).is_integer() else str(g)


def gain(rel: np.ndarray, kind: Gain) -> np.ndarray:
    """2^r - 1 (exp) or r (linear); grades <= 0 give 0. The exp gain is ``exp2(r) - 1``,
    exact for every integer grade (2^r is a power of two, and 2^r - 1 is rounded once):
    ``expm1(r ln 2)`` carries the rounding of ln 2 times r into the result (grade 3 gave
    6.999999999999998, grade 1000 a relative error of 7e-14)."""
    positive = np.maximum(rel, 0.0)
    return np.exp2(positive) - 1.0 if kind == "exp" else positive


def u_measure(gains: np.ndarray, lengths: np.ndarray, patience: float,
              position: Position = "end") -> float:
    """U of one trailtext: sum g_k max(0, 1 - pos_k / L), pos_k = l_1 + ... + l_k
    (``position="end"``) or l_1 + ... + l_(k-1) (``"start"``, cwl's convention). Gains and
    lengths are one finite value >= 0 per item, as the specification defines them: a
    mismatch would otherwise be broadcast into a number for a trailtext nobody gave."""
    if not 0 < patience < math.inf:
        raise ValueError(f"L (patience) must be a finite number > 0, got {patience}")
    if position not in ("end", "start"):
        raise ValueError(f"position must be end or start, got {position!r}")
    gains, lengths = _items(gains, "gains"), _items(lengths, "lengths")
    if gains.size != lengths.size:
        raise ValueError(f"gains and lengths must have one value per item, got {gains.size} "
                         f"gains and {lengths.size} lengths")
    with np.errstate(over="ignore"):
        total = float(np.sum(gains))
    if not total <= GAIN_SUM_LIMIT:
        raise ValueError(f"gains must sum to at most {GAIN_SUM_LIMIT:.4g} (half of float64's "
                         f"largest value, so that U cannot overflow), got {total:.4g}")
    positions = np.cumsum(lengths) - (lengths if position == "start" else 0.0)
    return float(np.sum(gains * _weight(positions, patience)))


def _items(values: np.ndarray, name: str) -> np.ndarray:
    """One finite number >= 0 per trailtext item, as a flat float array."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat list of numbers (one per item), got "
                         f"{array.ndim} dimensions")
    bad = array[~(np.isfinite(array) & (array >= 0))]
    if bad.size:
        raise ValueError(f"{name} must be finite numbers >= 0, got {bad[0]:g}")
    return array


def session_metrics(judged: Judged, num_sessions: int, params: SessionParams,
                    metrics: tuple[str, ...] = METRICS) -> dict[str, np.ndarray]:
    """Every requested metric for every session (NaN where undefined)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown session metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    top = judged.item_rank <= params.depth
    repeat = _repeated_in_list(judged)
    out: dict[str, np.ndarray] = {}
    if {"num", "umeasure"} & set(metrics):
        actual = _u_actual(judged, top, num_sessions, params)
        if "umeasure" in metrics:
            out["umeasure"] = actual
        if "num" in metrics:
            out["num"] = _ratio(actual, _u_ideal(judged, num_sessions, params))
    if {"sdcg", "nsdcg"} & set(metrics):
        sdcg, ideal = _sdcg(judged, top, repeat, num_sessions, params)
        if "sdcg" in metrics:
            out["sdcg"] = sdcg
        if "nsdcg" in metrics:
            out["nsdcg"] = _ratio(sdcg, ideal)
    if "found" in metrics:
        out["found"] = _found(judged, top, num_sessions)
    if "srbp" in metrics:
        out["srbp"] = _srbp(judged, top, repeat, num_sessions, params)
    aggregates = [m for m in metrics if m.startswith("ndcg_")]
    if aggregates:
        out.update(_query_ndcg(judged, top, repeat, num_sessions, params, aggregates))
    return {m: out[m] for m in metrics}


def per_query(j: Judged) -> Judged:
    """The same judgements with every interaction as a one-query session: its own list, no
    reformulation, labels as in the whole session (so click enhancement still counts later
    clicks), and its session's ideal set. Scoring it gives query-level values of every
    session metric (query-level NUM = U of the query's list / U of the session's ideal)."""
    n = j.inter_session.size
    order = np.argsort(j.ideal_session, kind="stable")
    ideal_session = j.ideal_session[order]
    starts = np.searchsorted(ideal_session, j.inter_session, side="left")
    counts = np.searchsorted(ideal_session, j.inter_session, side="right") - starts
    inter = np.repeat(np.arange(n), counts)
    offsets = np.arange(inter.size) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = order[np.repeat(starts, counts) + offsets]
    return replace(j, item_session=j.item_inter, ideal_session=inter,
                   ideal_doc=j.ideal_doc[rows], ideal_rel=j.ideal_rel[rows],
                   ideal_length=j.ideal_length[rows], inter_session=np.arange(n),
                   inter_ordinal=np.ones(n, dtype=np.int64))


def _found(j: Judged, top: np.ndarray, n: int) -> np.ndarray:
    """Distinct documents with a positive label in the trailtext's top k of the session:
    the simple "gold" measure for Sakai's intuitiveness test."""
    key = j.item_session[top] * np.int64(int(j.item_doc.max(initial=0)) + 1) + j.item_doc[top]
    relevant = np.unique(key[j.item_rel[top] > 0])
    width = np.int64(int(j.item_doc.max(initial=0)) + 1)
    return np.bincount(relevant // width, minlength=n).astype(float)


def _repeated_in_list(j: Judged) -> np.ndarray:
    """True for the second and later occurrences of a document within one list."""
    key = j.item_inter * np.int64(int(j.item_doc.max(initial=0)) + 1) + j.item_doc
    _, first = np.unique(key, return_index=True)
    repeated = np.ones(key.size, dtype=bool)
    repeated[first] = False
    return repeated


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _u_actual(j: Judged, top: np.ndarray, n: int, p: SessionParams) -> np.ndarray:
    session, inter, doc = j.item_session[top], j.item_inter[top], j.item_doc[top]
    rel, length = j.item_rel[top], j.item_length[top]
    # Position of every item in its session's trailtext: previous queries' items and one
    # reformulation item of cost c before every query but the first (even an empty one).
    # c (i - 1) past float range is +inf: those items lie beyond any finite L, weigh 0.
    with np.errstate(over="ignore"):
        reformulations = (j.inter_ordinal[inter] - 1) * p.reformulation_cost
    within_session = _cumsum_within(length, session)
    position = within_session + reformulations
    if p.position == "start":
        position = position - length
    # A document is credited once: at its first positive-labelled item in the trail.
    positive = rel > 0
    key = session * np.int64(max(int(doc.max(initial=0)) + 1, 1)) + doc
    order = np.argsort(np.where(positive, key, -1), kind="stable")
    candidates = order[positive[order]]
    starts = group_starts(key[candidates])
    credited = np.zeros(rel.size, dtype=bool)
    credited[candidates[starts]] = True
    value = np.where(credited, p.gain_of(rel), 0.0) * _weight(position, p.patience)
    return np.bincount(session, weights=value, minlength=n)


def _u_ideal(j: Judged, n: int, p: SessionParams) -> np.ndarray:
    gains = p.gain_of(j.ideal_rel)
    order = np.lexsort((j.ideal_doc, j.ideal_length, -gains, j.ideal_session))
    session = j.ideal_session[order]
    position = _cumsum_within(j.ideal_length[order], session)
    if p.position == "start":
        position = position - j.ideal_length[order]
    value = gains[order] * _weight(position, p.patience)
    return np.bincount(session, weights=value, minlength=n)


def _weight(position: np.ndarray, patience: float) -> np.ndarray:
    """The U-measure's weight max(0, 1 - pos / L). Where pos / L is past float range (a
    tiny L, or a position a huge c made +inf) it is far past 1, so the weight is exactly
    0, which is what the overflow to +inf gives: numpy's warning about it is silenced."""
    with np.errstate(over="ignore"):
        return np.maximum(0.0, 1.0 - position / patience)


def _log_discount(position: np.ndarray, base: float) -> np.ndarray:
    """sDCG's discount log_base(position + base - 1), for positions >= 1, computed as
    log1p((position - 1) + (base - 1)) / log1p(base - 1). Written as in the formula,
    ``position + base - 1`` loses ``base - 1`` to rounding when the base is within a few
    ulps of 1 (1 + 1.0000000000000002 - 1 is 1.0: a zero discount, an infinite sDCG),
    while ``base - 1`` is exact there (Sterbenz), so the first position's discount is
    exactly 1 for every base > 1 and later ones are large but finite, as the limit
    base -> 1 says (only the first position counts)."""
    step = base - 1.0
    return np.log1p((position - 1) + step) / math.log1p(step)


def _cumsum_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    total = np.cumsum(values, dtype=np.float64)
    starts = group_starts(groups)
    before = np.concatenate(([0.0], total[:-1]))[starts]
    return total - np.repeat(before, np.diff(np.append(starts, groups.size)))


def _sdcg(j: Judged, top: np.ndarray, repeat: np.ndarray, n: int,
          p: SessionParams) -> tuple[np.ndarray, np.ndarray]:
    query_discount = _log_discount(j.inter_ordinal, p.sdcg_bq)
    rank_discount = _log_discount(j.item_rank[top], p.sdcg_b)
    which = j.item_inter[top]
    gains = np.where(repeat[top], 0.0, p.gain_of(j.item_rel[top]))
    value = gains / rank_discount / query_discount[which]
    sdcg = np.bincount(j.item_session[top], weights=value, minlength=n)
    # Ideal session: every query returns the ideal ranking of the judged documents.
    ideal_dcg = _ideal_dcg(j, n, p, p.sdcg_b)
    per_query = np.bincount(j.inter_session, weights=1.0 / query_discount, minlength=n)
    return sdcg, ideal_dcg * per_query


def _ideal_dcg(j: Judged, n: int, p: SessionParams, base: float) -> np.ndarray:
    order = np.lexsort((-p.gain_of(j.ideal_rel), j.ideal_session))
    session, rel = j.ideal_session[order], j.ideal_rel[order]
    starts = group_starts(session)
    rank = np.arange(1, session.size + 1) - np.repeat(starts, np.diff(np.append(starts,
                                                                                session.size)))
    keep = rank <= p.depth
    value = p.gain_of(rel[keep]) / _log_discount(rank[keep], base)
    return np.bincount(session[keep], weights=value, minlength=n)


def _srbp(j: Judged, top: np.ndarray, repeat: np.ndarray, n: int,
          p: SessionParams) -> np.ndarray:
    bp = p.srbp_b * p.srbp_p
    query_weight = ((p.srbp_p - bp) / (1 - bp)) ** (j.inter_ordinal[j.item_inter[top]] - 1)
    rank_weight = bp ** (j.item_rank[top] - 1)
    relevant = ((j.item_rel[top] > 0) & ~repeat[top]).astype(float)
    return (1 - p.srbp_p) * np.bincount(j.item_session[top],
                                        weights=query_weight * rank_weight * relevant,
                                        minlength=n)


def _query_ndcg(j: Judged, top: np.ndarray, repeat: np.ndarray, n: int, p: SessionParams,
                aggregates: list[str]) -> dict[str, np.ndarray]:
    discount = np.log2(j.item_rank[top] + 1.0)
    gains = np.where(repeat[top], 0.0, p.gain_of(j.item_rel[top]))
    dcg = np.bincount(j.item_inter[top], weights=gains / discount,
                      minlength=j.inter_session.size)
    session = j.inter_session
    ideal = _ideal_dcg(j, n, p, 2.0)[session]
    ndcg = _ratio(dcg, ideal)
    out = {}
    starts = group_starts(session)
    ends = np.append(starts[1:], session.size) - 1
    present = session[starts]
    for name in aggregates:
        values = np.full(n, np.nan)
        if name == "ndcg_first":
            values[present] = ndcg[starts]
        elif name == "ndcg_last":
            values[present] = ndcg[ends]
        else:
            defined = ~np.isnan(ndcg)
            if name == "ndcg_mean":
                total = np.bincount(session[defined], weights=ndcg[defined], minlength=n)
                count = np.bincount(session[defined], minlength=n)
                values = _ratio(total, count.astype(float))
                values[count == 0] = np.nan
            else:
                best = np.full(n, -np.inf)
                np.maximum.at(best, session[defined], ndcg[defined])
                values = np.where(np.isfinite(best), best, np.nan)
        out[name] = values
    return out
