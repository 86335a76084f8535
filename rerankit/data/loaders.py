"""Readers for query files and whole test collections (BEIR folders, TREC files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rerankit.data.corpus import Corpus, open_corpus
from rerankit.data.jsonl import json_id, json_object, json_text
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.data.source import read_input, text_lines
from rerankit.errors import InputFormatError

_TAG = re.compile(r"<(/?)(top|num|title)>", re.I)
_C_SPACE = " \t\n\x0b\x0c\r"
_NUMBER = re.compile(rf"[{_C_SPACE}]*(?:Number:)?[{_C_SPACE}]*([^<{_C_SPACE}]+)", re.I)
_C_SPACES = re.compile(f"[{_C_SPACE}]+")


@dataclass(frozen=True)
class Dataset:
    """A test collection: documents, queries and judgements."""

    name: str
    corpus: Corpus | None
    queries: Queries
    qrels: Qrels

    def judged_queries(self) -> Queries:
        """The queries that have judgements, in the queries file's order."""
        judged = set(self.qrels.query_ids)
        return self.queries.subset([q for q in self.queries.ids if q in judged])


def read_queries(path: str | Path) -> Queries:
    """Read queries from BEIR ``queries.jsonl``, TREC ``<top>`` topics or ``id<TAB>text``
    files, plain or compressed (see :mod:`rerankit.data.source`); the format is detected
    from the first non-blank character. Every problem (empty text, a duplicate id, a line
    that is not a JSON object, an unclosed ``<top>``) names the file and line."""
    source = read_input(path, "queries file")
    lines = text_lines(source)
    first = next((line.strip(_C_SPACE) for line in lines if line.strip(_C_SPACE)), "")
    if first.startswith("{") or first.startswith("["):
        ids, texts, numbers = _jsonl_queries(source.name, lines)
    elif first.lower().startswith("<top>"):
        ids, texts, numbers = _trec_topics(source.name, lines)
    else:
        ids, texts, numbers = _tsv_queries(source.name, lines)
    if not ids:
        raise InputFormatError(source.name, "no queries found")
    seen: dict[str, int] = {}
    for qid, text, line in zip(ids, texts, numbers, strict=True):
        if qid in seen:
            raise InputFormatError(source.name, f"query id '{qid}' appears twice (lines "
                                   f"{seen[qid]} and {line})", line)
        seen[qid] = line
        if not text.strip(_C_SPACE):
            raise InputFormatError(source.name, f"query '{qid}' has empty text", line)
    return Queries(tuple(ids), tuple(texts), source.name)


def _jsonl_queries(name: str, lines: list[str]) -> tuple[list[str], list[str], list[int]]:
    """BEIR queries: one object per line with ``_id`` (a string, or an integer read as its
    decimal text) and ``text`` (a string; null counts as empty, which is refused)."""
    ids, texts, numbers = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip(_C_SPACE):
            continue
        obj = json_object(name, line, number)
        ids.append(json_id(name, obj, number))
        texts.append(json_text(name, obj, "text", number, required=True))
        numbers.append(number)
    return ids, texts, numbers


def _tsv_queries(name: str, lines: list[str]) -> tuple[list[str], list[str], list[int]]:
    """``id<whitespace>text`` lines: the id is the first field (split on C whitespace, as in
    run files), the text the rest of the line; blank and ``#`` lines are skipped."""
    ids, texts, numbers = [], [], []
    for number, line in enumerate(lines, 1):
        row = line.strip(_C_SPACE)
        if not row or row.startswith("#"):
            continue
        end = next((k for k, ch in enumerate(row) if ch in _C_SPACE), len(row))
        ids.append(row[:end])
        texts.append(row[end:].strip(_C_SPACE))
        numbers.append(number)
    return ids, texts, numbers


def _trec_topics(name: str, lines: list[str]) -> tuple[list[str], list[str], list[int]]:
    """``<top> <num> Number: id <title> text ... </top>`` blocks (tags in any case). Each
    block needs exactly one ``<num>`` and a ``<title>``; blocks may not nest or stay open."""
    text = "\n".join(lines)
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])

    def line_of(offset: int) -> int:
        return int(np.searchsorted(starts, offset, side="right"))

    ids, texts, numbers = [], [], []
    opened: re.Match | None = None
    number: re.Match | None = None
    title: re.Match | None = None
    for tag in _TAG.finditer(text):
        closing, kind = tag.group(1) == "/", tag.group(2).lower()
        if kind == "top" and not closing:
            if opened is not None:
                raise InputFormatError(name, f"<top> opened before the <top> of line "
                                       f"{line_of(opened.start())} was closed with </top>",
                                       line_of(tag.start()))
            opened, number, title = tag, None, None
        elif opened is None:
            raise InputFormatError(name, f"<{tag.group(1)}{tag.group(2)}> outside a <top> "
                                   "block", line_of(tag.start()))
        elif kind == "num" and not closing:
            if number is not None:
                raise InputFormatError(name, f"second <num> in the <top> of line "
                                       f"{line_of(opened.start())}", line_of(tag.start()))
            number = tag
        elif kind == "title" and not closing and title is None:
            title = tag
        elif kind == "top":
            line = line_of(opened.start())
            if number is None:
                raise InputFormatError(name, f"the <top> of line {line} has no <num>", line)
            if title is None:
                raise InputFormatError(name, f"the <top> of line {line} has no <title>", line)
            qid = _NUMBER.match(text, number.end(), tag.start())
            if qid is None:
                raise InputFormatError(name, "<num> without a query number",
                                       line_of(number.start()))
            end = text.find("<", title.end(), tag.start() + 1)
            ids.append(qid.group(1))
            texts.append(_C_SPACES.sub(" ", text[title.end():end]).strip(" "))
            numbers.append(line)
            opened = None
    if opened is not None:
        raise InputFormatError(name, "<top> is never closed with </top>",
                               line_of(opened.start()))
    return ids, texts, numbers


#: what a BEIR dataset folder holds (``qrels/<split>.tsv`` per split)
BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels")


def beir_problem(folder: Path, split: str) -> tuple[str, str] | None:
    """Why ``folder`` is not a BEIR dataset with ``split``: ``("folder", reason)`` when it
    lacks the layout, ``("split", reason)`` when it lacks that split's qrels; else None."""
    missing = [name for name in BEIR_FILES if not (folder / name).exists()]
    if missing:
        return "folder", (f"not a BEIR dataset folder (expected corpus.jsonl, queries.jsonl "
                          f"and qrels/{split}.tsv; missing {', '.join(missing)})")
    if not (folder / "qrels" / f"{split}.tsv").is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        return "split", (f"no qrels for split '{split}' (qrels/{split}.tsv); splits: "
                         f"{', '.join(available) or 'none'}")
    return None


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """A BEIR-layout folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFormatError(folder, "dataset folder not found")
    problem = beir_problem(folder, split)
    if problem is not None:
        raise InputFormatError(folder, problem[1])
    return Dataset(folder.name, open_corpus(folder / "corpus.jsonl"),
                   read_queries(folder / "queries.jsonl"), Qrels.read(folder / "qrels" /
                                                                    f"{split}.tsv"))


def load_trec(corpus: str | Path | None, topics: str | Path, qrels: str | Path,
              name: str = "trec") -> Dataset:
    """A collection from TREC files: SGML documents, topics and qrels."""
    return Dataset(name, open_corpus(corpus) if corpus else None, read_queries(topics),
                   Qrels.read(qrels))
