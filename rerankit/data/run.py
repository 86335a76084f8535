"""Runs: ranked results as three columns (query id, document id, score).

A :class:`Run` is columnar (Apache Arrow arrays), so a 10M-row run costs three arrays,
not ten million Python dicts. It converts to and from the nested dict form that
pytrec_eval, ranx and BEIR use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from numbers import Integral
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import from_numpy, to_numpy
from rerankit.data.columns import (
    encode_strings,
    flatten_nested,
    ranks_within_groups,
    real_values,
)
from rerankit.data.fields import split_fields
from rerankit.data.source import read_input
from rerankit.data.trec import (
    RUN_LAYOUT,
    check_unique_pairs,
    check_writable_ids,
    numbers,
    read_back_error,
    same_strings,
    write_table,
)
from rerankit.errors import InputFormatError

RunDict = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Run:
    """A retrieval run: one row per (query, document) with a score; higher is better.

    Rows are kept in the order given. :meth:`ranked` returns them in trec_eval's order
    (query id, score descending, document id descending), which is also the order
    :meth:`write_trec` writes. ``name`` becomes the run tag of exported files.
    """

    qid: pa.Array | pa.ChunkedArray
    docid: pa.Array | pa.ChunkedArray
    score: np.ndarray
    name: str = "rerankit"
    #: True when no (qid, docid) pair repeats (checked by the file reader, or by
    #: construction from a dict), so the evaluator need not check again.
    verified_unique: bool = field(default=False, compare=False)
    #: Where the run was read from (a file path, ``<stdin>``), so errors about its
    #: content can name the file rather than the run tag; None for runs built in memory.
    source: str | None = field(default=None, compare=False)

    @property
    def origin(self) -> str:
        """The file the run came from, else its name: what error messages cite."""
        return self.source if self.source is not None else self.name

    def __post_init__(self) -> None:
        if not (len(self.qid) == len(self.docid) == len(self.score)):
            raise ValueError(
                f"run columns differ in length: qid {len(self.qid)}, "
                f"docid {len(self.docid)}, score {len(self.score)}"
            )

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_arrays(
        cls,
        qid: Iterable[str] | pa.Array,
        docid: Iterable[str] | pa.Array,
        score: Iterable[float] | np.ndarray,
        name: str = "rerankit",
    ) -> Run:
        """Build a run from three parallel sequences (lists, numpy or Arrow arrays).

        Ids a run file cannot hold (a NUL byte, a lone surrogate) raise
        :class:`InputFormatError` with source ``<arrays>``, as :meth:`from_dict` does."""
        qids, docids = id_columns(qid, docid, "<arrays>")
        return cls(qids, docids, np.asarray(score, dtype=np.float64), name)

    @classmethod
    def from_dict(cls, run: Mapping[str, Mapping[str, float]], name: str = "rerankit") -> Run:
        """Build a run from ``{qid: {docid: score}}`` (pytrec_eval / ranx / BEIR form).

        Validated like a run file: ids are strings (integers are read as their decimal
        text; ``1`` and ``"1"`` together are refused; a NUL byte or a lone surrogate, which
        no file reader gives, is refused), scores are real numbers and not NaN; anything
        else raises :class:`InputFormatError` with source ``<dict>``.

        The run may hold ids a TREC file cannot: an empty id, an id with C whitespace
        (space, tab, CR, LF, VT, FF), a query id starting with '#' (a comment line to
        trec_eval's reader). They are kept, and evaluation in memory takes every id as the
        exact string it is; :meth:`write_trec` refuses them, naming the id, its query and
        why. Every other id (other Unicode spaces such as U+00A0 included, which trec_eval
        keeps inside a field) is written as it is, and evaluating the dict gives the numbers
        trec_eval gives for the written file.
        """
        qids, docids, values = flatten_nested(run, "score")
        scores = real_values(qids, docids, values, "score")
        nan = np.flatnonzero(np.isnan(scores))
        if nan.size:
            i = int(nan[0])
            raise InputFormatError("<dict>", f"score is NaN for query '{qids[i]}', document "
                                   f"'{docids[i]}'; NaN scores cannot be ranked")
        qid_column, docid_column = id_columns(qids, docids, "<dict>")
        return cls(qid_column, docid_column, scores, name, verified_unique=True)

    @classmethod
    def read_trec(cls, path: str | Path, name: str | None = None) -> Run:
        """Read a 6-column TREC run file (see :func:`read_run`)."""
        return read_run(path, name=name)

    # ---------------------------------------------------------------- conversions
    def to_dict(self) -> RunDict:
        """Return ``{qid: {docid: score}}``; the form pytrec_eval and ranx accept."""
        out: RunDict = {}
        rows = zip(self.qid.to_pylist(), self.docid.to_pylist(), self.score.tolist(), strict=True)
        for q, d, s in rows:
            out.setdefault(q, {})[d] = s
        return out

    def write_trec(self, path: str | Path, tag: str | None = None,
                   depth: int | None = None) -> Path:
        """Write a TREC run file atomically and validate it by reading it back."""
        return write_run(self, path, tag=tag, depth=depth)

    # ---------------------------------------------------------------- views
    def __len__(self) -> int:
        return len(self.score)

    @cached_property
    def query_codes(self) -> tuple[np.ndarray, pa.Array]:
        """Per row, the index of its query id in ``distinct``, which lists query ids in
        order of first appearance."""
        return encode_strings(self.qid)

    @cached_property
    def pair_keys(self) -> np.ndarray:
        """64-bit key of every (qid, docid) row; equal pairs give equal keys."""
        from rerankit.data.hashing import pair_keys

        return pair_keys(self.query_codes, self.docid)

    @property
    def query_ids(self) -> list[str]:
        """Distinct query ids in order of first appearance."""
        return pc.unique(self.qid).to_pylist()

    def ranking_order(self) -> np.ndarray:
        """Row indices in trec_eval 10.0's order: qid, then score desc, then docid desc.

        trec_eval 10.0 ranks by the score as a double (``-0.0`` ties with ``0.0``) and
        breaks ties by document id in descending byte order, as the evaluator does with
        ``compat="10"`` (its default); rerankit ranks this way everywhere it ranks
        (:meth:`ranked`, :meth:`top_k`, :meth:`write_trec`, fusion), so a cut-off keeps
        exactly the documents the evaluator counts first. (trec_eval 9.0.x compared 32-bit
        floats, which only ``compat="9"`` evaluation reproduces.)
        """
        table = pa.table({
            "q": pc.cast(self.qid, pa.string()),
            "s": self.score,                  # Arrow, like C, ties -0.0 with 0.0
            "d": pc.cast(self.docid, pa.string()),
        })
        return pc.sort_indices(
            table, sort_keys=[("q", "ascending"), ("s", "descending"), ("d", "descending")]
        ).to_numpy()

    def ranked(self) -> Run:
        """A copy with rows in trec_eval order (see :meth:`ranking_order`)."""
        order = self.ranking_order()
        return self.take(order)

    def take(self, rows: np.ndarray) -> Run:
        """A run made of the given row indices."""
        idx = from_numpy(np.asarray(rows, dtype=np.int64))
        return Run(pc.take(self.qid, idx), pc.take(self.docid, idx), self.score[rows], self.name,
                   verified_unique=self.verified_unique, source=self.source)

    def ranks(self) -> np.ndarray:
        """1-based rank of every row of :meth:`ranked` order within its query."""
        ordered = self.ranked()
        return ranks_within_groups(encode_strings(ordered.qid)[0])

    def top_k(self, k: int) -> Run:
        """The best ``k`` rows of every query, in ranked order."""
        if k < 1:
            raise ValueError(f"top_k needs k >= 1, got {k}")
        ordered = self.ranked()
        keep = np.flatnonzero(ranks_within_groups(encode_strings(ordered.qid)[0]) <= k)
        return ordered.take(keep)

    def rename(self, name: str) -> Run:
        """The same rows under another run name (tag)."""
        return replace(self, name=name)

    def check_finite(self, source: str = "run") -> None:
        """Raise if any score is NaN, naming the first offending query and document."""
        bad = np.flatnonzero(np.isnan(self.score))
        if bad.size:
            i = int(bad[0])
            raise InputFormatError(
                source,
                f"score is NaN for query '{self.qid[i].as_py()}', document "
                f"'{self.docid[i].as_py()}' ({bad.size} NaN scores in total); "
                "NaN cannot be ranked",
            )


def as_string_array(values: Iterable[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any sequence of ids (list, numpy, Arrow string/dictionary) as an Arrow string array."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return pc.cast(values, pa.string())
    if isinstance(values, np.ndarray):
        values = values.astype(str).tolist()
    if isinstance(values, list) and all(type(v) is str for v in values):
        return pa.array(values, type=pa.string())
    return pa.array([str(v) for v in values], type=pa.string())


def id_columns(qid: Iterable[str] | pa.Array, docid: Iterable[str] | pa.Array,
               source: str) -> tuple[pa.Array, pa.Array]:
    """Query and document ids as Arrow string arrays, refusing what no file reader gives
    (see :func:`checked_strings`), naming ``source``, the id and, for a document, its
    query."""
    qids = checked_strings(qid, source, lambda i, v: f"query id {v!r}", ID_NUL)
    return qids, checked_strings(docid, source, lambda i, v: f"document id {v!r} (query "
                                 f"{qids[i].as_py()!r})", ID_NUL)


#: why an id may not hold a NUL byte
ID_NUL = "which run and qrels files cannot hold (their readers refuse it; trec_eval stops " \
    "an id there)"


def checked_strings(values: Iterable[str] | pa.Array, source: str,
                    name: Callable[[int, str], str], nul: str | None = None) -> pa.Array:
    """``values`` as an Arrow string array, refusing text UTF-8 cannot encode (a lone
    surrogate: no file can hold it) and, when ``nul`` says why, a NUL byte, with
    :class:`InputFormatError` naming ``source`` and the value (``name(row, value)``).
    Shared by every constructor from Python objects (runs, qrels, queries, corpora), so
    they refuse what their file readers cannot give; both checks run at C speed."""
    try:
        column = as_string_array(values)
    except UnicodeEncodeError:
        row, bad = next((k, str(v)) for k, v in enumerate(values) if not _encodable(str(v)))
        raise InputFormatError(source, f"{name(row, bad)} is not valid Unicode text (a lone "
                               "surrogate), which UTF-8 files cannot hold") from None
    if nul is not None:
        found = pc.fill_null(pc.match_substring(column, "\x00"), False)
        if pc.any(found).as_py():
            row = int(np.flatnonzero(to_numpy(found))[0])
            raise InputFormatError(source, f"{name(row, column[row].as_py())} contains a NUL "
                                   f"byte, {nul}")
    return column


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ------------------------------------------------------------------------- TREC files
def read_run(path: str | Path, name: str | None = None) -> Run:
    """Read a TREC run file (``-`` for standard input) into a :class:`Run`.

    The run is named ``name``, else by the tag of its last line (trec_eval's choice).
    Raises :class:`InputFormatError` naming the file, line and field for: a line with
    fewer than 6 fields, a score that is not a decimal number (trec_eval's ``atof`` would
    read "high" as 0) or is NaN, the same document twice for a query (trec_eval refuses
    such runs too), and every problem :func:`rerankit.data.source.read_input` and
    :func:`rerankit.data.fields.split_fields` name (no data lines, invalid UTF-8...).
    """
    source = read_input(path, "run file", stdin=True)
    fields = split_fields(source, RUN_LAYOUT)
    qid, docid = fields.columns["qid"], fields.columns["docid"]
    score = numbers(fields, source, "score")
    nan = np.flatnonzero(np.isnan(score))
    if nan.size:
        i = int(nan[0])
        raise InputFormatError(
            source.name,
            f"score is NaN for query '{qid[i].as_py()}', document '{docid[i].as_py()}'; "
            "NaN scores cannot be ranked",
            fields.line(i),
        )
    tags = fields.columns["tag"]
    tag = tags[len(tags) - 1].as_py()
    run = Run(qid, docid, score, name if name is not None else tag, verified_unique=True,
              source=str(source.name))
    check_unique_pairs(run.pair_keys, fields, source, "document", run.query_codes[0])
    return run


def write_run(run: Run, path: str | Path, tag: str | None = None, depth: int | None = None) -> Path:
    """Write ``run`` as a 6-column TREC run file, atomically, then read it back to check it.

    Rows are written in trec_eval order with explicit ranks 1..n per query and the run tag
    (``tag``, else the run's name). ``depth`` (an integer >= 1) keeps only the top rows of
    every query; None keeps them all.
    Scores are written as their shortest decimal that reads back to the same double
    (Arrow's float-to-string cast: the digits of ``repr``, in its own notation: ``1``,
    ``1e-7``, ``0.000025``, ``-0``, ``inf``), so the file reads back bit for bit, through
    rerankit's reader and C's ``atof`` (trec_eval's); NaN scores are refused.
    """
    path = Path(path)
    tag = tag if tag is not None else run.name
    if not tag or any(ch in " \t\n\x0b\x0c\r" for ch in tag):
        raise ValueError(f"run tag must be a non-empty word without spaces, got {tag!r}")
    if len(run) == 0:
        raise ValueError(f"refusing to write an empty run to {path}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, Integral)
                              or depth < 1):
        raise ValueError(f"cannot write {path}: depth must be an integer >= 1 (None writes "
                         f"every row), got {depth!r}")
    run.check_finite()
    ranked = run.top_k(depth) if depth is not None else run.ranked()
    ranks = ranked.ranks()
    table = pa.table({
        "qid": ranked.qid,
        "iter": pa.array(np.full(len(ranked), "Q0")),
        "docid": ranked.docid,
        "rank": pa.array(ranks),
        "score": pc.cast(from_numpy(_doubles(ranked.score)), pa.string()),
        "tag": pa.array(np.full(len(ranked), tag)),
    })
    check_writable_ids(ranked.qid, ranked.docid, path)
    write_table(table, path, lambda staged: _check_written(staged, path, ranked, tag))
    return path


def _doubles(scores: np.ndarray) -> np.ndarray:
    """Scores as float64 (a run built directly may hold float32: written as float32's
    shortest digits, they would read back as another double)."""
    return np.asarray(scores, dtype=np.float64)


def _check_written(staged: Path, path: Path, expected: Run, tag: str) -> None:
    """Raise unless the staged file for ``path`` reads back as ``expected`` with ``tag``."""
    try:
        back = read_run(staged)
    except InputFormatError as err:
        raise read_back_error(path, err, "run") from None
    same = (
        len(back) == len(expected)
        and back.name == tag
        and same_strings(back.qid, expected.qid)
        and same_strings(back.docid, expected.docid)
        and np.array_equal(_doubles(back.score).view(np.int64),   # -0.0 is not 0.0
                           _doubles(expected.score).view(np.int64))
    )
    if not same:
        raise InputFormatError(path, "the written run did not read back identically; "
                               f"nothing was written, {path} is as it was before")
