"""64-bit keys for Arrow string columns, computed with numpy over the raw buffers.

Used to find duplicate (query, document) rows in runs of millions of rows without
building a Python set or an Arrow hash table of strings. Keys may collide, so callers
confirm every reported duplicate by comparing the strings themselves.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)
# _BYTE_MASKS[n] keeps the low n bytes of a little-endian 64-bit word.
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def string_keys(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit key per string: equal strings give equal keys."""
    if not isinstance(values, pa.ChunkedArray):
        return _chunk_keys(values)
    keys = np.empty(len(values), dtype=np.uint64)
    at = 0
    for chunk in values.chunks:
        keys[at:at + len(chunk)] = _chunk_keys(chunk)
        at += len(chunk)
    return keys


def _chunk_keys(values: pa.Array) -> np.ndarray:
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets_buf, data_buf = values.buffers()[1], values.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=values.offset * 4)
    starts = offsets[:-1].astype(np.intp)
    lengths = np.diff(offsets)
    end = int(offsets[-1])
    # Padded so that an 8-byte read starting at any string byte (or at the end) stays inside.
    padded = np.zeros(end + 8, dtype=np.uint8)
    if end:
        padded[:end] = np.frombuffer(data_buf, dtype=np.uint8, count=end)
    words = np.ndarray(shape=(end + 1,), dtype="<u8", buffer=padded, strides=(1,))
    keys = lengths.astype(np.uint64)
    keys *= _MIX_A
    for word in range(int((lengths.max() + 7) // 8)):
        remaining = lengths - 8 * word if word else lengths
        at = np.minimum(starts + 8 * word, end) if word else starts
        mixed = words[at]
        mixed &= _BYTE_MASKS[np.clip(remaining, 0, 8)]
        mixed ^= keys
        mixed *= _MIX_B
        mixed ^= mixed >> _SHIFT
        # a string is mixed once per 8-byte word it has, whatever else is in the array,
        # so equal strings get equal keys in any two arrays (run vs qrels)
        active = remaining > 0
        if active.all():
            keys = mixed
        else:
            np.copyto(keys, mixed, where=active)
    return keys


def pair_keys(query_codes: tuple[np.ndarray, pa.Array],
              values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit key per (query id, string) pair, e.g. (query id, document id).

    ``query_codes`` is ``(codes, distinct)`` as returned by
    :func:`rerankit.data.columns.encode_strings`. The key depends only on the two strings,
    so keys of a run and of qrels compare directly. Query ids are hashed once per distinct
    value and mixed in with a single gather and xor.
    """
    codes, distinct = query_codes
    mixed = (string_keys(pc.cast(distinct, pa.string())) + np.uint64(1)) * _MIX_A
    mixed ^= mixed >> _SHIFT
    mixed *= _MIX_B
    keys = string_keys(values)
    keys ^= mixed[codes]
    return keys


def duplicate_candidates(keys: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Row indices whose key occurs more than once (to be confirmed on the strings).

    With ``groups`` (e.g. the query code of every row), only repeats inside a group are
    reported, which is all a caller looking for repeated (query, document) pairs needs.
    When every group's rows are contiguous (runs are written query by query), each group
    is sorted on its own, in cache, instead of sorting all the keys at once.
    """
    if keys.size < 2:
        return np.zeros(0, dtype=np.int64)
    if groups is not None:
        rows = _rows_of_groups_with_repeats(keys, groups)
        if rows is None:  # groups not contiguous, or too uneven: one sort of every key
            return duplicate_candidates(keys)
        return rows[duplicate_candidates(keys[rows])] if rows.size else rows
    ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(keys, np.unique(repeated)))


def _rows_of_groups_with_repeats(keys: np.ndarray, groups: np.ndarray) -> np.ndarray | None:
    """Every row of the groups in which the top 32 bits of two keys are equal (a superset
    of the rows with repeated keys); None when a group's rows are not contiguous or the
    groups differ so much in size that a table of ``groups x largest group`` is too big.
    """
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    starts = np.concatenate(([0], change))
    if np.unique(groups[starts]).size != starts.size:
        return None
    sizes = np.diff(np.append(starts, keys.size))
    width = int(sizes.max())
    if starts.size * width > 2 * keys.size:
        return None
    high = (keys >> np.uint64(32)).astype(np.uint32)
    padded = starts.size * width != keys.size
    if padded:  # every group padded to the largest with the largest value (sorted last)
        table = np.full((starts.size, width), np.iinfo(np.uint32).max, dtype=np.uint32)
        table[np.arange(width) < sizes[:, None]] = high
    else:
        table = high.reshape(starts.size, width)
    table.sort(axis=1)
    equal = table[:, 1:] == table[:, :-1]
    if padded:
        equal &= np.arange(width - 1) < (sizes - 1)[:, None]  # both entries are the group's
    flagged = equal.any(axis=1)
    if not flagged.any():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.repeat(flagged, sizes))

