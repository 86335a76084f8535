"""Relevance judgements (qrels): graded labels per (query, document), stored as columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit.data.columns import flatten_nested, real_values
from rerankit.data.run import as_string_array
from rerankit.errors import InputFormatError

QrelsDict = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Qrels:
    """Graded judgements. Negative grades mean "in the pool but not judged" (trec_eval)."""

    qid: pa.Array
    docid: pa.Array
    grade: np.ndarray
    name: str = "qrels"

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
        """Build qrels from three parallel sequences."""
        return cls(as_string_array(qid), as_string_array(docid),
                   np.asarray(grade, dtype=np.int64), name)

    @classmethod
    def from_dict(cls, qrels: Mapping[str, Mapping[str, int]], name: str = "qrels") -> Qrels:
        """Build qrels from ``{qid: {docid: grade}}`` (pytrec_eval / BEIR form).

        Validated like a qrels file: ids are strings (integers are read as their decimal
        text; ``1`` and ``"1"`` together are refused) and grades are integers (``1.0`` is
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
        try:
            return cls(as_string_array(qids), as_string_array(docids),
                       np.asarray(exact, dtype=np.int64), name)
        except OverflowError:
            raise InputFormatError("<dict>", "a grade does not fit a 64-bit integer") from None

    @classmethod
    def read(cls, path: str | Path) -> Qrels:
        """Read TREC (``qid iter docid grade``) or BEIR TSV qrels; the format is detected."""
        from rerankit.data.trec import read_qrels

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
        from rerankit.data.trec import write_qrels

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

