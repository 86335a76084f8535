"""TREC run and qrels files: fast columnar reading, validated atomic writing.

Run lines are ``qid iter docid rank score tag`` (trec_eval's format: any whitespace
between fields, lines starting with ``#`` and blank lines ignored, fields after the tag
ignored, the rank column ignored). Qrels lines are ``qid iter docid grade``; BEIR's
``query-id<TAB>corpus-id<TAB>score`` TSV with a header is read too.

Well-formed files (single spaces or single tabs) are parsed by Arrow's multi-threaded CSV
reader. Anything else goes through a vectorised whitespace splitter that also finds the
exact line of any malformed input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rerankit.data.atomic import atomic_write
from rerankit.data.hashing import duplicate_candidates
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError

_RUN_FIELDS = ["qid", "iter", "docid", "rank", "score", "tag"]
_NUMBER = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)$"
_INTEGER = r"^[+-]?\d+(\.0*)?$"


# ------------------------------------------------------------------------- reading runs
def read_run(path: str | Path, name: str | None = None) -> Run:
    """Read a TREC run file into a :class:`Run`.

    Raises :class:`InputFormatError` naming the file and line for: an empty file, a line
    with fewer than 6 fields, a non-numeric or NaN score, invalid UTF-8, and the same
    document listed twice for a query (trec_eval refuses such files too). Scores are
    stricter than trec_eval's ``atof``, which reads "high" as 0 without a word.
    """
    path = Path(path)
    table = _read_run_fast(path)
    if table is not None:
        qid, docid, score, line_numbers = table["qid"], table["docid"], None, None
        score = table["score"].to_numpy()
        tag = _last_tag(path)
    else:
        columns, line_numbers = _read_columns(path, _RUN_FIELDS, min_fields=6)
        qid, docid, tag_column = columns["qid"], columns["docid"], columns["tag"]
        score = _parse_numbers(columns["score"], path, line_numbers, "score", qid, docid)
        tag = tag_column[len(tag_column) - 1].as_py()
    nan = np.flatnonzero(np.isnan(score))
    if nan.size:
        i = int(nan[0])
        raise InputFormatError(
            path,
            f"score is NaN for query '{qid[i].as_py()}', document '{docid[i].as_py()}'; "
            "NaN scores cannot be ranked",
            _line(line_numbers, i),
        )
    run = Run(qid, docid, score, name if name is not None else tag, verified_unique=True)
    _check_unique_pairs(run.pair_keys, qid, docid, path, line_numbers, "document")
    return run


def _read_run_fast(path: Path) -> pa.Table | None:
    """Single-space runs straight into columns: query ids dictionary-encoded (few distinct
    values, so cheap), scores parsed as doubles. None when the file needs the general path."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=_RUN_FIELDS, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"qid": pa.dictionary(pa.int32(), pa.string()),
                              "docid": pa.string(), "score": pa.float64()},
                include_columns=["qid", "docid", "score"], null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    queries = table["qid"].unify_dictionaries()
    comment = any(c.dictionary.to_pylist() and pc.any(pc.starts_with(c.dictionary, "#")).as_py()
                  for c in queries.chunks)
    return table if table.num_rows and not comment else None


def _last_tag(path: Path) -> str:
    """The run tag of the last line (trec_eval keeps the last line's)."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        tail = handle.read().decode("utf-8", errors="replace").rstrip("\n").split("\n")
    return tail[-1].split()[5]


def read_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels (``qid iter docid grade``) or BEIR qrels TSV (with header).

    Grades must be integers (a BEIR ``1.0`` is accepted as 1). Duplicate (query, document)
    judgements are an error, as in trec_eval.
    """
    path = Path(path)
    if _is_beir_tsv(path):
        columns, line_numbers = _read_columns(path, ["qid", "docid", "grade"], min_fields=3,
                                              exact=True, skip_header=True)
    else:
        columns, line_numbers = _read_columns(path, ["qid", "iter", "docid", "grade"],
                                              min_fields=4, exact=True)
    qid, docid = columns["qid"], columns["docid"]
    grades = _parse_integers(columns["grade"], path, line_numbers, qid, docid)
    qrels = Qrels(qid, docid, grades, path.name)
    _check_unique_pairs(qrels.pair_keys, qid, docid, path, line_numbers, "judgement for document")
    return qrels


# ------------------------------------------------------------------------- writing
def write_run(run: Run, path: str | Path, tag: str | None = None, depth: int | None = None) -> Path:
    """Write ``run`` as a 6-column TREC run file, atomically, then read it back to check it.

    Rows are written in trec_eval order with explicit ranks 1..n per query and the run tag
    (``tag``, else the run's name). ``depth`` keeps only the top rows of every query.
    Scores are written with ``repr`` precision so nothing is lost on the way back.
    """
    path = Path(path)
    tag = tag if tag is not None else run.name
    if not tag or any(ch.isspace() for ch in tag):
        raise ValueError(f"run tag must be a non-empty word without spaces, got {tag!r}")
    if len(run) == 0:
        raise ValueError(f"refusing to write an empty run to {path}")
    run.check_finite()
    ranked = run.top_k(depth) if depth else run.ranked()
    ranks = ranked.ranks()
    table = pa.table({
        "qid": ranked.qid,
        "iter": pa.array(np.full(len(ranked), "Q0")),
        "docid": ranked.docid,
        "rank": pa.array(ranks),
        "score": pa.array([repr(s) for s in ranked.score.tolist()]),
        "tag": pa.array(np.full(len(ranked), tag)),
    })
    _check_no_whitespace(ranked, path)
    with atomic_write(path, "wb") as handle:
        pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, delimiter=" ",
                                                          quoting_style="none"))
    _validate_written_run(path, ranked, tag)
    return path


def write_qrels(qrels: Qrels, path: str | Path) -> Path:
    """Write ``qid 0 docid grade`` lines atomically and read them back to check."""
    path = Path(path)
    table = pa.table({
        "qid": qrels.qid,
        "iter": pa.array(np.full(len(qrels), "0")),
        "docid": qrels.docid,
        "grade": pa.array(qrels.grade),
    })
    with atomic_write(path, "wb") as handle:
        pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, delimiter=" ",
                                                          quoting_style="none"))
    back = read_qrels(path)
    if len(back) != len(qrels):
        raise InputFormatError(path, "written qrels did not read back identically")
    return path


# ------------------------------------------------------------------------- internals
def _read_columns(
    path: Path,
    names: list[str],
    min_fields: int,
    exact: bool = False,
    skip_header: bool = False,
) -> tuple[dict[str, pa.Array], np.ndarray | None]:
    """Split a whitespace-separated file into string columns.

    Returns the columns and, when lines were skipped (comments, blank lines, header),
    the 1-based line number of every row; ``None`` means row i is line i + 1.
    """
    if not path.is_file():
        raise InputFormatError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputFormatError(path, "file is empty")
    if not skip_header:
        for delimiter in (" ", "\t"):
            table = _read_delimited(path, names, delimiter)
            if table is not None:
                if table.num_rows == 0:
                    raise InputFormatError(path, "file has no data lines")
                return {n: table.column(n).combine_chunks() for n in table.column_names}, None
    return _read_any_whitespace(path, names, min_fields, exact, skip_header)


def _read_delimited(path: Path, names: list[str], delimiter: str) -> pa.Table | None:
    """Arrow CSV read with a single-character delimiter; None if the file does not fit."""
    wanted = [n for n in names if n not in ("iter", "rank")]
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False,
                                             escape_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                include_columns=wanted, null_values=[], strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _read_any_whitespace(
    path: Path, names: list[str], min_fields: int, exact: bool, skip_header: bool
) -> tuple[dict[str, pa.Array], np.ndarray]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputFormatError(path, f"not valid UTF-8 ({err.reason} at byte {err.start})",
                               line) from None
    lines = pa.array(text.split("\n"))
    if text.endswith("\n"):
        lines = lines.slice(0, len(lines) - 1)
    stripped = pc.utf8_trim_whitespace(lines)
    keep = pc.and_(pc.not_equal(stripped, ""), pc.invert(pc.starts_with(stripped, "#")))
    if skip_header:
        keep_np = keep.to_numpy(zero_copy_only=False).copy()
        first = np.flatnonzero(keep_np)
        if first.size:
            keep_np[first[0]] = False
        keep = pa.array(keep_np)
    line_numbers = np.flatnonzero(keep.to_numpy(zero_copy_only=False)) + 1
    if line_numbers.size == 0:
        raise InputFormatError(path, "file has no data lines")
    fields = pc.utf8_split_whitespace(stripped.filter(keep))
    counts = pc.list_value_length(fields).to_numpy()
    bad = np.flatnonzero(counts < min_fields) if not exact else np.flatnonzero(counts != min_fields)
    if bad.size:
        i = int(bad[0])
        expected = f"{min_fields}" if exact else f"at least {min_fields}"
        raise InputFormatError(
            path,
            f"expected {expected} whitespace-separated fields ({' '.join(names)}), found "
            f"{counts[i]}: {lines.filter(keep)[i].as_py()!r}",
            int(line_numbers[i]),
        )
    columns = {n: pc.list_element(fields, k) for k, n in enumerate(names)
               if n not in ("iter", "rank")}
    columns = {n: (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c)
               for n, c in columns.items()}
    return columns, line_numbers


def _line(line_numbers: np.ndarray | None, row: int) -> int:
    return int(line_numbers[row]) if line_numbers is not None else row + 1


def _parse_numbers(text: pa.Array, path: Path, line_numbers, what: str, qid, docid) -> np.ndarray:
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(text, _NUMBER, ignore_case=True)
        ok = ok.to_numpy(zero_copy_only=False)
        i = int(np.flatnonzero(~ok)[0]) if (~ok).any() else 0
        raise InputFormatError(
            path,
            f"{what} {text[i].as_py()!r} is not a number (query '{qid[i].as_py()}', "
            f"document '{docid[i].as_py()}')",
            _line(line_numbers, i),
        ) from None


def _parse_integers(text: pa.Array, path: Path, line_numbers, qid, docid) -> np.ndarray:
    ok = pc.match_substring_regex(text, _INTEGER).to_numpy(zero_copy_only=False)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputFormatError(
            path,
            f"relevance grade {text[i].as_py()!r} is not an integer (query "
            f"'{qid[i].as_py()}', document '{docid[i].as_py()}')",
            _line(line_numbers, i),
        )
    return pc.cast(pc.cast(text, pa.float64()), pa.int64()).to_numpy()


def _check_unique_pairs(keys: np.ndarray, qid: pa.Array, docid: pa.Array, path: Path,
                        line_numbers, what: str) -> None:
    candidates = duplicate_candidates(keys)
    if candidates.size == 0:
        return
    seen: dict[tuple[str, str], int] = {}
    for row in candidates.tolist():
        pair = (qid[row].as_py(), docid[row].as_py())
        if pair in seen:
            first, second = sorted((seen[pair], row))
            raise InputFormatError(
                path,
                f"{what} '{pair[1]}' appears twice for query '{pair[0]}' (lines "
                f"{_line(line_numbers, first)} and {_line(line_numbers, second)})",
                _line(line_numbers, second),
            )
        seen[pair] = row


def _is_beir_tsv(path: Path) -> bool:
    with open(path, "rb") as handle:
        first = handle.readline().decode("utf-8", errors="replace").strip().lower()
    return first.startswith(("query-id", "query_id")) or first == "qid\tdocid\tscore"


def _check_no_whitespace(run: Run, path: Path) -> None:
    for column, label in ((run.qid, "query id"), (run.docid, "document id")):
        bad = pc.match_substring_regex(pc.cast(column, pa.string()), r"\s|^$")
        bad = bad.to_numpy(zero_copy_only=False)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"cannot write {path}: {label} {column[i].as_py()!r} is empty or "
                             "contains whitespace, which the TREC format cannot represent")


def _validate_written_run(path: Path, expected: Run, tag: str) -> None:
    back = read_run(path)
    same = (
        len(back) == len(expected)
        and back.name == tag
        and _same_strings(back.qid, expected.qid)
        and _same_strings(back.docid, expected.docid)
        and np.array_equal(back.score, expected.score)
    )
    if not same:
        raise InputFormatError(path, "written run did not read back identically")


def _same_strings(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> bool:
    return pc.all(pc.equal(pc.cast(a, pa.string()), pc.cast(b, pa.string()))).as_py() is True
