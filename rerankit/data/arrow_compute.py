"""Arrow's compute functions by name, without importing ``pyarrow.compute``.

``import pyarrow.compute`` builds a documented Python wrapper for every one of Arrow's
compute functions at import time (about 27 ms here, an eighth of ``rerankit eval``'s start
on a tiny file; issue 18). This module builds a function's wrapper on first use instead,
with pyarrow's own calling convention: the function's arrays positionally, then its
options positionally or by keyword, or whole as ``options=``. So
``from rerankit.data import arrow_compute as pc`` reads exactly like ``pyarrow.compute``,
and ``tests/test_arrow_compute.py`` checks each function rerankit calls against
``pyarrow.compute`` itself.

Array methods such as ``Array.cast``, ``take``, ``filter`` or ``Table.sort_by`` import
``pyarrow.compute`` behind the scenes, so code on the evaluation path calls these
functions instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pyarrow import _compute

call_function = _compute.call_function


def cast(arr: Any, target_type: pa.DataType | str, safe: bool = True) -> Any:
    """``pyarrow.compute.cast``: ``arr`` as ``target_type``, refusing lossy conversions
    unless ``safe`` is False."""
    target = pa.types.lib.ensure_type(target_type)
    options = _compute.CastOptions.safe(target) if safe else _compute.CastOptions.unsafe(target)
    return call_function("cast", [arr], options)


def fill_null(values: Any, fill_value: Any) -> Any:
    """``pyarrow.compute.fill_null``: ``values`` with each null replaced by
    ``fill_value`` (Arrow's ``coalesce``)."""
    if not isinstance(fill_value, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return call_function("coalesce", [values, fill_value])


def __getattr__(name: str) -> Callable[..., Any]:
    """The wrapper of Arrow's compute function ``name``, kept as a module attribute so
    that later uses find it directly (``AttributeError`` when Arrow has no such function,
    as for any missing attribute)."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        function = _compute.get_function(name)
    except pa.ArrowKeyError:
        raise AttributeError(f"Arrow has no compute function {name!r}") from None
    wrapper = globals()[name] = _wrapper(name, function)
    return wrapper


def _wrapper(name: str, function: Any) -> Callable[..., Any]:
    options_name = function._doc.options_class
    options_class = getattr(_compute, options_name) if options_name else None
    arity = function.arity

    def call(*args: Any, options: Any = None, **keywords: Any) -> Any:
        arrays, option_args = (args, ()) if arity is Ellipsis else (args[:arity], args[arity:])
        if arity is not Ellipsis and len(arrays) < arity:
            raise TypeError(f"{name} takes {arity} positional argument(s), "
                            f"but {len(args)} were given")
        if option_args or keywords:
            if options is not None or options_class is None:
                raise TypeError(f"{name}: unexpected arguments {option_args or keywords}")
            options = options_class(*option_args, **keywords)
        return function.call(list(arrays), options)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Arrow's compute function {name!r} (as ``pyarrow.compute.{name}``)."
    return call
