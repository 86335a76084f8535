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

Unknown keys, stage types, constructor parameters and measures are errors that list what is
allowed; numbers and switches must have their type (``depth: true`` is an error, not depth
1); the run name must be usable as a folder name and a TREC run tag. All of it is checked
when the file is read, before any data or model is loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.errors import PydanticSchemaGenerationError

from rerankit.data.source import read_input
from rerankit.errors import InputFormatError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: a run name: a folder name (``runs/<name>``) and a TREC run tag (no spaces, no slashes)
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


class DatasetConfig(_Strict):
    name: str | None = None
    path: Path | None = None
    split: str = Field("test", min_length=1)
    on_empty: Literal["error", "skip"] = "error"

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' (embedded dataset) or 'path'")
        if self.name is not None:
            from rerankit.datasets import EMBEDDED

            if self.name not in EMBEDDED:
                raise ValueError(f"unknown embedded dataset '{self.name}'; available: "
                                 f"{', '.join(EMBEDDED)} (or give 'path: FOLDER')")
        return self


class FusionConfig(_Strict):
    method: Literal["rrf", "combsum", "combmnz", "weighted"] = "rrf"
    k: StrictInt = Field(60, ge=1)
    normalisation: Literal["none", "minmax", "zscore", "rank"] = "minmax"
    weights: list[StrictInt | StrictFloat] | None = None


class RetrieverConfig(_Strict):
    type: Literal["bm25", "dense", "splade", "fusion"]
    params: dict[str, Any] = Field(default_factory=dict)
    retrievers: list[RetrieverConfig] = Field(default_factory=list)
    fusion: FusionConfig | None = None

    @model_validator(mode="after")
    def _fusion_needs_parts(self) -> RetrieverConfig:
        if self.type == "fusion" and len(self.retrievers) < 2:
            raise ValueError("type 'fusion' needs a list 'retrievers' of at least two")
        weights = self.fusion.weights if self.fusion else None
        if weights is not None and len(weights) != len(self.retrievers):
            raise ValueError(f"'fusion.weights' has {len(weights)} values for "
                             f"{len(self.retrievers)} retrievers")
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
    "ltr": ("rerankit.rerank.ltr", "LTRReranker"),
}
LLM_RERANKERS = ("yes-no", "listwise", "first-token", "pairwise")
RETRIEVERS = {"bm25": ("rerankit.retrieve.bm25", "BM25"),
              "dense": ("rerankit.retrieve.dense", "Dense"),
              "splade": ("rerankit.retrieve.splade", "Splade")}
LLM_BACKENDS = {"llamacpp": ("rerankit.llm.llamacpp", "LlamaCppLLM"),
                "transformers": ("rerankit.llm.hf", "TransformersLLM"),
                "openai": ("rerankit.llm.openai_http", "OpenAICompatibleLLM")}


def component_class(table: dict[str, tuple[str, str]], kind: str):
    """The class registered for ``kind`` (imports its module; no heavy dependencies)."""
    module, name = table[kind]
    return getattr(importlib.import_module(module), name)


def check_params(cls, params: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Every key of ``params`` must be a constructor parameter of ``cls``, with a value of
    the parameter's annotated type (checked strictly: ``true`` is not a number)."""
    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", *skip)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for "
                         f"{cls.__name__}; allowed: {', '.join(allowed)}")
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:                     # an annotation that cannot be resolved: skip types
        hints = {}
    for name, value in params.items():
        if name not in hints:
            continue
        try:
            checker = TypeAdapter(hints[name])
        except PydanticSchemaGenerationError:
            continue
        try:                              # strict: true is not 1, 1.5 is not an int
            checker.validate_python(value, strict=True)
        except ValidationError as err:
            raise ValueError(f"parameter '{name}' of {cls.__name__}: "
                             f"{err.errors()[0]['msg']} (got {json.dumps(value, default=str)})"
                             ) from None


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
        if self.url is not None and not re.match(r"https?://[^/\s]+", self.url):
            raise ValueError(f"'url' must start with http:// or https://, got '{self.url}'")
        if self.model.startswith("offline:"):
            from rerankit.llm.offline import NAMES

            if self.backend == "openai" or self.model.removeprefix("offline:") not in NAMES:
                raise ValueError(f"unknown offline model '{self.model}' for backend "
                                 f"'{self.backend}'; known: " +
                                 ", ".join(f"offline:{n}" for n in NAMES) +
                                 " (backends llamacpp and transformers)")
        skip = ("base_url", "model") if self.backend == "openai" else ("gguf", "model")
        check_params(component_class(LLM_BACKENDS, self.backend), self.params, skip)
        return self


class TrainConfig(_Strict):
    """Which split of the dataset trains a learned stage (never the evaluated one)."""

    split: str = Field(min_length=1)


class RerankerConfig(_Strict):
    """One reranking stage: ``depth`` candidates in (default: all the previous stage passes
    on), ``cutoff`` passed on to the next stage, optional fusion with the incoming run."""

    type: Literal["cross-encoder", "bi-encoder", "monot5", "duot5", "yes-no", "listwise",
                  "first-token", "pairwise", "ltr"]
    depth: StrictInt | None = Field(None, ge=1)
    cutoff: StrictInt | None = Field(None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    llm: LLMConfig | None = None
    fuse: FusionConfig | None = None
    features: list[str] | None = None
    train: TrainConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> RerankerConfig:
        if (self.type in LLM_RERANKERS) != (self.llm is not None):
            raise ValueError(f"type '{self.type}' " + ("needs an 'llm' section" if self.llm
                             is None else "takes no 'llm' section"))
        if self.type != "ltr" and (self.features is not None or self.train is not None):
            raise ValueError("'features' and 'train' belong to type 'ltr' only")
        if self.type == "ltr":
            from rerankit.rerank.features import check_features

            if self.features is not None:
                check_features(self.features)
            if (self.train is None) == ("model" not in self.params):
                raise ValueError("type 'ltr' needs either 'train: {split: ...}' or a "
                                 "trained model folder in 'params: {model: ...}'")
        check_params(component_class(RERANKERS, self.type), self.params,
                     ("llm", "features"))
        return self


class QueriesConfig(_Strict):
    """A seeded random subset of the judged queries (for expensive rerankers)."""

    limit: StrictInt | None = Field(None, ge=1)
    seed: StrictInt = Field(0, ge=0)


class RunConfig(_Strict):
    name: str
    dataset: DatasetConfig
    retriever: RetrieverConfig
    depth: StrictInt = Field(1000, ge=1)
    rerankers: list[RerankerConfig] = Field(default_factory=list)
    queries: QueriesConfig = Field(default_factory=QueriesConfig)
    batch_size: StrictInt = Field(16, ge=1)
    cache: StrictBool = True
    measures: list[str] = Field(default_factory=lambda: ["ndcg_cut_10", "recall_100", "map",
                                                         "recip_rank_cut_10"], min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not RUN_NAME.fullmatch(name):
            raise ValueError(f"a run name is used as a folder name and a TREC run tag: "
                             f"letters, digits, '.', '_', '+', '-' (not first), at most 128; "
                             f"got {name!r}")
        return name

    @field_validator("measures")
    @classmethod
    def _measures(cls, measures: list[str]) -> list[str]:
        from rerankit.errors import UnknownMeasureError
        from rerankit.evaluation.measures import parse_measures

        try:
            parse_measures(measures)
        except UnknownMeasureError as err:
            raise ValueError(str(err)) from None
        return measures

    @model_validator(mode="after")
    def _train_split(self) -> RunConfig:
        for position, stage in enumerate(self.rerankers):
            if stage.train is not None and stage.train.split == self.dataset.split:
                raise ValueError(f"rerankers[{position}].train.split '{stage.train.split}' is "
                                 "the split being evaluated: train on another split")
        return self

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
    source = read_input(path, "config file")   # missing, folder, unreadable: named errors
    try:
        raw = yaml.safe_load(bytes(source.data[source.start:]).decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputFormatError(path, f"not UTF-8 text ({err.reason} at byte {err.start})"
                               ) from None
    except yaml.YAMLError as err:
        raise InputFormatError(path, "not valid YAML: " + " ".join(str(err).split())
                               ) from None
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"'{where}': {message}{_shown(e)}")
        raise InputFormatError(path, "; ".join(problems)) from None


def _shown(error: dict) -> str:
    """`` (got true)`` for a wrong scalar value; the message alone otherwise."""
    value = error.get("input")
    if error["type"] in ("missing", "extra_forbidden", "value_error") or \
            isinstance(value, (dict, list)):
        return ""
    return f" (got {json.dumps(value, default=str)})"
