"""A plain command line for a typer command, without typer's value validation.

typer (0.29) validates every parameter through a pydantic adapter, and importing pydantic
for it costs about as much as ``rerankit eval`` spends evaluating a small run. Here the
words are split by click's own parser, built by typer from the command's declarations
(so options, their spellings, ``-qc``, ``-mmap``, ``--x=v`` and ``--`` are read exactly as
typer reads them; typer 0.29 builds commands on its own copy of click); only the values of
plain types (bool, int, str, Path or Enum, optional or a list) are converted here.
Anything else (``--help``, an unknown option, a value that does not convert, an unreadable
path, a missing or extra argument) gives None, and the caller hands the command line to
typer, which answers as always. Both paths therefore call the command with the same
values (``tests/test_cli_start.py`` compares them).
"""

from __future__ import annotations

import enum
import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from typer.exceptions import TyperException
from typer.models import ArgumentInfo, OptionInfo

_INTEGER = re.compile(r"[+-]?\d+")
#: ParameterInfo attributes that must keep their defaults for a parameter to be parsed here
_PLAIN = {"callback": None, "envvar": None, "is_eager": False, "parser": None,
          "click_type": None, "prompt": False, "count": False, "is_flag": None,
          "flag_value": None, "exists": False, "file_okay": True, "dir_okay": True,
          "writable": False, "resolve_path": False, "allow_dash": False, "path_type": None,
          "default_factory": None, "expose_value": True}


def parse(command: Any, function: Callable[..., Any],
          args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for ``function`` (the callback behind typer's ``command``) from
    ``args`` (the words after the command name), or None when typer must parse them.
    ``command`` is typer's click command for ``function``."""
    converters = _declarations(inspect.unwrap(function))
    if converters is None:
        return None
    context = command.context_class(command, info_name=command.name)
    try:
        raw, rest, _ = command.make_parser(context).parse_args(list(args))
    except TyperException:                       # click's usage errors, as typer raises them
        return None
    if rest or set(raw) - set(converters):
        return None                              # extra words, --help, ...
    values: dict[str, Any] = {}
    for name, (convert, many, default) in converters.items():
        if name not in raw:
            if default is inspect.Parameter.empty:
                return None                      # a missing argument: typer says so
            values[name] = default
            continue
        given = raw[name]
        if convert is bool:
            values[name] = bool(given)
            continue
        texts = list(given) if many else [given]
        converted = [convert(text) for text in texts]
        if any(value is None for value in converted):
            return None
        values[name] = converted if many else converted[0]
    return values


def _declarations(function: Callable[..., Any]
                  ) -> dict[str, tuple[Callable[[str], Any], bool, Any]] | None:
    """(converter, is a list, default) of each parameter of a command, by name; None
    when a parameter is not plain."""
    hints = typing.get_type_hints(function, include_extras=True)
    found: dict[str, tuple[Callable[[str], Any], bool, Any]] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is not Annotated:
            return None
        base, *extras = typing.get_args(hint)
        infos = [e for e in extras if isinstance(e, (OptionInfo, ArgumentInfo))]
        if len(infos) != 1 or any(getattr(infos[0], key, value) != value
                                  for key, value in _PLAIN.items()):
            return None
        converter = _converter(base)
        if converter is None:
            return None
        if isinstance(infos[0], ArgumentInfo) and converter[1]:
            return None
        found[name] = (*converter, parameter.default)
    return found


def _converter(kind: Any) -> tuple[Callable[[str], Any], bool] | None:
    """(text -> value or None, is a list) for a parameter type; None when not plain."""
    many = False
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [k for k in typing.get_args(kind) if k is not type(None)]
        if len(members) != 1:
            return None
        kind = members[0]
    if typing.get_origin(kind) is list:
        (kind,) = typing.get_args(kind)
        many = True
    if kind is bool:
        return (None if many else (bool, False))
    if kind is str:
        return (lambda text: text), many
    if kind is int:
        return (lambda text: int(text) if _INTEGER.fullmatch(text) else None), many
    if kind is Path:
        return _path, many
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        members = {str(member.value): member for member in kind}
        return members.get, many
    return None


def _path(text: str) -> Path | None:
    """``Path(text)``, unless typer would refuse it (an existing path it cannot read) or
    read it differently (the empty string)."""
    if not text or (os.path.exists(text) and not os.access(text, os.R_OK)):
        return None
    return Path(text)
