"""One query's candidates with their texts, and the runs and scores built from them:
the data every reranker and the scoring path exchange."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rerankit.data.corpus import Corpus
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError


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


def split_flat(flat: np.ndarray, lists: list[CandidateList]) -> list[np.ndarray]:
    """Scores computed for all lists' texts in one flat array, split back per list."""
    bounds = np.cumsum([0] + [len(c.texts) for c in lists])
    return [flat[bounds[i]:bounds[i + 1]] for i in range(len(lists))]


def order_scores(order: list[int] | np.ndarray) -> np.ndarray:
    """Scores that rank positions in ``order`` (best first): 0, -1, -2, ..."""
    scores = np.empty(len(order))
    scores[np.asarray(order, dtype=np.int64)] = -np.arange(len(order), dtype=np.float64)
    return scores
