"""The ``>>`` and ``%`` operators that turn retrievers and rerankers into pipelines:
``BM25() % 100 >> CrossEncoderReranker(path) % 20 >> ListwiseReranker(llm)``.

``%`` binds tighter than ``>>``, so ``reranker % 20`` is a :class:`Stage` on its own and
``reranker >> reranker`` a :class:`Chain`; both join a pipeline when a retriever leads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


def as_stages(item: Any) -> list[Stage]:
    """The stages an operand of ``>>`` stands for."""
    if isinstance(item, Stage):
        return [item]
    if hasattr(item, "stages"):                     # a Pipeline or a Chain
        return list(item.stages)
    return [Stage(item)]


def chain(stages: list[Stage]):
    """A :class:`rerankit.pipeline.Pipeline` when a retriever leads, else a :class:`Chain`."""
    if hasattr(stages[0].component, "retrieve"):
        from rerankit.pipeline import Pipeline

        return Pipeline(stages)
    return Chain(stages)


class _Operators:
    def __rshift__(self, other: Any):
        return chain(as_stages(self) + as_stages(other))

    def __mod__(self, cutoff: int):
        *rest, last = as_stages(self)
        return chain([*rest, replace(last, cutoff=int(cutoff))]) if rest else \
            replace(last, cutoff=int(cutoff))


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
        component = self.component
        identity = ({"retriever": component.name, "params": component.params()}
                    if hasattr(component, "retrieve") else component.fingerprint())
        return {"stage": self.label, **identity, "cutoff": self.cutoff, "depth": self.depth,
                "fuse": self.fuse}


@dataclass(frozen=True)
class Chain(_Operators):
    """Rerank stages not yet led by a retriever (``a >> b`` of two rerankers)."""

    stages: list[Stage]
