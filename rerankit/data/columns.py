"""Vectorised helpers over grouped columns (rows of one query are contiguous)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import strings, to_numpy
from rerankit.errors import InputFormatError


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
            return np.zeros(0, dtype=np.int64), strings([])
        codes = to_numpy(pa.chunked_array([c.indices for c in unified.chunks]))
        return codes, unified.chunk(0).dictionary
    if isinstance(values, pa.Array) and pa.types.is_dictionary(values.type):
        return to_numpy(values.indices), values.dictionary
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return to_numpy(encoded.indices), encoded.dictionary


def flatten_nested(nested: object, value_name: str,
                   source: str = "<dict>") -> tuple[list[str], list[str], list]:
    """``{qid: {docid: value}}`` as three parallel lists (query ids, doc ids, values).

    Ids must be strings or integers (integers become their decimal text, as in a file);
    two ids that become the same text (``1`` and ``"1"``) are refused, as is any other
    nesting (a list, a scalar), with :class:`InputFormatError` naming ``source``.
    """
    if not isinstance(nested, Mapping):
        raise InputFormatError(source, f"expected a dict {{query id: {{document id: "
                               f"{value_name}}}}}, got {type(nested).__name__}")
    qids: list[str] = []
    docids: list[str] = []
    values: list = []
    for qid, text in zip(nested, id_texts(list(nested), "query id", source), strict=True):
        docs = nested[qid]
        if not isinstance(docs, Mapping):
            raise InputFormatError(source, f"query '{text}': expected a dict {{document id: "
                                   f"{value_name}}}, got {type(docs).__name__}")
        qids.extend([text] * len(docs))
        docids.extend(id_texts(list(docs), "document id", source, f" (query '{text}')"))
        values.extend(docs.values())
    return qids, docids, values


def id_texts(ids: list, what: str, source: str, where: str = "") -> list[str]:
    """Ids as text; refuses non-(str, int) ids and ids that collide once written. ``what``
    names the kind of id (``document id``), ``where`` what holds them (`` (query 'q')``)."""
    if all(type(i) is str for i in ids):
        return ids
    texts = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, (str, numbers.Integral)):
            raise InputFormatError(source, f"{what} {i!r}{where} is a {type(i).__name__}; ids must "
                                   "be strings (or integers, read as their decimal text)")
        texts.append(str(int(i)) if not isinstance(i, str) else i)
    if len(set(texts)) != len(texts):
        seen: dict[str, object] = {}
        for i, text in zip(ids, texts, strict=True):
            if text in seen:
                raise InputFormatError(source, f"{what}s {seen[text]!r} and {i!r}{where} are "
                                       f"the same id '{text}' once written as text")
            seen[text] = i
    return texts


def real_values(qids: list[str], docids: list[str], values: list, what: str,
                source: str = "<dict>") -> np.ndarray:
    """``values`` as float64, refusing anything that is not a real number (None, a string,
    a bool) with :class:`InputFormatError` naming the query and document; NaN is left to
    the caller."""
    bad = [t for t in set(map(type, values))
           if issubclass(t, (bool, np.bool_)) or not issubclass(t, numbers.Real)]
    if bad:
        row = next(k for k, v in enumerate(values) if type(v) in bad)
        raise InputFormatError(source, f"{what} {values[row]!r} for query '{qids[row]}', "
                               f"document '{docids[row]}' is a {type(values[row]).__name__}, "
                               "not a number")
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:                 # an integer beyond a double's range
        row = next(k for k, v in enumerate(values) if abs(v) > _DOUBLE_MAX)
        raise InputFormatError(source, f"{what} for query '{qids[row]}', document "
                               f"'{docids[row]}' is an integer of {len(str(abs(values[row])))} "
                               "digits, too large for a double") from None


#: the largest finite double, beyond which an integer cannot become a score
_DOUBLE_MAX = float(np.finfo(np.float64).max)


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
