"""Relevance judgements (qrels): graded labels per (query, document), stored as columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.columns import flatten_nested, real_values
from rerankit.data.fields import split_fields
from rerankit.data.run import id_columns
from rerankit.data.source import read_input
from rerankit.data.trec import (
    BEIR_QRELS_LAYOUT,
    QRELS_LAYOUT,
    check_unique_pairs,
    check_writable_ids,
    integers,
    is_beir_tsv,
    plain_strings,
    read_back_error,
    same_strings,
    write_table,
)
from rerankit.errors import InputFormatError

QrelsDict = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Qrels:
    """Graded judgements. Negative grades mean "in the pool but not judged" (trec_eval)."""

    qid: pa.Array
    docid: pa.Array
    grade: np.ndarray
    name: str = "qrels"
    #: Where the qrels were read from and each row's 1-based line there, so that errors
    #: found later (by the evaluator) can name file and line; None when built in memory.
    source: str | None = field(default=None, compare=False)
    lines: np.ndarray | range | None = field(default=None, compare=False, repr=False)

    def where(self, row: int) -> tuple[str, int | None]:
        """The file (else the name) and line that row ``row`` came from, for messages."""
        line = None if self.lines is None else int(self.lines[row])
        return (self.source if self.source is not None else self.name), line

    def __post_init__(self) -> None:
        if not (len(self.qid) == len(self.docid) == len(self.grade)):
            raise ValueError("qrels columns differ in length")

    @classmethod
    def from_arrays(
        cls,
        qid: Iterable[str] | pa.Array,
        docid: Iterable[str] | pa.Array,
        grade: Iterable[int] | np.ndarray,
        name: str = "qrels",
    ) -> Qrels:
        """Build qrels from three parallel sequences; ids as :meth:`Run.from_arrays` checks
        them."""
        qids, docids = id_columns(qid, docid, "<arrays>")
        return cls(qids, docids, np.asarray(grade, dtype=np.int64), name)

    @classmethod
    def from_dict(cls, qrels: Mapping[str, Mapping[str, int]], name: str = "qrels") -> Qrels:
        """Build qrels from ``{qid: {docid: grade}}`` (pytrec_eval / BEIR form).

        Validated like a qrels file: ids are strings (integers are read as their decimal
        text; ``1`` and ``"1"`` together are refused, and so are a NUL byte and a lone
        surrogate) and grades are integers (``1.0`` is
        read as 1; ``0.5``, NaN, None, strings and bools are refused), raising
        :class:`InputFormatError` with source ``<dict>``.
        """
        qids, docids, values = flatten_nested(qrels, "grade")
        grades = real_values(qids, docids, values, "grade")
        fraction = np.flatnonzero(~np.isfinite(grades) | (grades != np.trunc(grades)))
        if fraction.size:
            i = int(fraction[0])
            raise InputFormatError("<dict>", f"grade {values[i]!r} for query '{qids[i]}', "
                                   f"document '{docids[i]}' is not an integer")
        exact = [int(v) for v in values] if grades.size and np.abs(grades).max() >= 2**53 \
            else grades
        qid_column, docid_column = id_columns(qids, docids, "<dict>")
        try:
            return cls(qid_column, docid_column, np.asarray(exact, dtype=np.int64), name)
        except OverflowError:
            raise InputFormatError("<dict>", "a grade does not fit a 64-bit integer") from None

    @classmethod
    def read(cls, path: str | Path) -> Qrels:
        """Read TREC (``qid iter docid grade``) or BEIR TSV qrels; the format is detected."""
        return read_qrels(path)

    def to_dict(self) -> QrelsDict:
        """Return ``{qid: {docid: grade}}``."""
        out: QrelsDict = {}
        rows = zip(self.qid.to_pylist(), self.docid.to_pylist(), self.grade.tolist(), strict=True)
        for q, d, g in rows:
            out.setdefault(q, {})[d] = g
        return out

    def write_trec(self, path: str | Path) -> Path:
        """Write ``qid 0 docid grade`` lines atomically."""
        return write_qrels(self, path)

    def __len__(self) -> int:
        return len(self.grade)

    @cached_property
    def pair_keys(self) -> np.ndarray:
        """64-bit key of every (qid, docid) judgement, comparable with ``Run.pair_keys``."""
        from rerankit.data.columns import encode_strings
        from rerankit.data.hashing import pair_keys

        return pair_keys(encode_strings(self.qid), self.docid)

    @property
    def query_ids(self) -> list[str]:
        """Distinct query ids, sorted as trec_eval sorts them (byte order)."""
        return sorted(pc.unique(self.qid).to_pylist(), key=lambda s: s.encode())


# ------------------------------------------------------------------------- TREC files
def read_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels (``qid iter docid grade``) or BEIR qrels TSV (with its header).

    Grades must be integers: ``1.0`` is read as 1, ``1.5`` is refused (trec_eval's ``atol``
    would silently read it as 1). Exactly 4 fields (3 for BEIR) per line, as trec_eval
    requires. Duplicate (query, document) judgements are an error, as in trec_eval.
    """
    source = read_input(path, "qrels file")
    fields = split_fields(source, BEIR_QRELS_LAYOUT if is_beir_tsv(source) else QRELS_LAYOUT)
    grades = integers(fields, source, "grade")
    qid, docid = (plain_strings(fields.columns[n]) for n in ("qid", "docid"))
    qrels = Qrels(qid, docid, grades, Path(source.name).name, source.name, fields.line_numbers)
    check_unique_pairs(qrels.pair_keys, fields, source, "judgement for document")
    return qrels


def write_qrels(qrels: Qrels, path: str | Path) -> Path:
    """Write ``qid 0 docid grade`` lines atomically and read them back to check."""
    path = Path(path)
    check_writable_ids(qrels.qid, qrels.docid, path)
    table = pa.table({
        "qid": qrels.qid,
        "iter": pa.array(np.full(len(qrels), "0")),
        "docid": qrels.docid,
        "grade": pa.array(qrels.grade),
    })
    write_table(table, path, lambda staged: _check_written(staged, path, qrels))
    return path


def _check_written(staged: Path, path: Path, expected: Qrels) -> None:
    """Raise unless the staged file for ``path`` reads back as ``expected``, row for row."""
    try:
        back = read_qrels(staged)
    except InputFormatError as err:
        raise read_back_error(path, err, "qrels") from None
    same = (len(back) == len(expected) and same_strings(back.qid, expected.qid)
            and same_strings(back.docid, expected.docid)
            and np.array_equal(back.grade, expected.grade))
    if not same:
        raise InputFormatError(path, "the written qrels did not read back identically; "
                               f"nothing was written, {path} is as it was before")
