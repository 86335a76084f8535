"""The protocol every LLM backend implements, and token accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Messages = list[dict[str, str]]   # chat messages: [{"role": "user", "content": ...}]


@dataclass(frozen=True)
class CallRecord:
    """One model call: prompt tokens, completion tokens, and wall-clock seconds."""

    tokens_in: int
    tokens_out: int
    seconds: float


@dataclass
class Usage:
    """Calls and tokens spent so far; backends that time their calls also keep one
    :class:`CallRecord` per call in ``records`` (in call order)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    records: list[CallRecord] = field(default_factory=list)

    def record(self, tokens_in: int, tokens_out: int, seconds: float) -> None:
        """Count one call and keep its record."""
        self.calls += 1
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        self.records.append(CallRecord(tokens_in, tokens_out, seconds))


class LLM(Protocol):
    """What rerankers need from a model: text generation and first-token log-probabilities."""

    name: str
    usage: Usage

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        """Greedy completions, one per prompt."""

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        """log P(first generated token = first token of each option), shape
        (len(prompts), len(options))."""
