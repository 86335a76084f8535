"""Preference measures (``prefs_*``) for ``-R prefs`` and ``-R qrels_prefs``, as trec_eval 10.0.

Per query, every judged document gets a position: the retrieved ones in rank order
(0 .. num_judged_ret - 1), then the others by document id. A judgment group (jg) with one
sub-group (jsg) prefers every document to all documents with a lower level (equivalence
classes; a line counts once per line, so a repeated line counts twice); a jg with several
sub-groups states preferences within each sub-group, closed under transitivity, each pair
counted once. A preference "a over b" is *fulfilled* when a is ranked above b (a retrieved
and b not counts as ranked above), and falls into one of three areas: both retrieved
(``_ret``), exactly one retrieved (``_imp``), neither retrieved.

Equivalence-class groups are counted together, vectorised
(:mod:`rerankit.evaluation.prefs_classes`); a group with sub-groups is a dense boolean
matrix ``P[a, b]`` (a preferred to b) over its own documents, every count a sum over a
block of it. The ``prefs_pair*`` measures need, per document pair, the preferences summed
over a query's groups: built (a matrix over the query's judged documents) only for queries
where a pair can carry more than one preference; elsewhere they equal the ``prefs_simp*``
ratios. Per-query values are sums over groups in group order (``np.bincount``).

Quirks of trec_eval reproduced on purpose: ``prefs_avgjg_Rnonrel`` and its ``_ret`` form
set the number of non-relevant documents N to the number of relevant ones R: with N <= R
they add R * (R - N) preferences (the retrieved relevant ones as fulfilled; the possible
ones counted with *all* relevant documents, also in the _ret form), with N > R they recount
with part of the non-relevant documents; a group whose ratio is then 0/0 makes the query's
value 0; pair counts are 16-bit. Inputs on which trec_eval stops, aborts or reads past its
arrays raise :class:`InputFormatError` instead.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import to_numpy
from rerankit.data.columns import group_starts
from rerankit.errors import InputFormatError
from rerankit.evaluation.prefs_classes import GroupCounts, Lines, count_class_groups
from rerankit.evaluation.prefs_files import GroupJudgements
from rerankit.evaluation.prefs_ranking import RankedRun

PREFS_FAMILIES = (
    "prefs_num_prefs_poss", "prefs_num_prefs_ful", "prefs_num_prefs_ful_ret",
    "prefs_simp", "prefs_pair", "prefs_avgjg", "prefs_avgjg_Rnonrel",
    "prefs_simp_ret", "prefs_pair_ret", "prefs_avgjg_ret", "prefs_avgjg_Rnonrel_ret",
    "prefs_simp_imp", "prefs_pair_imp", "prefs_avgjg_imp",
)


def preference_values(judgements: GroupJudgements, ranked: RankedRun, evaluated: np.ndarray,
                      rnonrel: bool = True) -> dict[str, np.ndarray]:
    """``{family: value per evaluated query}`` for every family in :data:`PREFS_FAMILIES`;
    ``evaluated`` are indices into the sorted judged query ids, in output order. Without
    ``rnonrel`` the two Rnonrel families are left 0 (and cannot raise)."""
    lines, num_judged = _sorted_lines(judgements, ranked, evaluated)
    starts = group_starts(lines.group)
    num_groups = starts.size
    group_query = lines.query[starts]
    subgroups = np.bincount(lines.group, weights=lines.new_subgroup, minlength=num_groups)
    in_classes = subgroups[lines.group] == 1
    counts = GroupCounts(*(np.zeros(num_groups, dtype=np.int64) for _ in range(5)),
                         np.zeros(num_groups), np.zeros(num_groups),
                         np.zeros(num_groups, dtype=bool))
    count_class_groups(lines, np.flatnonzero(in_classes), counts, rnonrel)
    arrays = {}
    bounds = np.append(starts, lines.group.size)
    for g in np.flatnonzero(subgroups > 1).tolist():
        group = _ArrayGroup(lines, np.arange(bounds[g], bounds[g + 1]))
        found = group.counts()
        (counts.ful_ret[g], counts.not_ret[g], counts.ful_imp[g], counts.not_imp[g],
         counts.notoccur[g]) = found
        if rnonrel:
            counts.rnonrel[g], counts.rnonrel_ret[g] = group.rnonrel(found)
        arrays[g] = group
    values = _query_values(counts, group_query, evaluated, len(lines.query_ids))
    groups_of = np.bincount(group_query, minlength=len(lines.query_ids))
    simple = (groups_of[group_query] == 1) & counts.distinct
    slot = {q: k for k, q in enumerate(evaluated.tolist())}
    for q in np.unique(group_query[~simple]).tolist():
        mine = np.flatnonzero(group_query == q)
        njr = int(lines.njr[starts[mine[0]]])
        pair_counts = np.zeros((num_judged[q], num_judged[q]), dtype=np.uint16)  # as C
        for g in mine.tolist():
            if g in arrays:
                docs, prefs = arrays[g].docs, arrays[g].prefs
            else:
                docs, prefs = _class_prefs(lines, np.arange(bounds[g], bounds[g + 1]))
            pair_counts[np.ix_(docs, docs)] += prefs.astype(np.uint16)
        k = slot[q]
        (values["prefs_pair"][k], values["prefs_pair_ret"][k],
         values["prefs_pair_imp"][k]) = _pairs(pair_counts, njr)
    return values


def _same(values: pa.Array) -> np.ndarray:
    """values[i + 1] == values[i] for consecutive strings."""
    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=bool)
    return to_numpy(pc.equal(values.slice(1), values.slice(0, n - 1)))


def _sorted_lines(judgements: GroupJudgements, ranked: RankedRun, evaluated: np.ndarray
                  ) -> tuple[Lines, np.ndarray]:
    """The evaluated queries' lines in processing order, each with its document's position;
    and the number of judged documents per query."""
    query_ids, query = judgements.query_ids, judgements.query
    docs = pa.table({"q": pa.array(query), "d": judgements.docid}).group_by(
        ["q", "d"]).aggregate([])
    rank = ranked.lookup(docs["q"].to_numpy(), docs["d"].combine_chunks())
    docs = docs.append_column("r", pa.array(np.where(rank > 0, rank, np.iinfo(np.int64).max)))
    docs = docs.take(pc.sort_indices(docs, sort_keys=[("q", "ascending"), ("r", "ascending"),
                                                      ("d", "ascending")]))
    doc_query = docs["q"].to_numpy()
    doc_pos = np.arange(len(doc_query)) - np.repeat(
        group_starts(doc_query), np.diff(np.append(group_starts(doc_query), len(doc_query))))
    num_judged = np.bincount(doc_query, minlength=len(query_ids))
    retrieved = docs["r"].to_numpy() < np.iinfo(np.int64).max
    njr = np.bincount(doc_query[retrieved], minlength=len(query_ids))
    lines = pa.table({"q": pa.array(query), "d": judgements.docid,
                      "i": pa.array(np.arange(len(query)))})
    mapped = lines.join(docs.append_column("p", pa.array(doc_pos)), keys=["q", "d"])
    pos = np.empty(len(query), dtype=np.int64)
    pos[mapped["i"].to_numpy()] = mapped["p"].to_numpy()
    table = pa.table({"q": pa.array(query), "g": judgements.group, "s": judgements.subgroup,
                      "l": pa.array(judgements.level), "p": pa.array(pos)})
    order = pc.sort_indices(table, sort_keys=[("q", "ascending"), ("g", "ascending"),
                                              ("s", "ascending"), ("l", "descending"),
                                              ("p", "ascending")]).to_numpy()
    order = order[np.isin(query[order], evaluated)]
    query = query[order]
    taken = pa.array(order)
    group_name = judgements.group.take(taken)
    new_query = np.ones(order.size, dtype=bool)
    new_query[1:] = query[1:] != query[:-1]
    new_group = new_query.copy()
    new_group[1:] |= ~_same(group_name)
    new_subgroup = new_group.copy()
    new_subgroup[1:] |= ~_same(judgements.subgroup.take(taken))
    return Lines(judgements.source, query_ids, query, np.cumsum(new_group) - 1, group_name,
                 new_subgroup, judgements.level[order], pos[order], njr[query],
                 judgements.docid.take(taken), judgements.line[order]), num_judged


def _class_prefs(lines: Lines, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An equivalence-class group as a matrix: its documents' positions and P[a, b] = lines
    of a times lines of b, for a in a higher class than b."""
    docs, local = np.unique(lines.pos[rows], return_inverse=True)
    level = lines.level[rows]
    new_class = np.r_[True, level[1:] != level[:-1]]
    cnt = np.zeros((int(new_class.sum()), docs.size))
    np.add.at(cnt, (np.cumsum(new_class) - 1, local), 1.0)
    below = np.cumsum(cnt[::-1], axis=0)[::-1] - cnt
    return docs, np.rint(cnt.T @ below).astype(np.int64)


class _ArrayGroup:
    """A jg with several sub-groups: preferences within each, closed under transitivity."""

    def __init__(self, lines: Lines, rows: np.ndarray) -> None:
        docs, local = np.unique(lines.pos[rows], return_inverse=True)
        new_jsg = lines.new_subgroup[rows].copy()
        new_jsg[0] = True
        level, line, njr = lines.level[rows], lines.line[rows], int(lines.njr[rows[0]])
        source, where = lines.source, lines.where(int(rows[0]))
        m = docs.size
        # trec_eval keeps the level of a document's last line in processing order and
        # stops when that level moves between 0 and a positive value.
        by_doc = np.lexsort((np.arange(local.size), local))
        prev, cur = by_doc[:-1], by_doc[1:]
        same = local[prev] == local[cur]
        before, after = level[prev], level[cur]
        clash = same & (((before > 0) & (after == 0)) | ((before == 0) & (after > 0)))
        if clash.any():
            a, b = int(prev[clash][0]), int(cur[clash][0])
            raise InputFormatError(
                source, f"document '{lines.docid[int(rows[b])].as_py()}' is non-relevant "
                f"(level 0) and relevant in one judgment group ({where}, lines "
                f"{line[a]} and {line[b]}); trec_eval stops on this",
                int(line[b]))
        last_line = np.zeros(m, dtype=np.int64)
        np.maximum.at(last_line, local, np.arange(local.size))
        self.rel = level[last_line]
        adjacency = np.zeros((m, m), dtype=bool)
        bounds = np.append(np.flatnonzero(new_jsg), local.size)
        for start, stop in pairwise(bounds.tolist()):
            sub, lv = local[start:stop], level[start:stop]
            above, below = np.nonzero(lv[:, None] > lv[None, :])
            adjacency[sub[above], sub[below]] = True
        closure = _transitive_closure(adjacency)
        conflict = np.argwhere(closure & closure.T)
        if conflict.size:
            a, b = (lines.docid[int(rows[np.flatnonzero(local == x)[0]])].as_py()
                    for x in conflict[0])
            raise InputFormatError(
                source, f"{where}: the group prefers '{a}' to '{b}' and "
                f"'{b}' to '{a}' (through its sub-groups); a judgment group must be "
                "consistent (put disagreeing users in different groups); trec_eval aborts on "
                "this", int(line.max()))
        self.prefs = closure.astype(np.int64)
        self.njr, self.k = njr, int(np.searchsorted(docs, njr))
        self.docs = docs
        ret = docs < njr
        self.num_rel, self.num_rel_ret = int((self.rel > 0).sum()), int(
            ((self.rel > 0) & ret).sum())
        self.num_nonrel, self.num_nonrel_ret = int((self.rel == 0).sum()), int(
            ((self.rel == 0) & ret).sum())

    def counts(self) -> tuple[int, int, int, int, int]:
        """Preferences fulfilled and not, both retrieved; fulfilled and not, one retrieved;
        neither retrieved: sums over blocks of the preference array (documents in position
        order, the first ``k`` retrieved)."""
        prefs, k = self.prefs, self.k
        return (int(np.triu(prefs[:k, :k], 1).sum()), int(np.tril(prefs[:k, :k], -1).sum()),
                int(prefs[:k, k:].sum()), int(prefs[k:, :k].sum()), int(prefs[k:, k:].sum()))

    def recount(self, limit: int, retrieved_only: bool) -> tuple[int, int]:
        """trec_eval's recount for the Rnonrel measures: non-relevant documents after the
        ``limit``-th one (in position order) are dropped."""
        zero = self.rel == 0
        scanned = zero[: self.k] if retrieved_only else zero
        zeros = np.flatnonzero(scanned)
        if zeros.size > limit:
            first_dropped = self.docs[zeros[limit]]
        else:
            first_dropped = self.njr if retrieved_only else np.iinfo(np.int64).max
        keep = ~(zero & (self.docs >= first_dropped))
        if retrieved_only:
            keep[self.k:] = False
        prefs = self.prefs[np.ix_(keep, keep)]
        k = int(keep[: self.k].sum())
        return int(np.triu(prefs, 1)[:k].sum()), int(prefs.sum())

    def rnonrel(self, counts: tuple[int, int, int, int, int]) -> tuple[float, float]:
        """The ratios for prefs_avgjg_Rnonrel and _ret (see the module docstring)."""
        ful_ret, not_ret, ful_imp, not_imp, notoccur = counts
        r, n = self.num_rel, self.num_nonrel
        if r >= n:
            ful = ful_ret + ful_imp + self.num_rel_ret * (r - n)
            poss = ful_ret + not_ret + ful_imp + not_imp + notoccur + self.num_rel * (r - n)
        else:
            ful, poss = self.recount(r, retrieved_only=False)
        r, n = self.num_rel_ret, self.num_nonrel_ret
        if r >= n:
            ful_r = ful_ret + self.num_rel_ret * (r - n)
            poss_r = ful_ret + not_ret + self.num_rel * (r - n)
        else:  # trec_eval cuts after num_rel (not num_rel_ret) zeros here
            ful_r, poss_r = self.recount(self.num_rel, retrieved_only=True)
        return _ratio(ful, poss), _ratio(ful_r, poss_r)


def _transitive_closure(adjacency: np.ndarray) -> np.ndarray:
    """Reachability (a path of one or more preferences), by repeated squaring."""
    reach = adjacency | np.eye(adjacency.shape[0], dtype=bool)
    while True:
        as_float = reach.astype(np.float32)
        wider = (as_float @ as_float) > 0
        if np.array_equal(wider, reach):
            break
        reach = wider
    np.fill_diagonal(reach, False)
    return reach



def _ratio(ful: int, poss: int) -> float:
    """ful / poss as C doubles divide: 0 / 0 is NaN."""
    return float(ful) / float(poss) if poss else float("nan")


def _query_values(c: GroupCounts, group_query: np.ndarray, evaluated: np.ndarray, nq: int
                  ) -> dict[str, np.ndarray]:
    """Every family per evaluated query: sums over the query's groups in group order."""

    def total(per_group: np.ndarray) -> np.ndarray:
        return np.bincount(group_query, weights=per_group, minlength=nq)[evaluated]

    def ratio(ful: np.ndarray, poss: np.ndarray) -> np.ndarray:
        out = np.zeros(ful.size)
        np.divide(ful, poss, out=out, where=poss > 0)
        return out

    num_groups = total(np.ones(group_query.size))

    def average(per_group: np.ndarray) -> np.ndarray:
        summed = total(per_group)
        with np.errstate(invalid="ignore"):
            keep = summed > 0.0                     # NaN > 0 is false, as in C
        out = np.zeros(summed.size)
        out[keep] = summed[keep] / num_groups[keep]
        return out

    ful_ret, ful_imp = c.ful_ret, c.ful_ret + c.ful_imp
    poss_ret = c.ful_ret + c.not_ret
    poss_imp = poss_ret + c.ful_imp + c.not_imp
    poss = poss_imp + c.notoccur
    ful_q, ful_ret_q = total(ful_imp), total(ful_ret)
    poss_q, poss_ret_q, poss_imp_q = total(poss), total(poss_ret), total(poss_imp)
    simp, simp_ret, simp_imp = (ratio(ful_q, poss_q), ratio(ful_ret_q, poss_ret_q),
                                ratio(ful_q, poss_imp_q))
    return {
        "prefs_num_prefs_poss": poss_q,
        "prefs_num_prefs_ful": ful_q,
        "prefs_num_prefs_ful_ret": ful_ret_q,
        "prefs_simp": simp,
        "prefs_pair": simp.copy(),
        "prefs_avgjg": average(ratio(ful_imp.astype(float), poss.astype(float))),
        "prefs_avgjg_Rnonrel": average(c.rnonrel),
        "prefs_simp_ret": simp_ret,
        "prefs_pair_ret": simp_ret.copy(),
        "prefs_avgjg_ret": average(ratio(ful_ret.astype(float), poss_ret.astype(float))),
        "prefs_avgjg_Rnonrel_ret": average(c.rnonrel_ret),
        "prefs_simp_imp": simp_imp,
        "prefs_pair_imp": simp_imp.copy(),
        "prefs_avgjg_imp": average(ratio(ful_imp.astype(float), poss_imp.astype(float))),
    }


def _pairs(counts: np.ndarray, njr: int) -> tuple[float, float, float]:
    """prefs_pair, prefs_pair_ret, prefs_pair_imp: the mean over document pairs with any
    preference of the share of preferences the ranking fulfils (a pair of two unretrieved
    documents scores 0 and counts only in prefs_pair)."""
    n = counts.shape[0]
    c = counts.astype(np.float64)
    i, j = np.triu_indices(njr, 1)
    both = _shares(c[i, j], c[j, i])
    one = _shares(c[:njr, njr:].ravel(), c[njr:, :njr].T.ravel())
    a, b = np.triu_indices(n - njr, 1)
    rest = c[njr:, njr:]
    neither = int(((rest[a, b] + rest[b, a]) > 0).sum())
    shares = np.concatenate([both, one])
    sums = np.cumsum(shares)                      # sequential, as trec_eval's loop
    total_ret = float(sums[both.size - 1]) if both.size else 0.0
    total = float(sums[-1]) if shares.size else 0.0
    pair_ret = total_ret / both.size if both.size else 0.0
    pair_imp = total / shares.size if shares.size else 0.0
    pairs = shares.size + neither
    return (total / pairs if pairs else 0.0), pair_ret, pair_imp


def _shares(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """forward / (forward + backward) for the pairs with any preference, in order."""
    any_pref = (forward + backward) > 0
    return forward[any_pref] / (forward[any_pref] + backward[any_pref])
