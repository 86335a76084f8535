"""Exact numeric building blocks shared by the measure kernels.

trec_eval adds per-query values one at a time in rank order and calls the C library's
``log2``/``log``; these helpers reproduce both without Python loops over rows:
* :func:`sequential_cumsum`: running sums restarting at every query, added in order
  (``np.cumsum`` along rows of a zero-padded matrix; adding 0.0 changes nothing), where
  the usual "global cumsum minus group offset" would round differently;
* :func:`c_log2`, :func:`c_log`: the C library's functions (through :mod:`math`) applied
  once per distinct argument, since numpy's vectorised log2 may differ in the last bit.
"""

from __future__ import annotations

import math

import numpy as np

from rerankit.data.columns import group_starts

NEGATIVE_NAN = -np.nan  # 0.0 / 0.0 on x86, which trec_eval prints as "-nan"
_PAD_BUDGET = 1 << 22  # cells of one padded block


def sequential_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Inclusive running sum of ``values`` within runs of equal ``groups`` (sorted), each
    added in order, so the result equals a C loop's ``sum += value`` bit for bit."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    out = np.empty(n)
    if n == 0:
        return out
    starts = group_starts(groups)
    lengths = np.diff(np.append(starts, n))
    by_length = np.argsort(-lengths, kind="stable")
    budget = max(_PAD_BUDGET, 2 * n)
    i = 0
    while i < by_length.size:  # a few blocks of groups of similar length
        width = int(lengths[by_length[i]])
        block = by_length[i:i + max(1, budget // width)]
        i += block.size
        sizes = lengths[block]
        row = np.repeat(np.arange(block.size), sizes)
        col = np.arange(row.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        source = np.repeat(starts[block], sizes) + col
        matrix = np.zeros((block.size, width))
        matrix[row, col] = values[source]
        out[source] = np.cumsum(matrix, axis=1)[row, col]
    return out


def _apply_per_distinct(func, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    distinct, inverse = np.unique(x, return_inverse=True)
    with np.errstate(all="ignore"):
        mapped = np.array([_c_call(func, v) for v in distinct.tolist()])
    return mapped[inverse].reshape(x.shape)


def _c_call(func, v: float) -> float:
    """``func(v)`` with C's results where Python raises (log of 0 or a negative)."""
    if v > 0 or v != v:
        return func(v)
    return -math.inf if v == 0 else math.nan


def c_log2(x: np.ndarray) -> np.ndarray:
    """The C library's ``log2`` elementwise (one call per distinct value)."""
    return _apply_per_distinct(math.log2, x)


def c_log(x: np.ndarray) -> np.ndarray:
    """The C library's ``log`` elementwise (one call per distinct value)."""
    return _apply_per_distinct(math.log, x)


def log2_of_rank_plus_one(ranks: np.ndarray) -> np.ndarray:
    """log2(rank + 1) for integer ranks >= 1, from a table of ``math.log2`` values."""
    ranks = np.asarray(ranks, dtype=np.int64)
    top = int(ranks.max()) if ranks.size else 0
    table = np.array([1.0] + [math.log2(r + 1) for r in range(1, top + 1)])
    return table[ranks]


def lround(x: np.ndarray) -> np.ndarray:
    """C's ``lround``: nearest integer, halves away from zero (numpy rounds them to even)."""
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    down = np.floor(magnitude)
    up = (magnitude - down) >= 0.5
    return (np.sign(x) * (down + up)).astype(np.int64)


def c_long(x: np.ndarray) -> np.ndarray:
    """C's cast of a double to ``long``: truncation toward zero."""
    return np.trunc(np.asarray(x, dtype=np.float64)).astype(np.int64)
