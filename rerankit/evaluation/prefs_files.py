"""Readers for trec_eval's judgement-group formats (``-R prefs``, ``qrels_prefs``, ``qrels_jg``).

* ``prefs``: ``qid jg jsg docno rel_level`` - preferences by user (judgment group, jg) and
  sub-group (jsg): within a sub-group a higher ``rel_level`` is preferred; 0 means
  non-relevant.
* ``qrels_prefs``: a TREC qrels file (``qid iter docno rel``) read as preferences: the iter
  column is the judgment group and every group has one sub-group.
* ``qrels_jg``: ``qid jg docno rel`` - qrels with one set of integer judgements per user.

Lines are read under the reader contract of every rerankit text format
(:func:`rerankit.data.fields.split_fields`: C whitespace, LF/CRLF/CR line ends, BOM,
compression, a line whose first non-blank character is ``#`` is a comment, and a ``#``
inside a field is part of it: ``CR93E-10505#37`` is a document id). Stricter than
trec_eval, which reads levels with ``atof``/``atol`` (so "high"
reads as 0): a level that is not a number is an error naming file, line and field.
More lenient: blank lines and runs of comment lines are skipped (trec_eval rejects a blank
line and skips only one comment line at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import to_numpy
from rerankit.data.fields import Layout, split_fields
from rerankit.data.source import read_input
from rerankit.errors import InputFormatError

PREFS_FORMATS = ("prefs", "qrels_prefs", "qrels_jg")

_LAYOUT = {
    "prefs": ("qid", "jg", "jsg", "docno", "rel_level"),
    "qrels_prefs": ("qid", "jg", "docno", "rel_level"),
    "qrels_jg": ("qid", "jg", "docno", "rel"),
}
_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+(\.0*)?$"


@dataclass(frozen=True)
class GroupJudgements:
    """Judgement lines of one file, in file order.

    ``subgroup`` is None for ``qrels_jg``; ``level`` is float64 for the preference formats
    (trec_eval's rel_level) and int64 for ``qrels_jg``; ``line`` is the 1-based line number
    of every row, for messages.
    """

    source: str
    rel_format: str
    qid: pa.Array
    group: pa.Array
    subgroup: pa.Array | None
    docid: pa.Array
    level: np.ndarray
    line: np.ndarray

    def __len__(self) -> int:
        return len(self.level)

    @cached_property
    def query_ids(self) -> list[str]:
        """Distinct query ids in trec_eval's order (byte-wise, as ``strcmp``)."""
        return sorted(pc.unique(self.qid).to_pylist(), key=lambda s: s.encode("utf-8"))

    @cached_property
    def query(self) -> np.ndarray:
        """Per row, the index of its query in :attr:`query_ids`."""
        table = pa.array(self.query_ids, type=pa.string())
        return pc.index_in(self.qid, value_set=table).to_numpy().astype(np.int64)


def read_group_judgements(path: str | Path, rel_format: str) -> GroupJudgements:
    """Read a ``prefs``, ``qrels_prefs`` or ``qrels_jg`` file (see the module docstring)."""
    if rel_format not in _LAYOUT:
        raise ValueError(f"unknown judgement format '{rel_format}'; expected one of "
                         f"{', '.join(PREFS_FORMATS)}")
    path = Path(path)
    names = _LAYOUT[rel_format]
    fields = split_fields(read_input(path, f"{rel_format} file"),
                          Layout(names, keep=names, exact=True))
    columns = {name: pc.cast(fields.columns[name], pa.string()) for name in names}
    line = np.asarray(fields.line_numbers, dtype=np.int64)
    level_field = names[-1]
    if rel_format == "qrels_jg":
        level = _parse(columns[level_field], _INTEGER, "an integer", path, line, level_field)
        too_big = np.flatnonzero(np.abs(level) > 2**53)   # beyond exact int64 via float
        if too_big.size:
            i = int(too_big[0])
            raise InputFormatError(path, f"field {level_field} is too large: "
                                   f"{columns[level_field][i].as_py()!r}", int(line[i]))
        level = level.astype(np.int64)
        _check_unique(columns, line, path)
    else:
        level = _parse(columns[level_field], _DECIMAL, "a number", path, line, level_field)
    if rel_format == "prefs":
        subgroup = columns["jsg"]
    elif rel_format == "qrels_prefs":
        subgroup = pa.array(np.full(len(level), "0"), type=pa.string())
    else:
        subgroup = None
    return GroupJudgements(str(path), rel_format, columns["qid"], columns["jg"], subgroup,
                           columns["docno"], level, line)


def _parse(text: pa.Array, pattern: str, what: str, path: Path, line: np.ndarray,
           field: str) -> np.ndarray:
    ok = to_numpy(pc.match_substring_regex(text, pattern))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputFormatError(path, f"field {field} must be {what}, got {text[i].as_py()!r}",
                               int(line[i]))
    values = to_numpy(pc.cast(text, pa.float64()))
    if not np.isfinite(values).all():
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise InputFormatError(path, f"field {field} is too large: {text[i].as_py()!r}",
                               int(line[i]))
    return values


def _check_unique(columns: dict[str, pa.Array], line: np.ndarray, path: Path) -> None:
    """qrels_jg: a document judged twice in one judgment group is an error (as trec_eval)."""
    table = pa.table({"q": columns["qid"], "g": columns["jg"], "d": columns["docno"],
                      "row": pa.array(np.arange(len(line)))})
    counted = table.group_by(["q", "g", "d"]).aggregate([("row", "min"), ("row", "max"),
                                                         ("row", "count")])
    twice = to_numpy(pc.greater(counted["row_count"], 1))
    if twice.any():
        k = int(np.flatnonzero(twice)[0])
        first = int(line[counted["row_min"][k].as_py()])
        second = int(line[counted["row_max"][k].as_py()])
        raise InputFormatError(
            path, f"document '{counted['d'][k].as_py()}' is judged twice for query "
            f"'{counted['q'][k].as_py()}' in judgment group '{counted['g'][k].as_py()}' "
            f"(lines {first} and {second})", second)
