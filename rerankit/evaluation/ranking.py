"""Align a run with qrels the way trec_eval does, touching every run row only a few times.

The result, :class:`JudgedRanking`, keeps per query the number of documents retrieved
and, for the retrieved documents that are in the qrels (usually a few percent of a run),
their query, 1-based rank and grade, ordered by query and rank. Every measure is a
function of these (see :mod:`rerankit.evaluation.kernels`), so the measure kernels never
see the millions of unjudged rows.

trec_eval's conventions, reproduced exactly:
* only queries present in the qrels are evaluated; run queries without qrels are ignored;
* scores are compared as doubles (trec_eval 10.0; ``compat="9"``: as 32-bit floats, the C
  ``float`` of trec_eval 9.0.x), ties broken by document id in descending byte order
  (``strcmp``); the rank column is ignored;
* a judgement with a negative grade means "pooled but unjudged" (trec_eval's
  RELVALUE_UNJUDGED): its row keeps grade :data:`UNJUDGED`, neither relevant nor judged
  non-relevant;
* ``max_docs`` (``-M``) keeps the top rows of every query after ranking;
* ``judged_only`` (``-J``) then drops every document without a grade >= 0, keeping the order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import from_numpy, strings, to_numpy
from rerankit.data.columns import encode_strings, ranks_within_groups
from rerankit.data.hashing import duplicate_candidates
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError

#: Bits of a (query, document) key that index the judged-key bitmap in _match_judgements:
#: 2^22 flags (4 MB) stay in cache; on a 3M-row run with 160k judgements the match took
#: 69 ms, against 84 ms with 2^24 (eval/bench_judgement_match.py), though more keys pass
#: the bitmap and are refuted by the binary search.
_BITMAP_BITS = 22
_HIGH = np.uint64(64 - _BITMAP_BITS)
UNJUDGED = -2          # row_rel of a retrieved document judged with a negative grade
COMPAT = ("10", "9")   # trec_eval versions whose semantics rerankit reproduces


@dataclass(frozen=True)
class JudgedRanking:
    """A run joined with qrels (see the module docstring)."""

    query_ids: list[str]            # every qrels query, sorted as trec_eval sorts them
    has_results: np.ndarray         # bool per query: the run has rows for it
    num_ret: np.ndarray             # int64 per query: documents evaluated (after -M, -J)
    row_query: np.ndarray           # retrieved rows in the qrels: query index, sorted
    row_rank: np.ndarray            # retrieved rows in the qrels: 1-based rank
    row_rel: np.ndarray             # retrieved rows in the qrels: grade, or UNJUDGED
    qrels_query: np.ndarray         # int64 per judgement: index into query_ids
    qrels_grade: np.ndarray         # int64 per judgement
    relevance_level: int
    compat: str = "10"              # "10": trec_eval 10.0 semantics, "9": 9.0.x
    num_docs_in_coll: int = 0       # trec_eval -N (used by utility)
    judged_only: bool = False       # trec_eval -J was applied (rows and num_ret reflect it)
    stand_in_ret: int = 1           # -c: documents of the stand-in ranking left after -M, -J

    @property
    def retrieved(self) -> np.ndarray:
        """Documents evaluated per query, counting for a query without results the one
        unpooled document trec_eval 10.0 evaluates in its place under ``-c``."""
        return np.where(self.has_results, self.num_ret, self.stand_in_ret)

    @property
    def num_queries(self) -> int:
        return len(self.query_ids)


def judge_ranking(
    qrels: Qrels,
    run: Run,
    relevance_level: int = 1,
    max_docs: int | None = None,
    judged_only: bool = False,
    ignore_identical_ids: bool = False,
    compat: str = "10",
    num_docs_in_coll: int = 0,
) -> JudgedRanking:
    """Rank ``run`` per query in trec_eval order and attach relevance from ``qrels``.

    ``max_docs=0`` evaluates nothing retrieved, as trec_eval ``-M 0`` does.
    """
    check_compat(compat)
    if len(qrels) == 0:
        raise InputFormatError(qrels.name, "qrels are empty")
    if len(run) == 0:
        raise InputFormatError(run.origin, "run is empty")
    if relevance_level < 0:
        raise ValueError(f"relevance level must be >= 0, got {relevance_level}")
    if max_docs is not None and max_docs < 0:
        raise ValueError(f"max_docs must be >= 0, got {max_docs}")
    if max_docs is not None and max_docs > np.iinfo(np.int64).max:
        max_docs = None  # trec_eval's atol saturates: no run is that long
    if ignore_identical_ids:
        same = pc.equal(pc.cast(run.qid, pa.string()), pc.cast(run.docid, pa.string()))
        run = run.take(np.flatnonzero(~to_numpy(same)))
    if _may_hold_nan(run.score):
        run.check_finite(run.name)

    query_ids = sorted(pc.unique(qrels.qid).to_pylist(), key=lambda s: s.encode("utf-8"))
    query_table = strings(query_ids)
    qrels_query = to_numpy(pc.index_in(qrels.qid, value_set=query_table)).astype(np.int64)
    codes, distinct = run.query_codes
    group_query = pc.index_in(pc.cast(distinct, pa.string()), value_set=query_table)
    group_query = to_numpy(group_query, null=-1).astype(np.int64)
    if not run.verified_unique:
        _check_no_duplicates(run.pair_keys, codes, distinct, run.docid, run.name)
    qrels_codes, qrels_distinct = encode_strings(qrels.qid)
    _check_no_duplicates(qrels.pair_keys, qrels_codes, qrels_distinct, qrels.docid, qrels.name,
                         what="judgements")

    rows, judgement = _match_judgements(run.pair_keys, codes, group_query, run.docid, qrels,
                                        qrels_query)
    group_count = np.bincount(codes, minlength=len(distinct))
    group_start = np.concatenate(([0], np.cumsum(group_count)[:-1]))
    position = _trec_positions(codes, run.score, run.docid, rows, compat)
    rank = position - group_start[codes[rows]] + 1
    grade = qrels.grade[judgement].astype(np.int64)
    grade[grade < 0] = UNJUDGED
    query = qrels_query[judgement]

    num_ret = np.zeros(len(query_ids), dtype=np.int64)
    has_results = np.zeros(len(query_ids), dtype=bool)
    matched_groups = (group_query >= 0) & (group_count > 0)
    num_ret[group_query[matched_groups]] = group_count[matched_groups]
    has_results[group_query[matched_groups]] = True

    keep = grade >= 0 if judged_only else np.ones(grade.size, dtype=bool)
    if max_docs is not None:
        keep &= rank <= max_docs
        np.minimum(num_ret, max_docs, out=num_ret)
    query, rank, grade = query[keep], rank[keep], grade[keep]
    order = np.lexsort((rank, query))
    query, rank, grade = query[order], rank[order], grade[order]
    if judged_only:
        rank = ranks_within_groups(query)
        num_ret = np.bincount(query, minlength=len(query_ids)).astype(np.int64)
    stand_in_ret = int(not judged_only and max_docs != 0)  # its document is unjudged
    return JudgedRanking(query_ids, has_results, num_ret, query, rank, grade, qrels_query,
                         qrels.grade.astype(np.int64), relevance_level, compat,
                         num_docs_in_coll, judged_only, stand_in_ret)


def _may_hold_nan(scores: np.ndarray) -> bool:
    """One pass without a temporary: a NaN makes the sum NaN (so does inf + -inf, which
    the row-by-row check then clears, silently: infinite scores are valid)."""
    with np.errstate(invalid="ignore"):
        return bool(np.isnan(np.sum(scores)))


def check_compat(compat: str) -> None:
    """Refuse a trec_eval version rerankit does not reproduce."""
    if compat not in COMPAT:
        raise ValueError(f"compat must be '10' (trec_eval 10.0) or '9' (trec_eval 9.0.x, "
                         f"pytrec_eval), got {compat!r}")


def _trec_positions(codes: np.ndarray, score: np.ndarray, docid: pa.Array,
                    rows: np.ndarray, compat: str) -> np.ndarray:
    """Position of ``rows`` in the run sorted by query (first appearance), score descending
    (doubles; float32 for ``compat="9"``), document id descending. Already-sorted runs, the
    usual case, cost one vectorised check and no sort of the keys."""
    major, minor = _sort_keys(codes, score, compat)
    order = None
    if _is_sorted(major, minor):
        positions = rows.astype(np.int64)
    else:
        order = (np.argsort(major, kind="stable") if minor is None
                 else np.argsort(_packed(major, minor)))  # packed keys are distinct
        major = major[order]
        minor = None if minor is None else minor[order]
        inverse = np.empty(order.size, dtype=np.int64)
        inverse[order] = np.arange(order.size)
        positions = inverse[rows]
    return _break_ties(_equal_to_next(major, minor), positions, order, docid)


def _sort_keys(codes: np.ndarray, score: np.ndarray,
               compat: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Keys whose ascending (major, minor) order is trec_eval's ranking order, up to ties.

    trec_eval 10 compares doubles: the query code, then the negated score (a float key:
    -0.0 ties with 0.0, as in C; NaN was refused before). trec_eval 9 compared C floats:
    the float32 score, mapped to an unsigned integer that decreases as the score
    increases, fits beside the query code in one 64-bit key.
    """
    if compat == "10":
        return codes, np.negative(score)
    bits = score.astype(np.float32)
    bits += np.float32(0.0)
    bits = bits.view(np.uint32)
    descending = np.where(bits >> 31, bits, ~bits & np.uint32(0x7FFFFFFF))
    key = codes.astype(np.uint64)
    key <<= np.uint64(32)
    key |= descending
    return key, None


def _packed(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """One 64-bit key ordered as (major, minor): the query code beside the row's position
    in minor order (rows with equal minor keys stay adjacent within a query; their order is
    settled by the tie-break). Two plain sorts beat ``np.lexsort`` several times over."""
    position = np.empty(minor.size, dtype=np.uint64)
    position[np.argsort(minor)] = np.arange(minor.size, dtype=np.uint64)
    key = major.astype(np.uint64)
    key <<= np.uint64(32)
    key |= position
    return key


def _is_sorted(major: np.ndarray, minor: np.ndarray | None) -> bool:
    if major.size < 2:
        return True
    if minor is None:
        return bool(np.all(major[1:] >= major[:-1]))
    return bool(np.all(major[1:] >= major[:-1])
                and np.all((major[1:] != major[:-1]) | (minor[1:] >= minor[:-1])))


def _equal_to_next(major: np.ndarray, minor: np.ndarray | None) -> np.ndarray:
    """Per row but the last: its keys equal the next row's (a tie in trec_eval's order)."""
    equal = major[1:] == major[:-1]
    if minor is not None:
        equal &= minor[1:] == minor[:-1]
    return equal


def _break_ties(equal: np.ndarray, positions: np.ndarray, order: np.ndarray | None,
                docid: pa.Array) -> np.ndarray:
    """``positions`` (in key order, ties in any order) moved to trec_eval's order inside
    their tie blocks: document id descending.

    ``equal[i]`` says that the i-th and (i+1)-th rows in key order tie, and ``order`` lists
    the rows in key order (None: the identity). Only the tie blocks that hold one of the
    ``positions`` are sorted (a few percent of a run), with one Arrow sort by (block,
    document id), so the cost does not depend on how large the other tie blocks are.
    """
    starts = np.flatnonzero(np.concatenate(([True], ~equal)))   # first row of every block
    block = np.searchsorted(starts, positions, side="right") - 1
    ends = np.append(starts[1:], equal.size + 1)
    tied = ends[block] - starts[block] > 1
    if not tied.any():
        return positions
    wanted = np.zeros(starts.size, dtype=bool)
    wanted[block[tied]] = True
    chosen = np.flatnonzero(wanted)                  # blocks to sort, in key order
    begin, size = starts[chosen], ends[chosen] - starts[chosen]
    first = np.cumsum(size) - size                   # where each block starts among members
    members = np.arange(int(size.sum()), dtype=np.int64) + np.repeat(begin - first, size)
    member_rows = members if order is None else order[members]
    table = pa.table({"b": from_numpy(np.repeat(np.arange(chosen.size), size)),
                      "d": pc.cast(pc.take(docid, from_numpy(member_rows)), pa.string())})
    within = to_numpy(pc.sort_indices(table, sort_keys=[("b", "ascending"),
                                                         ("d", "descending")]))
    moved = np.empty(members.size, dtype=np.int64)
    moved[within] = members                          # the k-th in sorted order goes to slot k
    out = positions.copy()
    out[tied] = moved[np.searchsorted(members, positions[tied])]
    return out


def _match_judgements(keys: np.ndarray, codes: np.ndarray, group_query: np.ndarray,
                      docid: pa.Array, qrels: Qrels,
                      qrels_query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(run row, qrels row) of every retrieved judged document.

    Rows are matched on 64-bit (query, document) keys: a bitmap of the judged keys' top
    bits discards most unjudged rows at once, a binary search finds candidate matches, and
    every match is confirmed on the strings, so a key collision can never assign a grade.
    """
    by_key = np.argsort(qrels.pair_keys)
    sorted_keys = qrels.pair_keys[by_key]
    present = np.zeros(1 << _BITMAP_BITS, dtype=bool)
    present[sorted_keys >> _HIGH] = True
    candidates = np.flatnonzero(present[keys >> _HIGH])
    slot = np.minimum(np.searchsorted(sorted_keys, keys[candidates]), sorted_keys.size - 1)
    hit = sorted_keys[slot] == keys[candidates]
    rows, judgement = candidates[hit], by_key[slot[hit]]
    same = (group_query[codes[rows]] == qrels_query[judgement]) & to_numpy(pc.equal(
        pc.cast(pc.take(docid, from_numpy(rows)), pa.string()),
        pc.cast(pc.take(qrels.docid, from_numpy(judgement)), pa.string()),
    ))
    return rows[same], judgement[same]


def _check_no_duplicates(keys: np.ndarray, codes: np.ndarray, distinct: pa.Array,
                         docid: pa.Array, source: str, what: str = "documents") -> None:
    seen: set[tuple[int, str]] = set()
    for row in duplicate_candidates(keys).tolist():
        pair = (int(codes[row]), docid[row].as_py())
        if pair in seen:
            raise InputFormatError(
                source, f"document '{pair[1]}' appears twice for query "
                f"'{distinct[pair[0]].as_py()}'; trec_eval refuses duplicate {what} "
                "(deduplicate first)")
        seen.add(pair)

