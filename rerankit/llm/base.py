"""The protocol every LLM backend implements, and token accounting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

Messages = list[dict[str, str]]   # chat messages: [{"role": "user", "content": ...}]


@dataclass
class Usage:
    """Calls and tokens spent so far."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


class LLM(Protocol):
    """What rerankers need from a model: text generation and first-token log-probabilities."""

    name: str
    usage: Usage

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        """Greedy completions, one per prompt."""

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        """log P(first generated token = first token of each option), shape
        (len(prompts), len(options))."""
