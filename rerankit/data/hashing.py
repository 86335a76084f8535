"""64-bit keys for Arrow string columns, computed with numpy over the raw buffers.

Used to find duplicate (query, document) rows in runs of millions of rows without
building a Python set or an Arrow hash table of strings. Keys may collide, so callers
confirm every reported duplicate by comparing the strings themselves.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc

_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)
# _BYTE_MASKS[n] keeps the low n bytes of a little-endian 64-bit word.
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
#: Rows hashed at a time, into work arrays of this size allocated once (see _Hasher).
_BLOCK = 1 << 16


def string_keys(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit key per string: equal strings give equal keys."""
    return _Hasher(len(values)).keys(values)


def pair_keys(query_codes: tuple[np.ndarray, pa.Array],
              values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit key per (query id, string) pair, e.g. (query id, document id).

    ``query_codes`` is ``(codes, distinct)`` as returned by
    :func:`rerankit.data.columns.encode_strings`. The key depends only on the two strings,
    so keys of a run and of qrels compare directly. Query ids are hashed once per distinct
    value and mixed in with a gather and xor.
    """
    codes, distinct = query_codes
    mixed = (string_keys(pc.cast(distinct, pa.string())) + np.uint64(1)) * _MIX_A
    mixed ^= mixed >> _SHIFT
    mixed *= _MIX_B
    return _Hasher(len(values)).keys(values, codes, mixed)


class _Hasher:
    """Hashes strings block by block into work arrays allocated once.

    Column-sized temporaries would be mapped afresh, and page-faulted, by the C allocator
    on every numpy operation, which cost more than the hashing itself on a 10M-row run;
    every operation here writes into the work arrays instead (``out=``).
    """

    def __init__(self, rows: int) -> None:
        size = max(1, min(rows, _BLOCK))
        self.word = np.empty(size, dtype=np.intp)   # index of the aligned word read
        self.next = np.empty(size, dtype=np.intp)   # the word after it
        self.left = np.empty(size, dtype=np.intp)   # bytes of the string not yet mixed
        self.shift = np.empty(size, dtype=np.uint64)
        self.unshift = np.empty(size, dtype=np.uint64)
        self.low = np.empty(size, dtype=np.uint64)
        self.high = np.empty(size, dtype=np.uint64)
        self.active = np.empty(size, dtype=bool)
        self.text = np.empty(0, dtype=np.uint64)   # the block's bytes, 8-byte aligned

    def keys(self, values: pa.Array | pa.ChunkedArray, codes: np.ndarray | None = None,
             code_keys: np.ndarray | None = None) -> np.ndarray:
        """Keys of ``values``; with ``codes``, each xored with ``code_keys[code]``."""
        out = np.empty(len(values), dtype=np.uint64)
        at = 0
        for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
            if not pa.types.is_string(chunk.type):
                chunk = pc.cast(chunk, pa.string())
            for start in range(0, len(chunk), _BLOCK):
                block = chunk.slice(start, _BLOCK)
                keys = out[at:at + len(block)]
                self._hash(block, keys)
                if codes is not None:
                    word = self.word[:len(block)]
                    np.copyto(word, codes[at:at + len(block)], casting="unsafe")
                    np.take(code_keys, word, out=self.low[:len(block)], mode="clip")
                    keys ^= self.low[:len(block)]
                at += len(block)
        return out

    def _hash(self, values: pa.Array, keys: np.ndarray) -> None:
        n = len(values)
        offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1,
                                offset=values.offset * 4)
        first, size = int(offsets[0]), int(offsets[-1] - offsets[0])
        words = size // 8 + 2  # every read of a word and the next stays inside
        if self.text.size < words:
            self.text = np.empty(words, dtype=np.uint64)
        text = self.text.view(np.uint8)
        text[size:words * 8] = 0
        if size:
            text[:size] = np.frombuffer(values.buffers()[2], dtype=np.uint8, count=size,
                                        offset=first)
        word, after, left = self.word[:n], self.next[:n], self.left[:n]
        shift, unshift, low, high = self.shift[:n], self.unshift[:n], self.low[:n], self.high[:n]
        np.subtract(offsets[:-1], first, out=word)            # byte offset of each string
        np.bitwise_and(word, 7, out=left)
        np.left_shift(left, 3, out=shift, casting="unsafe")   # its bit offset in its word
        np.subtract(np.uint64(63), shift, out=unshift)
        np.right_shift(word, 3, out=word)
        np.subtract(offsets[1:], offsets[:-1], out=left)      # its length
        np.copyto(keys, left, casting="unsafe")
        keys *= _MIX_A
        shortest = int(left.min())
        for k in range(int((left.max() + 7) // 8)):
            if k:
                left -= 8
                word += 1
                np.minimum(word, words - 2, out=word)  # strings already done read anything
            # the 8 bytes from the string's k-th word on, from two aligned reads
            np.take(self.text, word, out=low, mode="clip")
            np.add(word, 1, out=after)
            np.take(self.text, after, out=high, mode="clip")
            low >>= shift
            high <<= np.uint64(1)
            high <<= unshift   # (high << 1) << (63 - s): no shift by 64 when s == 0
            low |= high
            np.take(_BYTE_MASKS, left, out=high, mode="clip")  # its bytes left, 0 to 8
            low &= high
            low ^= keys
            low *= _MIX_B
            np.right_shift(low, _SHIFT, out=high)
            low ^= high
            # a string is mixed once per 8-byte word it has, whatever else is in the array,
            # so equal strings get equal keys in any two arrays (run vs qrels)
            if shortest > 8 * k:
                keys[:] = low
            else:
                np.greater(left, 0, out=self.active[:n])
                np.copyto(keys, low, where=self.active[:n])


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
    """Every row of the groups in which the low 32 bits of two keys are equal (a superset
    of the rows with repeated keys); None when a group's rows are not contiguous or the
    groups differ so much in size that a table of ``groups x largest group`` is too big.
    """
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    starts = np.concatenate(([0], change))
    if np.bincount(groups[starts]).max() > 1:  # a group in two places (np.unique: slower)
        return None
    sizes = np.diff(np.append(starts, keys.size))
    width = int(sizes.max())
    if starts.size * width > 2 * keys.size:
        return None
    # groups sorted a slice of them at a time, in work arrays allocated once
    per_slice = max(1, _BLOCK // width)
    table = np.empty((min(per_slice, starts.size), width), dtype=np.uint32)
    equal = np.empty((table.shape[0], width - 1), dtype=bool)
    flagged = np.zeros(starts.size, dtype=bool)
    padded = starts.size * width != keys.size
    column = np.arange(width)
    for first in range(0, starts.size, per_slice):
        count = min(per_slice, starts.size - first)
        begin = int(starts[first])
        end = int(starts[first + count]) if first + count < starts.size else keys.size
        part, same, size = table[:count], equal[:count], sizes[first:first + count]
        if padded:  # every group padded to the largest with the largest value (sorted last)
            part.fill(np.iinfo(np.uint32).max)
            part[column < size[:, None]] = keys[begin:end]  # their low 32 bits
        else:
            np.copyto(part.reshape(-1), keys[begin:end], casting="unsafe")
        part.sort(axis=1)
        np.equal(part[:, 1:], part[:, :-1], out=same)
        if padded:
            same &= column[:-1] < (size - 1)[:, None]  # both entries are the group's
        same.any(axis=1, out=flagged[first:first + count])
    if not flagged.any():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.repeat(flagged, sizes))

