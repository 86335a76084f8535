"""One call to rerank a plain list of strings::

    import rerankit
    for hit in rerankit.rank("do statins prevent heart disease?", docs, "bi-encoder"):
        print(hit.rank, round(hit.score, 3), hit.text)

The reranker is a registered type name (``"cross-encoder"`` with ``model=...``,
``"bi-encoder"``, ``"yes-no"`` with ``llm=...``; see ``rerankit components``) or a reranker
object; the family is never guessed from a model name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rerankit import registry
from rerankit.data.corpus import InMemoryCorpus
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.rerank.base import Reranker


@dataclass(frozen=True)
class RankedDocument:
    """One document of :func:`rank`'s answer."""

    rank: int
    doc_id: str
    score: float
    text: str


def rank(query: str, documents: Sequence[str] | Mapping[str, str],
         reranker: Reranker | str = "bi-encoder", **params: Any) -> list[RankedDocument]:
    """``documents`` (a list, ids "0", "1", ... by position; or a dict id -> text) ranked
    for ``query`` by ``reranker``, best first; ``params`` go to the reranker's constructor
    when it is given by name. Ties keep the input order."""
    if isinstance(reranker, str):
        reranker = registry.lookup("reranker", reranker).cls(**params)
    elif params:
        raise TypeError("params are for a reranker given by name; this one is built already")
    texts = dict(documents) if isinstance(documents, Mapping) else \
        {str(i): text for i, text in enumerate(documents)}
    if not texts:
        return []
    for doc_id, text in texts.items():
        if not isinstance(text, str):
            raise InputFormatError("documents", f"document '{doc_id}' is a "
                                   f"{type(text).__name__}, not text")
    ids = list(texts)
    corpus = InMemoryCorpus.from_dict(texts, source="documents")
    queries = Queries.from_dict({"q": query}, source="query")
    given_order = Run.from_arrays(["q"] * len(ids), ids,
                                  -np.arange(len(ids), dtype=np.float64), "input")
    ranked = reranker.rerank(queries, given_order, corpus)
    scores = dict(zip(ranked.docid.to_pylist(), ranked.score.tolist(), strict=True))
    position = {d: i for i, d in enumerate(ids)}
    order = sorted(ids, key=lambda d: (-scores[d], position[d]))
    return [RankedDocument(position, d, scores[d], texts[d])
            for position, d in enumerate(order, 1)]
