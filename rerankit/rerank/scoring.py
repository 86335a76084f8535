"""The one scoring path of every reranker, alone (``Reranker.rerank``) or in a pipeline:
look the candidates up in the score cache, score what is missing (batched across queries
where the reranker can), store the new scores, and say what each list cost.

Cache keys: pointwise rerankers (a score depends on its query and document alone) are
keyed per document, others per whole candidate list (see :mod:`rerankit.rerank.cache`).
Costs come from the model-call records the reranker hands over after each batch; a batch
shared by several queries is split among them in proportion to the candidates each had
scored (rerankers that work one query at a time are measured per query).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rerankit.costs import CallRecord
from rerankit.rerank.cache import ScoreCache, document_key, fingerprint_digest, list_key
from rerankit.rerank.candidates import CandidateList


class Scorer(Protocol):
    """What the scoring path needs of a reranker (:class:`rerankit.rerank.base.Reranker`
    provides all of it)."""

    pointwise: bool
    batches_across_queries: bool
    stats: Any

    def identity(self) -> dict: ...

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]: ...

    def take_calls(self) -> list[CallRecord]: ...


#: a list still to score: (its position, the sub-list of missing candidates, their positions)
Todo = tuple[int, CandidateList, np.ndarray]


@dataclass(kw_only=True)
class ListCost:
    """What scoring one query's candidate list cost (a ledger row is one of these with its
    stage and query)."""

    seconds: float = 0.0
    model_calls: float = 0.0
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    candidates: int = 0
    cache_hits: int = 0


def score_candidates(reranker: Scorer, lists: list[CandidateList],
                     cache: ScoreCache | None = None
                     ) -> tuple[list[np.ndarray], list[ListCost]]:
    """Scores of every list (in its order) and each list's cost; the reranker's
    :attr:`~rerankit.rerank.base.Reranker.stats` grow by what was computed."""
    scores: list[np.ndarray | None] = [None] * len(lists)
    hits = [0] * len(lists)
    if cache is None:
        todo: list[Todo] = [(i, c, np.arange(len(c.doc_ids))) for i, c in enumerate(lists)]
    else:
        stage_key = fingerprint_digest(reranker.identity())
        todo = _lookup(cache, stage_key, reranker.pointwise, lists, scores, hits)
    costs = [ListCost(candidates=len(c.doc_ids), cache_hits=hits[i])
             for i, c in enumerate(lists)]
    reranker.take_calls()                        # calls made outside scoring are not ours
    groups = [todo] if reranker.batches_across_queries else [[t] for t in todo]
    for group in groups:
        if not group:
            continue
        start = time.perf_counter()
        computed = reranker.score_lists([sub for _, sub, _ in group])
        seconds = time.perf_counter() - start
        spent = CallRecord.total(reranker.take_calls())
        sizes = np.array([len(sub.doc_ids) for _, sub, _ in group], dtype=float)
        reranker.stats.add(spent, int(sizes.sum()), seconds)
        for (i, _sub, positions), values, share in zip(group, computed, sizes / sizes.sum(),
                                                      strict=True):
            full = scores[i] if scores[i] is not None else np.full(len(lists[i].doc_ids),
                                                                  np.nan)
            full[positions] = values
            scores[i] = full
            cost = costs[i]
            cost.seconds += seconds * share
            cost.model_calls += spent.calls * share
            cost.tokens_in += spent.tokens_in * share
            cost.tokens_out += spent.tokens_out * share
        if cache is not None:
            _store(cache, stage_key, reranker.pointwise, group, computed)
    return [s if s is not None else np.zeros(0) for s in scores], costs


def _lookup(cache: ScoreCache, stage_key: bytes, pointwise: bool,
            lists: list[CandidateList], scores: list, hits: list[int]) -> list[Todo]:
    todo: list[Todo] = []
    if pointwise:
        keys = [[document_key(stage_key, c.query, t) for t in c.texts] for c in lists]
        found = cache.get_many([k for ks in keys for k in ks])
        for i, (c, ks) in enumerate(zip(lists, keys, strict=True)):
            known = np.array([k in found for k in ks], dtype=bool)
            scores[i] = np.array([found[k][0] if k in found else np.nan for k in ks])
            hits[i] = int(known.sum())
            missing = np.flatnonzero(~known)
            if missing.size:
                todo.append((i, CandidateList(c.query_id, c.query,
                                              [c.doc_ids[j] for j in missing],
                                              [c.texts[j] for j in missing]), missing))
        return todo
    keys = [list_key(stage_key, c.query, c.texts) for c in lists]
    found = cache.get_many(keys)
    for i, (c, key) in enumerate(zip(lists, keys, strict=True)):
        if key in found and len(found[key]) == len(c.doc_ids):
            scores[i], hits[i] = found[key], len(c.doc_ids)
        else:
            todo.append((i, c, np.arange(len(c.doc_ids))))
    return todo


def _store(cache: ScoreCache, stage_key: bytes, pointwise: bool, group: list[Todo],
           computed: list[np.ndarray]) -> None:
    items = []
    for (_, sub, _), values in zip(group, computed, strict=True):
        values = np.asarray(values, dtype=np.float64)
        if not np.isfinite(values).all():
            continue            # never cache a bad score; scored_run names it
        if pointwise:
            items += [(document_key(stage_key, sub.query, t), values[j:j + 1])
                      for j, t in enumerate(sub.texts)]
        else:
            items.append((list_key(stage_key, sub.query, sub.texts), values))
    cache.put_many(items)
