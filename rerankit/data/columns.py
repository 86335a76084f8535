"""Vectorised helpers over grouped columns (rows of one query are contiguous)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


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


def encode_strings(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Integer code per row (int32) and the distinct values in order of first appearance,
    for string or dictionary columns.

    Dictionary columns (as read by Arrow's CSV reader, one dictionary per chunk) are
    unified instead of re-hashed, which is what makes low-cardinality id columns cheap.
    """
    if isinstance(values, pa.ChunkedArray) and pa.types.is_dictionary(values.type):
        unified = values.unify_dictionaries()
        if unified.num_chunks == 0:
            return np.zeros(0, dtype=np.int64), pa.array([], type=pa.string())
        codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in unified.chunks])
        return codes, unified.chunk(0).dictionary
    if isinstance(values, pa.Array) and pa.types.is_dictionary(values.type):
        return values.indices.to_numpy(zero_copy_only=False), values.dictionary
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def flatten_nested(nested) -> tuple[list[str], list[str], list]:
    """``{qid: {docid: value}}`` as three parallel lists (query ids, doc ids, values)."""
    qids: list[str] = []
    docids: list[str] = []
    values: list = []
    for qid, docs in nested.items():
        qids.extend([str(qid)] * len(docs))
        docids.extend(str(d) for d in docs)
        values.extend(docs.values())
    return qids, docids, values


def suffix_max_within_groups(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """max(values[i:end of i's group]) for every i; ``groups`` sorted, exact for floats."""
    if values.size == 0:
        return values
    distinct, codes = np.unique(values, return_inverse=True)
    width = np.int64(distinct.size)
    # Later groups get larger offsets in the reversed scan, so maxima never leak across.
    offset = (groups.max() - groups).astype(np.int64) * width
    running = np.maximum.accumulate((offset + codes)[::-1])[::-1]
    return distinct[running - offset]


def max_within_groups(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per row, the maximum of ``values`` over its run of equal consecutive ``groups``."""
    if values.size == 0:
        return values
    starts = group_starts(groups)
    block = np.maximum.reduceat(values, starts)
    return np.repeat(block, np.diff(np.append(starts, values.size)))
