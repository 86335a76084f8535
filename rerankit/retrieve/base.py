"""The retriever contract, and what every retriever shares: document and query validation,
and turning per-query top-k arrays into a :class:`Run` keyed by document id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

import numpy as np
import pyarrow as pa

from rerankit.compose import Composable
from rerankit.data.corpus import Corpus, Document
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError

#: runs an encoding function over chunks of texts elsewhere (e.g. on Ray workers)
ChunkMapper = Callable[[list[list[str]]], list[np.ndarray]]


class CorpusEncoder(Protocol):
    """A dense encoder that embeds a corpus (:class:`rerankit.retrieve.dense.Dense`)."""

    passage_prefix: str

    def encode(self, texts: list[str], prefix: str = "") -> np.ndarray: ...

    def encode_corpus(self, ids: list[str], texts: list[str],
                      map_chunks: ChunkMapper | None = None) -> np.ndarray: ...


class CorpusEncoding(NamedTuple):
    """A corpus a component will embed: the encoder and the (ids, texts) it embeds."""

    encoder: CorpusEncoder
    ids: list[str]
    texts: list[str]


class Retriever(Composable, ABC):
    """Base class of every retriever: ``index(corpus)`` once, then ``retrieve(queries, k)``
    for a :class:`Run` sorted by score and keyed by document id.

    :meth:`identity` is everything that determines the scores (manifests and cache keys
    use it); :attr:`name` is the short label runs and ledgers carry."""

    @property
    @abstractmethod
    def name(self) -> str:
        """A short readable label, e.g. ``bm25-bm25s-lucene``."""

    @property
    @abstractmethod
    def is_indexed(self) -> bool:
        """True once :meth:`index` (or a ``load``) has run."""

    @abstractmethod
    def identity(self) -> dict:
        """Every setting that determines the scores, JSON-able."""

    @abstractmethod
    def index(self, corpus: Corpus | Iterable[Document]) -> Retriever:
        """Index the documents; returns ``self``."""

    @abstractmethod
    def retrieve(self, queries: Queries, k: int = 1000) -> Run:
        """The top ``k`` documents of every query."""

    def describe(self) -> dict:
        """The retriever's identity as a manifest records it."""
        return {"retriever": self.name, "params": self.identity()}

    def corpus_encodings(self, corpus: Corpus) -> list[CorpusEncoding]:
        """What :meth:`index` will embed with a dense encoder (the Ray engine shards that
        work ahead of indexing); nothing here."""
        return []


def documents_to_index(corpus: Corpus | Iterable[Document], source: str = "corpus",
                       on_empty: str = "error") -> tuple[list[str], list[str]]:
    """(ids, texts) of the documents, refusing an empty corpus and duplicate ids (named).
    A document without text is an error naming it (``on_empty="error"``) or is left out of
    the index (``"skip"``; real collections such as Cranfield contain a few)."""
    if on_empty not in ("error", "skip"):
        raise ValueError(f"on_empty must be 'error' or 'skip', got {on_empty!r}")
    ids: list[str] = []
    texts: list[str] = []
    seen: set[str] = set()
    for doc in corpus:
        if doc.id in seen:
            raise InputFormatError(source, f"duplicate document id '{doc.id}'")
        seen.add(doc.id)
        text = doc.full_text
        if not text.strip():
            if on_empty == "skip":
                continue
            raise InputFormatError(source, f"document '{doc.id}' has no text to index "
                                   "(pass on_empty='skip' to leave such documents out)")
        ids.append(doc.id)
        texts.append(text)
    if not ids:
        raise InputFormatError(source, "corpus is empty: nothing to index")
    return ids, texts


def check_queries(queries: Queries) -> None:
    """Refuse empty or whitespace-only queries, naming the first."""
    if len(queries) == 0:
        raise InputFormatError(queries.source, "no queries to retrieve for")
    queries.check_not_empty()


def top_k_run(query_ids: list[str], doc_ids: pa.Array, indices: np.ndarray,
              scores: np.ndarray, name: str, keep_zero: bool = False) -> Run:
    """A run from (n_queries, k) arrays of document positions and scores, built with Arrow
    ``take`` (no Python loop over rows). Rows with score <= 0 are dropped unless
    ``keep_zero``: for lexical models they match no query term and their order is
    arbitrary. Negative positions (FAISS: fewer than k results) are dropped."""
    k = indices.shape[1]
    flat = indices.ravel()
    keep = flat >= 0
    if not keep_zero:
        keep &= scores.ravel() > 0
    rows = np.flatnonzero(keep)
    qid = pa.array(query_ids, type=pa.string()).take(pa.array(rows // k))
    docid = doc_ids.take(pa.array(flat[rows]))
    return Run(qid, docid, scores.ravel()[rows].astype(np.float64), name, verified_unique=True)
