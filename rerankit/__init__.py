"""rerankit: retrieval, reranking and trec_eval-exact evaluation.

The main names are importable from the top level (``from rerankit import BM25, Pipeline,
CrossEncoderReranker, evaluate``); they are loaded on first use so that ``import rerankit``
(and the command line) stays fast and ``rerankit eval`` never imports torch.
"""

from __future__ import annotations

from rerankit.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    # evaluation
    "evaluate": "rerankit.evaluation.evaluator",
    "EvaluationResult": "rerankit.evaluation.evaluator",
    "compare": "rerankit.evaluation.stats",
    "parse_measures": "rerankit.evaluation.measures",
    # data
    "Run": "rerankit.data.run",
    "Qrels": "rerankit.data.qrels",
    "Queries": "rerankit.data.queries",
    "Document": "rerankit.data.corpus",
    "InMemoryCorpus": "rerankit.data.corpus",
    "Dataset": "rerankit.data.loaders",
    # retrieval
    "BM25": "rerankit.retrieve.bm25",
    "Dense": "rerankit.retrieve.dense",
    "Fusion": "rerankit.retrieve.fusion",
    "fuse": "rerankit.retrieve.fusion",
    # reranking
    "CrossEncoderReranker": "rerankit.rerank.pointwise",
    "BiEncoderReranker": "rerankit.rerank.pointwise",
    "MonoT5Reranker": "rerankit.rerank.seq2seq",
    "DuoT5Reranker": "rerankit.rerank.seq2seq",
    "YesNoReranker": "rerankit.rerank.llm",
    "ListwiseReranker": "rerankit.rerank.llm",
    "FirstTokenListwiseReranker": "rerankit.rerank.llm",
    "PairwiseReranker": "rerankit.rerank.llm",
    "rank": "rerankit.quick",
    "RankedDocument": "rerankit.quick",
    # LLM backends
    "LlamaCppLLM": "rerankit.llm.llamacpp",
    "TransformersLLM": "rerankit.llm.hf",
    "OpenAICompatibleLLM": "rerankit.llm.openai_http",
    # pipelines
    "Pipeline": "rerankit.pipeline.core",
    "Stage": "rerankit.compose",
    "ScoreCache": "rerankit.rerank.cache",
    "Ledger": "rerankit.pipeline.ledger",
    # extension and settings
    "register": "rerankit.registry",
    "Settings": "rerankit.settings",
    "RerankitError": "rerankit.errors",
    "InputFormatError": "rerankit.errors",
}

__all__ = [*sorted(_EXPORTS), "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
