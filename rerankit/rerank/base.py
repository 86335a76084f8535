"""One interface for every reranker, and what they all share.

``rerank(queries, candidates, corpus, depth)`` takes a run (e.g. a retriever's top-k), keeps
each query's top ``depth`` candidates in trec_eval order, scores them, and returns a run
sorted by the new scores, keyed by document id (never by text, so duplicate texts cannot
collide). The reranker's :attr:`stats` record model calls, tokens and time.
"""

from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rerankit.compose import Composable
from rerankit.data.corpus import Corpus
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.identity import model_identity


@dataclass
class RerankStats:
    """Cost of the work done so far (accumulates across calls)."""

    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    candidates: int = 0
    seconds: float = 0.0
    repairs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CandidateList:
    """One query's candidates, in the input run's ranked order."""

    query_id: str
    query: str
    doc_ids: list[str]
    texts: list[str]


def candidate_lists(queries: Queries, candidates: Run, corpus: Corpus,
                    depth: int | None) -> list[CandidateList]:
    """Each query's top ``depth`` candidates with their texts; unknown query or document
    ids and candidates without text are errors that name them."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    ranked = candidates.top_k(depth) if depth else candidates.ranked()
    lists: dict[str, CandidateList] = {}
    for qid, docid in zip(ranked.qid.to_pylist(), ranked.docid.to_pylist(), strict=True):
        if qid not in lists:
            if qid not in queries:
                raise InputFormatError(candidates.name, f"candidates for query '{qid}', which "
                                       "is not among the queries given")
            lists[qid] = CandidateList(qid, queries[qid], [], [])
        if docid not in corpus:
            raise InputFormatError(candidates.name, f"candidate document '{docid}' (query "
                                   f"'{qid}') is not in the corpus")
        text = corpus[docid].full_text
        if not text.strip():
            raise InputFormatError(candidates.name, f"candidate document '{docid}' (query "
                                   f"'{qid}') has no text to rerank")
        lists[qid].doc_ids.append(docid)
        lists[qid].texts.append(text)
    return list(lists.values())


def scored_run(lists: list[CandidateList], scores: list[np.ndarray], name: str) -> Run:
    """A run from per-list scores; NaN or infinite scores are errors naming the pair."""
    for candidate, values in zip(lists, scores, strict=True):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputFormatError(name, f"the model returned {values[bad[0]]} for query "
                                   f"'{candidate.query_id}', document "
                                   f"'{candidate.doc_ids[bad[0]]}'")
    qids = [c.query_id for c in lists for _ in c.doc_ids]
    docids = [d for c in lists for d in c.doc_ids]
    values = np.concatenate(scores) if scores else np.zeros(0)
    return Run(pa.array(qids, pa.string()), pa.array(docids, pa.string()),
               values.astype(np.float64), name, verified_unique=False).ranked()


#: Constructor arguments that change how fast scores come, never what they are.
NOT_SCORING = frozenset({"quiet", "batch_size", "device", "n_threads", "corpus_limit"})


class Reranker(Composable):
    """Base class: subclasses implement :meth:`score` for one query's candidates (or
    :meth:`score_lists` for many at once).

    The arguments a subclass's constructor was called with are recorded, so that
    :meth:`fingerprint` (what the score cache keys on) covers every setting without each
    subclass listing them again.
    """

    name = "reranker"
    #: True when a document's score depends only on its query and its own text, so the
    #: score cache can key single documents; False keys the whole candidate list.
    pointwise = False
    #: True when :meth:`score_lists` batches model calls across queries (the pipeline then
    #: hands it many queries at once); False: one query at a time.
    batches_across_queries = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_arguments(cls.__init__)

    def __init__(self) -> None:
        self.stats = RerankStats()

    def fingerprint(self) -> dict:
        """Everything that determines the scores: class, scoring arguments (models by content
        hash or hub name, LLMs by their identity), and the prompt template's text."""
        arguments = getattr(self, "_arguments", {})
        described = {key: _describe(key, value) for key, value in sorted(arguments.items())
                     if key not in NOT_SCORING}
        identity: dict[str, Any] = {"reranker": type(self).__qualname__,
                                    "arguments": described}
        template = getattr(self, "template", None)
        if isinstance(template, str):
            identity["template"] = template
        resolved = self.resolved_model()
        if resolved is not None:
            identity["model"] = model_identity(resolved)
        return identity

    def prepare(self, corpus: Corpus) -> None:
        """Work done once per corpus before scoring (the pipeline calls it); none here."""

    def resolved_model(self) -> str | None:
        """The model actually loaded when the argument left it to a default (else None)."""
        return None

    def rerank(self, queries: Queries, candidates: Run, corpus: Corpus,
               depth: int | None = None) -> Run:
        """Re-score each query's top ``depth`` candidates; a run sorted by the new scores."""
        start = time.perf_counter()
        lists = candidate_lists(queries, candidates, corpus, depth)
        scores = self.score_lists(lists)
        self.stats.candidates += sum(len(c.doc_ids) for c in lists)
        self.stats.seconds += time.perf_counter() - start
        return scored_run(lists, scores, self.name)

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        """Scores for every list; the default scores them one list at a time."""
        return [self.score(c) for c in lists]

    def score(self, candidates: CandidateList) -> np.ndarray:
        raise NotImplementedError


def _recording_arguments(init):
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args: Any, **kwargs: Any) -> None:
        if not hasattr(self, "_arguments"):          # the outermost subclass records
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self._arguments = {k: v for k, v in list(bound.arguments.items())[1:]}
        init(self, *args, **kwargs)

    return wrapper


def _describe(key: str, value: Any) -> Any:
    """A JSON-able identity for one constructor argument."""
    if hasattr(value, "identity"):
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
