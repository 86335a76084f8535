"""Data model (queries, corpus, qrels, runs) and readers/writers for common formats.

The names are loaded on first use, so that reading a run (``rerankit eval``) does not
import the corpus and dataset loaders.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Corpus": "corpus", "Document": "corpus", "InMemoryCorpus": "corpus",
    "open_corpus": "corpus",
    "Dataset": "loaders", "load_beir": "loaders", "load_trec": "loaders",
    "read_queries": "loaders",
    "Qrels": "qrels", "Queries": "queries", "Run": "run",
    "read_qrels": "qrels", "read_run": "run", "write_qrels": "qrels", "write_run": "run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"rerankit.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rerankit.data' has no attribute '{name}'")
