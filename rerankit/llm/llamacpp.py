"""llama.cpp backend (llama-cpp-python) for GGUF files, in process.

Log-probabilities come from ``create_chat_completion(..., logprobs=True)``, which needs
``logits_all=True`` in llama-cpp-python 0.3 (otherwise the scores are never filled and a
yes/no scorer would silently return 0.5); responses are parsed like the HTTP backend's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.llm.base import Messages, Usage
from rerankit.llm.openai_http import _choice, option_logprobs


class LlamaCppLLM:
    """A GGUF model through llama-cpp-python."""

    def __init__(self, gguf: str | Path, n_ctx: int = 4096, n_threads: int | None = None,
                 top_logprobs: int = 20, seed: int = 0) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise MissingDependencyError("llama-cpp-python", "llamacpp",
                                         "The llama.cpp LLM backend") from None
        path = Path(gguf)
        if not path.is_file():
            raise InputFormatError(str(path), "GGUF file does not exist")
        self.model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                           logits_all=True, seed=seed, verbose=False)
        self.top_logprobs = top_logprobs
        self.name = path.name
        self.usage = Usage()

    def _complete(self, messages: Messages, **kwargs) -> dict:
        body = self.model.create_chat_completion(messages=messages, temperature=0, **kwargs)
        self.usage.calls += 1
        self.usage.tokens_in += int(body["usage"]["prompt_tokens"])
        self.usage.tokens_out += int(body["usage"]["completion_tokens"])
        return body

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        return [_choice(self._complete(m, max_tokens=max_new_tokens), self.name)["message"]
                .get("content") or "" for m in prompts]

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        rows = [option_logprobs(_choice(self._complete(m, max_tokens=1, logprobs=True,
                                                       top_logprobs=self.top_logprobs),
                                        self.name), options, self.name) for m in prompts]
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(options))
