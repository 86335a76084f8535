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
import inspect
import json
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.errors import PydanticSchemaGenerationError

from rerankit import registry
from rerankit.compose import CutoffError, check_cutoffs
from rerankit.data.source import read_input
from rerankit.errors import ConfigFieldError, InputFormatError
from rerankit.evaluation.measures import HEADLINE
from rerankit.llm.base import LLMBackend
from rerankit.retrieve.fusion import METHODS, NORMALISATIONS, check_options, check_weighted


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
    method: Literal[METHODS] = "rrf"
    k: StrictInt = Field(60, ge=1)
    normalisation: Literal[NORMALISATIONS] = "minmax"
    weights: list[StrictInt | StrictFloat] | None = None

    @model_validator(mode="after")
    def _check(self) -> FusionConfig:
        check_weighted(self.method, self.weights)
        return self


def registered(kind: registry.Kind, name: str) -> registry.Entry:
    """The registry's entry for a config ``type``; an unknown name is refused (a
    ``ValueError``, which the config check reports under the field) listing the known ones."""
    return registry.lookup(kind, name)


def component_type(kind: registry.Kind) -> Any:
    """A config field holding a registered name of ``kind`` (checked where it is read)."""
    return Annotated[str, AfterValidator(lambda name: registered(kind, name).name)]


class RetrieverConfig(_Strict):
    """A retriever by registered ``type`` with constructor ``params``, or a composite one
    (``fusion``) over a list of ``retrievers``."""

    type: component_type("retriever")
    params: dict[str, Any] = Field(default_factory=dict)
    retrievers: list[RetrieverConfig] = Field(default_factory=list)
    fusion: FusionConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> RetrieverConfig:
        entry = registered("retriever", self.type)
        if entry.composite:
            if len(self.retrievers) < 2:
                raise ValueError(f"type '{self.type}' needs a list 'retrievers' of at least "
                                 "two")
            if self.params:
                raise ValueError(f"type '{self.type}' takes no 'params'; set them on its "
                                 "retrievers")
            fusion = self.fusion or FusionConfig()
            if fusion.weights is not None or fusion.method == "weighted":
                check_options(fusion.method, fusion.k, fusion.normalisation, fusion.weights,
                              len(self.retrievers), "retrievers")
            return self
        if self.retrievers or self.fusion:
            raise ValueError(f"'retrievers' and 'fusion' belong to composite types "
                             f"({', '.join(composite_retrievers())}) only")
        check_params(entry.cls, self.params)
        if isinstance(entry.cls, ChecksParams):
            entry.cls.check_params(self.params)
        return self


@typing.runtime_checkable
class ChecksParams(Protocol):
    """A component whose constructor ``params`` can be checked further than by their
    types before anything is built (BM25's variants per engine)."""

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None: ...


def composite_retrievers() -> list[str]:
    return [name for name, entry in registry.entries("retriever").items() if entry.composite]


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
        hints = typing.get_type_hints(cls.__init__, include_extras=True)   # keep bounds
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
            raise ConfigFieldError(("params", name), f"parameter '{name}' of {cls.__name__}: "
                                   f"{err.errors()[0]['msg']} (got "
                                   f"{json.dumps(value, default=str)})") from None


class LLMConfig(_Strict):
    """An LLM backend by registered name: ``model`` is a GGUF path (llamacpp), a hub name or
    folder (transformers), the served model name (backends that take a ``url``, e.g.
    openai), or ``offline:<name>``."""

    backend: component_type("llm")
    model: str
    url: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LLMConfig:
        cls = registered("llm", self.backend).cls
        if not issubclass(cls, LLMBackend):
            raise ValueError(f"backend '{self.backend}' ({cls.__name__}) is registered but "
                             "does not subclass rerankit.llm.base.LLMBackend, so configs "
                             "cannot build it")
        if cls.takes_url != (self.url is not None):
            with_url = [n for n, e in registry.entries("llm").items() if e.cls.takes_url]
            raise ValueError(f"'url' is required for backend(s) {', '.join(with_url)} and "
                             "only for them")
        if self.url is not None and not re.match(r"https?://[^/\s]+", self.url):
            raise ValueError(f"'url' must start with http:// or https://, got '{self.url}'")
        if self.model.startswith("offline:"):
            from rerankit.llm.offline import NAMES

            if cls.takes_url or self.model.removeprefix("offline:") not in NAMES:
                raise ValueError(f"unknown offline model '{self.model}' for backend "
                                 f"'{self.backend}'; known: " +
                                 ", ".join(f"offline:{n}" for n in NAMES) +
                                 " (backends that load local files)")
        first = next(iter(list(inspect.signature(cls.__init__).parameters)[1:]), "")
        check_params(cls, self.params, (first, "model"))
        return self


#: reranker-stage keys newer than the first result folders (see :meth:`RunConfig.digest`)
LATER_STAGE_KEYS = ("features", "train")


class TrainConfig(_Strict):
    """Which split of the dataset trains a learned stage (never the evaluated one)."""

    split: str = Field(min_length=1)


class RerankerConfig(_Strict):
    """One reranking stage by registered ``type``: ``depth`` candidates in (default: all the
    previous stage passes on), ``cutoff`` passed on to the next stage, optional fusion with
    the incoming run, and an ``llm`` section for rerankers built around an LLM."""

    type: component_type("reranker")
    depth: StrictInt | None = Field(None, ge=1)
    cutoff: StrictInt | None = Field(None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    llm: LLMConfig | None = None
    fuse: FusionConfig | None = None
    features: list[str] | None = None
    train: TrainConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> RerankerConfig:
        entry = registered("reranker", self.type)
        if entry.needs_llm != (self.llm is not None):
            raise ValueError(f"type '{self.type}' " + ("needs an 'llm' section" if self.llm
                             is None else "takes no 'llm' section"))
        if not entry.trainable and (self.features is not None or self.train is not None):
            trainable = [n for n, e in registry.entries("reranker").items() if e.trainable]
            raise ValueError(f"'features' and 'train' belong to trainable types "
                             f"({', '.join(trainable)}) only")
        if entry.trainable:
            entry.cls.check_stage(self.features, self.train is not None, self.params)
        check_params(entry.cls, self.params, ("llm", "features"))
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
    measures: list[str] = Field(default_factory=lambda: list(HEADLINE), min_length=1)
    #: the file the config was read from (None when built in code); not part of the digest
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """What errors about this config name: its file, else its run name."""
        return str(self._source) if self._source is not None else self.name

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
        """Known measures of plain qrels, each with a value for the whole run: one named
        explicitly that metrics.json cannot hold (``relstring``, ``runid``) is refused
        rather than left out of it without a word; a nickname (``official``) that brings
        one in keeps its other measures, as ``rerankit compare`` does."""
        from rerankit.errors import UnknownMeasureError
        from rerankit.evaluation.evaluator import check_qrels_measures
        from rerankit.evaluation.measures import NICKNAMES, no_run_value, parse_measures

        try:                              # a run is evaluated against plain qrels
            check_qrels_measures(parse_measures(measures))
        except UnknownMeasureError as err:
            raise ValueError(str(err)) from None
        for position, spec in enumerate(measures):
            if spec.strip().partition(".")[0] in NICKNAMES:
                continue
            for measure in parse_measures([spec]):
                reason = no_run_value(measure.family)
                if reason is not None:
                    raise ConfigFieldError((position,), f"{measure.name} has no value "
                                           f"metrics.json could hold: {reason}")
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
        labels = [f"rerankers[{position}]" for position in range(len(self.rerankers))]
        try:
            check_cutoffs(self.depth, [(label, stage.depth, stage.cutoff)
                                       for label, stage in zip(labels, self.rerankers,
                                                               strict=True)])
        except CutoffError as err:
            raise ConfigFieldError(("rerankers", labels.index(err.label), err.what),
                                   err.reason) from None
        return self

    def digest(self) -> str:
        """A hash of the validated config (what the manifest records). Stage keys added
        after result folders were first written (:data:`LATER_STAGE_KEYS`) count only when
        set, so an unchanged config keeps its digest and its result folder."""
        data = self.model_dump(mode="json")
        for stage in data["rerankers"]:
            for key in LATER_STAGE_KEYS:
                if stage.get(key) is None:
                    stage.pop(key, None)
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that gives the same key twice (YAML requires unique keys; PyYAML would
    silently keep the last value)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (``depth: 10`` then
    ``depth: 20``), with the line of each. Keys brought in by a merge (``<<: *defaults``)
    may be overridden, as YAML's merge keys intend."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:             # an unhashable key: the base class says so
                    continue
                if earlier is not key_node:
                    raise DuplicateKeyError(
                        "while reading a mapping", node.start_mark,
                        f"duplicate key {key!r} (first given on line "
                        f"{earlier.start_mark.line + 1}); a key may appear once",
                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """YAML text as Python values (safe types only; a duplicate key is an error)."""
    return yaml.load(text, Loader=UniqueKeyLoader)


def _yaml_problem(err: yaml.MarkedYAMLError) -> str:
    """A YAML error in words, with the column, and where the construct began when that
    was on another line (the file and line are named by the caller)."""
    mark = err.problem_mark or err.context_mark
    text = err.problem or err.context or "not valid YAML"
    if isinstance(err, DuplicateKeyError):
        return text
    where = f" (column {mark.column + 1}" if mark else " ("
    if err.context and err.context_mark and err.problem_mark and \
            err.context_mark.line != err.problem_mark.line:
        where += f"; {err.context} on line {err.context_mark.line + 1}"
    where = "" if where == " (" else where + ")"
    return f"not valid YAML: {text}{where}"


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config; errors name the key and the allowed values."""
    path = Path(path)
    source = read_input(path, "config file")   # missing, folder, unreadable: named errors
    try:
        raw = read_yaml(bytes(source.data[source.start:]).decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputFormatError(path, f"not UTF-8 text ({err.reason} at byte {err.start})"
                               ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise InputFormatError(path, _yaml_problem(err), mark.line + 1 if mark else None
                               ) from None
    except yaml.YAMLError as err:
        raise InputFormatError(path, "not valid YAML: " + " ".join(str(err).split())
                               ) from None
    try:
        config = RunConfig.model_validate(raw)
        config._source = path
        return config
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc, message = e["loc"], e["msg"].removeprefix("Value error, ")
            cause = e.get("ctx", {}).get("error")
            if isinstance(cause, ConfigFieldError):      # a field below the section
                loc, message = (*loc, *cause.field), str(cause)
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"'{where}': {message}{_shown(e)}")
        raise InputFormatError(path, "; ".join(problems)) from None


def _shown(error: dict) -> str:
    """`` (got true)`` for a wrong scalar value; the message alone otherwise."""
    value = error.get("input")
    if error["type"] in ("missing", "extra_forbidden", "value_error") or \
            isinstance(value, (dict, list)):
        return ""
    return f" (got {json.dumps(value, default=str)})"
