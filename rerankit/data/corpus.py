"""Document collections, read lazily: only byte offsets are held in memory.

A :class:`Corpus` maps document ids to :class:`Document` objects. File-backed corpora
(BEIR ``corpus.jsonl``, TREC SGML ``<DOC>`` files) index the file once with a C-speed
regular-expression scan over a memory map and parse a document only when it is asked
for, so a collection of millions of documents costs a few arrays, not millions of
Python objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rerankit.data.jsonl import SURROGATE_ESCAPE, json_id, json_object, json_text
from rerankit.data.source import COMPRESSED_SUFFIXES, Source, read_input
from rerankit.errors import InputFormatError


@dataclass(frozen=True)
class Document:
    """A document: id, optional title, body text."""

    id: str
    text: str
    title: str = ""

    @property
    def full_text(self) -> str:
        """Title and text joined by a space (BEIR's convention for encoders)."""
        return f"{self.title} {self.text}".strip() if self.title else self.text


class Corpus:
    """Base class: an id-addressable, iterable collection of documents."""

    source: str = "corpus"

    @property
    def ids(self) -> list[str]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, docid: object) -> bool:
        raise NotImplementedError

    def __getitem__(self, docid: str) -> Document:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Document]:
        for docid in self.ids:
            yield self[docid]

    def _unknown(self, docid: str) -> KeyError:
        return KeyError(f"unknown document id '{docid}' in {self.source}")


class InMemoryCorpus(Corpus):
    """A corpus built from Python objects (tests, small collections, ir_datasets)."""

    def __init__(self, documents: Iterable[Document], source: str = "corpus") -> None:
        self.source = source
        self._docs: dict[str, Document] = {}
        for doc in documents:
            if doc.id in self._docs:
                raise InputFormatError(source, f"duplicate document id '{doc.id}'")
            self._docs[doc.id] = doc
        if not self._docs:
            raise InputFormatError(source, "corpus has no documents")

    @classmethod
    def from_dict(cls, docs: Mapping[str, str | Mapping[str, str]], source: str = "corpus"):
        """From ``{docid: text}`` or BEIR's ``{docid: {"title": ..., "text": ...}}``; ids and
        texts are checked as in a JSONL corpus (null or absent texts are empty). As for
        :meth:`Run.from_dict`, an id holding a NUL byte (run files cannot hold it) and an
        id, title or text holding a lone surrogate (not Unicode) are refused."""
        from rerankit.data.columns import id_texts
        from rerankit.data.run import ID_NUL, checked_strings

        if not isinstance(docs, Mapping):
            raise InputFormatError(source, "expected a dict {document id: text}, got "
                                   f"{type(docs).__name__}")

        def make(docid: str, value) -> Document:
            if isinstance(value, str):
                return Document(docid, value)
            if not isinstance(value, Mapping):
                raise InputFormatError(source, f"document '{docid}': expected a text or a "
                                       f"dict with title and text, got {type(value).__name__}")
            return Document(docid, *(json_text(source, dict(value), name, None)
                                     for name in ("text", "title")))

        ids = id_texts(list(docs), "document id", source)
        checked_strings(ids, source, lambda i, v: f"document id {v!r}", ID_NUL)
        documents = [make(k, v) for k, v in zip(ids, docs.values(), strict=True)]
        for field in ("text", "title"):
            checked_strings([getattr(d, field) for d in documents], source,
                            lambda i, v, field=field: f"{field} of document {ids[i]!r}")
        return cls(documents, source)

    @property
    def ids(self) -> list[str]:
        return list(self._docs)

    def __contains__(self, docid: object) -> bool:
        return docid in self._docs

    def __getitem__(self, docid: str) -> Document:
        try:
            return self._docs[docid]
        except KeyError:
            raise self._unknown(docid) from None

    def __iter__(self) -> Iterator[Document]:
        return iter(self._docs.values())


class _OffsetCorpus(Corpus):
    """A file corpus addressed by (start, end) byte offsets of each record.

    A plain file is read at those offsets when a document is asked for; a compressed one
    is held decompressed in memory (``memory``), since it cannot be read at an offset.
    """

    def __init__(self, path: Path, ids: list[str], starts: np.ndarray, ends: np.ndarray,
                 lines: np.ndarray, memory: bytes | None = None) -> None:
        self.path = path
        self.source = str(path)
        self._ids = ids
        self._starts, self._ends = starts, ends
        self._memory = memory
        index: dict[str, int] = {}
        for i, docid in enumerate(ids):
            if docid in index:
                raise InputFormatError(path, f"duplicate document id '{docid}' (lines "
                                       f"{lines[index[docid]]} and {lines[i]})", int(lines[i]))
            index[docid] = i
        if not index:
            raise InputFormatError(path, "corpus has no documents")
        self._index = index
        self._lines = lines

    @classmethod
    def open(cls, path: str | Path) -> _OffsetCorpus:
        """Index the corpus file at ``path`` (plain or compressed)."""
        source = read_input(path, "corpus file")
        memory = source.data if isinstance(source.data, bytes) else None
        try:
            return cls._index_source(source, memory)
        finally:
            if memory is None:
                source.data.close()

    @classmethod
    def _index_source(cls, source: Source, memory: bytes | None) -> _OffsetCorpus:
        raise NotImplementedError

    @property
    def ids(self) -> list[str]:
        return self._ids

    def __contains__(self, docid: object) -> bool:
        return docid in self._index

    def __getitem__(self, docid: str) -> Document:
        try:
            i = self._index[docid]
        except KeyError:
            raise self._unknown(docid) from None
        start, end = int(self._starts[i]), int(self._ends[i])
        if self._memory is not None:
            return self._parse(self._memory[start:end], int(self._lines[i]))
        with open(self.path, "rb") as handle:
            handle.seek(start)
            return self._parse(handle.read(end - start), int(self._lines[i]))

    def __iter__(self) -> Iterator[Document]:
        rows = zip(self._starts.tolist(), self._ends.tolist(), self._lines.tolist(), strict=True)
        if self._memory is not None:
            for start, end, line in rows:
                yield self._parse(self._memory[start:end], line)
            return
        with open(self.path, "rb") as handle:
            for start, end, line in rows:
                handle.seek(start)
                yield self._parse(handle.read(end - start), line)

    def _parse(self, raw: bytes, line: int) -> Document:
        raise NotImplementedError


# "_id" as the first key of a line's object is certainly the object's own id (not a nested
# one); its value is a JSON string or a JSON integer. Other lines are parsed in full, and so
# are lines with a second "_id" (a key twice is refused) or a surrogate escape (a lone one is
# refused), so that opening the corpus refuses what reading the document would.
_FIRST_ID = re.compile(rb'[ \t\r]*\{[ \t\r]*"_id"[ \t\r]*:[ \t\r]*'
                       rb'(?:"((?:[^"\\]|\\.)*)"|(-?(?:0|[1-9][0-9]*)))[ \t\r]*[,}]')
_ID_KEY = re.compile(rb'"_id"')


class JsonlCorpus(_OffsetCorpus):
    """BEIR ``corpus.jsonl``: one ``{"_id", "title", "text"}`` object per line.

    ``_id`` is a string, or an integer read as its decimal text; ``title`` and ``text`` are
    strings, or null / absent (empty). See :mod:`rerankit.data.jsonl`.
    """

    @classmethod
    def _index_source(cls, source: Source, memory: bytes | None) -> JsonlCorpus:
        data = source.data
        newlines = source.line_ends()
        starts = np.concatenate(([source.start], newlines + 1))
        ends = np.concatenate((newlines, [len(data)]))
        blank = np.array([not data[s:e].strip(b" \t\r\x0b\x0c")
                          for s, e in zip(starts.tolist(), ends.tolist(), strict=True)],
                         dtype=bool)
        lines = np.flatnonzero(~blank) + 1
        starts, ends = starts[~blank], ends[~blank]
        suspect = _lines_to_check(data, source.start, ends)
        doc_ids = []
        for start, end, line, check in zip(starts.tolist(), ends.tolist(), lines.tolist(),
                                           suspect.tolist(), strict=True):
            match = _FIRST_ID.match(data, start, end)
            if match is None or check:
                obj = json_object(source.name, data[start:end], line)
                doc_ids.append(json_id(source.name, obj, line))
            elif match.group(2) is not None:
                doc_ids.append(match.group(2).decode())
            elif b"\\" in match.group(1):
                doc_ids.append(json.loads(b'"' + match.group(1) + b'"'))
            else:
                doc_ids.append(_utf8(source.name, match.group(1), line))
        return cls(Path(source.name), doc_ids, starts, ends, lines, memory)

    def _parse(self, raw: bytes, line: int) -> Document:
        obj = json_object(self.source, raw, line)
        docid = json_id(self.source, obj, line)
        return Document(docid, json_text(self.source, obj, "text", line),
                        json_text(self.source, obj, "title", line))


def _lines_to_check(data, start: int, ends: np.ndarray) -> np.ndarray:
    """Which lines (ending at ``ends``) must be parsed in full when the corpus is opened:
    those with ``"_id"`` twice (a key twice is refused) or a surrogate escape (a lone one is
    refused), found by two C-speed scans of the whole file."""
    def rows(pattern: re.Pattern) -> np.ndarray:
        found = [m.start() for m in pattern.finditer(data, start)]
        return np.searchsorted(ends, np.array(found, dtype=np.int64))
    suspect = np.bincount(rows(_ID_KEY), minlength=len(ends)) > 1
    suspect[rows(SURROGATE_ESCAPE)] = True
    return suspect


def _utf8(name: str, raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFormatError(name, f"not valid UTF-8 ({err.reason})", line) from None


#: DOC and DOCNO tags in any case (TREC collections differ), attributes allowed
#: (``<DOC id="x">``); other tags (``<DOCHDR>``) are text
_SGML_TAG = re.compile(rb"<(/?)(DOC|DOCNO)(?:[ \t\r\n][^>]*)?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_C_SPACE = b" \t\n\x0b\x0c\r"
#: what each tag must be followed by: <DOC> <DOCNO> </DOCNO> </DOC>, again and again
_EXPECTED = ((b"", b"DOC"), (b"", b"DOCNO"), (b"/", b"DOCNO"), (b"/", b"DOC"))


class TrecSgmlCorpus(_OffsetCorpus):
    """TREC SGML documents: ``<DOC><DOCNO>id</DOCNO> text </DOC>`` (e.g. Vaswani); the
    two tags in any case, ``<DOC>`` with or without attributes.

    Every ``<DOC>`` holds exactly one ``<DOCNO>`` and is closed by ``</DOC>`` before the next
    opens; anything else (an unclosed or nested ``<DOC>``, a missing or second ``<DOCNO>``)
    is refused naming the line.
    """

    @classmethod
    def _index_source(cls, source: Source, memory: bytes | None) -> TrecSgmlCorpus:
        data = source.data
        newlines = source.line_ends()

        def line_of(offset: int) -> int:
            return int(np.searchsorted(newlines, offset, side="right")) + 1

        tags = list(_SGML_TAG.finditer(data, source.start))
        for k, tag in enumerate(tags):
            if (tag.group(1), tag.group(2).upper()) != _EXPECTED[k % 4]:
                _refuse_structure(source.name, tags, k, line_of)
        if len(tags) % 4:
            opened = tags[len(tags) - len(tags) % 4]
            raise InputFormatError(source.name, "<DOC> is never closed with </DOC>",
                                   line_of(opened.start()))
        ids, starts, ends, lines = [], [], [], []
        for k in range(0, len(tags), 4):
            line = line_of(tags[k].start())
            docno = data[tags[k + 1].end():tags[k + 2].start()].strip(_C_SPACE)
            if not docno:
                raise InputFormatError(source.name, "empty <DOCNO>", line)
            ids.append(_utf8(source.name, docno, line))
            starts.append(tags[k].end())
            ends.append(tags[k + 3].start())
            lines.append(line)
        return cls(Path(source.name), ids, np.array(starts, np.int64),
                   np.array(ends, np.int64), np.array(lines, np.int64), memory)

    def _parse(self, raw: bytes, line: int) -> Document:
        tags = list(_SGML_TAG.finditer(raw))
        docid = raw[tags[0].end():tags[1].start()].strip(_C_SPACE)
        body = raw[:tags[0].start()] + b" " + raw[tags[1].end():]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputFormatError(self.path, "document is not valid UTF-8", line) from None
        return Document(docid.decode("utf-8"), " ".join(_TAG.sub(" ", text).split()))


def _refuse_structure(name: str, tags: list[re.Match], k: int, line_of) -> None:
    """The error for the k-th DOC/DOCNO tag, which is not the one expected there."""
    found = f"<{tags[k].group(1).decode()}{tags[k].group(2).decode().upper()}>"
    line = line_of(tags[k].start())
    phase = k % 4
    if phase == 0:
        raise InputFormatError(name, f"{found} outside a <DOC>", line)
    opened = line_of(tags[k - phase].start())
    if found == "<DOC>":
        raise InputFormatError(name, f"<DOC> opened before the <DOC> of line {opened} was "
                               "closed with </DOC>", line)
    if phase == 1:
        raise InputFormatError(name, f"the <DOC> of line {opened} has no <DOCNO>", opened)
    if phase == 2:
        raise InputFormatError(name, f"{found} inside the <DOCNO> of line "
                               f"{line_of(tags[k - 1].start())} (not closed?)", line)
    raise InputFormatError(name, f"second {found} in the <DOC> of line {opened}"
                           if found == "<DOCNO>" else f"{found} out of place in the <DOC> of "
                           f"line {opened}", line)


def open_corpus(path: str | Path) -> Corpus:
    """A corpus from a BEIR JSONL file or a TREC SGML file, plain or compressed (gzip,
    bzip2, xz, zstd). JSONL when the name (without a compression suffix) ends in ``.jsonl``
    or the first non-blank character is ``{``; TREC SGML otherwise."""
    name = str(path)
    for suffix in COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    if name.endswith((".jsonl", ".json")):
        return JsonlCorpus.open(path)
    source = read_input(path, "corpus file")
    try:
        head = bytes(source.data[source.start:source.start + 4096]).lstrip(_C_SPACE)
    finally:
        if not isinstance(source.data, bytes):
            source.data.close()
    return (JsonlCorpus if head.startswith(b"{") else TrecSgmlCorpus).open(path)
