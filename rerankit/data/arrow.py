"""numpy <-> Arrow conversions that never import pandas.

pyarrow (26) imports pandas, 0.2-0.4 s on 2 cores, the first time ``pa.array``,
``pa.scalar``, ``Array.to_numpy`` or ``np.asarray(array)`` is called, even on plain
numbers, to check whether its input is a pandas object. The readers and the evaluator
convert through these helpers instead, which work on the Arrow buffers directly, so that
``rerankit eval`` and ``evaluate`` in a fresh process never pay for pandas. Values are the
same as pyarrow's conversions give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc


def to_numpy(column: pa.Array | pa.ChunkedArray, null: float | int | None = None) -> np.ndarray:
    """A numeric or boolean Arrow column as one numpy array (a read-only view of a
    single chunk's buffer, else a copy). Nulls become ``null``; with ``null`` None, a
    column holding nulls is a ValueError."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dtype = _numpy_dtype(column.type)
    parts = [_chunk_to_numpy(chunk, dtype, null) for chunk in chunks]
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def from_numpy(values: np.ndarray) -> pa.Array:
    """A 1-D numeric or boolean numpy array as an Arrow array without nulls (no copy for
    contiguous numbers)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), values.size,
                                 [None, pa.py_buffer(values)])


def strings(values: Sequence[str]) -> pa.Array:
    """Python strings as an Arrow ``string`` array (for short lists such as query ids)."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    array = pa.Array.from_buffers(pa.large_string(), len(encoded), [
        None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])
    return pc.cast(array, pa.string())


def _numpy_dtype(kind: pa.DataType) -> np.dtype:
    if pa.types.is_boolean(kind):
        return np.dtype(np.bool_)
    if pa.types.is_integer(kind):
        code = "i" if pa.types.is_signed_integer(kind) else "u"
        return np.dtype(f"{code}{kind.bit_width // 8}")
    if pa.types.is_floating(kind):
        return np.dtype(f"f{kind.bit_width // 8}")
    raise TypeError(f"no numpy conversion for Arrow type {kind}")


def _bits(buffer: pa.Buffer, offset: int, length: int) -> np.ndarray:
    """The ``length`` bits of an Arrow bitmap from bit ``offset`` on, as booleans."""
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, bitorder="little", count=offset + length)[offset:].view(
        np.bool_)


def _chunk_to_numpy(chunk: pa.Array, dtype: np.dtype, null: float | int | None) -> np.ndarray:
    n, offset = len(chunk), chunk.offset
    validity, data = chunk.buffers()[:2]
    if n == 0:
        values = np.zeros(0, dtype=dtype)
    elif dtype == np.bool_:
        values = _bits(data, offset, n)
    else:
        values = np.frombuffer(data, dtype=dtype, count=n, offset=offset * dtype.itemsize)
    if chunk.null_count:
        if null is None:
            raise ValueError("the column holds nulls")
        values = np.where(_bits(validity, offset, n), values, np.asarray(null, dtype=dtype))
    return values
