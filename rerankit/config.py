"""Benchmark-run configuration files (YAML), validated with clear errors.

A config names a dataset and a retriever (a single model or a fusion of several)::

    name: scifact-bm25
    dataset: {name: scifact, split: test}        # embedded, or {path: FOLDER}
    retriever: {type: bm25, params: {k1: 1.5, b: 0.75}}
    depth: 1000
    measures: [ndcg_cut_10, recall_100, map, recip_rank_cut_10]
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rerankit.errors import InputFormatError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(_Strict):
    name: str | None = None
    path: Path | None = None
    split: str = "test"
    on_empty: Literal["error", "skip"] = "error"

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' (embedded dataset) or 'path'")
        return self


class FusionConfig(_Strict):
    method: Literal["rrf", "combsum", "combmnz", "weighted"] = "rrf"
    k: int = 60
    normalisation: Literal["none", "minmax", "zscore", "rank"] = "minmax"
    weights: list[float] | None = None


class RetrieverConfig(_Strict):
    type: Literal["bm25", "dense", "fusion"]
    params: dict[str, Any] = Field(default_factory=dict)
    retrievers: list[RetrieverConfig] = Field(default_factory=list)
    fusion: FusionConfig | None = None

    @model_validator(mode="after")
    def _fusion_needs_parts(self) -> RetrieverConfig:
        if self.type == "fusion" and len(self.retrievers) < 2:
            raise ValueError("type 'fusion' needs a list 'retrievers' of at least two")
        if self.type != "fusion" and (self.retrievers or self.fusion):
            raise ValueError("'retrievers' and 'fusion' belong to type 'fusion' only")
        return self


class RunConfig(_Strict):
    name: str
    dataset: DatasetConfig
    retriever: RetrieverConfig
    depth: int = Field(1000, ge=1)
    measures: list[str] = Field(default_factory=lambda: ["ndcg_cut_10", "recall_100", "map",
                                                         "recip_rank_cut_10"])

    def digest(self) -> str:
        """A hash of the validated config (what the manifest records)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config; errors name the key and the allowed values."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InputFormatError(path, f"not valid YAML: {err}") from None
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            problems.append(f"'{where}': {e['msg']}")
        raise InputFormatError(path, "; ".join(problems)) from None
