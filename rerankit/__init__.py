"""rerankit: retrieval, reranking and trec_eval-exact evaluation.

The main names are importable from the top level; they are loaded on first use so that
``import rerankit`` (and the command line) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "evaluate": "rerankit.evaluation.evaluator",
    "EvaluationResult": "rerankit.evaluation.evaluator",
    "compare": "rerankit.evaluation.stats",
    "parse_measures": "rerankit.evaluation.measures",
    "Run": "rerankit.data.run",
    "Qrels": "rerankit.data.qrels",
    "Queries": "rerankit.data.queries",
    "Document": "rerankit.data.corpus",
    "Dataset": "rerankit.data.loaders",
    "RerankitError": "rerankit.errors",
    "InputFormatError": "rerankit.errors",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rerankit' has no attribute '{name}'")
