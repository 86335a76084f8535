"""Document collections, read lazily: only byte offsets are held in memory.

A :class:`Corpus` maps document ids to :class:`Document` objects. File-backed corpora
(BEIR ``corpus.jsonl``, TREC SGML ``<DOC>`` files) index the file once with a C-speed
regular-expression scan over a memory map and parse a document only when it is asked
for, so a collection of millions of documents costs a few arrays, not millions of
Python objects.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import mmap
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
        """From ``{docid: text}`` or BEIR's ``{docid: {"title": ..., "text": ...}}``."""
        def make(docid: str, value) -> Document:
            if isinstance(value, str):
                return Document(docid, value)
            return Document(docid, value.get("text", ""), value.get("title", ""))

        return cls((make(str(k), v) for k, v in docs.items()), source)

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
    """A file corpus addressed by (start, end) byte offsets of each record."""

    def __init__(self, path: Path, ids: list[str], starts: np.ndarray, ends: np.ndarray,
                 lines: np.ndarray) -> None:
        self.path = path
        self.source = str(path)
        self._ids = ids
        self._starts, self._ends = starts, ends
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
        with open(self.path, "rb") as handle:
            handle.seek(int(self._starts[i]))
            raw = handle.read(int(self._ends[i] - self._starts[i]))
        return self._parse(raw, int(self._lines[i]))

    def __iter__(self) -> Iterator[Document]:
        with open(self.path, "rb") as handle:
            for start, end, line in zip(self._starts.tolist(), self._ends.tolist(),
                                        self._lines.tolist(), strict=True):
                handle.seek(start)
                yield self._parse(handle.read(end - start), line)

    def _parse(self, raw: bytes, line: int) -> Document:
        raise NotImplementedError


_JSON_ID = re.compile(rb'"_id"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))')


class JsonlCorpus(_OffsetCorpus):
    """BEIR ``corpus.jsonl``: one ``{"_id", "title", "text"}`` object per line."""

    @classmethod
    def open(cls, path: str | Path) -> JsonlCorpus:
        path = Path(path)
        with _mapped(path) as data:
            newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            starts = np.concatenate(([0], newlines + 1))
            ends = np.concatenate((newlines, [len(data)]))
            nonblank = ends > starts
            starts, ends = starts[nonblank], ends[nonblank]
            lines = np.flatnonzero(nonblank) + 1
            positions, ids = [], []
            for match in _JSON_ID.finditer(data):
                positions.append(match.start())
                ids.append(match.group(1) if match.group(1) is not None else match.group(2))
        line_of_match = np.searchsorted(starts, np.asarray(positions, dtype=np.int64),
                                        side="right") - 1
        first_match = np.full(starts.size, -1)
        unique_lines, first_index = np.unique(line_of_match, return_index=True)
        first_match[unique_lines] = first_index
        missing = np.flatnonzero(first_match < 0)
        if missing.size:
            raise InputFormatError(path, 'line has no "_id" field', int(lines[missing[0]]))
        doc_ids = [json.loads(b'"' + ids[i] + b'"') for i in first_match.tolist()]
        return cls(path, doc_ids, starts, ends, lines)

    def _parse(self, raw: bytes, line: int) -> Document:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise InputFormatError(self.path, f"invalid JSON: {err.msg}", line) from None
        return Document(str(obj["_id"]), obj.get("text") or "", obj.get("title") or "")


_DOC = re.compile(rb"<DOC>(.*?)</DOC>", re.S)
_DOCNO = re.compile(rb"<DOCNO>\s*(.*?)\s*</DOCNO>", re.S)
_TAG = re.compile(r"<[^>]+>")


class TrecSgmlCorpus(_OffsetCorpus):
    """TREC SGML documents: ``<DOC><DOCNO>id</DOCNO> text </DOC>`` (e.g. Vaswani)."""

    @classmethod
    def open(cls, path: str | Path) -> TrecSgmlCorpus:
        path = Path(path)
        ids, starts, ends, lines = [], [], [], []
        with _mapped(path) as data:
            newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            for match in _DOC.finditer(data):
                line = int(np.searchsorted(newlines, match.start(), side="right")) + 1
                number = _DOCNO.search(match.group(1))
                if number is None:
                    raise InputFormatError(path, "<DOC> without <DOCNO>", line)
                try:
                    ids.append(number.group(1).decode("utf-8"))
                except UnicodeDecodeError:
                    raise InputFormatError(path, "DOCNO is not valid UTF-8", line) from None
                starts.append(match.start(1))
                ends.append(match.end(1))
                lines.append(line)
        return cls(path, ids, np.array(starts, np.int64), np.array(ends, np.int64),
                   np.array(lines, np.int64))

    def _parse(self, raw: bytes, line: int) -> Document:
        number = _DOCNO.search(raw)
        try:
            docid = number.group(1).decode("utf-8") if number else ""
            body = _DOCNO.sub(b"", raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InputFormatError(self.path, "document is not valid UTF-8", line) from None
        return Document(docid, " ".join(_TAG.sub(" ", body).split()))


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap]:
    """The file memory-mapped read-only; clear errors for a missing or empty file."""
    if not path.is_file():
        raise InputFormatError(path, "corpus file not found")
    if path.stat().st_size == 0:
        raise InputFormatError(path, "corpus file is empty")
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0,
                                               access=mmap.ACCESS_READ) as data:
        yield data


def open_corpus(path: str | Path) -> Corpus:
    """A corpus from a BEIR ``corpus.jsonl`` (or ``.jsonl.gz``) or a TREC SGML file."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs = (json.loads(line) for line in handle if line.strip())
            return InMemoryCorpus((Document(str(d["_id"]), d.get("text") or "",
                                            d.get("title") or "") for d in docs), str(path))
    if path.suffix == ".jsonl":
        return JsonlCorpus.open(path)
    return TrecSgmlCorpus.open(path)
