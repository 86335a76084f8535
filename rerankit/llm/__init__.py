"""LLM backends behind one small protocol (:class:`rerankit.llm.base.LLM`), registered by
their config names. Names load on first use."""

from rerankit.lazy import lazy_exports

_EXPORTS = {"LLM": "rerankit.llm.base", "LlamaCppLLM": "rerankit.llm.llamacpp",
            "TransformersLLM": "rerankit.llm.hf",
            "OpenAICompatibleLLM": "rerankit.llm.openai_http"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
