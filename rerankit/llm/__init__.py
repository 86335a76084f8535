"""LLM backends behind one small protocol (:class:`rerankit.llm.base.LLM`)."""
