"""Measures over judgment groups for ``-R qrels_jg`` (``map_avgjg``, ``P_avgjg``,
``Rprec_mult_avgjg``), as trec_eval 10.0.

Each judgment group (jg) of a query is an ordinary set of qrels; the measure is computed per
jg as ``map``, ``P`` and ``Rprec_mult`` would be and averaged over the query's jgs (summed
in jg order, divided by the number of jgs when there are several). A document is relevant
when its grade is >= ``relevance_level``; negative grades are "in pool, unjudged". Under
``judged_only`` (``-J``) each jg ranks only the retrieved documents it judges (grade >= 0).

Vectorised over all (query, jg) groups: per-group sums use ``np.bincount`` over rows in rank
order, which adds in the same order as trec_eval's loops.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import ranks_within_groups
from rerankit.evaluation.prefs_files import GroupJudgements
from rerankit.evaluation.prefs_ranking import RankedRun

JG_FAMILIES = ("map_avgjg", "P_avgjg", "Rprec_mult_avgjg")


class JudgmentGroupStats:
    """The relevant retrieved documents of every (query, jg) group, ranked."""

    def __init__(self, judgements: GroupJudgements, ranked: RankedRun, relevance_level: int,
                 judged_only: bool) -> None:
        if relevance_level < 0:
            raise ValueError(f"relevance level must be >= 0, got {relevance_level}")
        query = judgements.query
        order = pc.sort_indices(pa.table({"q": pa.array(query), "g": judgements.group}),
                                sort_keys=[("q", "ascending"), ("g", "ascending")]).to_numpy()
        query = query[order]
        jg = judgements.group.take(pa.array(order))
        grade = judgements.level[order]
        new = np.ones(order.size, dtype=bool)
        if order.size > 1:
            new[1:] = (query[1:] != query[:-1]) | ~pc.equal(
                jg.slice(1), jg.slice(0, order.size - 1)).to_numpy(zero_copy_only=False)
        group = np.cumsum(new) - 1
        self.num_groups = int(group[-1]) + 1
        self.group_query = query[new]
        self.num_jgs = np.bincount(self.group_query, minlength=len(judgements.query_ids))
        rank = ranked.lookup(query, judgements.docid.take(pa.array(order)))
        relevant = grade >= relevance_level
        self.num_rel = np.bincount(group[relevant], minlength=self.num_groups)
        retrieved = rank > 0
        if judged_only:
            retrieved &= grade >= 0
            by_rank = np.lexsort((rank, group))
            by_rank = by_rank[retrieved[by_rank]]
            rank = np.zeros_like(rank)
            rank[by_rank] = ranks_within_groups(group[by_rank])
            self.num_ret = np.bincount(group[retrieved], minlength=self.num_groups)
        else:
            self.num_ret = ranked.num_ret[self.group_query]
        hits = np.flatnonzero(relevant & retrieved)
        hits = hits[np.lexsort((rank[hits], group[hits]))]
        self.hit_group = group[hits]                      # sorted by group, then rank
        self.hit_rank = rank[hits]
        self.hit_number = ranks_within_groups(self.hit_group)  # k for the k-th relevant

    def per_query(self, per_group: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Sum over each query's jgs in jg order, divided by the number of jgs if > 1."""
        total = np.bincount(self.group_query, weights=per_group, minlength=self.num_jgs.size)
        jgs = self.num_jgs.astype(np.float64)
        total = np.where(jgs > 1, total / np.maximum(jgs, 1), total)
        return total[queries]

    def relevant_within(self, cutoff: np.ndarray) -> np.ndarray:
        """Per group, relevant documents ranked at or above ``cutoff`` (per group)."""
        within = self.hit_rank <= cutoff[self.hit_group]
        return np.bincount(self.hit_group[within], minlength=self.num_groups)


def map_avgjg(s: JudgmentGroupStats) -> np.ndarray:
    """Average precision per jg: precision at each relevant retrieved document / num_rel."""
    precision = s.hit_number / s.hit_rank
    total = np.bincount(s.hit_group, weights=precision, minlength=s.num_groups)
    out = np.zeros(s.num_groups)
    found = np.bincount(s.hit_group, minlength=s.num_groups) > 0
    out[found] = total[found] / s.num_rel[found]
    return out


def p_avgjg(s: JudgmentGroupStats, cutoff: int) -> np.ndarray:
    """Precision at ``cutoff`` per jg (missing ranks count as non-relevant)."""
    hits = s.relevant_within(np.full(s.num_groups, cutoff))
    return hits / float(cutoff)


def rprec_mult_avgjg(s: JudgmentGroupStats, multiple: float) -> np.ndarray:
    """Precision at ``multiple`` x num_rel documents per jg (rounded as trec_eval:
    ``(long) (multiple * num_rel + 0.9)``; 0 when that is 0)."""
    cut = np.trunc(multiple * s.num_rel.astype(np.float64) + 0.9).astype(np.int64)
    hits = s.relevant_within(cut)
    out = np.zeros(s.num_groups)
    positive = cut > 0
    out[positive] = hits[positive] / cut[positive].astype(np.float64)
    return out
