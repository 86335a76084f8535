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
    if isinstance(values, pa.ChunkedArray):
        chunks = [_chunk_keys(c) for c in values.chunks]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)
    return _chunk_keys(values)


def _chunk_keys(values: pa.Array) -> np.ndarray:
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets_buf, data_buf = values.buffers()[1], values.buffers()[2]
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=values.offset * 4)
    starts = offsets[:-1].astype(np.int64)
    lengths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    raw = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    # Pad so that an 8-byte read starting at any string byte stays inside the buffer.
    padded = np.concatenate([raw[: int(offsets[-1])], np.zeros(8, dtype=np.uint8)])
    words = np.ndarray(shape=(padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    keys = lengths.astype(np.uint64) * _MIX_A
    for word in range(int((lengths.max() + 7) // 8)):
        remaining = lengths - 8 * word
        chunk = words[np.minimum(starts + 8 * word, padded.size - 8)] & \
            _BYTE_MASKS[np.clip(remaining, 0, 8)]
        mixed = (keys ^ chunk) * _MIX_B
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


def duplicate_candidates(keys: np.ndarray) -> np.ndarray:
    """Row indices whose key occurs more than once (to be confirmed on the strings)."""
    if keys.size < 2:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(keys, np.unique(repeated)))
