"""Run a benchmark config: retrieve, evaluate, and write run.trec, metrics.json and
manifest.json into an output folder (refusing to overwrite another run unless forced)."""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

from rerankit import datasets
from rerankit.config import RetrieverConfig, RunConfig
from rerankit.data.atomic import atomic_folder, atomic_write
from rerankit.data.loaders import Dataset, load_beir
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.evaluation.evaluator import EvaluationResult, evaluate


def load_dataset(config: RunConfig) -> Dataset:
    """The config's dataset: embedded by name or a BEIR folder by path."""
    spec = config.dataset
    if spec.name is not None:
        try:
            return datasets.load(spec.name, spec.split)
        except KeyError as err:
            raise InputFormatError(config.name, str(err.args[0])) from None
    return load_beir(spec.path, spec.split)


def build_retriever(spec: RetrieverConfig, on_empty: str):
    """A retriever object from its config (fusion returns its parts and settings)."""
    if spec.type == "bm25":
        from rerankit.retrieve.bm25 import BM25

        return BM25(**{"on_empty": on_empty, **spec.params})
    if spec.type == "dense":
        from rerankit.retrieve.dense import Dense

        return Dense(**{"on_empty": on_empty, **spec.params})
    return [build_retriever(part, on_empty) for part in spec.retrievers]


def retrieve(spec: RetrieverConfig, data: Dataset, depth: int, on_empty: str) -> Run:
    """Index the corpus and retrieve the judged queries (fusing when asked)."""
    queries = data.judged_queries()
    try:
        built = build_retriever(spec, on_empty)
    except TypeError as err:
        raise InputFormatError("config", f"bad retriever parameter: {err}") from None
    if isinstance(built, list):
        from rerankit.retrieve.fusion import fuse

        fusion = spec.fusion.model_dump() if spec.fusion else {}
        runs = [r.index(data.corpus).retrieve(queries, depth) for r in built]
        return fuse(runs, **fusion).top_k(depth)
    return built.index(data.corpus).retrieve(queries, depth)


def run_config(config: RunConfig, output: Path, force: bool = False) -> EvaluationResult:
    """Run ``config`` and write its outputs into ``output``."""
    if output.exists() and any(output.iterdir()):
        manifest = output / "manifest.json"
        same = manifest.is_file() and json.loads(manifest.read_text()).get(
            "config_digest") == config.digest()
        if not (force or same):
            raise InputFormatError(output, "folder already holds another run; use --force "
                                   "to replace it")
    started = time.perf_counter()
    data = load_dataset(config)
    run = retrieve(config.retriever, data, config.depth, config.dataset.on_empty)
    run = run.rename(config.name)
    result = evaluate(data.qrels, run, config.measures)
    seconds = time.perf_counter() - started
    with atomic_folder(output) as staging:
        run.write_trec(staging / "run.trec", tag=config.name)
        with atomic_write(staging / "metrics.json") as handle:
            json.dump({k: v for k, v in result.aggregate.items() if k != "runid"}, handle,
                      indent=2)
        with atomic_write(staging / "manifest.json") as handle:
            json.dump({"config": config.model_dump(mode="json"),
                       "config_digest": config.digest(), "dataset": data.name,
                       "queries": result.num_queries, "seconds": seconds,
                       "python": platform.python_version(), "packages": _versions()}, handle,
                      indent=2)
    return result


def _versions() -> dict[str, str]:
    names = ("rerankit", "numpy", "pyarrow", "bm25s", "rank-bm25", "faiss-cpu",
             "sentence-transformers", "torch")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
