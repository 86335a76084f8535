"""llama.cpp backend (llama-cpp-python) for GGUF files, in process.

Generation goes through ``create_chat_completion``. First-token log-probabilities are read
straight from the last position's logits after evaluating the chat-formatted prompt (the
model's own GGUF chat template), over the full vocabulary. That needs no ``logits_all``
(which makes llama.cpp copy a vocabulary-sized row for every prompt token, several times
slower on CPU), and prompts that share a prefix with the previous one (the instructions,
the query) reuse its KV cache instead of evaluating it again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import file_digest
from rerankit.llm.base import LLMBackend, Messages
from rerankit.llm.responses import message_text
from rerankit.registry import register


@register("llm", "llamacpp")
class LlamaCppLLM(LLMBackend):
    """A GGUF model through llama-cpp-python."""

    def __init__(self, gguf: str | Path, n_ctx: int = 4096, n_threads: int | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise MissingDependencyError("llama-cpp-python", "llamacpp",
                                         "The llama.cpp LLM backend") from None
        path = Path(gguf)
        if not path.is_file():
            raise InputFormatError(str(path), "GGUF file does not exist")
        self.model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=seed,
                           verbose=False)
        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise InputFormatError(str(path), "GGUF file has no chat template "
                                   "(tokenizer.chat_template)")
        def special(token_id: int) -> str:
            if token_id == -1:
                return ""
            return self.model.detokenize([token_id], special=True).decode("utf-8", "replace")

        self.formatter = Jinja2ChatFormatter(template=template,
                                             eos_token=special(self.model.token_eos()),
                                             bos_token=special(self.model.token_bos()))
        self.name, self.path = path.name, path

    def identity(self) -> str:
        """The backend and the GGUF file's content hash (what the score cache keys on)."""
        return f"llamacpp:{file_digest(self.path)}"

    def _complete(self, messages: Messages, **kwargs) -> dict:
        began = time.perf_counter()
        body = self.model.create_chat_completion(messages=messages, temperature=0, **kwargs)
        self.calls.add(int(body["usage"]["prompt_tokens"]),
                       int(body["usage"]["completion_tokens"]), time.perf_counter() - began)
        return body

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        return [message_text(self._complete(m, max_tokens=max_new_tokens), self.name)
                for m in prompts]

    def prompt_tokens(self, messages: Messages) -> list[int]:
        """The chat-formatted prompt as token ids, as ``create_chat_completion`` builds it."""
        formatted = self.formatter(messages=messages)
        return self.model.tokenize(formatted.prompt.encode("utf-8"),
                                   add_bos=not formatted.added_special, special=True)

    def next_token_logprobs(self, tokens: list[int]) -> np.ndarray:
        """log-softmax of the logits after ``tokens`` (full vocabulary), reusing the KV cache
        for the prefix this prompt shares with the previous one."""
        model = self.model
        if len(tokens) >= model.n_ctx():
            raise InputFormatError(self.name, f"prompt of {len(tokens)} tokens does not fit "
                                   f"the context of {model.n_ctx()}; raise n_ctx")
        cached = model.input_ids[:model.n_tokens]
        limit = min(len(cached), len(tokens) - 1)
        same = np.flatnonzero(cached[:limit] != np.asarray(tokens[:limit]))
        model.n_tokens = int(same[0]) if same.size else limit
        import llama_cpp

        model.eval(tokens[model.n_tokens:])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(model.ctx, -1),
                                       shape=(model.n_vocab(),))
        logits = logits.astype(np.float64)
        top = logits.max()
        return logits - (top + np.log(np.exp(logits - top).sum()))

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        option_ids = [self.model.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0]
                      for o in options]
        rows = np.empty((len(prompts), len(options)))
        for row, messages in enumerate(prompts):
            began = time.perf_counter()
            tokens = self.prompt_tokens(messages)
            rows[row] = self.next_token_logprobs(tokens)[option_ids]
            self.calls.add(len(tokens), 0, time.perf_counter() - began)
        return rows
