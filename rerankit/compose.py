"""The ``>>`` and ``%`` operators that turn retrievers and rerankers into pipelines:
``BM25() % 100 >> CrossEncoderReranker(path) % 20 >> ListwiseReranker(llm)``.

``%`` binds tighter than ``>>``, so ``reranker % 20`` is a :class:`Stage` on its own and
``reranker >> reranker`` a :class:`Chain`; both join a pipeline when a retriever leads.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from rerankit import registry


@runtime_checkable
class Retrieves(Protocol):
    """The capability that lets a component lead a pipeline."""

    def index(self, corpus: Any) -> Any: ...

    def retrieve(self, queries: Any, k: int = 1000) -> Any: ...


@runtime_checkable
class HasStages(Protocol):
    """A composed object (a chain or a pipeline): its stages can be extended."""

    stages: list[Stage]


class CutoffError(ValueError):
    """A stage's ``depth`` or ``cutoff`` breaks the cut-off rule: ``label`` names the
    stage, ``what`` the setting, ``reason`` says why (the message is "label: reason")."""

    def __init__(self, label: str, what: str, reason: str) -> None:
        self.label, self.what, self.reason = label, what, reason
        super().__init__(f"{label}: {reason}")


def check_cutoffs(retrieved: int, stages: list[tuple[str, int | None, int | None]]) -> None:
    """The one rule for cut-offs, for pipelines and configs alike: after a retriever's
    ``retrieved`` documents per query, each reranking stage ``(label, depth, cutoff)``
    may rerank at most what the stage before passes on, and pass on at most what it
    reranks; both must be >= 1."""
    available = retrieved
    for label, depth, cutoff in stages:
        for what, value in (("depth", depth), ("cutoff", cutoff)):
            if value is not None and value < 1:
                raise CutoffError(label, what, f"{what} must be >= 1, got {value}")
        if depth and depth > available:
            raise CutoffError(label, "depth", f"depth {depth} is larger than the {available} "
                              "candidates the stage before passes on")
        available = min(available, depth or available)
        if cutoff and cutoff > available:
            raise CutoffError(label, "cutoff", f"cutoff {cutoff} is larger than the "
                              f"{available} candidates it reranks")
        available = cutoff or available


def as_stages(item: Any) -> list[Stage]:
    """The stages an operand of ``>>`` stands for."""
    if isinstance(item, Stage):
        return [item]
    if isinstance(item, HasStages):
        return list(item.stages)
    return [Stage(item)]


def chain(stages: list[Stage]):
    """A pipeline when a retriever leads, else a :class:`Chain`.

    ``BM25() >> reranker`` must be a runnable pipeline, whose machinery (batching, cache,
    ledger) lives above the components it runs; the class comes from the registry (kind
    ``pipeline``), so this module depends on nothing above it."""
    if isinstance(stages[0].component, Retrieves):
        return registry.lookup("pipeline", "pipeline").cls(stages)
    return Chain(stages)


class _Operators:
    def __rshift__(self, other: Any):
        return chain(as_stages(self) + as_stages(other))

    def __mod__(self, cutoff: int):
        cutoff = cutoff_operand(cutoff)
        *rest, last = as_stages(self)
        return chain([*rest, replace(last, cutoff=cutoff)]) if rest else \
            replace(last, cutoff=cutoff)


def cutoff_operand(cutoff: object) -> int:
    """The right operand of ``%`` as a cut-off: an integer (numpy's too), never a bool or a
    fraction, which ``int()`` would silently truncate (``% 2.7`` keeping 2); whether it is
    >= 1 is :func:`check_cutoffs`' business."""
    if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Integral):
        raise TypeError(f"a cut-off (the number after %) must be an integer, got {cutoff!r} "
                        f"({type(cutoff).__name__})")
    return int(cutoff)


class Composable(_Operators):
    """Mixed into every retriever and reranker."""


@dataclass(frozen=True)
class Stage(_Operators):
    """One step of a pipeline.

    ``cutoff``: how many documents per query this stage passes on (``%``). ``depth``
    (rerankers): how many of the incoming candidates it reranks, default all it receives.
    ``fuse``: fuse the reranker's scores with the incoming ranking, e.g. ``{"method":
    "rrf"}`` (see :func:`rerankit.retrieve.fusion.fuse`), so the first stage's evidence
    is kept.
    """

    component: Any
    cutoff: int | None = None
    depth: int | None = None
    fuse: dict | None = None

    @property
    def label(self) -> str:
        text = self.component.name
        if self.depth:
            text = f"{text}@{self.depth}"
        if self.fuse:
            text = f"{text}+{self.fuse.get('method', 'rrf')}"
        return f"{text} % {self.cutoff}" if self.cutoff else text

    def describe(self) -> dict:
        """Identity of the stage (for manifests)."""
        return {"stage": self.label, **self.component.describe(), "cutoff": self.cutoff,
                "depth": self.depth, "fuse": self.fuse}


@dataclass(frozen=True)
class Chain(_Operators):
    """Rerank stages not yet led by a retriever (``a >> b`` of two rerankers)."""

    stages: list[Stage]
