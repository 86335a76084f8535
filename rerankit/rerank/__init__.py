"""Rerankers: re-score a retriever's candidates. Every family implements
:class:`rerankit.rerank.base.Reranker`."""
