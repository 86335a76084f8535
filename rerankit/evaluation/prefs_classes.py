"""Preference counts of judgment groups with one sub-group (equivalence classes), vectorised
over all such groups of all queries.

In such a group every line is preferred to every line of a lower level (a document on two
lines counts twice). Lines are sorted by group, level descending and document position
(see :mod:`rerankit.evaluation.prefs_counts`); the k-th distinct level of a group is its
class k. Counting pairs "a in a higher class than b with position a < position b" is a
``searchsorted`` of b's position among the sorted (group, position) keys of each higher
class: the one Python loop runs over class numbers, of which a group has a few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rerankit.data.columns import cumsum_within_groups, ranks_within_groups
from rerankit.errors import InputFormatError


@dataclass(frozen=True)
class Lines:
    """Judgement lines of the evaluated queries, in trec_eval's processing order: query,
    judgment group, sub-group, level descending, document position."""

    source: str
    query_ids: list[str]
    query: np.ndarray       # per line: index into query_ids
    group: np.ndarray       # per line: (query, jg) group number, ascending from 0
    group_name: pa.Array    # per line: the jg as written
    new_subgroup: np.ndarray  # per line: first line of its (query, jg, jsg)
    level: np.ndarray
    pos: np.ndarray         # per line: position of its document (retrieved ones first)
    njr: np.ndarray         # per line: judged documents its query retrieved
    docid: pa.Array
    line: np.ndarray        # per line: line number in the file

    def where(self, row: int) -> str:
        return (f"query '{self.query_ids[self.query[row]]}', judgment group "
                f"'{self.group_name[row].as_py()}'")


@dataclass
class GroupCounts:
    """Per judgment group: preferences fulfilled / not, both retrieved (``_ret``), one
    retrieved (``_imp``), neither; the Rnonrel ratios; whether no document repeats."""

    ful_ret: np.ndarray
    not_ret: np.ndarray
    ful_imp: np.ndarray
    not_imp: np.ndarray
    notoccur: np.ndarray
    rnonrel: np.ndarray
    rnonrel_ret: np.ndarray
    distinct: np.ndarray


def count_class_groups(lines: Lines, rows: np.ndarray, counts: GroupCounts,
                       rnonrel: bool) -> None:
    """Fill ``counts`` for the groups whose lines are ``rows`` (a sorted index array)."""
    if rows.size == 0:
        return
    g, lv, p = lines.group[rows], lines.level[rows], lines.pos[rows]
    ret = p < lines.njr[rows]
    num_groups = counts.ful_ret.size
    new_class = np.ones(rows.size, dtype=bool)
    new_class[1:] = (g[1:] != g[:-1]) | (lv[1:] != lv[:-1])
    cls = np.cumsum(new_class) - 1
    class_group = g[new_class]
    rank = (ranks_within_groups(class_group) - 1)[cls]          # class number per line
    classes = np.bincount(class_group, minlength=num_groups)
    last = rank == classes[g] - 1
    _check(lines, rows, g, lv, p, cls, new_class, counts)

    def per_group(mask: np.ndarray) -> np.ndarray:
        return np.bincount(g[mask], minlength=num_groups)

    def per_class(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cls[mask], minlength=cls[-1] + 1)

    n_ret, n_all = per_class(ret), per_class(np.ones(rows.size, dtype=bool))
    n_out = n_all - n_ret
    ret_above = cumsum_within_groups(n_ret, class_group) - n_ret
    out_above = cumsum_within_groups(n_out, class_group) - n_out
    all_above = ret_above + out_above
    both = _class_sum(class_group, ret_above * n_ret, num_groups)
    width = int(lines.pos.max()) + 2
    key = g * width + p
    ful_ret = _below(key, g * width, key, ret, ret, rank, width, lambda e: rank > e,
                     num_groups)
    group_rows = np.isin(np.arange(num_groups), class_group)
    counts.ful_ret[group_rows] = ful_ret[group_rows]
    counts.not_ret[group_rows] = (both - ful_ret)[group_rows]
    counts.ful_imp[group_rows] = _class_sum(class_group, ret_above * n_out, num_groups)[group_rows]
    counts.not_imp[group_rows] = _class_sum(class_group, out_above * n_ret, num_groups)[group_rows]
    counts.notoccur[group_rows] = _class_sum(class_group, out_above * n_out,
                                             num_groups)[group_rows]
    if not rnonrel:
        return

    rel = lv > 0
    num_rel, num_rel_ret = per_group(rel), per_group(rel & ret)
    num_nonrel, num_nonrel_ret = per_group(~rel), per_group(~rel & ret)
    is_last_class = np.zeros(n_all.size, dtype=bool)
    is_last_class[cls[last]] = True
    start = g * width

    # prefs_avgjg_Rnonrel: R relevant, N non-relevant lines
    r, n = num_rel, num_nonrel
    ful = counts.ful_ret + counts.ful_imp + num_rel_ret * (r - n)
    poss = (counts.ful_ret + counts.not_ret + counts.ful_imp + counts.not_imp + counts.notoccur
            + num_rel * (r - n))
    recount = r < n
    if recount[group_rows].any():
        in_last = ranks_within_groups(g[last]) - 1
        taken_last = in_last < r[g[last]]
        _overrun(lines, rows, last, np.bincount(g[last], minlength=num_groups) < r, recount)
        taken = np.zeros(rows.size, dtype=bool)
        taken[np.flatnonzero(last)[taken_last]] = True
        capped = start + np.minimum(p, lines.njr[rows])
        everyone = np.ones(rows.size, dtype=bool)
        middle = _below(key, start, capped, everyone, everyone, rank, width,
                        lambda e: (rank > e) & ~last, num_groups)
        outer = _count_before(np.sort(key), start[taken], capped[taken])
        ful_r = middle + np.bincount(g[taken], weights=outer, minlength=num_groups)
        poss_r = (_class_sum(class_group, np.where(is_last_class, 0, all_above * n_all),
                             num_groups)
                  + np.bincount(g, minlength=num_groups) * r)
        ful = np.where(recount, np.rint(ful_r).astype(np.int64), ful)
        poss = np.where(recount, poss_r, poss)
    counts.rnonrel[group_rows] = _ratio(ful, poss)[group_rows]

    # prefs_avgjg_Rnonrel_ret: R and N count retrieved lines only
    r, n = num_rel_ret, num_nonrel_ret
    ful = counts.ful_ret + num_rel_ret * (r - n)
    poss = counts.ful_ret + counts.not_ret + num_rel * (r - n)
    recount = r < n
    if recount[group_rows].any():
        last_ret = last & ret
        in_last = ranks_within_groups(g[last_ret]) - 1
        taken_last = in_last < r[g[last_ret]]
        n_last = np.bincount(g[last], minlength=num_groups)
        n_last_ret = np.bincount(g[last_ret], minlength=num_groups)
        _overrun(lines, rows, last, (n_last_ret < r) & (n_last_ret == n_last), recount)
        taken = np.zeros(rows.size, dtype=bool)
        taken[np.flatnonzero(last_ret)[taken_last]] = True
        middle = _below(key, start, key, ret, ret, rank, width, lambda e: (rank > e) & ~last,
                        num_groups)
        outer = _count_before(np.sort(key[ret]), start[taken], key[taken])
        ful_r = middle + np.bincount(g[taken], weights=outer, minlength=num_groups)
        poss_r = (_class_sum(class_group, np.where(is_last_class, 0, ret_above * n_ret),
                             num_groups)
                  + np.bincount(g[ret], minlength=num_groups) * r)
        ful = np.where(recount, np.rint(ful_r).astype(np.int64), ful)
        poss = np.where(recount, poss_r, poss)
    counts.rnonrel_ret[group_rows] = _ratio(ful, poss)[group_rows]


def _below(key, start, target, from_mask, to_mask, rank, width, wanted, num_groups
           ) -> np.ndarray:
    """Per group: pairs (a, b), a in a higher class than b, a in ``from_mask``, b in
    ``to_mask`` and selected by ``wanted(class of a)``, with key a < ``target`` of b."""
    total = np.zeros(num_groups)
    for e in range(int(rank.max()) if rank.size else 0):
        higher = key[from_mask & (rank == e)]          # sorted: by group, then position
        pick = to_mask & wanted(e)
        found = _count_before(higher, start[pick], target[pick])
        total += np.bincount(start[pick] // width, weights=found, minlength=num_groups)
    return np.rint(total).astype(np.int64)


def _count_before(sorted_keys: np.ndarray, start: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How many of ``sorted_keys`` lie in [start, target) (one group's key range)."""
    return np.searchsorted(sorted_keys, target) - np.searchsorted(sorted_keys, start)


def _class_sum(class_group: np.ndarray, values: np.ndarray, num_groups: int) -> np.ndarray:
    return np.rint(np.bincount(class_group, weights=values, minlength=num_groups)
                   ).astype(np.int64)


def _ratio(ful: np.ndarray, poss: np.ndarray) -> np.ndarray:
    """ful / poss as C doubles divide: 0 / 0 is NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return ful.astype(np.float64) / poss.astype(np.float64)


def _check(lines: Lines, rows, g, lv, p, cls, new_class, counts: GroupCounts) -> None:
    """trec_eval stops on a document at two levels of one sub-group, and mishandles a group
    whose highest level is -3 (its marker value); note which groups repeat a document."""
    first = np.flatnonzero((lv == -3.0) & new_class & np.r_[True, g[1:] != g[:-1]])
    if first.size:
        row = int(rows[first[0]])
        raise InputFormatError(
            lines.source, f"{lines.where(row)}: its highest level is -3, which trec_eval "
            "uses as a marker, so it drops this group's lowest level; use other levels",
            int(lines.line[row]))
    order = np.lexsort((cls, p, g))
    same_doc = (g[order][1:] == g[order][:-1]) & (p[order][1:] == p[order][:-1])
    split = same_doc & (cls[order][1:] != cls[order][:-1])
    if split.any():
        k = int(np.flatnonzero(split)[0])
        a, b = int(rows[order[k]]), int(rows[order[k + 1]])
        raise InputFormatError(
            lines.source, f"document '{lines.docid[b].as_py()}' has two different levels in "
            f"the same sub-group ({lines.where(b)}, lines {min(lines.line[a], lines.line[b])} "
            f"and {max(lines.line[a], lines.line[b])}); trec_eval stops on this",
            int(max(lines.line[a], lines.line[b])))
    repeated = np.unique(g[order][1:][same_doc])
    counts.distinct[np.unique(g)] = True
    counts.distinct[repeated] = False


def _overrun(lines: Lines, rows: np.ndarray, last: np.ndarray, short: np.ndarray,
             recount: np.ndarray) -> None:
    """trec_eval's Rnonrel recount reads past the lowest class when it holds fewer lines
    than it takes (possible only with negative levels): undefined, so refused."""
    bad = np.flatnonzero(short & recount)
    if bad.size:
        row = int(rows[np.flatnonzero(lines.group[rows] == bad[0])[0]])
        raise InputFormatError(
            lines.source, f"{lines.where(row)}: the lowest level has fewer documents than "
            "there are relevant ones, so trec_eval's prefs_avgjg_Rnonrel reads past its data "
            "(undefined result); give all non-relevant documents level 0",
            int(lines.line[row]))
