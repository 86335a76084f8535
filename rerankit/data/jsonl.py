"""JSON Lines records (BEIR corpora and queries): one object per line, checked field by field.

Shared by the corpus and the queries readers so both read ids and texts the same way:
``_id`` is a string, or an integer read as its decimal text (1 and "1" are then the same id,
and a file holding both is refused as a duplicate); a text field is a string, or null or
absent, read as empty; anything else is refused naming the line and field.

Two things JSON parsers disagree on, or let through, are refused naming the line and the
field: a key twice in one object (Python's json and BEIR keep the last value, other parsers
the first, so the id or text would depend on the reader), and a ``\\uD800``-``\\uDFFF``
escape that is not half of a surrogate pair (a lone surrogate: not Unicode, so it cannot be
written as UTF-8 and breaks tokenizers and caches far from the file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from rerankit.errors import InputFormatError

#: a \uXXXX escape in the surrogate range: only a line holding one can decode to a lone
#: surrogate, so only such a line is checked for one
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_TEXT = re.compile(SURROGATE_ESCAPE.pattern.decode())


class _DuplicateKey(ValueError):
    """A key given twice in one JSON object (the caller adds the file and line)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A parsed object's (key, value) pairs as a dict, refusing a key given twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return obj


def json_value(name: str, line: str | bytes, number: int,
               parse_int: Callable[[str], Any] | None = None) -> Any:
    """One JSON line parsed (any JSON value), refusing invalid JSON or UTF-8, JSON nested
    too deeply for Python's parser, a key twice in any object of it, and a lone surrogate
    in any key or string of it, naming the line and field. ``parse_int`` is
    :func:`json.loads`'s (a reader that keeps huge integers as text passes its own)."""
    try:
        value = json.loads(line, object_pairs_hook=_unique_keys, parse_int=parse_int)
        if (SURROGATE_ESCAPE if isinstance(line, bytes) else _SURROGATE_ESCAPE_TEXT
                ).search(line):
            refuse_lone_surrogates(name, value, number)
    except json.JSONDecodeError as err:
        raise InputFormatError(name, f"invalid JSON ({err.msg} at column {err.colno})",
                               number) from None
    except UnicodeDecodeError as err:
        raise InputFormatError(name, f"not valid UTF-8 ({err.reason})", number) from None
    except _DuplicateKey as err:
        raise InputFormatError(name, f'"{_printable(str(err))}" appears twice in the object '
                               "(refused: JSON readers disagree on which value counts)",
                               number) from None
    except RecursionError:
        raise InputFormatError(name, "invalid JSON (nested too deeply)", number) from None
    return value


def json_object(name: str, line: str | bytes, number: int) -> dict:
    """One JSONL line as a dict; anything else (invalid JSON, an array, a scalar, a key
    twice, a lone surrogate in a field) is refused naming the line (and field)."""
    obj = json_value(name, line, number)
    if not isinstance(obj, dict):
        raise InputFormatError(name, f"expected a JSON object, found a JSON "
                               f"{type(obj).__name__} ({str(line)[:60]!r})", number)
    return obj


def refuse_lone_surrogates(name: str, value: Any, number: int | None, path: str = "",
                           held: str = "the escape ") -> None:
    """Refuse a key or string anywhere in ``value`` (objects, lists and what they hold)
    holding a lone surrogate, naming it by its path from the outermost value: ``"text"``,
    or ``"interactions[0].query"`` for a nested one. A JSON line holds one only as a
    ``\\uD800``-style escape without its pair (``held`` says so); the Python APIs that take
    the same records (:meth:`rerankit.sessions.SessionLog.from_records`) call this with
    ``held=""``, so that they refuse exactly what the file readers refuse."""
    if isinstance(value, Mapping):
        items = ((key, item, f"{path}.{_printable(str(key))}" if path else
                  _printable(str(key))) for key, item in value.items())
    elif isinstance(value, list):
        items = ((k, item, f"{path}[{k}]") for k, item in enumerate(value))
    else:
        return
    for key, item, where in items:
        for text in (key, item):
            try:
                if isinstance(text, str):
                    text.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InputFormatError(name, f'"{where}" holds {held}'
                                       f"\\u{ord(text[err.start]):04x}, a lone surrogate, "
                                       "which is not valid Unicode", number) from None
        refuse_lone_surrogates(name, item, number, where, held)


def _printable(key: str) -> str:
    """A key as message text: a lone surrogate in it written as its escape, so that the
    message itself can be printed as UTF-8."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def json_id(name: str, obj: dict, number: int) -> str:
    """``obj["_id"]`` as text: a string, or an integer written as its decimal text (so 1 and
    "1" are the same id, and a file holding both is refused as a duplicate)."""
    if "_id" not in obj:
        raise InputFormatError(name, 'line has no "_id" field', number)
    value = obj["_id"]
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InputFormatError(name, f'"_id" must be a string or an integer, found '
                           f"{json.dumps(value)[:60]}", number)


def json_text(name: str, obj: dict, field: str, number: int | None,
              required: bool = False) -> str:
    """A text field: a string, or null / absent (read as empty); any other type is refused."""
    if field not in obj and required:
        raise InputFormatError(name, f'line has no "{field}" field', number)
    value = obj.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputFormatError(name, f'"{field}" must be a string or null, found '
                               f"{json.dumps(value, default=repr)[:60]}", number)
    return value
