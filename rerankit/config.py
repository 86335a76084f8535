"""Benchmark-run configuration files (YAML), validated with clear errors.

A config names a dataset, a retriever (a single model or a fusion of several) and any
number of rerankers::

    name: scifact-bm25-minilm
    dataset: {name: scifact, split: test}        # embedded, or {path: FOLDER}
    retriever: {type: bm25, params: {k1: 1.5, b: 0.75}}
    depth: 100                                   # documents retrieved per query
    rerankers:
      - type: bi-encoder                         # rerank all 100, fused with BM25 by RRF
        fuse: {method: rrf}
      - type: yes-no                             # an LLM reranker on the top 10
        depth: 10
        llm: {backend: llamacpp, model: offline:qwen2.5-coder-1.5b}
    queries: {limit: 25, seed: 42}               # optional seeded subset
    measures: [ndcg_cut_10, recall_100, map, recip_rank_cut_10]

Unknown keys, stage types and constructor parameters are errors that list what is allowed.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
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
        if self.type != "fusion":
            check_params(component_class(RETRIEVERS, self.type), self.params)
        elif self.params:
            raise ValueError("type 'fusion' takes no 'params'; set them on its retrievers")
        return self


#: Reranker types and their classes (module, class); LLM ones need an ``llm`` section.
RERANKERS = {
    "cross-encoder": ("rerankit.rerank.pointwise", "CrossEncoderReranker"),
    "bi-encoder": ("rerankit.rerank.pointwise", "BiEncoderReranker"),
    "monot5": ("rerankit.rerank.seq2seq", "MonoT5Reranker"),
    "duot5": ("rerankit.rerank.seq2seq", "DuoT5Reranker"),
    "yes-no": ("rerankit.rerank.llm", "YesNoReranker"),
    "listwise": ("rerankit.rerank.llm", "ListwiseReranker"),
    "first-token": ("rerankit.rerank.llm", "FirstTokenListwiseReranker"),
    "pairwise": ("rerankit.rerank.llm", "PairwiseReranker"),
}
LLM_RERANKERS = ("yes-no", "listwise", "first-token", "pairwise")
RETRIEVERS = {"bm25": ("rerankit.retrieve.bm25", "BM25"),
              "dense": ("rerankit.retrieve.dense", "Dense")}
LLM_BACKENDS = {"llamacpp": ("rerankit.llm.llamacpp", "LlamaCppLLM"),
                "transformers": ("rerankit.llm.hf", "TransformersLLM"),
                "openai": ("rerankit.llm.openai_http", "OpenAICompatibleLLM")}


def component_class(table: dict[str, tuple[str, str]], kind: str):
    """The class registered for ``kind`` (imports its module; no heavy dependencies)."""
    module, name = table[kind]
    return getattr(importlib.import_module(module), name)


def check_params(cls, params: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Every key of ``params`` must be a constructor parameter of ``cls``."""
    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", *skip)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for "
                         f"{cls.__name__}; allowed: {', '.join(allowed)}")


class LLMConfig(_Strict):
    """An LLM backend: ``model`` is a GGUF path (llamacpp), a hub name or folder
    (transformers), the served model name (openai, with ``url``), or ``offline:<name>``."""

    backend: Literal["llamacpp", "transformers", "openai"]
    model: str
    url: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LLMConfig:
        if (self.backend == "openai") != (self.url is not None):
            raise ValueError("'url' is required for backend 'openai' and only for it")
        skip = ("base_url", "model") if self.backend == "openai" else ("gguf", "model")
        check_params(component_class(LLM_BACKENDS, self.backend), self.params, skip)
        return self


class RerankerConfig(_Strict):
    """One reranking stage: ``depth`` candidates in (default: all the previous stage passes
    on), ``cutoff`` passed on to the next stage, optional fusion with the incoming run."""

    type: Literal["cross-encoder", "bi-encoder", "monot5", "duot5", "yes-no", "listwise",
                  "first-token", "pairwise"]
    depth: int | None = Field(None, ge=1)
    cutoff: int | None = Field(None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    llm: LLMConfig | None = None
    fuse: FusionConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> RerankerConfig:
        if (self.type in LLM_RERANKERS) != (self.llm is not None):
            raise ValueError(f"type '{self.type}' " + ("needs an 'llm' section" if self.llm
                             is None else "takes no 'llm' section"))
        check_params(component_class(RERANKERS, self.type), self.params, ("llm",))
        return self


class QueriesConfig(_Strict):
    """A seeded random subset of the judged queries (for expensive rerankers)."""

    limit: int | None = Field(None, ge=1)
    seed: int = 0


class RunConfig(_Strict):
    name: str
    dataset: DatasetConfig
    retriever: RetrieverConfig
    depth: int = Field(1000, ge=1)
    rerankers: list[RerankerConfig] = Field(default_factory=list)
    queries: QueriesConfig = Field(default_factory=QueriesConfig)
    batch_size: int = Field(16, ge=1)
    cache: bool = True
    measures: list[str] = Field(default_factory=lambda: ["ndcg_cut_10", "recall_100", "map",
                                                         "recip_rank_cut_10"])

    @model_validator(mode="after")
    def _cutoffs(self) -> RunConfig:
        available = self.depth
        for position, stage in enumerate(self.rerankers):
            if stage.depth and stage.depth > available:
                raise ValueError(f"rerankers[{position}].depth {stage.depth} is larger than "
                                 f"the {available} candidates the stage before passes on")
            available = min(available, stage.depth or available)
            if stage.cutoff and stage.cutoff > available:
                raise ValueError(f"rerankers[{position}].cutoff {stage.cutoff} is larger "
                                 f"than the {available} candidates it reranks")
            available = stage.cutoff or available
        return self

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
