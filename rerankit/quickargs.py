"""A plain command line for a typer command, parsed from the command's own declarations
without typer's runtime.

typer (0.29) validates every parameter through a pydantic adapter, and importing pydantic
for it costs about as much as ``rerankit eval`` spends evaluating a small run. Only plain
command lines are parsed here: the command's declared options (``-m X``, ``--measure X``,
``--measure=X``, flags), ``--``, and exactly its positional arguments, of types bool, int,
str, Path or Enum (optional, or a list). Anything else (``--help``, an unknown or
abbreviated option, combined short flags, a value starting with '-', a value that does not
convert, an unreadable path, a wrong number of arguments) gives None, and the caller hands
the command line to typer, which answers as always. Both paths therefore call the
command with the same values (``tests/test_cli_start.py`` compares them with typer's).
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

from typer.models import ArgumentInfo, OptionInfo

_INTEGER = re.compile(r"[+-]?\d+")
#: ParameterInfo attributes that must keep their defaults for a parameter to be parsed here
_PLAIN = {"callback": None, "envvar": None, "is_eager": False, "parser": None,
          "click_type": None, "prompt": False, "count": False, "is_flag": None,
          "flag_value": None, "exists": False, "file_okay": True, "dir_okay": True,
          "writable": False, "resolve_path": False, "allow_dash": False, "path_type": None,
          "default_factory": None, "expose_value": True}


def parse(function: Callable[..., Any], args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for ``function`` from ``args`` (the words after the command
    name), or None when typer must parse them."""
    spec = _declarations(inspect.unwrap(function))
    if spec is None:
        return None
    options, positionals, values = spec
    given: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--":
            given.extend(words)
            break
        if not word.startswith("-") or word == "-":
            given.append(word)
            continue
        flag, attached, text = word.partition("=")
        if flag not in options:
            return None
        name, convert, many = options[flag]
        if convert is bool:
            if attached:
                return None
            values[name] = True
            continue
        if not attached:
            text = next(words, None)
            if text is None or (text.startswith("-") and text != "-"):
                return None
        value = convert(text)
        if value is None:
            return None
        values[name] = [*(values.get(name) or []), value] if many else value
    if len(given) != len(positionals):
        return None
    for (name, convert), text in zip(positionals, given, strict=True):
        value = convert(text)
        if value is None:
            return None
        values[name] = value
    return values


def _declarations(function: Callable[..., Any]) -> tuple[dict, list, dict] | None:
    """(option word -> (parameter, converter, is a list), positional (parameter, converter)
    in order, default values) of a command; None when a parameter is not plain."""
    hints = typing.get_type_hints(function, include_extras=True)
    options: dict[str, tuple[str, Callable[[str], Any], bool]] = {}
    positionals: list[tuple[str, Callable[[str], Any]]] = []
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is not Annotated:
            return None
        base, *extras = typing.get_args(hint)
        infos = [e for e in extras if isinstance(e, (OptionInfo, ArgumentInfo))]
        if len(infos) != 1 or any(getattr(infos[0], key, value) != value
                                  for key, value in _PLAIN.items()):
            return None
        info = infos[0]
        converter = _converter(base)
        if converter is None:
            return None
        convert, many = converter
        if isinstance(info, ArgumentInfo):
            if many or info.default is not ... or parameter.default is not inspect.Parameter.empty:
                return None
            positionals.append((name, convert))
            continue
        # typer reads Option("-m", "--measure") inside Annotated as these two names
        first = () if info.default is ... else (info.default,)
        decls = (*first, *(info.param_decls or ()))
        if parameter.default is inspect.Parameter.empty or not decls or any(
                not isinstance(decl, str) or "/" in decl or not decl.startswith("-")
                for decl in decls):
            return None
        defaults[name] = parameter.default
        options.update({decl: (name, convert, many) for decl in decls})
    return options, positionals, defaults


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
