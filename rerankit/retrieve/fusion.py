"""Rank fusion of any runs (retriever outputs or files): RRF, CombSUM, CombMNZ, weighted sum,
with min-max, z-score or rank normalisation per (run, query).

All of it is columnar: the runs are stacked into one Arrow table, normalised with grouped
numpy operations and summed with Arrow's hash group-by, so fusing 1000-deep runs of
thousands of queries takes milliseconds, not Python loops over documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import encode_strings, group_starts
from rerankit.data.corpus import Corpus, Document
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.registry import register
from rerankit.retrieve.base import CorpusEncoding, Retriever

Normalisation = Literal["none", "minmax", "zscore", "rank"]
METHODS = ("rrf", "combsum", "combmnz", "weighted")
NORMALISATIONS = ("none", "minmax", "zscore", "rank")


def check_options(method: str, k: int, normalisation: str,
                  weights: Sequence[float] | None, n_runs: int, parts: str = "runs") -> None:
    """The one check of fusion options (:func:`fuse`, :class:`Fusion` and configs);
    ``parts`` names what is fused in messages."""
    if method not in METHODS:
        raise ValueError(f"fusion method must be one of {', '.join(METHODS)}, got {method!r}")
    check_weighted(method, weights)
    if weights is not None and len(weights) != n_runs:
        raise ValueError(f"'weights' has {len(weights)} values for {n_runs} {parts}: "
                         f"fusion needs one weight per {parts.rstrip('s')}")
    if method == "weighted" and weights is None:
        raise ValueError(f"weighted fusion needs one weight per {parts.rstrip('s')}")
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {normalisation!r}; choose from "
                         f"{', '.join(NORMALISATIONS)}")
    if k <= 0:
        raise ValueError(f"RRF k must be > 0, got {k}")


def check_weighted(method: str, weights: Sequence[float] | None) -> None:
    """Refuse ``weights`` for a method that would ignore them: only ``weighted`` (a
    weighted sum of normalised scores) takes weights; RRF, CombSUM and CombMNZ do not."""
    if weights is not None and method != "weighted":
        raise ValueError(f"'weights' are taken by method 'weighted' only (a weighted sum of "
                         f"normalised scores); method {method!r} would ignore them")


def fuse(runs: Sequence[Run], method: str = "rrf", k: int = 60,
         normalisation: Normalisation = "minmax", weights: Sequence[float] | None = None,
         name: str | None = None) -> Run:
    """Fuse runs into one.

    * ``rrf``: sum of 1 / (k + rank) (Cormack et al. 2009; ``k`` = 60); scores ignored.
    * ``combsum``: sum of normalised scores; ``combmnz``: that times the number of runs
      that retrieved the document; ``weighted``: sum of ``weights[i]`` x normalised score
      (the only method that takes ``weights``; the others refuse them).
    Normalisation (per run and query): ``minmax`` to [0, 1], ``zscore``, ``rank``
    (1 - (rank - 1) / n), or ``none``.
    """
    if len(runs) < 2:
        raise ValueError("fusion needs at least two runs")
    check_options(method, k, normalisation, weights, len(runs))
    parts = []
    for i, run in enumerate(runs):
        ranked = run.ranked()
        codes, _ = encode_strings(ranked.qid)
        starts = group_starts(codes)
        counts = np.diff(np.append(starts, codes.size))
        rank = np.arange(codes.size) - np.repeat(starts, counts) + 1
        if method == "rrf":
            value = 1.0 / (k + rank)
        else:
            value = _normalise(ranked.score, rank, starts, counts, normalisation)
            if method == "weighted":
                value = value * float(weights[i])
        parts.append(pa.table({"qid": pc.cast(ranked.qid, pa.string()),
                               "docid": pc.cast(ranked.docid, pa.string()),
                               "value": value}))
    table = pa.concat_tables(parts).group_by(["qid", "docid"], use_threads=False).aggregate(
        [("value", "sum"), ("value", "count")])
    score = table["value_sum"].to_numpy()
    if method == "combmnz":
        score = score * table["value_count"].to_numpy()
    return Run(table["qid"].combine_chunks(), table["docid"].combine_chunks(),
               score.astype(np.float64), name or f"{method}-" + "+".join(r.name for r in runs),
               verified_unique=True)


def _normalise(score: np.ndarray, rank: np.ndarray, starts: np.ndarray, counts: np.ndarray,
               how: str) -> np.ndarray:
    if how == "none":
        return score.astype(np.float64)
    if how == "rank":
        return 1.0 - (rank - 1) / np.repeat(counts, counts)
    group = np.repeat(np.arange(starts.size), counts)
    if how == "minmax":
        low = np.minimum.reduceat(score, starts)[group]
        span = np.maximum.reduceat(score, starts)[group] - low
        return np.divide(score - low, span, out=np.ones_like(score, dtype=float),
                         where=span > 0)
    mean = (np.add.reduceat(score, starts) / counts)[group]
    deviation = score - mean
    std = np.sqrt(np.add.reduceat(deviation ** 2, starts) / counts)[group]
    return np.divide(deviation, std, out=np.zeros_like(score, dtype=float), where=std > 0)


@register("retriever", "fusion", composite=True)
class Fusion(Retriever):
    """A retriever made of several retrievers whose runs are fused (see :func:`fuse`);
    each part retrieves ``depth`` documents (default: the requested ``k``)."""

    def __init__(self, retrievers: Sequence[Retriever], method: str = "rrf", k: int = 60,
                 normalisation: Normalisation = "minmax",
                 weights: Sequence[float] | None = None, depth: int | None = None) -> None:
        if len(retrievers) < 2:
            raise ValueError("fusion needs at least two retrievers")
        for part in retrievers:
            if not isinstance(part, Retriever):
                raise TypeError(f"Fusion fuses retrievers, got {type(part).__name__}")
        self.retrievers = list(retrievers)
        self.options = {"method": method, "k": k, "normalisation": normalisation,
                        "weights": weights}
        self.depth = depth
        check_options(method, k, normalisation, weights, len(self.retrievers), "retrievers")

    @property
    def name(self) -> str:
        return f"{self.options['method']}-" + "+".join(r.name for r in self.retrievers)

    @property
    def is_indexed(self) -> bool:
        return all(r.is_indexed for r in self.retrievers)

    def corpus_encodings(self, corpus: Corpus) -> list[CorpusEncoding]:
        return [encoding for part in self.retrievers
                for encoding in part.corpus_encodings(corpus)]

    def identity(self) -> dict:
        return {"fusion": {k: v for k, v in self.options.items() if v is not None},
                "depth": self.depth, "retrievers": [r.identity() for r in self.retrievers]}

    def index(self, corpus: Corpus | Iterable[Document]) -> Fusion:
        for retriever in self.retrievers:
            retriever.index(corpus)
        return self

    def retrieve(self, queries: Queries, k: int = 1000) -> Run:
        runs = [r.retrieve(queries, self.depth or k) for r in self.retrievers]
        return fuse(runs, name=self.name, **self.options).top_k(k)
