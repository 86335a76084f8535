"""Run a benchmark config: build the pipeline (retriever >> rerankers), run it over the
dataset's judged queries, evaluate, and write into an output folder

* ``run.trec``: the run (same config and inputs give a byte-identical file),
* ``metrics.json``: aggregate values keyed by trec_eval measure names,
* ``manifest.json``: the config and its hash, package versions, every stage's identity
  (model content hashes, prompt templates, seeds), dataset file checksums,
* ``ledger.json``: the cost ledger (wall time, calls, tokens, cache hits per stage and query).

The folder is written atomically, and a folder holding another config's run is refused
unless forced.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rerankit import datasets
from rerankit.compose import Stage
from rerankit.config import (
    LLM_BACKENDS,
    RERANKERS,
    LLMConfig,
    RerankerConfig,
    RetrieverConfig,
    RunConfig,
    component_class,
)
from rerankit.data.atomic import atomic_folder, atomic_write
from rerankit.data.loaders import Dataset, load_beir
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError
from rerankit.evaluation.evaluator import EvaluationResult, evaluate
from rerankit.identity import file_digest
from rerankit.pipeline import Ledger, Pipeline, ScoreCache

if TYPE_CHECKING:
    from rerankit.distributed import RayOptions


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
            raise InputFormatError(config.name, str(err.args[0])) from None
    if not spec.path.is_dir():
        raise InputFormatError(spec.path, "dataset folder does not exist")
    return spec.path


def load_dataset(config: RunConfig) -> Dataset:
    """The config's dataset: embedded by name or a BEIR folder by path."""
    spec = config.dataset
    if spec.name is not None:
        try:
            return datasets.load(spec.name, spec.split)
        except KeyError as err:
            raise InputFormatError(config.name, str(err.args[0])) from None
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


def build_retriever(spec: RetrieverConfig, on_empty: str, quiet: bool | None):
    """A retriever object from its config."""
    if spec.type == "fusion":
        from rerankit.retrieve.fusion import Fusion

        fusion = spec.fusion.model_dump() if spec.fusion else {}
        return Fusion([build_retriever(part, on_empty, quiet) for part in spec.retrievers],
                      **fusion)
    from rerankit.config import RETRIEVERS

    cls = component_class(RETRIEVERS, spec.type)
    return cls(**{"on_empty": on_empty, "quiet": quiet, **spec.params})


def build_llm(spec: LLMConfig):
    """An LLM backend from its config (``offline:<name>`` resolved to the bundled file)."""
    from rerankit.llm.offline import resolve

    cls = component_class(LLM_BACKENDS, spec.backend)
    if spec.backend == "openai":
        return cls(spec.url, model=spec.model, **spec.params)
    return cls(resolve(spec.model), **spec.params)


def build_reranker(spec: RerankerConfig, quiet: bool | None):
    """A reranker object from its config."""
    cls = component_class(RERANKERS, spec.type)
    params = dict(spec.params)
    if spec.llm is not None:
        params["llm"] = build_llm(spec.llm)
    elif "quiet" in cls.__init__.__code__.co_varnames:
        params.setdefault("quiet", quiet)
    return cls(**params)


def build_pipeline(config: RunConfig, quiet: bool | None = None,
                   cache: bool | Path | ScoreCache | None = None) -> Pipeline:
    """The config's pipeline (``cache``: None follows the config, False disables, a path
    picks the file)."""
    stages = [Stage(build_retriever(config.retriever, config.dataset.on_empty, quiet),
                    cutoff=config.depth)]
    for spec in config.rerankers:
        stages.append(Stage(build_reranker(spec, quiet), cutoff=spec.cutoff, depth=spec.depth,
                            fuse=spec.fuse.model_dump() if spec.fuse else None))
    use_cache = config.cache if cache is None else cache
    return Pipeline(stages, batch_size=config.batch_size, cache=use_cache, quiet=quiet,
                    name=config.name)


def check_output(config: RunConfig, output: Path, force: bool) -> None:
    """Refuse a folder that holds another config's run (unless forced)."""
    if output.exists() and not output.is_dir():
        raise InputFormatError(output, "output exists and is not a folder")
    if output.exists() and any(output.iterdir()) and not force:
        manifest = output / "manifest.json"
        try:
            same = json.loads(manifest.read_text())["config_digest"] == config.digest()
        except (OSError, ValueError, KeyError):
            same = False
        if not same:
            raise InputFormatError(output, "folder already holds another run; use --force "
                                   "to replace it")


def run_config(config: RunConfig, output: Path, force: bool = False,
               quiet: bool | None = None, cache: bool | Path | None = None,
               ray: RayOptions | None = None) -> RunOutcome:
    """Run ``config`` and write its outputs into ``output``; on a Ray cluster when ``ray``
    is given (same bytes as in process)."""
    check_output(config, output, force)
    data = load_dataset(config)
    queries = select_queries(config, data)
    try:
        pipeline = build_pipeline(config, quiet, cache)
    except TypeError as err:
        raise InputFormatError("config", f"bad parameter: {err}") from None
    if ray is None:
        result = pipeline.run(queries, data.corpus)
    else:
        from rerankit.distributed import run_on_ray

        result = run_on_ray(config, pipeline, queries, data.corpus, ray)
    metrics = evaluate(data.qrels, result.run, config.measures)
    manifest = {"config": config.model_dump(mode="json"), "config_digest": config.digest(),
                "dataset": data.name, "dataset_files": dataset_checksums(dataset_folder(config)),
                "queries": len(queries), "stages": pipeline.describe(),
                "python": platform.python_version(), "packages": _versions()}
    with atomic_folder(output) as staging:
        result.run.write_trec(staging / "run.trec", tag=config.name)
        with atomic_write(staging / "metrics.json") as handle:
            json.dump({k: v for k, v in metrics.aggregate.items() if k != "runid"}, handle,
                      indent=2)
        with atomic_write(staging / "manifest.json") as handle:
            json.dump(manifest, handle, indent=2)
        result.ledger.write(staging / "ledger.json")
    return RunOutcome(metrics, result.ledger, output)


def dataset_checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file of a dataset folder, by relative path."""
    return {str(p.relative_to(folder)): file_digest(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _versions() -> dict[str, str]:
    names = ("rerankit", "numpy", "pyarrow", "bm25s", "rank-bm25", "faiss-cpu",
             "sentence-transformers", "transformers", "torch", "llama_cpp_python")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
