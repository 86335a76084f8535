"""Reduced precision on CUDA: bf16 where the GPU supports it, else fp16, as weights cast
once (:func:`model_dtype`: encoders, cross-encoders) or ``torch.autocast`` (T5, LLMs); on a
CPU (or with ``precision="fp32"``) inference runs in float32.

Scores come back as float32/float64 either way; on a GPU they differ from fp32 in the
third or fourth digit, the price of the speed (see eval/gpu_check.sh)."""

from __future__ import annotations

import contextlib
from typing import Literal

Precision = Literal["auto", "fp32", "fp16", "bf16"]


def effective_precision(device: str | None, precision: Precision = "auto") -> str:
    """The precision inference really runs in on ``device``: ``"fp32"`` on a CPU or when
    asked, else ``"bf16"``/``"fp16"`` (``"auto"``: bf16 if the GPU supports it). Part of
    cache keys, so embeddings computed in reduced precision never pass for fp32 ones."""
    if precision not in ("auto", "fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    on_cuda = str(device or "cpu").startswith("cuda")
    if precision in ("fp16", "bf16") and not on_cuda:
        raise ValueError(f"precision={precision!r} needs a CUDA device, got {device or 'cpu'!r}")
    if precision == "fp32" or not on_cuda:
        return "fp32"
    if precision == "auto":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return precision


def model_dtype(device: str | None, precision: Precision = "auto"):
    """The torch dtype to cast a model's weights to for inference on ``device`` (None: keep
    float32). Cast weights are what the encoders and cross-encoders use on a GPU: unlike
    autocast they cost no per-call weight casts, which dominate small batches."""
    resolved = effective_precision(device, precision)
    if resolved == "fp32":
        return None
    import torch

    return torch.bfloat16 if resolved == "bf16" else torch.float16


def autocast(device: str | None, precision: Precision = "auto"):
    """A context manager for inference on ``device``: autocast to fp16/bf16 on CUDA
    (``"auto"``: bf16 if supported, else fp16), nothing on a CPU or with ``"fp32"``."""
    dtype = model_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type="cuda", dtype=dtype)
