"""The protocol every LLM backend implements.

Backends register by config name (``@register("llm", "llamacpp")``) and record every model
call in their :class:`~rerankit.costs.CallLog` (tokens in and out, seconds), which the
reranker using them hands to the scoring path."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rerankit.costs import CallLog, CallRecord

Messages = list[dict[str, str]]   # chat messages: [{"role": "user", "content": ...}]


class LLM(Protocol):
    """What rerankers need from a model: text generation and first-token log-probabilities."""

    name: str
    calls: CallLog
    #: ``model`` in configs is a URL-served model name (True) or a local file / hub name
    takes_url: bool

    @property
    def usage(self) -> CallRecord:
        """Calls and tokens so far."""

    def identity(self) -> str:
        """The backend and its model's content hash or name (cache keys and manifests)."""

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        """Greedy completions, one per prompt."""

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        """log P(first generated token = first token of each option), shape
        (len(prompts), len(options))."""


class LLMBackend:
    """What the built-in backends share: the call log and the usage it adds up."""

    takes_url = False

    def __init__(self) -> None:
        self.calls = CallLog()

    @property
    def usage(self) -> CallRecord:
        """Calls and tokens so far."""
        return self.calls.total
