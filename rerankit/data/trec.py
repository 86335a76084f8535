"""The TREC run and qrels file formats: their layouts, the checks their values get, and
space-separated table writing. The readers and writers themselves build the data model's
objects and live beside them (:func:`rerankit.data.run.read_run`, ``write_run``,
:func:`rerankit.data.qrels.read_qrels`, ``write_qrels``), so the model never imports this
module's callers.

Run lines are ``qid iter docid rank score tag``; qrels lines are ``qid iter docid grade``;
BEIR's ``query-id corpus-id score`` TSV (with its header) is read too. How lines and fields
are split (trec_eval 10.0's C whitespace, comments, blank lines, line ends) is
:mod:`rerankit.data.fields`; how files are opened (compression, standard input) is
:mod:`rerankit.data.source`. This module adds what the values mean: the rank column and
fields after the tag are ignored, scores are numbers, grades are integers, a (query,
document) pair appears once, and the run tag is the last line's (as in trec_eval).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import to_numpy
from rerankit.data.atomic import atomic_write
from rerankit.data.fields import Fields, Layout
from rerankit.data.hashing import duplicate_candidates
from rerankit.data.source import Source
from rerankit.errors import InputFormatError

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
RUN_LAYOUT = Layout(("qid", "iter", "docid", "rank", "score", "tag"),
                    keep=("qid", "docid", "score", "tag"), last=("tag",),
                    types={"qid": _DICTIONARY, "rank": pa.int64(), "score": pa.float64()})
# Grades stay text on both paths: Arrow's int64 parser reads hexadecimal (``0x2`` as 2),
# which trec_eval's atol reads as 0, so only :func:`integers` may judge them.
QRELS_LAYOUT = Layout(("qid", "iter", "docid", "grade"), keep=("qid", "docid", "grade"),
                      types={"qid": _DICTIONARY}, exact=True, column0_comments=True)
BEIR_QRELS_LAYOUT = Layout(("qid", "docid", "grade"), keep=("qid", "docid", "grade"),
                           types={"qid": _DICTIONARY}, exact=True, header=True)
_INTEGRAL = r"^[+-]?\d+(\.0*)?$"
# ASCII digits only: C's atof and atol read no other digit ('١' is 0 to them)
_C_NUMBER_PREFIX = re.compile(r"[+-]?(inf(inity)?|nan|0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)"
                              r"(p[+-]?\d+)?|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)", re.I | re.ASCII)
_C_INTEGER_PREFIX = re.compile(r"[+-]?[0-9]+")


# ------------------------------------------------------------------------- values
def numbers(fields: Fields, source: Source, name: str) -> np.ndarray:
    """A column of decimal numbers (``inf`` allowed) as float64, parsed by Arrow on both
    code paths so every path gives the same bits."""
    column = fields.columns[name]
    if pa.types.is_floating(column.type):
        return _float64s(column)
    try:
        return _float64s(pc.cast(column, pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        bad = _first_unparsable(column, pa.float64())
        text = column[bad].as_py()
        raise InputFormatError(
            source.name,
            f"{name} {text!r} is not a number ({_where(fields, bad)}); trec_eval's atof "
            f"would silently read it as {_atof(text)!r}",
            fields.line(bad),
        ) from None


def _float64s(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A float64 column without nulls as one numpy array (chunks joined by one copy, several
    times cheaper than ``ChunkedArray.to_numpy``, and without importing pandas)."""
    return to_numpy(column)


def plain_strings(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One string array (qrels are small; their columns stay as they always were)."""
    column = pc.cast(column, pa.string())
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _atof(text: str) -> float:
    """What C's ``atof`` makes of ``text`` (its longest numeric prefix, else 0), for messages."""
    prefix = _C_NUMBER_PREFIX.match(text)
    if prefix is None:
        return 0.0
    number = prefix[0]
    hexadecimal = number.lstrip("+-")[:2].lower() == "0x"
    return float.fromhex(number) if hexadecimal else float(number)


def integers(fields: Fields, source: Source, name: str) -> np.ndarray:
    """A column of decimal integers (text) as int64; ``2.0`` reads as 2, a fraction or a
    hexadecimal ``0x2`` (which trec_eval's atol reads as 0) is refused."""
    column = fields.columns[name]
    integral = pc.match_substring_regex(column, _INTEGRAL)
    if not pc.all(integral).as_py():
        bad = int(np.flatnonzero(~to_numpy(integral))[0])
        text = column[bad].as_py()
        digits = _C_INTEGER_PREFIX.match(text)
        raise InputFormatError(
            source.name, f"relevance {name} {text!r} is not an integer ({_where(fields, bad)}); "
            f"trec_eval's atol would silently read it as {int(digits[0]) if digits else 0}",
            fields.line(bad))
    digits = column
    if pc.any(pc.match_substring(column, ".")).as_py() or \
            pc.any(pc.starts_with(column, "+")).as_py():   # rare: two regex passes only then
        digits = pc.replace_substring_regex(pc.replace_substring_regex(column, r"^\+", ""),
                                            r"\.0*$", "")
    try:
        return to_numpy(pc.cast(digits, pa.int64()))
    except pa.ArrowInvalid:
        bad = _first_unparsable(digits, pa.int64())
        raise InputFormatError(source.name, f"relevance {name} {column[bad].as_py()!r} does "
                               f"not fit a 64-bit integer ({_where(fields, bad)})",
                               fields.line(bad)) from None


def _first_unparsable(column: pa.Array, target: pa.DataType) -> int:
    """Row of the first string that Arrow cannot cast to ``target`` (error path only:
    halves the column until one row is left)."""
    lo, hi = 0, len(column)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pc.cast(column.slice(lo, mid - lo), target)
            lo = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hi = mid
    return lo


def _where(fields: Fields, row: int) -> str:
    return (f"query '{fields.columns['qid'][row].as_py()}', "
            f"document '{fields.columns['docid'][row].as_py()}'")


def check_unique_pairs(keys: np.ndarray, fields: Fields, source: Source, what: str,
                        groups: np.ndarray | None = None) -> None:
    """Refuse a (query, document) pair that appears twice, naming both lines; ``groups``
    (query codes) lets the key check run query by query."""
    candidates = duplicate_candidates(keys, groups)
    if candidates.size == 0:
        return
    qid, docid = fields.columns["qid"], fields.columns["docid"]
    seen: dict[tuple[str, str], int] = {}
    for row in candidates.tolist():
        pair = (qid[row].as_py(), docid[row].as_py())
        if pair in seen:
            first, second = sorted((seen[pair], row))
            raise InputFormatError(
                source.name,
                f"{what} '{pair[1]}' appears twice for query '{pair[0]}' (lines "
                f"{fields.line(first)} and {fields.line(second)})",
                fields.line(second),
            )
        seen[pair] = row


def is_beir_tsv(source: Source) -> bool:
    """True when the first non-blank line is BEIR's qrels header: three fields, the first
    naming the query column (``query-id``, ``query_id``) or ``qid docid score``. A TREC
    line has four fields, so a query id like ``query-id7`` stays a TREC query id."""
    head = source.data[source.start:source.start + 4096].lstrip(b" \t\r\n\x0b\x0c")
    fields = head.split(b"\n", 1)[0].split(b"\r", 1)[0].lower().split()
    return len(fields) == 3 and (fields[0] in (b"query-id", b"query_id")
                                 or fields == [b"qid", b"docid", b"score"])


#: C's whitespace (``isspace`` in the C locale): what separates the fields of a TREC line
_C_WHITESPACE = " \t\n\x0b\x0c\r"


def check_writable_ids(qid: pa.Array, docid: pa.Array, path: Path) -> None:
    """Refuse ids the TREC format cannot hold, with a ``ValueError`` naming the first such
    id, its query (for a document id) and why: an empty id (no field), C whitespace in an id
    (it separates the fields: trec_eval would read two), or a query id starting with '#',
    which trec_eval's run reader and rerankit's take for a comment line (a document id may
    start with '#'). Such ids are fine in memory (evaluation takes them as they are); only
    a file cannot hold them. The ids are scanned at C speed; only a bad one is described."""
    for column, label, pattern in ((qid, "query id", r"[\t\n\x0b\x0c\r ]|^$|^#"),
                                   (docid, "document id", r"[\t\n\x0b\x0c\r ]|^$")):
        bad = pc.match_substring_regex(pc.cast(column, pa.string()), pattern)
        if not pc.any(bad).as_py():
            continue
        i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        value = column[i].as_py()
        space = next((ch for ch in value if ch in _C_WHITESPACE), None)
        why = ("is empty, which a TREC file cannot hold (no field)" if not value else
               f"contains whitespace ({space!r}), where a TREC file's field ends"
               if space is not None else
               "starts with '#', which trec_eval and rerankit read as a comment line")
        owner = f" (query {qid[i].as_py()!r})" if label == "document id" else ""
        raise ValueError(f"cannot write {path}: {label} {value!r}{owner} {why}; such ids "
                         "can be evaluated in memory but not written")


def read_back_error(path: Path, err: InputFormatError, what: str) -> InputFormatError:
    """``err``, raised reading back the staged copy of ``path``, restated for ``path``."""
    return InputFormatError(path, f"the written {what} did not read back ({err.reason}); "
                            f"nothing was written, {path} is as it was before", err.line)


def same_strings(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> bool:
    return pc.all(pc.equal(pc.cast(a, pa.string()), pc.cast(b, pa.string()))).as_py() is True


#: lines joined per block when writing: bounds the memory of the joined text (and keeps
#: it well below Arrow's 2 GiB limit for one string)
_LINES_PER_BLOCK = 1 << 20


def write_table(table: pa.Table, path: Path, check: Callable[[Path], None]) -> None:
    """``table`` as space-separated lines without a header, written atomically: ``check``
    validates the staged file (reads it back) before it replaces ``path``, so a file that
    does not read back never replaces the user's.

    Values are written as they are, joined by Arrow string kernels a block at a time, not
    through a CSV writer: a CSV writer refuses or quotes a ``"``, which in a TREC file is
    an ordinary character of an id or tag (trec_eval and the readers keep it)."""
    with atomic_write(path, "wb", check=check) as handle:
        for start in range(0, table.num_rows, _LINES_PER_BLOCK):
            block = table.slice(start, _LINES_PER_BLOCK)
            fields = [pc.cast(column, pa.string()) for column in block.columns]
            fields[-1] = pc.binary_join_element_wise(fields[-1], "\n", "")   # line ends
            lines = pc.binary_join_element_wise(*fields, " ")
            if isinstance(lines, pa.ChunkedArray):
                lines = lines.combine_chunks()
            text = pc.binary_join(pa.ListArray.from_arrays([0, len(lines)], lines), "")
            handle.write(text[0].as_buffer())
