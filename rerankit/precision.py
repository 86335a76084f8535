"""Reduced precision on CUDA; on a CPU (or with ``precision="fp32"``) inference runs in
float32.

Two ways, each with its own meaning of ``precision="auto"``:

* :func:`model_dtype`: the weights of encoders and cross-encoders cast once, to fp16 by
  default (as text-embeddings-inference does). On an H200 fp16 kept SciFact nDCG@10 of the
  MiniLM encoder unchanged to four digits and the same top-10 order for 86% of queries where
  bf16 gave 34% (eval/gpu_check.sh); autocast, which casts the weights on every call, was
  slower than fp32 at small batches.
* :func:`autocast`: ``torch.autocast`` for T5 (monoT5, duoT5), bf16 by default (T5 overflows fp16),
  fp16 where the GPU has no bf16.

Scores come back as float32/float64 either way; they differ from fp32 in the fourth or
fifth digit, the price of the speed."""

from __future__ import annotations

import contextlib
from typing import Literal

Precision = Literal["auto", "fp32", "fp16", "bf16"]


def effective_precision(device: str | None, precision: Precision = "auto",
                        auto: Literal["fp16", "bf16"] = "fp16") -> str:
    """The precision inference really runs in on ``device``: ``"fp32"`` on a CPU or when
    asked, else ``"fp16"``/``"bf16"`` (``"auto"``: ``auto``, and fp16 where the GPU has no
    bf16). Part of cache keys, so embeddings computed in reduced precision never pass for
    fp32 ones."""
    if precision not in ("auto", "fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    on_cuda = str(device or "cpu").startswith("cuda")
    if precision in ("fp16", "bf16") and not on_cuda:
        raise ValueError(f"precision={precision!r} needs a CUDA device, got {device or 'cpu'!r}")
    if precision == "fp32" or not on_cuda:
        return "fp32"
    if precision == "auto":
        precision = auto
    if precision == "bf16":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return precision


def _torch_dtype(resolved: str):
    import torch

    return torch.bfloat16 if resolved == "bf16" else torch.float16


def model_dtype(device: str | None, precision: Precision = "auto"):
    """The torch dtype to cast an encoder's or cross-encoder's weights to on ``device``
    (None: keep float32; ``"auto"``: fp16)."""
    resolved = effective_precision(device, precision, auto="fp16")
    return None if resolved == "fp32" else _torch_dtype(resolved)


def autocast(device: str | None, precision: Precision = "auto"):
    """A context manager for T5 inference on ``device``: autocast to bf16/fp16 on
    CUDA (``"auto"``: bf16 if supported, else fp16), nothing on a CPU or with ``"fp32"``."""
    resolved = effective_precision(device, precision, auto="bf16")
    if resolved == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type="cuda", dtype=_torch_dtype(resolved))
