"""Run a benchmark config: build the pipeline (retriever >> rerankers), run it over the
dataset's judged queries, evaluate, and write into an output folder

* ``run.trec``: the run (same config and inputs give a byte-identical file),
* ``metrics.json``: aggregate values keyed by trec_eval measure names, averaged over every
  judged query of the run's query set (trec_eval -c), with ``num_q``, ``num_q_with_results``
  and the evaluation semantics,
* ``manifest.json``: the config and its hash, package versions, every stage's identity
  (model content hashes, prompt templates, seeds), dataset file checksums, the same
  evaluation record, and the marker ``format: rerankit-result/1``,
* ``ledger.json``: the cost ledger (wall time, calls, tokens, cache hits per stage and query).

Everything that can be checked without data or models (config, output folder, dataset,
cache, model files) is checked first. The folder is written atomically. Only an empty
folder or a result folder holding nothing else is ever replaced: one holding another
config's result needs ``force``, and any other non-empty folder is refused outright.
"""

from __future__ import annotations

import inspect
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from rerankit import datasets, registry
from rerankit.compose import Stage
from rerankit.data import arrow_compute as pc
from rerankit.data.atomic import (
    atomic_folder,
    atomic_write,
    check_not_current,
    check_writable,
    remove_stale_staging,
)
from rerankit.data.corpus import Corpus
from rerankit.data.loaders import Dataset, beir_problem, load_beir
from rerankit.data.ownership import foreign_entries, shown
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError
from rerankit.evaluation.evaluator import EvaluationResult, evaluate
from rerankit.experiment.config import LLMConfig, RerankerConfig, RetrieverConfig, RunConfig
from rerankit.experiment.training import train_stages
from rerankit.identity import dataset_checksums, local_model_folder
from rerankit.llm.base import LLM
from rerankit.pipeline import Ledger, Pipeline, PipelineResult, ScoreCache
from rerankit.rerank.base import Reranker
from rerankit.rerank.cache import check_score_cache
from rerankit.retrieve.base import Retriever
from rerankit.settings import Settings


@dataclass
class RunOutcome:
    """What ``rerankit run`` reports: the metrics, the cost ledger and the folder."""

    metrics: EvaluationResult
    ledger: Ledger
    folder: Path


def dataset_folder(config: RunConfig) -> Path:
    spec = config.dataset
    if spec.name is not None:
        try:
            return datasets.path(spec.name)
        except KeyError as err:
            raise InputFormatError(config.source, f"'dataset.name': {err.args[0]}") from None
    if not spec.path.exists():
        raise InputFormatError(config.source, f"'dataset.path': the dataset folder "
                               f"{spec.path} does not exist")
    if not spec.path.is_dir():
        raise InputFormatError(config.source, f"'dataset.path': {spec.path} is a file, not "
                               "a dataset folder")
    return spec.path


def check_split(config: RunConfig, folder: Path) -> None:
    """A BEIR folder (given by path, or an embedded one) holds the config's split; one
    given by path must be a BEIR folder at all."""
    problem = beir_problem(folder, config.dataset.split)
    if problem is None:
        return
    kind, reason = problem
    if kind == "folder" and config.dataset.path is None:
        return                            # an embedded collection in its own layout
    field = "path" if kind == "folder" else "split"
    raise InputFormatError(config.source, f"'dataset.{field}': {folder}: {reason}")


def load_dataset(config: RunConfig) -> Dataset:
    """The config's dataset: embedded by name or a BEIR folder by path."""
    spec = config.dataset
    if spec.name is not None:
        try:
            return datasets.load(spec.name, spec.split)
        except KeyError as err:
            raise InputFormatError(config.source, f"'dataset.name': {err.args[0]}") from None
    return load_beir(dataset_folder(config), spec.split)


def select_queries(config: RunConfig, data: Dataset) -> Queries:
    """The judged queries, or the config's seeded subset of them (in query-id order)."""
    queries = data.judged_queries()
    limit = config.queries.limit
    if limit is None or limit >= len(queries):
        return queries
    rng = np.random.default_rng(config.queries.seed)
    chosen = set(rng.choice(len(queries), limit, replace=False).tolist())
    return queries.subset([qid for i, qid in enumerate(queries.ids) if i in chosen])


def build_retriever(spec: RetrieverConfig, on_empty: str, quiet: bool | None) -> Retriever:
    """A retriever object from its config (the class comes from the registry)."""
    entry = registry.lookup("retriever", spec.type)
    if entry.composite:
        fusion = spec.fusion.model_dump() if spec.fusion else {}
        return entry.cls([build_retriever(part, on_empty, quiet) for part in spec.retrievers],
                         **fusion)
    return entry.cls(**{**_defaults(entry.cls, on_empty=on_empty, quiet=quiet), **spec.params})


def build_llm(spec: LLMConfig, settings: Settings | None = None) -> LLM:
    """An LLM backend from its config (``offline:<name>`` resolved to the bundled file)."""
    from rerankit.llm.offline import resolve

    cls = registry.lookup("llm", spec.backend).cls
    if cls.takes_url:
        return cls(spec.url, model=spec.model, **spec.params)
    store = settings.model_store if settings is not None else None
    return cls(resolve(spec.model, store), **spec.params)


def build_reranker(spec: RerankerConfig, quiet: bool | None,
                   settings: Settings | None = None) -> Reranker:
    """A reranker object from its config (the class comes from the registry)."""
    cls = registry.lookup("reranker", spec.type).cls
    params = {**_defaults(cls, quiet=quiet), **spec.params}
    if spec.features is not None:
        params["features"] = spec.features
    if spec.llm is not None:
        params["llm"] = build_llm(spec.llm, settings)
    return cls(**params)


def _defaults(cls: type, **values) -> dict:
    """The run-wide ``values`` (quiet, on_empty) that ``cls``'s constructor takes."""
    accepted = inspect.signature(cls.__init__).parameters
    return {key: value for key, value in values.items() if key in accepted}


def build_pipeline(config: RunConfig, quiet: bool | None = None,
                   cache: bool | Path | ScoreCache | None = None,
                   settings: Settings | None = None) -> Pipeline:
    """The config's pipeline (``cache``: None follows the config, False disables, a path
    picks the file)."""
    stages = [Stage(build_retriever(config.retriever, config.dataset.on_empty, quiet),
                    cutoff=config.depth)]
    for spec in config.rerankers:
        stages.append(Stage(build_reranker(spec, quiet, settings), cutoff=spec.cutoff,
                            depth=spec.depth,
                            fuse=spec.fuse.model_dump() if spec.fuse else None))
    use_cache = config.cache if cache is None else cache
    if use_cache is True and settings is not None:
        use_cache = settings.score_cache
    return Pipeline(stages, batch_size=config.batch_size, cache=use_cache, quiet=quiet,
                    name=config.name)


#: what ``rerankit run`` writes into a result folder, and the manifest's marker of one
RESULT_FILES = ("run.trec", "metrics.json", "manifest.json", "ledger.json")
RESULT_FORMAT = "rerankit-result/1"


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest.json when it is one written by ``rerankit run`` (the marker
    field, or the keys every earlier version wrote), else None."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        return None
    if manifest.get("format") == RESULT_FORMAT or \
            {"config", "config_digest", "stages", "packages"} <= manifest.keys():
        return manifest
    return None


def result_foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that ``rerankit run`` did not write: all of them unless
    it is a result folder, else all but its result files (as regular files). Only a folder
    without any is replaced (a mistyped ``--output`` never deletes a user's files, with
    or without ``--force``)."""
    if read_manifest(folder) is None:
        return sorted(entry.name for entry in folder.iterdir())
    return foreign_entries(folder, RESULT_FILES)


def check_output(config: RunConfig, output: Path, force: bool) -> None:
    """Before any work: ``output`` must be creatable, and may already exist only as an
    empty folder or a result folder (of the same config, or of another with ``force``)."""
    check_writable(output, folder=True)
    remove_stale_staging(output)
    if not output.is_dir() or next(output.iterdir(), None) is None:
        return
    manifest = read_manifest(output)
    if manifest is None:
        raise InputFormatError(output, "folder is not empty and is not a result folder "
                               "written by 'rerankit run' (no rerankit manifest.json); "
                               "rerankit never replaces it: choose another --output")
    extra = foreign_entries(output, RESULT_FILES)
    if extra:
        raise InputFormatError(output, f"result folder also holds entries 'rerankit run' "
                               f"did not write: {shown(output, extra)}; it writes only the "
                               f"regular files {', '.join(RESULT_FILES)} and never deletes "
                               "anything else: move them or choose another --output")
    if manifest.get("config_digest") != config.digest() and not force:
        name = manifest.get("config", {}).get("name", "?")
        raise InputFormatError(output, f"folder already holds another run (config "
                               f"'{name}'); use --force to replace that result")
    check_not_current(output)


def run_settings(cache: bool | Path | str | None, quiet: bool | None) -> Settings:
    """The run's settings: an explicit score-cache file wins over the environment."""
    explicit = Path(cache) if isinstance(cache, str | Path) else None
    return Settings.resolve(score_cache=explicit, quiet=quiet)


def check_cache(config: RunConfig, cache: bool | Path | None,
                settings: Settings | None = None) -> None:
    """Before any work: the cache folders and the score-cache file must be usable."""
    settings = settings or run_settings(cache, None)
    settings.check_folders()
    if isinstance(cache, str):
        cache = Path(cache)
    uses_score_cache = cache is not False and (cache is not None or config.cache) and \
        bool(config.rerankers)
    if not uses_score_cache:
        return
    if settings.score_cache.is_dir():
        raise InputFormatError(settings.score_cache, "--cache must name a score-cache file, "
                               "but this is a folder")
    check_writable(settings.score_cache)
    check_score_cache(settings.score_cache)


def check_dataset(config: RunConfig) -> None:
    """Before any work: the dataset exists (an embedded name or a BEIR folder) and has the
    split."""
    check_split(config, dataset_folder(config))


def _model_fields(config: RunConfig):
    """(field, model argument) of every stage that names a model."""
    retrievers = [("retriever", config.retriever)]
    while retrievers:
        where, spec = retrievers.pop(0)
        if isinstance(spec.params.get("model"), str):
            yield f"{where}.params.model", spec.params["model"]
        retrievers += [(f"{where}.retrievers.{i}", part) for i, part in
                       enumerate(spec.retrievers)]
    for position, spec in enumerate(config.rerankers):
        if isinstance(spec.params.get("model"), str):
            yield f"rerankers.{position}.params.model", spec.params["model"]


def check_models(config: RunConfig) -> None:
    """Before any work: local model files and folders named in the config exist (a path
    written as one, absolute or starting with '.'; a hub name is the library's to find)."""
    for field, model in _model_fields(config):
        try:
            local_model_folder(model)     # the rule every component applies when it loads
        except InputFormatError:
            raise InputFormatError(config.source, f"'{field}': the model folder {model} "
                                   "does not exist") from None
    for position, spec in enumerate(config.rerankers):
        llm = spec.llm
        if llm is None or llm.backend != "llamacpp" or llm.model.startswith("offline:"):
            continue
        if not Path(llm.model).is_file():
            raise InputFormatError(config.source, f"'rerankers.{position}.llm.model': no "
                                   f"such GGUF file {llm.model}")


def preflight(config: RunConfig, output: Path, force: bool = False,
              cache: bool | Path | None = None, settings: Settings | None = None) -> None:
    """Every check that can fail without loading data or models, so a mistake is reported
    in a second, not after hours of retrieval and reranking."""
    check_output(config, output, force)
    check_dataset(config)
    check_cache(config, cache, settings)
    check_models(config)


def judged_subset(qrels: Qrels, query_ids: Sequence[str]) -> Qrels:
    """The judgements of ``query_ids`` only (the queries the run was asked to answer)."""
    keep = pc.is_in(qrels.qid, value_set=pa.array(list(query_ids), type=pa.string()))
    rows = np.asarray(keep, dtype=bool)
    lines = None if qrels.lines is None else np.asarray(qrels.lines)[rows]
    return Qrels(qrels.qid.filter(keep), qrels.docid.filter(keep), qrels.grade[rows],
                 qrels.name, qrels.source, lines)


def evaluation_record(metrics: EvaluationResult) -> dict:
    """What metrics.json and the manifest say about how the values were computed."""
    return {"num_q": metrics.num_queries,
            "num_q_with_results": metrics.num_queries - len(metrics.queries_without_results),
            "average_complete": True,
            "semantics": metrics.semantics,
            "compat": metrics.compat}


class Engine(Protocol):
    """Where a pipeline runs: in this process (:class:`LocalEngine`) or on a cluster
    (:class:`rerankit.experiment.distributed.RayEngine`); both give the same bytes."""

    def run(self, config: RunConfig, pipeline: Pipeline, queries: Queries,
            corpus: Corpus) -> PipelineResult: ...


class LocalEngine:
    """The pipeline in this process."""

    def run(self, config: RunConfig, pipeline: Pipeline, queries: Queries,
            corpus: Corpus) -> PipelineResult:
        return pipeline.run(queries, corpus)


def run_config(config: RunConfig, output: Path, force: bool = False,
               quiet: bool | None = None, cache: bool | Path | None = None,
               engine: Engine | None = None) -> RunOutcome:
    """Run ``config`` and write its outputs into ``output``, in this process or on the
    given ``engine`` (same bytes either way).

    Every judged query of the run's query set is evaluated: one the pipeline found nothing
    for counts 0 (trec_eval -c), so a pipeline cannot score higher by answering less."""
    settings = run_settings(cache, quiet)
    preflight(config, output, force, cache, settings)
    data = load_dataset(config)
    queries = select_queries(config, data)
    pipeline = build_pipeline(config, quiet, cache, settings)
    protocol = train_stages(config, pipeline, queries, lambda split: load_dataset(
        config.model_copy(update={"dataset": config.dataset.model_copy(
            update={"split": split})})), settings)
    result = (engine or LocalEngine()).run(config, pipeline, queries, data.corpus)
    for record in protocol:          # training is part of the stage's one-off cost
        setup = result.ledger.setup_seconds
        setup[record["stage"]] = setup.get(record["stage"], 0.0) + record["seconds"]
    metrics = evaluate(judged_subset(data.qrels, queries.ids), result.run, config.measures,
                       average_complete=True)
    evaluation = evaluation_record(metrics)
    values = {k: v for k, v in metrics.aggregate.items() if k != "runid"}
    manifest = {"format": RESULT_FORMAT,
                "config": config.model_dump(mode="json"), "config_digest": config.digest(),
                "dataset": data.name, "dataset_files": dataset_checksums(dataset_folder(config)),
                "queries": len(queries), "evaluation": evaluation,
                "stages": pipeline.describe(), "training": protocol,
                "settings": settings.record(),
                "python": platform.python_version(), "packages": _versions()}
    with atomic_folder(output, foreign=result_foreign_entries) as staging:
        result.run.write_trec(staging / "run.trec", tag=config.name)
        with atomic_write(staging / "metrics.json") as handle:
            json.dump({**values, **evaluation}, handle, indent=2)
        with atomic_write(staging / "manifest.json") as handle:
            json.dump(manifest, handle, indent=2)
        result.ledger.write(staging / "ledger.json")
    return RunOutcome(metrics, result.ledger, output)


def _versions() -> dict[str, str]:
    names = ("rerankit", "numpy", "pyarrow", "bm25s", "rank-bm25", "faiss-cpu",
             "sentence-transformers", "transformers", "torch", "llama_cpp_python",
             "lightgbm")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
