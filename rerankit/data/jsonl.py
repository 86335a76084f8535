"""JSON Lines records (BEIR corpora and queries): one object per line, checked field by field.

Shared by the corpus and the queries readers so both read ids and texts the same way:
``_id`` is a string, or an integer read as its decimal text (1 and "1" are then the same id,
and a file holding both is refused as a duplicate); a text field is a string, or null or
absent, read as empty; anything else is refused naming the line and field.
"""

from __future__ import annotations

import json

from rerankit.errors import InputFormatError


def json_object(name: str, line: str | bytes, number: int) -> dict:
    """One JSONL line as a dict; anything else (invalid JSON, an array, a scalar) is refused
    naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputFormatError(name, f"invalid JSON ({err.msg} at column {err.colno})",
                               number) from None
    except UnicodeDecodeError as err:
        raise InputFormatError(name, f"not valid UTF-8 ({err.reason})", number) from None
    if not isinstance(obj, dict):
        raise InputFormatError(name, f"expected a JSON object, found a JSON "
                               f"{type(obj).__name__} ({str(line)[:60]!r})", number)
    return obj


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
