"""Vectorised helpers over grouped columns (rows of one query are contiguous)."""

from __future__ import annotations

import numpy as np


def group_starts(codes: np.ndarray) -> np.ndarray:
    """Start index of every run of equal consecutive values in ``codes``."""
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    return np.concatenate(([0], change)).astype(np.int64)


def ranks_within_groups(codes: np.ndarray) -> np.ndarray:
    """1-based position of every row inside its run of equal consecutive ``codes``."""
    n = codes.size
    starts = group_starts(codes)
    lengths = np.diff(np.append(starts, n))
    return np.arange(1, n + 1, dtype=np.int64) - np.repeat(starts, lengths)


def cumsum_within_groups(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Inclusive running sum of ``values`` restarting at every new run of ``codes``."""
    total = np.cumsum(values, dtype=np.int64 if values.dtype.kind in "biu" else np.float64)
    starts = group_starts(codes)
    before = np.concatenate(([0], total[:-1]))[starts]
    lengths = np.diff(np.append(starts, codes.size))
    return total - np.repeat(before, lengths)
