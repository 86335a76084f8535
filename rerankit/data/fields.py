"""Whitespace-separated line formats (TREC runs and qrels, BEIR qrels TSV) as Arrow columns.

One contract, the one trec_eval 10.0 reads with C's ``isspace`` in the C locale:

* fields are separated by any run of space, tab, vertical tab, form feed or carriage
  return; any other character (a NO-BREAK SPACE, an ideographic space) is part of a field;
* a line ends at LF, CRLF or a lone CR;
* blank and whitespace-only lines are skipped, and so is a line whose first
  non-whitespace character is ``#`` (a comment; qrels follow trec_eval's qrels reader
  instead, see ``Layout.column0_comments``);
* a NUL byte and invalid UTF-8 are refused, naming the line.

Two code paths read the same bytes to the same columns. Files with single-space or
single-tab separators (what every tool writes) go through Arrow's multi-threaded CSV
reader, with checks proving the file holds nothing that reader would see differently:
another whitespace character (a byte scan), an empty field (read as null and counted),
a comment (a first field starting with '#'). Everything else goes through a vectorised
splitter (Arrow's ASCII whitespace functions over the lines), which also finds the exact
line of any malformed input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from rerankit.data import arrow_compute as pc
from rerankit.data.arrow import from_numpy, to_numpy
from rerankit.data.source import Source
from rerankit.errors import InputFormatError

_WHITESPACE = b" \t\x0b\x0c"  # separators besides the line ends CR and LF
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_PART = 1 << 26  # bytes of text per call of Arrow's CSV reader (it uses 16 MB blocks)


@dataclass(frozen=True)
class Layout:
    """The fields of one line format.

    ``names`` are the fields in order; only ``keep`` are returned. ``types`` are the Arrow
    types the fast path parses fields into (strings otherwise): a field that does not parse
    sends the file to the general path, so a type is an optimisation, never a rule.
    ``exact`` refuses fields after the last name (qrels); otherwise they are ignored (runs).
    ``header`` skips the first data line (BEIR's ``query-id corpus-id score``).
    ``last`` are kept fields of which only the last data line's value is returned (a run's
    tag: trec_eval keeps the last one), which spares a column of 10M copies of one word.
    ``column0_comments`` applies trec_eval 10.0's qrels reader (see :func:`_comments`);
    otherwise a line whose first non-blank character is '#' is a comment (its run reader).
    """

    names: tuple[str, ...]
    keep: tuple[str, ...]
    types: dict[str, pa.DataType] = field(default_factory=dict)
    exact: bool = False
    header: bool = False
    last: tuple[str, ...] = ()
    column0_comments: bool = False


@dataclass(frozen=True)
class Fields:
    """Columns of the data lines; ``line_numbers[i]`` is the 1-based line of row i (a
    ``range`` when the lines are consecutive: 10M line numbers are not worth 80 MB)."""

    columns: dict[str, pa.Array | pa.ChunkedArray]
    line_numbers: np.ndarray | range

    def line(self, row: int) -> int:
        return int(self.line_numbers[row])


def split_fields(source: Source, layout: Layout) -> Fields:
    """The data lines of ``source`` split into ``layout``'s fields."""
    nul = source.data.find(b"\0", source.start)
    if nul >= 0:
        raise InputFormatError(source.name, "contains a NUL byte (a binary file?); trec_eval "
                               "cannot read NUL bytes either", source.line_of(nul))
    fields = _read_single_separator(source, layout)
    if fields is None:
        fields = _read_any_whitespace(source, layout)
    if len(fields.line_numbers) == 0:
        raise InputFormatError(source.name, "file has no data lines (only blank lines, "
                               "comments or a header)")
    return fields


# ------------------------------------------------------------------------- fast path
def _read_single_separator(source: Source, layout: Layout) -> Fields | None:
    """Arrow's CSV reader with one separator character; None when the file may hold
    anything that reader would read differently from the general path.

    Arrow checks that every line has exactly ``len(layout.names)`` fields. An empty field
    (two separators in a row, or one at a line's start or end) is read as null, so one
    null count per column proves there is none; fields that are not kept are read as
    plain strings (or their layout type), the cheapest conversion that sees an empty
    field. UTF-8 is validated once over the whole text, which is faster than per column.
    The text is read in parts of whole lines, so that the columns only needed for these
    checks never exist for the whole file at once (fresh memory is slow to map).
    """
    data, start = source.data, source.start
    separator = b"\t" if data.find(b"\t", start) >= 0 else b" "
    others = _WHITESPACE.replace(separator, b"").replace(b"\t", b"")  # tab: just looked
    if any(data.find(bytes([c]), start) >= 0 for c in others):
        return None
    owned = source.arrow_owned_buffer()  # Arrow's threads may hold it after a read
    if not _is_utf8(owned):
        return None
    types = {n: layout.types.get(n, pa.string()) for n in layout.names}
    parse = pacsv.ParseOptions(delimiter=separator.decode(), quote_char=False,
                               escape_char=False, ignore_empty_lines=False)
    convert = pacsv.ConvertOptions(column_types=types, null_values=[""],
                                   strings_can_be_null=True, check_utf8=False)
    chunks: dict[str, list[pa.Array]] = {n: [] for n in layout.keep}
    rows = 0
    for k, text in enumerate(_parts(source, owned)):
        read = pacsv.ReadOptions(column_names=list(layout.names), block_size=1 << 24,
                                 skip_rows=int(layout.header and k == 0))
        try:
            table = pacsv.read_csv(pa.BufferReader(text), read_options=read,
                                   parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if any(column.null_count for column in table.columns):
            return None  # an empty field
        if _has_comment(table[layout.names[0]]):
            return None
        for name in layout.keep:
            if name not in layout.last:
                chunks[name] += table[name].chunks
            elif table.num_rows:  # the last line's value only
                chunks[name] = table[name].slice(table.num_rows - 1).chunks
        rows += table.num_rows
    columns = {n: pa.chunked_array(chunks[n], type=types[n]) for n in layout.keep}
    first = 1 + int(layout.header)
    return Fields(columns, range(first, first + rows))


def _parts(source: Source, text: pa.Buffer) -> Iterator[pa.Buffer]:
    """``text`` (``source``'s text) in parts of about ``_PART`` bytes, each ending after a
    line feed (or at the end of the text), so that every part holds whole lines."""
    begin = 0
    while begin < text.size:
        end = source.data.find(b"\n", source.start + begin + _PART) - source.start + 1
        if end <= 0:
            end = text.size
        yield text.slice(begin, end - begin)
        begin = end


def _is_utf8(text: pa.Buffer) -> bool:
    """True when ``text`` is valid UTF-8 (Arrow's vectorised check, over the bytes in place)."""
    whole = pa.Array.from_buffers(pa.large_string(), 1, [
        None, pa.py_buffer(np.array([0, text.size], dtype=np.int64)), text])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _has_comment(first: pa.ChunkedArray) -> bool:
    """True when a line's first field starts with '#' (a comment, which the general path
    skips); dictionary columns are checked on their few distinct values."""
    if pa.types.is_dictionary(first.type):
        chunks = [c.dictionary for c in first.chunks]
    elif pa.types.is_string(first.type):
        chunks = first.chunks
    else:
        return False  # a number parsed, so it is no comment
    return any(len(c) and pc.any(pc.starts_with(c, "#")).as_py() for c in chunks)


# ------------------------------------------------------------------------- general path
def _read_any_whitespace(source: Source, layout: Layout) -> Fields:
    """Split every line on runs of C whitespace; refuses malformed lines by number."""
    lines = _lines(source)
    rows = pc.ascii_trim_whitespace(lines)
    filled = to_numpy(pc.binary_length(rows)) != 0
    comment = _comments(source, lines) if layout.column0_comments else \
        to_numpy(pc.starts_with(rows, "#"))
    data_lines = np.flatnonzero(filled & ~comment)
    if layout.header and data_lines.size:
        data_lines = data_lines[1:]
    rows = pc.take(rows, from_numpy(data_lines))
    fields = pc.ascii_split_whitespace(rows)
    counts = to_numpy(pc.list_value_length(fields))
    wanted = len(layout.names)
    bad = np.flatnonzero(counts != wanted if layout.exact else counts < wanted)
    if bad.size:
        i = int(bad[0])
        expected = f"{wanted}" if layout.exact else f"at least {wanted}"
        hint = _COMMENT_AS_DATA if layout.column0_comments and \
            rows[i].as_py().startswith("#") else ""
        raise InputFormatError(
            source.name,
            f"expected {expected} whitespace-separated fields ({' '.join(layout.names)}), "
            f"found {counts[i]}: {rows[i].as_py()!r}{hint}",
            int(data_lines[i]) + 1,
        )
    if layout.column0_comments:
        _refuse_trailing_comment(source, comment, data_lines)
    columns = {}
    positions = from_numpy(np.arange(len(layout.names)))  # Arrow scalars made without pandas
    for k, name in enumerate(layout.names):
        if name in layout.keep:
            column = pc.cast(pc.list_element(fields, positions[k]), pa.string())
            if layout.types.get(name) == _DICTIONARY:
                column = pc.dictionary_encode(column)
            columns[name] = column.slice(max(len(column) - 1, 0)) if name in layout.last \
                else column
    return Fields(columns, data_lines.astype(np.int64) + 1)


_COMMENT_AS_DATA = (" (trec_eval 10.0's qrels reader skips a '#' line only at the start of "
                    "a line and not right after another skipped one: it reads this as data)")


def _comments(source: Source, lines: pa.Array) -> np.ndarray:
    """The lines trec_eval 10.0's qrels reader skips as comments: a '#' in the first column,
    unless the line before was such a skipped comment (it then parses the line as data, so
    in a block of '#' lines every second one is data). An indented '#' line is data too.
    A skipped comment ended by a lone CR is refused: trec_eval skips to the next line
    feed, taking the following line (rerankit's next line) with it."""
    column0 = to_numpy(pc.starts_with(lines, "#"))
    index = np.arange(column0.size)
    block_start = np.maximum.accumulate(np.where(column0 & ~np.roll(column0, 1) | (index == 0),
                                                 index, 0))
    skipped = column0 & ((index - block_start) % 2 == 0)
    lone_cr = np.flatnonzero(skipped & to_numpy(pc.ends_with(lines, "\r")))
    if lone_cr.size:
        raise InputFormatError(source.name, "a comment ended by a lone CR: trec_eval 10.0's "
                               "qrels reader skips a comment up to the next line feed, so it "
                               "would skip the next line too; end the line with LF or CRLF",
                               int(lone_cr[0]) + 1)
    return skipped


def _refuse_trailing_comment(source: Source, comment: np.ndarray, data_lines: np.ndarray
                             ) -> None:
    """Refuse a skipped comment after the last data line: trec_eval 10.0's qrels reader
    reads past its buffer there (it crashes)."""
    after = int(data_lines[-1]) + 1 if data_lines.size else 0
    trailing = np.flatnonzero(comment[after:])
    if trailing.size:
        raise InputFormatError(source.name, "a comment after the last judgement: trec_eval "
                               "10.0's qrels reader crashes on it; remove it or move it up",
                               after + int(trailing[0]) + 1)


def _lines(source: Source) -> pa.Array:
    """Every line of the text as an Arrow string (with its line end, which is whitespace),
    built over the file's bytes without copying."""
    size = len(source.data) - source.start
    ends = source.line_ends() - source.start
    starts = np.concatenate(([0], ends + 1))
    if starts[-1] == size:
        starts = starts[:-1]
    offsets = pa.py_buffer(np.append(starts, size).astype(np.int64))
    lines = pa.Array.from_buffers(pa.large_binary(), len(starts), [None, offsets, source.buffer])
    try:
        return pc.cast(lines, pa.large_string())
    except pa.ArrowInvalid:
        try:
            bytes(source.buffer).decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputFormatError(
                source.name, f"not valid UTF-8 ({err.reason} at byte {err.start + source.start})",
                int(np.searchsorted(ends, err.start)) + 1) from None
        raise
