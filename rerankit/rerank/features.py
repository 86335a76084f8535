"""A feature union for learning to rank: each stage's score and rank, plus cheap
query-document features, as one matrix per candidate list.

Feature names are ``<source>.<feature>``:

* ``bm25.score``, ``bm25.rank``: BM25 (rerankit's :class:`~rerankit.retrieve.bm25.BM25`,
  default parameters) over the whole corpus, read for the candidates;
* ``bi-encoder.score``, ``bi-encoder.rank``: the cosine of the offline MiniLM bi-encoder
  (:class:`~rerankit.rerank.pointwise.BiEncoderReranker`);
* ``splade.score``, ``splade.rank``: the SPLADE dot product
  (:class:`~rerankit.retrieve.splade.Splade`, offline SPLADE-tiny);
* ``input.rank``: the candidate's position in the incoming run (the pipeline's order);
* ``doc.length``: the document's length in BM25 tokens (stopwords removed, stemmed);
* ``query.overlap``: the fraction of the query's distinct BM25 terms the document contains.

A rank is 1 for the list's highest score (ties keep the incoming order). The union computes
its stage features with the same components a pipeline stage uses, so a feature is the
number that stage would give, whatever stages precede the learning-to-rank stage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from rerankit.data.corpus import Corpus
from rerankit.rerank.base import CandidateList
from rerankit.retrieve.base import documents_to_index

#: every feature each source produces
PRODUCES = {
    "bm25": ("score", "rank"),
    "bi-encoder": ("score", "rank"),
    "splade": ("score", "rank"),
    "input": ("rank",),
    "doc": ("length",),
    "query": ("overlap",),
}
DEFAULT_FEATURES = ("bm25.score", "bm25.rank", "bi-encoder.score", "input.rank",
                    "doc.length", "query.overlap")


def check_features(features: Sequence[str]) -> list[str]:
    """The feature names, refusing an empty list, duplicates, an unknown source and a
    feature its source does not produce (each named)."""
    names = list(features)
    if not names:
        raise ValueError("an LTR stage needs at least one feature")
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"feature {name!r} is not a string like 'bm25.score'")
        source, _, feature = name.partition(".")
        if source not in PRODUCES:
            raise ValueError(f"feature '{name}': no stage '{source}' produces features; "
                             f"known: {', '.join(PRODUCES)}")
        if feature not in PRODUCES[source]:
            produced = ", ".join(f"{source}.{f}" for f in PRODUCES[source])
            raise ValueError(f"feature '{name}': stage '{source}' does not produce "
                             f"'{feature}'; it produces {produced}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"feature(s) listed twice: {', '.join(duplicates)}")
    return names


def list_ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the highest score, ties in list order (a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


class FeatureUnion:
    """Computes the named features for candidate lists (``prepare`` once per corpus)."""

    def __init__(self, features: Sequence[str] = DEFAULT_FEATURES,
                 quiet: bool | None = None) -> None:
        self.features = check_features(features)
        self.quiet = quiet
        self.sources = {name.partition(".")[0] for name in self.features}
        self._bm25 = self._bi_encoder = self._splade = None
        self._rows: dict[str, int] = {}
        self._terms = None
        self._corpus_size = -1
        self._corpus_digest = ""

    def identity(self) -> dict[str, Any]:
        """The features and the identity of every component that computes them."""
        identity: dict[str, Any] = {"features": self.features}
        if self._corpus_digest:        # BM25 and SPLADE scores depend on the whole corpus
            identity["corpus"] = self._corpus_digest
        if self.sources & {"bm25", "doc", "query"}:
            from rerankit.retrieve.bm25 import BM25

            identity["bm25"] = (self._bm25 or BM25()).identity()
        if "bi-encoder" in self.sources:
            identity["bi-encoder"] = self._bi_encoder_component().identity()
        if "splade" in self.sources:
            identity["splade"] = self._splade_component().identity()
        return identity

    def _bi_encoder_component(self):
        if self._bi_encoder is None:
            from rerankit.rerank.pointwise import BiEncoderReranker

            self._bi_encoder = BiEncoderReranker(quiet=self.quiet)
        return self._bi_encoder

    def _splade_component(self):
        if self._splade is None:
            from rerankit.retrieve.splade import Splade

            self._splade = Splade(quiet=self.quiet)
        return self._splade

    def prepare(self, corpus: Corpus) -> None:
        """Index the corpus for the sources that need it (once per corpus)."""
        if len(corpus) == self._corpus_size:
            return
        ids, texts = documents_to_index(corpus, getattr(corpus, "source", "corpus"), "skip")
        digest = hashlib.sha256()
        for docid, text in zip(ids, texts, strict=True):
            digest.update(f"{len(docid)}:{docid}{len(text)}:{text}".encode())
        self._corpus_digest = "sha256:" + digest.hexdigest()
        self._rows = {docid: row for row, docid in enumerate(ids)}
        if self.sources & {"bm25", "doc", "query"}:
            from rerankit.retrieve.bm25 import BM25

            self._bm25 = BM25(on_empty="skip", quiet=True).index(corpus)
            self._terms = self._bm25.term_matrix(texts)
        if "bi-encoder" in self.sources:
            self._bi_encoder_component().prepare(corpus)
        if "splade" in self.sources:
            splade = self._splade_component()
            if not splade.is_indexed:
                splade.index(corpus)
        self._corpus_size = len(corpus)

    def matrices(self, lists: list[CandidateList]) -> list[np.ndarray]:
        """One (candidates x features) float64 matrix per list, columns in feature order."""
        if self._corpus_size < 0:
            raise RuntimeError("prepare(corpus) before computing features")
        columns: dict[str, list[np.ndarray]] = {}
        rows = [np.array([self._rows[d] for d in c.doc_ids], dtype=np.int64) for c in lists]
        if "bm25" in self.sources:
            scores = [self._bm25.corpus_scores(c.query)[r] for c, r in zip(lists, rows,
                                                                          strict=True)]
            self._stage_columns(columns, "bm25", scores)
        if "bi-encoder" in self.sources:
            self._stage_columns(columns, "bi-encoder",
                                self._bi_encoder_component().score_lists(lists))
        if "splade" in self.sources:
            self._stage_columns(columns, "splade",
                                self._splade_component().candidate_scores(lists))
        columns["input.rank"] = [np.arange(1.0, len(c.doc_ids) + 1) for c in lists]
        if self.sources & {"doc", "query"}:
            lengths = np.asarray(self._terms.sum(axis=1)).ravel()
            columns["doc.length"] = [lengths[r] for r in rows]
            present = self._terms.copy()
            present.data[:] = 1.0
            queries = self._bm25.term_matrix([c.query for c in lists])
            queries.data[:] = 1.0
            distinct = np.maximum(self._bm25.distinct_terms([c.query for c in lists]), 1.0)
            columns["query.overlap"] = [
                np.asarray((present[r] @ queries[i].T).todense()).ravel() / distinct[i]
                for i, r in enumerate(rows)]
        return [np.column_stack([columns[name][i] for name in self.features]).astype(
            np.float64) for i in range(len(lists))]

    @staticmethod
    def _stage_columns(columns: dict, source: str, scores: list[np.ndarray]) -> None:
        columns[f"{source}.score"] = [np.asarray(s, dtype=np.float64) for s in scores]
        columns[f"{source}.rank"] = [list_ranks(np.asarray(s, dtype=np.float64))
                                     for s in scores]
