"""Readers for query files and whole test collections (BEIR folders, TREC files)."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

from rerankit.data.corpus import Corpus, open_corpus
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError

_TOP = re.compile(r"<top>(.*?)</top>", re.S | re.I)
_NUM = re.compile(r"<num>\s*(?:Number:)?\s*([^<\s]+)", re.I)
_TITLE = re.compile(r"<title>(.*?)(?=<|\Z)", re.S | re.I)


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
    (optionally gzipped). Empty texts are an error naming the query id."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "queries file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    stripped = text.lstrip()
    if stripped.startswith("{"):
        ids, texts = _jsonl_queries(path, text)
    elif stripped.lower().startswith("<top>"):
        ids, texts = _trec_topics(path, text)
    else:
        ids, texts = _tsv_queries(path, text)
    if not ids:
        raise InputFormatError(path, "no queries found")
    queries = Queries(tuple(ids), tuple(texts), str(path))
    queries.check_not_empty()
    return queries


def _jsonl_queries(path: Path, text: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            ids.append(str(obj["_id"]))
            texts.append(str(obj["text"]))
        except (json.JSONDecodeError, KeyError) as err:
            raise InputFormatError(path, f"expected a JSON object with _id and text ({err})",
                                   number) from None
    return ids, texts


def _trec_topics(path: Path, text: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for block in _TOP.finditer(text):
        number, title = _NUM.search(block.group(1)), _TITLE.search(block.group(1))
        if number is None or title is None:
            line = text.count("\n", 0, block.start()) + 1
            raise InputFormatError(path, "<top> without <num> or <title>", line)
        ids.append(number.group(1))
        texts.append(" ".join(title.group(1).split()))
    return ids, texts


def _tsv_queries(path: Path, text: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        qid, sep, query = line.partition("\t")
        if not sep:
            raise InputFormatError(path, "expected 'query id<TAB>text'", number)
        ids.append(qid.strip())
        texts.append(query.strip())
    return ids, texts


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """A BEIR-layout folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFormatError(folder, "dataset folder not found")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise InputFormatError(folder, f"no qrels for split '{split}' (available: {available})")
    return Dataset(folder.name, open_corpus(folder / "corpus.jsonl"),
                   read_queries(folder / "queries.jsonl"), Qrels.read(qrels_path))


def load_trec(corpus: str | Path | None, topics: str | Path, qrels: str | Path,
              name: str = "trec") -> Dataset:
    """A collection from TREC files: SGML documents, topics and qrels."""
    return Dataset(name, open_corpus(corpus) if corpus else None, read_queries(topics),
                   Qrels.read(qrels))
