"""Rerankers: re-score a retriever's candidates. Every family implements
:class:`rerankit.rerank.base.Reranker` and registers by its config name. Names load on
first use."""

from rerankit.lazy import lazy_exports

_EXPORTS = {"Reranker": "rerankit.rerank.base", "CandidateList": "rerankit.rerank.candidates",
            "ScoreCache": "rerankit.rerank.cache",
            "CrossEncoderReranker": "rerankit.rerank.pointwise",
            "BiEncoderReranker": "rerankit.rerank.pointwise",
            "MonoT5Reranker": "rerankit.rerank.seq2seq",
            "DuoT5Reranker": "rerankit.rerank.seq2seq",
            "YesNoReranker": "rerankit.rerank.llm", "ListwiseReranker": "rerankit.rerank.llm",
            "FirstTokenListwiseReranker": "rerankit.rerank.llm",
            "PairwiseReranker": "rerankit.rerank.llm"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
