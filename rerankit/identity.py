"""What identifies a model or a data file: content hashes for local files and folders, the
name for a hub model. Score-cache keys and run manifests are built from these, so a changed
weight file or dataset can never reuse a stale score or pass for the same run.

Hashes are memoised per process by (path, size, modification time): hashing a 1 GB GGUF
file takes seconds and a run asks many times.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rerankit.errors import InputFormatError


@runtime_checkable
class Identified(Protocol):
    """An object that says what determines its outputs (LLM backends, components)."""

    def identity(self) -> Any: ...

_memo: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _memo:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        _memo[key] = "sha256:" + digest.hexdigest()
    return _memo[key]


def dataset_checksums(folder: str | Path) -> dict[str, str]:
    """``sha256:<hex>`` of every file of a dataset folder, by relative path: what a result
    folder's manifest stores (``dataset_files``) and ``rerankit report`` checks."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): file_digest(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_digest(folder: str | Path) -> str:
    """``sha256:<hex>`` over every file's relative path and content hash, in sorted order."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(file_digest(path).encode())
    return "sha256:" + digest.hexdigest()


def model_identity(model: str | Path) -> str:
    """A local model file or folder's content hash; otherwise the hub name as given."""
    path = Path(model)
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        return folder_digest(path)
    return str(model)


def local_model_folder(model: str | Path) -> str:
    """A model argument as given, refusing a path-like name (absolute or ``./``) that is
    not an existing folder: hub names pass through to the library that downloads them."""
    path = Path(model)
    if (path.is_absolute() or str(model).startswith(".")) and not path.is_dir():
        raise InputFormatError(str(model), "model folder does not exist")
    return str(model)
