"""Data model (queries, corpus, qrels, runs) and readers/writers for common formats.

The names are loaded on first use, so that reading a run (``rerankit eval``) does not
import the corpus and dataset loaders.
"""

from __future__ import annotations

from rerankit.lazy import lazy_exports

_MODULES = {
    "Corpus": "corpus", "Document": "corpus", "InMemoryCorpus": "corpus",
    "open_corpus": "corpus",
    "Dataset": "loaders", "load_beir": "loaders", "load_trec": "loaders",
    "read_queries": "loaders",
    "Qrels": "qrels", "Queries": "queries", "Run": "run",
    "read_qrels": "qrels", "read_run": "run", "write_qrels": "qrels", "write_run": "run",
}

__all__ = sorted(_MODULES)
__getattr__, __dir__ = lazy_exports(__name__, {name: f"rerankit.data.{module}"
                                               for name, module in _MODULES.items()})
