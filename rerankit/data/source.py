"""Input files as bytes: one place that opens, decompresses and sanity-checks every input.

Every reader (runs, qrels, queries, topics, corpora) gets its bytes from :func:`read_input`,
so all of them accept the same things and refuse the same things with the same message:

* ``-`` reads standard input, where a reader allows it (runs, as trec_eval does);
* gzip, bzip2, xz and zstd content is decompressed whatever the file is called; a name
  ending ``.gz``, ``.bz2``, ``.xz`` or ``.zst`` whose content is not in that format, and a
  corrupt or truncated archive, are named errors;
* a missing file, a directory, an unreadable file and an empty file are named errors;
* a UTF-8 byte order mark is not data: it is skipped (``Source.start``);
* plain files are memory-mapped, not copied, so corpora are read lazily.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.errors import InputFormatError

STDIN = "-"
BOM = b"\xef\xbb\xbf"


def _zstd(data: bytes) -> bytes:
    return pa.CompressedInputStream(pa.BufferReader(data), "zstd").read()


#: (format name, file name suffix, magic bytes, decompressor); bzip2's magic includes the
#: block (or end of stream) marker, so a text file that starts with "BZh" stays text.
_CODECS = (
    ("gzip", ".gz", re.compile(rb"\x1f\x8b"), gzip.decompress),
    ("bzip2", ".bz2", re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)"), bz2.decompress),
    ("xz", ".xz", re.compile(rb"\xfd7zXZ\x00"), lzma.decompress),
    ("zstd", ".zst", re.compile(rb"\x28\xb5\x2f\xfd"), _zstd),
)
COMPRESSED_SUFFIXES = tuple(suffix for _, suffix, _, _ in _CODECS)


@dataclass(frozen=True)
class Source:
    """The decompressed content of one input; ``data[start:]`` is its text (no BOM)."""

    name: str
    data: bytes | mmap.mmap
    start: int = 0
    #: the file ``data`` maps, for Arrow's own map of it (None for decompressed input)
    path: Path | None = field(default=None, compare=False)

    @property
    def buffer(self) -> pa.Buffer:
        """The text as an Arrow buffer, without copying."""
        return pa.py_buffer(self.data)[self.start:]

    def arrow_owned_buffer(self) -> pa.Buffer:
        """The text in memory that Arrow owns: its own map of the file, else a copy of the
        decompressed bytes. Give this, not :attr:`buffer`, to Arrow's multi-threaded
        readers: a buffer over a Python object needs the interpreter lock to be released,
        and a reader's worker thread may drop its last reference after the reader returned;
        when the interpreter is exiting by then (an error right after the read), that
        thread is killed inside the release and the process aborts ("terminate called
        without an active exception", status 134) after printing the right error."""
        if self.path is not None:
            return pa.memory_map(str(self.path)).read_buffer()[self.start:]
        owned = pa.allocate_buffer(len(self.data) - self.start)
        np.frombuffer(owned, dtype=np.uint8)[:] = np.frombuffer(self.data, dtype=np.uint8,
                                                                offset=self.start)
        return owned

    def line_ends(self) -> np.ndarray:
        """Offsets in ``data`` of the bytes that end a line: every LF, and every CR that is
        not followed by an LF (a lone CR ends a line)."""
        text = np.frombuffer(self.data, dtype=np.uint8)
        ends = np.flatnonzero(text == 10)
        if self.data.find(b"\r", self.start) >= 0:
            cr = np.flatnonzero(text == 13)
            after = np.append(text[cr[cr + 1 < text.size] + 1], np.uint8(0))[:cr.size]
            ends = np.union1d(ends, cr[after != 10])
        del text  # a numpy view of an mmap must not outlive this call
        return ends[ends >= self.start]

    def line_of(self, offset: int) -> int:
        """1-based line (ends: LF, CRLF or a lone CR) of byte ``offset`` of ``data``."""
        head = bytes(self.data[self.start:offset])
        return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1


def read_input(path: str | Path, what: str = "file", stdin: bool = False) -> Source:
    """The decompressed content of ``path`` (``-`` = standard input when ``stdin``).

    A plain file is memory-mapped, not copied; a compressed one is decompressed into
    memory. ``what`` names the input in messages ("run file", "qrels file"...). Raises
    :class:`InputFormatError` for every problem, never a bare OSError or a traceback.
    """
    if stdin and str(path) == STDIN:
        return _checked("<stdin>", _decompress("<stdin>", sys.stdin.buffer.read()), what)
    path = Path(path)
    if _codec(str(path), _read_bytes(path, what, 16)) is not None:
        return _checked(str(path), _decompress(str(path), _read_bytes(path, what)), what)
    if path.stat().st_size == 0:
        raise InputFormatError(path, f"{what} is empty")
    with open(path, "rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return _checked(str(path), data, what, path)


def text_lines(source: Source) -> list[str]:
    """The text split into lines (LF, CRLF or a lone CR end a line; no other character does,
    unlike ``str.splitlines``); invalid UTF-8 is refused naming the line."""
    raw = bytes(source.data[source.start:])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFormatError(source.name, f"not valid UTF-8 ({err.reason} at byte "
                               f"{err.start + source.start})",
                               source.line_of(err.start + source.start)) from None
    lines = _LINE_END.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


_LINE_END = re.compile(r"\r\n|\r|\n")


def _read_bytes(path: Path, what: str, size: int = -1) -> bytes:
    if path.is_dir():
        raise InputFormatError(path, f"is a directory, not a {what}")
    if not path.exists():
        raise InputFormatError(path, f"{what} not found")
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as err:
        raise InputFormatError(path, f"cannot read the {what}: {err.strerror or err}") from None


def _checked(name: str, data: bytes | mmap.mmap, what: str, path: Path | None = None
             ) -> Source:
    start = len(BOM) if data[:len(BOM)] == BOM else 0
    if len(data) == start:
        raise InputFormatError(name, f"{what} is empty")
    return Source(name, data, start, path)


def _codec(name: str, head: bytes) -> tuple | None:
    """The codec the content is in (None: plain); refuses a name that claims another."""
    claimed = next((codec for codec in _CODECS if name.endswith(codec[1])), None)
    actual = next((codec for codec in _CODECS if codec[2].match(head)), None)
    if claimed is not None and actual is not claimed:
        raise InputFormatError(name, f"the name ends in '{claimed[1]}' but the content is not "
                               f"{claimed[0]}-compressed")
    return actual


def _decompress(name: str, raw: bytes) -> bytes:
    """``raw`` decompressed when its first bytes say it is compressed."""
    codec = _codec(name, raw[:16])
    if codec is None:
        return raw
    label, _, _, decompress = codec
    try:
        return decompress(raw)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as err:
        raise InputFormatError(name, f"corrupt or truncated {label} archive ({err})") from None
