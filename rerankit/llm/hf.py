"""Hugging Face transformers backend: any causal LM name or folder, or a GGUF file
(dequantised by transformers; needs the ``gguf`` and ``accelerate`` packages)."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import numpy as np

from rerankit.batching import length_batches
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import model_identity
from rerankit.llm.base import LLMBackend, Messages
from rerankit.registry import register


@register("llm", "transformers")
class TransformersLLM(LLMBackend):
    """Batched greedy generation and next-token log-probabilities with transformers."""

    def __init__(self, model: str | Path, gguf_file: str | None = None, batch_size: int = 8,
                 device: str = "cpu") -> None:
        super().__init__()
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MissingDependencyError("transformers", "llm", "The transformers LLM backend"
                                         ) from None
        model = Path(model) if Path(model).exists() else model
        if isinstance(model, Path) and model.is_file():
            model, gguf_file = model.parent, model.name
        if isinstance(model, Path) and not model.is_dir():
            raise InputFormatError(str(model), "model folder does not exist")
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        self.name = f"{Path(str(model)).name}{'/' + gguf_file if gguf_file else ''}"
        self.tokenizer = AutoTokenizer.from_pretrained(str(model), **extra)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(str(model), **extra).to(device).eval()
        self.batch_size, self.device = batch_size, device
        # only the last position's logits are read: models that can skip the vocabulary
        # projection of every other position (most, in transformers 5) are asked to
        self._last_logits = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(
            self.model.forward).parameters else {}
        self._identity = model_identity(Path(str(model)) / gguf_file if gguf_file else model)

    def identity(self) -> str:
        """The backend and the model's content hash (local) or hub name."""
        return f"transformers:{self._identity}"

    def _texts(self, prompts: list[Messages]) -> list[str]:
        return [self.tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                for p in prompts]

    def _encode(self, prompts: list[Messages]):
        batch = self.tokenizer(self._texts(prompts), return_tensors="pt", padding=True,
                               add_special_tokens=False).to(self.device)
        return batch

    def generate(self, prompts: list[Messages], max_new_tokens: int) -> list[str]:
        import torch

        outputs: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            began = time.perf_counter()
            batch = self._encode(prompts[start:start + self.batch_size])
            with torch.no_grad():
                generated = self.model.generate(**batch, max_new_tokens=max_new_tokens,
                                                do_sample=False,
                                                pad_token_id=self.tokenizer.pad_token_id)
            new = generated[:, batch["input_ids"].shape[1]:]
            written = 0
            for row in new:
                tokens = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
                written += len(tokens)
                outputs.append(self.tokenizer.decode(tokens, skip_special_tokens=True))
            self.calls.add(int(batch["attention_mask"].sum()), written,
                           time.perf_counter() - began)
        return outputs

    def first_token_logprobs(self, prompts: list[Messages], options: list[str]) -> np.ndarray:
        import torch

        option_ids = [self.tokenizer.encode(o, add_special_tokens=False)[0] for o in options]
        out = np.zeros((len(prompts), len(options)))
        ids = self.tokenizer(self._texts(prompts), add_special_tokens=False)["input_ids"]
        for rows in length_batches([len(x) for x in ids], self.batch_size):  # by length
            began = time.perf_counter()
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]},
                                       return_tensors="pt").to(self.device)
            # left padding: positions must count real tokens only, as generate() does
            positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                logits = self.model(**batch, position_ids=positions, **self._last_logits
                                    ).logits[:, -1, :].float()
            out[rows] = torch.log_softmax(logits, dim=-1)[:, option_ids].cpu().numpy()
            self.calls.add(int(batch["attention_mask"].sum()), 0, time.perf_counter() - began)
        return out
