"""Preference measures (``prefs_*``) for ``-R prefs`` and ``-R qrels_prefs``, as trec_eval 10.0.

Per query, every judged document gets a position: the retrieved ones in rank order
(0 .. num_judged_ret - 1), then the others by document id. A judgment group (jg) with one
sub-group (jsg) prefers every document to all documents with a lower level (equivalence
classes; a line counts once per line, so a repeated line counts twice); a jg with several
sub-groups states preferences within each sub-group, closed under transitivity, each pair
counted once. A preference "a over b" is *fulfilled* when a is ranked above b (a retrieved
and b not counts as ranked above), and falls into one of three areas: both retrieved
(``_ret``), exactly one retrieved (``_imp``), neither retrieved.

A jg of equivalence classes is counted from the sorted positions of each class's lines
(``searchsorted``, no pair matrix); a jg with sub-groups is a dense boolean matrix
``P[a, b]`` (a preferred to b) over its own documents, and every count is a sum over a block
of it. The ``prefs_pair*`` measures need, per document pair, the preferences summed over a
query's jgs; they are built (a matrix over the query's judged documents) only when a pair
can carry more than one preference, otherwise they equal the ``prefs_simp*`` ratios.
Python loops run over queries, judgment groups and levels only.

Quirks of trec_eval reproduced on purpose: ``prefs_avgjg_Rnonrel`` and its ``_ret`` form
(see :func:`_rnonrel`); a jg whose ratio is 0/0 in those two makes the query's value 0;
pair counts are 16-bit as in trec_eval. Inputs on which trec_eval aborts or reads past its
arrays raise :class:`InputFormatError` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit.data.columns import group_starts
from rerankit.errors import InputFormatError
from rerankit.evaluation.prefs_files import GroupJudgements
from rerankit.evaluation.prefs_ranking import RankedRun

PREFS_FAMILIES = (
    "prefs_num_prefs_poss", "prefs_num_prefs_ful", "prefs_num_prefs_ful_ret",
    "prefs_simp", "prefs_pair", "prefs_avgjg", "prefs_avgjg_Rnonrel",
    "prefs_simp_ret", "prefs_pair_ret", "prefs_avgjg_ret", "prefs_avgjg_Rnonrel_ret",
    "prefs_simp_imp", "prefs_pair_imp", "prefs_avgjg_imp",
)


@dataclass
class _Group:
    """Counts of one judgment group (``poss_*`` include the fulfilled ones)."""

    ful_ret: int
    poss_ret: int
    ful_imp: int
    poss_imp: int
    notoccur: int
    rnonrel: float
    rnonrel_ret: float


@dataclass(frozen=True)
class _Rows:
    """One judgment group's lines, sorted by (jsg, level descending, position)."""

    jsg: pa.Array
    level: np.ndarray
    pos: np.ndarray          # position of the line's document (see module docstring)
    docid: pa.Array
    line: np.ndarray


def preference_values(judgements: GroupJudgements, ranked: RankedRun, evaluated: np.ndarray,
                      rnonrel: bool = True) -> dict[str, np.ndarray]:
    """``{family: value per evaluated query}`` for every family in :data:`PREFS_FAMILIES`;
    ``evaluated`` are indices into the sorted judged query ids, in output order. Without
    ``rnonrel`` the two Rnonrel families are left 0 (and cannot raise)."""
    query, order, pos, num_judged, njr = _positions(judgements, ranked)
    group_id = judgements.group.take(pa.array(order))
    jsg = judgements.subgroup.take(pa.array(order))
    level = judgements.level[order]
    docid = judgements.docid.take(pa.array(order))
    line = judgements.line[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (query[1:] != query[:-1]) | ~_same(group_id)
    starts = np.append(np.flatnonzero(new_group), len(order))
    query_starts = np.searchsorted(starts, group_starts(query))
    query_starts = np.append(query_starts, starts.size - 1)
    first_query = query[group_starts(query)]

    out = {f: np.zeros(len(evaluated)) for f in PREFS_FAMILIES}
    slot = {int(q): k for k, q in enumerate(first_query)}
    for i, q in enumerate(evaluated.tolist()):
        k = slot[q]
        n, r = int(num_judged[q]), int(njr[q])
        jgs = []
        for g in range(query_starts[k], query_starts[k + 1]):
            rows = slice(starts[g], starts[g + 1])
            group_rows = _Rows(jsg[rows], level[rows], pos[rows], docid[rows], line[rows])
            where = (judgements.source, judgements.query_ids[q], group_id[starts[g]].as_py())
            jgs.append(_judgment_group(group_rows, r, where))
        groups = [_counted(one, rnonrel) for one in jgs]
        if len(jgs) == 1 and jgs[0].distinct_pairs:
            pairs = None  # every pair has one preference: the pair measures are the simple ones
        else:
            counts = np.zeros((n, n), dtype=np.uint16)  # 16 bits, as trec_eval's
            for one in jgs:
                counts[np.ix_(one.docs, one.docs)] += one.prefs.astype(np.uint16)
            pairs = _pairs(counts, r)
        for family, value in _query_values(groups, pairs).items():
            out[family][i] = value
    return out


def _same(values: pa.Array) -> np.ndarray:
    """values[i + 1] == values[i] for consecutive strings."""
    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=bool)
    return pc.equal(values.slice(1), values.slice(0, n - 1)).to_numpy(zero_copy_only=False)


def _positions(judgements: GroupJudgements, ranked: RankedRun):
    """Lines sorted as trec_eval processes them, and each line's document position."""
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
    return query[order], order, pos[order], num_judged, njr


def _judgment_group(rows: _Rows, njr: int, where: tuple[str, str, str]
                    ) -> _ClassesGroup | _ArrayGroup:
    """The jg's preferences: equivalence classes (one sub-group) or a preference array."""
    docs, local = np.unique(rows.pos, return_inverse=True)
    new_jsg = np.ones(len(rows.level), dtype=bool)
    new_jsg[1:] = ~_same(rows.jsg)
    if new_jsg.sum() == 1:
        return _ClassesGroup(rows, docs, local, njr, where)
    return _ArrayGroup(rows, docs, local, new_jsg, njr, where)


def _counted(jg: _ClassesGroup | _ArrayGroup, rnonrel: bool) -> _Group:
    ful_ret, not_ret, ful_imp, not_imp, notoccur = jg.counts()
    group = _Group(ful_ret=ful_ret, poss_ret=ful_ret + not_ret, ful_imp=ful_imp,
                   poss_imp=ful_imp + not_imp, notoccur=notoccur, rnonrel=0.0, rnonrel_ret=0.0)
    if rnonrel:
        group.rnonrel, group.rnonrel_ret = _rnonrel(jg, group)
    return group


class _ClassesGroup:
    """A jg with one sub-group: equivalence classes of equal level, highest first. Counted
    from the sorted positions of each class's lines, without a pair matrix."""

    def __init__(self, rows: _Rows, docs: np.ndarray, local: np.ndarray, njr: int,
                 where: tuple[str, str, str]) -> None:
        source, qid, jg = where
        if rows.level[0] == -3.0:
            raise InputFormatError(
                source, f"query '{qid}', judgment group '{jg}': its highest level is -3, "
                "which trec_eval uses as a marker, so it drops this group's lowest level; "
                "use other levels", int(rows.line[0]))
        new_level = np.ones(len(rows.level), dtype=bool)
        new_level[1:] = rows.level[1:] != rows.level[:-1]
        ec = np.cumsum(new_level) - 1
        classes = int(ec[-1]) + 1
        levels_of_doc = np.bincount(np.unique(local * classes + ec) // classes)
        split = np.flatnonzero(levels_of_doc > 1)
        if split.size:
            mine = np.flatnonzero(local == split[0])
            raise InputFormatError(
                source, f"document '{rows.docid[int(mine[0])].as_py()}' has two different "
                f"levels in the same sub-group (query '{qid}', judgment group '{jg}', lines "
                f"{', '.join(str(x) for x in sorted(rows.line[mine].tolist()))}); trec_eval "
                "stops on this", int(max(rows.line[mine])))
        bounds = np.append(np.flatnonzero(new_level), len(ec))
        self.positions = [rows.pos[a:b] for a, b in pairwise(bounds.tolist())]  # sorted
        self.docs, self.local, self.ec, self.njr = docs, local, ec, njr
        self.distinct_pairs = docs.size == local.size   # no document on two lines
        rel = rows.level > 0
        ret = rows.pos < njr
        self.num_rel, self.num_rel_ret = int(rel.sum()), int((rel & ret).sum())
        self.num_nonrel, self.num_nonrel_ret = int((~rel).sum()), int((~rel & ret).sum())
        self.where = where

    @cached_property
    def prefs(self) -> np.ndarray:
        """P[a, b] = lines of a times lines of b, for a in a higher class than b."""
        cnt = np.zeros((len(self.positions), self.docs.size))
        np.add.at(cnt, (self.ec, self.local), 1.0)
        return np.rint(cnt.T @ _below(cnt)).astype(np.int64)

    def counts(self) -> tuple[int, int, int, int, int]:
        """Preferences fulfilled and not, both retrieved; fulfilled and not, one retrieved;
        neither retrieved."""
        ret = [p[: np.searchsorted(p, self.njr)] for p in self.positions]
        n_ret = np.array([r.size for r in ret], dtype=np.int64)
        n_out = np.array([p.size for p in self.positions], dtype=np.int64) - n_ret
        ret_above = np.cumsum(n_ret) - n_ret            # retrieved lines in higher classes
        out_above = np.cumsum(n_out) - n_out
        ful_ret = _pairs_below(ret)
        both = int((ret_above * n_ret).sum())
        return (ful_ret, both - ful_ret, int((ret_above * n_out).sum()),
                int((out_above * n_ret).sum()), int((out_above * n_out).sum()))

    def recount(self, limit: int, retrieved_only: bool) -> tuple[int, int]:
        """trec_eval's recount for the Rnonrel measures: the lowest class (assumed to be the
        non-relevant one) is cut to its first ``limit`` lines, and preferences are counted
        between higher classes and from every line (pairs within the lowest class and of a
        line with itself included) to the kept ones; fulfilled = the preferred one is
        retrieved and ranked above."""
        positions = self.positions
        if retrieved_only:
            positions = [p[: np.searchsorted(p, self.njr)] for p in positions]
        members = positions[-1]
        taken = members[:limit]
        if members.size < limit and members.size == self.positions[-1].size:
            source, qid, jg = self.where
            raise InputFormatError(
                source, f"query '{qid}', judgment group '{jg}': the lowest level has fewer "
                "documents than there are relevant ones, so trec_eval's "
                "prefs_avgjg_Rnonrel reads past its data (undefined result); give all "
                "non-relevant documents level 0")
        capped = [np.minimum(p, self.njr) for p in positions]  # a < b and a retrieved
        ful = _pairs_below(positions[:-1], capped[:-1])
        poss = _pairs_total(positions[:-1])
        everything = np.sort(np.concatenate(positions))
        ful += int(np.searchsorted(everything, np.minimum(taken, self.njr)).sum())
        poss += everything.size * taken.size
        return ful, poss


def _pairs_below(positions: list[np.ndarray], targets: list[np.ndarray] | None = None) -> int:
    """Pairs (a, b), a in a higher class than b, with position a < target of b (the
    position of b unless ``targets`` says otherwise)."""
    targets = positions if targets is None else targets
    total, higher = 0, np.zeros(0, dtype=np.int64)
    for p, t in zip(positions, targets, strict=True):
        total += int(np.searchsorted(higher, t).sum())
        higher = np.sort(np.concatenate([higher, p]))
    return total


def _pairs_total(positions: list[np.ndarray]) -> int:
    sizes = np.array([p.size for p in positions], dtype=np.int64)
    return int(((np.cumsum(sizes) - sizes) * sizes).sum())


class _ArrayGroup:
    """A jg with several sub-groups: preferences within each, closed under transitivity."""

    def __init__(self, rows: _Rows, docs: np.ndarray, local: np.ndarray, new_jsg: np.ndarray,
                 njr: int, where: tuple[str, str, str]) -> None:
        source, qid, jg = where
        m = docs.size
        # trec_eval keeps the level of a document's last line in processing order and
        # stops when that level moves between 0 and a positive value.
        by_doc = np.lexsort((np.arange(local.size), local))
        prev, cur = by_doc[:-1], by_doc[1:]
        same = local[prev] == local[cur]
        before, after = rows.level[prev], rows.level[cur]
        clash = same & (((before > 0) & (after == 0)) | ((before == 0) & (after > 0)))
        if clash.any():
            a, b = int(prev[clash][0]), int(cur[clash][0])
            raise InputFormatError(
                source, f"document '{rows.docid[b].as_py()}' is non-relevant (level 0) and "
                f"relevant in judgment group '{jg}' of query '{qid}' (lines "
                f"{rows.line[a]} and {rows.line[b]}); trec_eval stops on this",
                int(rows.line[b]))
        last_line = np.zeros(m, dtype=np.int64)
        np.maximum.at(last_line, local, np.arange(local.size))
        self.rel = rows.level[last_line]
        adjacency = np.zeros((m, m), dtype=bool)
        bounds = np.append(np.flatnonzero(new_jsg), local.size)
        for start, stop in pairwise(bounds.tolist()):
            sub, lv = local[start:stop], rows.level[start:stop]
            above, below = np.nonzero(lv[:, None] > lv[None, :])
            adjacency[sub[above], sub[below]] = True
        closure = _transitive_closure(adjacency)
        conflict = np.argwhere(closure & closure.T)
        if conflict.size:
            a, b = (rows.docid[int(np.flatnonzero(local == x)[0])].as_py() for x in conflict[0])
            raise InputFormatError(
                source, f"judgment group '{jg}' of query '{qid}' prefers '{a}' to '{b}' and "
                f"'{b}' to '{a}' (through its sub-groups); a judgment group must be "
                "consistent (put disagreeing users in different groups); trec_eval aborts on "
                "this", int(rows.line.max()))
        self.prefs = closure.astype(np.int64)
        self.njr, self.k = njr, int(np.searchsorted(docs, njr))
        self.docs = docs
        self.distinct_pairs = False
        ret = docs < njr
        self.num_rel, self.num_rel_ret = int((self.rel > 0).sum()), int(
            ((self.rel > 0) & ret).sum())
        self.num_nonrel, self.num_nonrel_ret = int((self.rel == 0).sum()), int(
            ((self.rel == 0) & ret).sum())

    def counts(self) -> tuple[int, int, int, int, int]:
        """As :meth:`_ClassesGroup.counts`, as sums over blocks of the preference array
        (documents in position order: the first ``k`` are the retrieved ones)."""
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
        return _fulfilled(prefs, k), int(prefs.sum())


def _below(cnt: np.ndarray) -> np.ndarray:
    """For each class, the element-wise sum of all lower classes."""
    return np.cumsum(cnt[::-1], axis=0)[::-1] - cnt


def _fulfilled(prefs: np.ndarray, k: int) -> int:
    """Preferences a > b with a ranked above b and a retrieved (a in the first k)."""
    return int(np.triu(prefs, 1)[:k].sum())


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


def _rnonrel(jg: _ClassesGroup | _ArrayGroup, g: _Group) -> tuple[float, float]:
    """The jg's ratios for prefs_avgjg_Rnonrel and prefs_avgjg_Rnonrel_ret.

    trec_eval sets the number of non-relevant documents to R, the number of relevant ones:
    with fewer it adds R * (R - N) preferences (retrieved relevant ones as fulfilled; the
    possible ones are counted with *all* relevant documents, also in the _ret form), with
    more it recounts (see the groups' ``recount``; the _ret form's cut uses all relevant
    documents in the preference-array case).
    """
    r, n = jg.num_rel, jg.num_nonrel
    if r >= n:
        ful = g.ful_ret + g.ful_imp + jg.num_rel_ret * (r - n)
        poss = g.poss_ret + g.poss_imp + g.notoccur + jg.num_rel * (r - n)
    else:
        ful, poss = jg.recount(r, retrieved_only=False)
    r_ret, n_ret = jg.num_rel_ret, jg.num_nonrel_ret
    if r_ret >= n_ret:
        ful_ret = g.ful_ret + jg.num_rel_ret * (r_ret - n_ret)
        poss_ret = g.poss_ret + jg.num_rel * (r_ret - n_ret)
    else:
        limit = jg.num_rel if isinstance(jg, _ArrayGroup) else r_ret
        ful_ret, poss_ret = jg.recount(limit, retrieved_only=True)
    return _ratio(ful, poss), _ratio(ful_ret, poss_ret)


def _ratio(ful: int, poss: int) -> float:
    """ful / poss as C doubles divide: 0 / 0 is NaN."""
    return float(ful) / float(poss) if poss else float("nan")


def _query_values(groups: list[_Group], pairs: tuple[float, float, float] | None
                  ) -> dict[str, float]:
    """The query's value of every prefs family, summed in trec_eval's order; ``pairs``
    (prefs_pair, _ret, _imp) None when they equal the simple ratios."""
    ful_ret = sum(g.ful_ret for g in groups)
    ful = ful_ret + sum(g.ful_imp for g in groups)
    poss_ret = sum(g.poss_ret for g in groups)
    poss_imp = poss_ret + sum(g.poss_imp for g in groups)
    poss = poss_imp + sum(g.notoccur for g in groups)
    simp = float(ful) / poss if poss else 0.0
    simp_ret = float(ful_ret) / poss_ret if poss_ret else 0.0
    simp_imp = float(ful) / poss_imp if poss_imp else 0.0
    pair, pair_ret, pair_imp = pairs if pairs is not None else (simp, simp_ret, simp_imp)

    def avg(parts: list[tuple[int, int]]) -> float:
        total = 0.0
        for f, p in parts:
            if p:
                total += float(f) / float(p)
        return total / len(groups) if total > 0.0 else 0.0

    def avg_ratios(ratios: list[float]) -> float:
        total = 0.0
        for x in ratios:
            total += x
        return total / len(groups) if total > 0.0 else 0.0  # NaN > 0 is false, as in C

    return {
        "prefs_num_prefs_poss": float(poss),
        "prefs_num_prefs_ful": float(ful),
        "prefs_num_prefs_ful_ret": float(ful_ret),
        "prefs_simp": simp,
        "prefs_pair": pair,
        "prefs_avgjg": avg([(g.ful_ret + g.ful_imp, g.poss_ret + g.poss_imp + g.notoccur)
                            for g in groups]),
        "prefs_avgjg_Rnonrel": avg_ratios([g.rnonrel for g in groups]),
        "prefs_simp_ret": simp_ret,
        "prefs_pair_ret": pair_ret,
        "prefs_avgjg_ret": avg([(g.ful_ret, g.poss_ret) for g in groups]),
        "prefs_avgjg_Rnonrel_ret": avg_ratios([g.rnonrel_ret for g in groups]),
        "prefs_simp_imp": simp_imp,
        "prefs_pair_imp": pair_imp,
        "prefs_avgjg_imp": avg([(g.ful_ret + g.ful_imp, g.poss_ret + g.poss_imp)
                                for g in groups]),
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
