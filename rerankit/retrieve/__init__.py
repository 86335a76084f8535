"""Retrievers: every one implements :class:`rerankit.retrieve.base.Retriever` and registers
by its config name. Names load on first use."""

from rerankit.lazy import lazy_exports

_EXPORTS = {"Retriever": "rerankit.retrieve.base", "BM25": "rerankit.retrieve.bm25",
            "Dense": "rerankit.retrieve.dense", "Fusion": "rerankit.retrieve.fusion",
            "fuse": "rerankit.retrieve.fusion"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
