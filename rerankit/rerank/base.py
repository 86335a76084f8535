"""The reranker contract, and what every reranker shares.

``rerank(queries, candidates, corpus, depth)`` takes a run (e.g. a retriever's top-k), keeps
each query's top ``depth`` candidates in trec_eval order, scores them, and returns a run
sorted by the new scores, keyed by document id (never by text, so duplicate texts cannot
collide). Standalone and inside a pipeline, scores come through one path
(:func:`rerankit.rerank.scoring.score_candidates`: score cache, batching, cost records); the
reranker's :attr:`stats` add up its model calls, tokens and time.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rerankit.compose import Composable
from rerankit.costs import CallLog, CallRecord
from rerankit.data.corpus import Corpus
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.identity import Identified, model_identity
from rerankit.rerank.cache import ScoreCache
from rerankit.rerank.candidates import (
    CandidateList,
    candidate_lists,
    order_scores,
    scored_run,
    split_flat,
)
from rerankit.rerank.scoring import score_candidates
from rerankit.retrieve.base import CorpusEncoding

__all__ = ["NOT_SCORING", "CandidateList", "RerankStats", "Reranker", "candidate_lists",
           "order_scores", "scored_run", "split_flat"]


@dataclass
class RerankStats:
    """Cost of the work done so far (accumulates across calls)."""

    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    candidates: int = 0
    seconds: float = 0.0
    repairs: dict[str, int] = field(default_factory=dict)

    def add(self, totals: CallRecord, candidates: int, seconds: float) -> None:
        self.model_calls += totals.calls
        self.tokens_in += totals.tokens_in
        self.tokens_out += totals.tokens_out
        self.candidates += candidates
        self.seconds += seconds


#: Constructor arguments that change how fast scores come, never what they are.
NOT_SCORING = frozenset({"quiet", "batch_size", "device", "n_threads", "corpus_limit"})


class Reranker(Composable, ABC):
    """Base class: subclasses implement :meth:`score` for one query's candidates (or
    :meth:`score_lists` for many at once) and :attr:`name`.

    The arguments the constructor is called with are recorded before it runs (in
    ``__new__``; the subclass's ``__init__`` and its signature stay as written), so that
    :meth:`identity` (what the score cache and manifests key on) covers every setting
    without each subclass listing them again.
    """

    #: True when a document's score depends only on its query and its own text, so the
    #: score cache can key single documents; False keys the whole candidate list.
    pointwise = False
    #: True when :meth:`score_lists` batches model calls across queries (the pipeline then
    #: hands it many queries at once); False: one query at a time.
    batches_across_queries = False
    #: a prompt template's text, for rerankers that have one (part of the identity)
    template: str | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Reranker:
        self = super().__new__(cls)
        self._arguments = {}
        try:
            bound = inspect.signature(cls.__init__).bind(self, *args, **kwargs)
        except TypeError:            # unpickling (no arguments), or a bad call __init__ reports
            return self
        bound.apply_defaults()
        self._arguments = dict(list(bound.arguments.items())[1:])
        return self

    def __init__(self) -> None:
        self.stats = RerankStats()
        #: model calls made since the scoring path last took them
        self.calls = CallLog()

    @property
    @abstractmethod
    def name(self) -> str:
        """A short readable label, e.g. ``cross-encoder-ms-marco-MiniLM-L-6-v2``."""

    def identity(self) -> dict:
        """Everything that determines the scores: class, scoring arguments (models by content
        hash or hub name, LLMs by their identity), and the prompt template's text."""
        described = {key: _describe(key, value)
                     for key, value in sorted(self._arguments.items())
                     if key not in NOT_SCORING}
        identity: dict[str, Any] = {"reranker": type(self).__qualname__,
                                    "arguments": described}
        if self.template is not None:
            identity["template"] = self.template
        resolved = self.resolved_model()
        if resolved is not None:
            identity["model"] = model_identity(resolved)
        return identity

    def describe(self) -> dict:
        """The reranker's identity as a manifest records it."""
        return self.identity()

    def corpus_encodings(self, corpus: Corpus) -> list[CorpusEncoding]:
        """What :meth:`prepare` will embed with a dense encoder (the Ray engine shards that
        work ahead of it); nothing here."""
        return []

    def prepare(self, corpus: Corpus) -> None:
        """Work done once per corpus before scoring (the pipeline calls it); none here."""

    def resolved_model(self) -> str | None:
        """The model actually loaded when the argument left it to a default (else None)."""
        return None

    def take_calls(self) -> list[CallRecord]:
        """The model calls made since the last take (this reranker's own; LLM rerankers add
        their backend's)."""
        return self.calls.take()

    def rerank(self, queries: Queries, candidates: Run, corpus: Corpus,
               depth: int | None = None, cache: ScoreCache | None = None) -> Run:
        """Re-score each query's top ``depth`` candidates; a run sorted by the new scores.
        ``cache``: a score cache to read and fill (as in a pipeline)."""
        lists = candidate_lists(queries, candidates, corpus, depth)
        scores, _ = score_candidates(self, lists, cache)
        return scored_run(lists, scores, self.name)

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        """Scores for every list; the default scores them one list at a time."""
        return [self.score(c) for c in lists]

    def score(self, candidates: CandidateList) -> np.ndarray:
        """Scores of one query's candidates (higher is better), in their order."""
        raise NotImplementedError(f"{type(self).__name__} implements neither score() nor "
                                  "score_lists()")


def _describe(key: str, value: Any) -> Any:
    """A JSON-able identity for one constructor argument."""
    if isinstance(value, Identified):
        return value.identity()
    if key == "model" and isinstance(value, str | Path):
        return model_identity(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_describe(key, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(key, v) for k, v in sorted(value.items())}
    raise TypeError(f"cannot fingerprint argument '{key}' of type {type(value).__name__}; "
                    "give the reranker plain values or an object with identity()")
