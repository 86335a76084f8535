"""ir_datasets adapter: any ir_datasets dataset (by id or object) as a rerankit Dataset.

ir_datasets is imported only here, when used. Loading a dataset by id may download it,
which needs internet; objects built from local files do not.
"""

from __future__ import annotations

from typing import Any

from rerankit.data.corpus import Document, InMemoryCorpus
from rerankit.data.loaders import Dataset
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries


def load_ir_dataset(dataset: str | Any, name: str | None = None) -> Dataset:
    """Convert an ir_datasets dataset (``"beir/scifact/test"`` or a Dataset object)."""
    if isinstance(dataset, str):
        import ir_datasets

        name = name or dataset
        dataset = ir_datasets.load(dataset)
    name = name or "ir_datasets"
    corpus = None
    if dataset.has_docs():
        corpus = InMemoryCorpus((_document(d) for d in dataset.docs_iter()), name)
    ids, texts = [], []
    for query in dataset.queries_iter():
        ids.append(query.query_id)
        texts.append(getattr(query, "text", None) or getattr(query, "title", None) or "")
    qids, docids, grades = [], [], []
    for qrel in dataset.qrels_iter():
        qids.append(qrel.query_id)
        docids.append(qrel.doc_id)
        grades.append(int(qrel.relevance))
    return Dataset(name, corpus, Queries(tuple(ids), tuple(texts), name),
                   Qrels.from_arrays(qids, docids, grades, name))


def _document(doc: Any) -> Document:
    text = getattr(doc, "text", None)
    if text is None:
        text = getattr(doc, "body", "") or ""
    return Document(doc.doc_id, text, getattr(doc, "title", "") or "")
