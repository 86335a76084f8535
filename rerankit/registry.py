"""One registry of component kinds, by the names configs use.

Components register themselves where they are defined::

    @register("reranker", "cross-encoder")
    class CrossEncoderReranker(Reranker): ...

Config validation, the CLI's help, the README's table and Ray workers all ask this module,
so adding a reranker family is one new module under ``rerankit/rerank/`` (or a plugin
package exposing a ``rerankit.components`` entry point) and nothing else. Built-in modules
are found by walking the component packages, so their imports must stay light (heavy
libraries are imported when a component is built, not when its module is imported).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Literal, TypeVar

from rerankit.errors import UnknownComponentError

Kind = Literal["retriever", "reranker", "llm", "pipeline"]
KINDS: tuple[Kind, ...] = ("retriever", "reranker", "llm", "pipeline")
#: packages whose modules hold the built-in components of each kind (``pipeline``: what
#: ``retriever >> reranker`` builds, found here so the operators need not import it)
PACKAGES: dict[Kind, str] = {"retriever": "rerankit.retrieve", "reranker": "rerankit.rerank",
                             "llm": "rerankit.llm", "pipeline": "rerankit.pipeline"}
ENTRY_POINTS = "rerankit.components"

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class Entry:
    """A registered component: its kind, config name and class, and what building it needs.

    ``needs_llm``: a reranker built around an LLM backend (its config has an ``llm``
    section). ``composite``: a retriever made of other retrievers (its config lists them).
    ``trainable``: a stage the runner trains before evaluating (its config may have
    ``features`` and ``train``; the class checks them with ``check_stage``).
    """

    kind: Kind
    name: str
    cls: type
    needs_llm: bool = False
    composite: bool = False
    trainable: bool = False

    @property
    def summary(self) -> str:
        """The class docstring's first paragraph, on one line (help texts, the README)."""
        return " ".join((inspect.getdoc(self.cls) or "").split("\n\n")[0].split())


_entries: dict[Kind, dict[str, Entry]] = {kind: {} for kind in KINDS}
_loaded = False


def register(kind: Kind, name: str, *, needs_llm: bool = False, composite: bool = False,
             trainable: bool = False) -> Callable[[T], T]:
    """Class decorator: make ``cls`` available to configs as ``type: name``."""
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")

    def decorate(cls: T) -> T:
        known = _entries[kind].get(name)
        if known is not None and known.cls is not cls and \
                f"{known.cls.__module__}.{known.cls.__qualname__}" != \
                f"{cls.__module__}.{cls.__qualname__}":
            raise ValueError(f"{kind} '{name}' is already registered by "
                             f"{known.cls.__module__}.{known.cls.__qualname__}")
        _entries[kind][name] = Entry(kind, name, cls, needs_llm, composite, trainable)
        return cls

    return decorate


def entries(kind: Kind) -> dict[str, Entry]:
    """Every registered component of ``kind`` by config name, in registration order."""
    _load()
    return dict(_entries[kind])


def names(kind: Kind) -> list[str]:
    """The config names of ``kind``, sorted."""
    return sorted(entries(kind))


def lookup(kind: Kind, name: str) -> Entry:
    """The entry for ``name``; an unknown name is an :class:`UnknownComponentError` listing
    the known ones."""
    found = entries(kind).get(name)
    if found is None:
        raise UnknownComponentError(f"unknown {kind} type '{name}'; available: "
                                    f"{', '.join(names(kind))}")
    return found


def rows(built_in: bool = False) -> list[tuple[str, str, str, str]]:
    """(kind, name, class path, summary) of every component (only rerankit's own with
    ``built_in``), for help texts and docs."""
    return [(kind, name, f"{e.cls.__module__}.{e.cls.__qualname__}", e.summary)
            for kind in KINDS for name, e in sorted(entries(kind).items())
            if not built_in or e.cls.__module__.startswith("rerankit.")]


def markdown_table() -> str:
    """The README's table of rerankit's own components (``rerankit components
    --markdown`` prints it)."""
    lines = ["| kind | config type | class | what it is |", "|---|---|---|---|"]
    lines += [f"| {kind} | `{name}` | `{path.replace('rerankit.', '', 1)}` | "
              f"{_markdown(summary)} |" for kind, name, path, summary in rows(built_in=True)]
    return "\n".join(lines)


def _markdown(docstring_text: str) -> str:
    """reStructuredText roles and literals as Markdown code; no table-breaking bars."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", docstring_text)
    return text.replace("``", "`").replace("|", "/")


def _load() -> None:
    """Import every built-in component module once, then the plugins' entry points."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in PACKAGES.values():
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__, package_name + "."):
            importlib.import_module(module.name)
    for point in metadata.entry_points(group=ENTRY_POINTS):
        point.load()
