"""Run a pipeline on a Ray cluster: ``rerankit run CONFIG --engine ray [--address ...]``.

Ray does the distribution; rerankit only decides what goes where, so that the result is
byte-identical to the in-process engine's:

* **Workers** are Ray actors. Each builds the config's pipeline once (models load once per
  worker), with ``num_cpus`` / ``num_gpus`` per actor and its math libraries limited to its
  CPUs, so workers do not oversubscribe cores.
* **Corpus encoding** for dense indexes (and the bi-encoder reranker's corpus) is split
  into the same fixed chunks the in-process engine encodes, spread over the workers, before
  indexing; the driver stores the vectors in the embedding cache, from which it and every
  worker build their index (an encoder with ``cache=False`` encodes again in process).
  Workers on other nodes read it when the embeddings folder (``RERANKIT_EMBEDDINGS`` or
  ``RERANKIT_CACHE``) is on shared storage, and otherwise encode again, to the same bits.
* **Queries** are split into the in-process engine's batches; each batch runs through all
  stages on one worker, and the driver merges the batches in order.
* **Score cache**: workers read it and return the scores they computed; the driver is its
  single writer and stores each batch's scores as soon as it completes, so a failed run
  resumes from every finished batch. Workers that die are restarted and their batches
  retried by Ray (``max_restarts``, ``max_task_retries``).

Without ``address`` a local Ray instance is started on 127.0.0.1 and shut down afterwards.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from rerankit.errors import MissingDependencyError, RerankitError
from rerankit.experiment.config import RunConfig
from rerankit.experiment.runner import build_pipeline, load_dataset
from rerankit.pipeline import Pipeline, PipelineResult, ScoreCache
from rerankit.pipeline.core import concat_runs
from rerankit.retrieve.base import CorpusEncoding

WORKER_PREFIX = "rerankit-worker-"   # actors are named, e.g. for `ray list actors`
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS")


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide: ``address`` of a running cluster (None: start a local one),
    ``workers`` actors with ``cpus_per_worker`` / ``gpus_per_worker`` each."""

    address: str | None = None
    workers: int = 2
    cpus_per_worker: int = 1
    gpus_per_worker: float = 0.0


def import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray", "The Ray engine") from None
    return ray


class PipelineWorker:
    """One Ray actor: the config's pipeline, built once, running batches of queries."""

    def __init__(self, config_json: str, cache_path: str | None, cpus: int) -> None:
        _limit_threads(cpus)
        config = RunConfig.model_validate_json(config_json)
        self.data = load_dataset(config)
        self.cache = ScoreCache(cache_path, defer_writes=True) if cache_path else None
        self.pipeline = build_pipeline(config, quiet=True,
                                       cache=self.cache if self.cache is not None else False)
        self.indexed = False
        self._encoders: list | None = None

    def encode(self, where: int, chunk: list[str]):
        """One fixed chunk of passages through the pipeline's ``where``-th corpus encoder."""
        if self._encoders is None:
            self._encoders = [e.encoder for e in corpus_encodings(self.pipeline,
                                                                  self.data.corpus)]
        encoder = self._encoders[where]
        return encoder.encode(chunk, encoder.passage_prefix)

    def run_batch(self, number: int, query_ids: list[str]):
        """Batch ``number`` through every stage: the number back, the run, its ledger and
        the new cache rows."""
        if not self.indexed:                 # also after Ray restarts this actor
            self.pipeline.index(self.data.corpus)
            self.indexed = True
        queries = self.data.queries.subset(query_ids)
        run, ledger = self.pipeline.run_batch(queries, self.data.corpus)
        rows = self.cache.take_pending() if self.cache is not None else []
        return number, run, ledger, rows


def corpus_encodings(pipeline: Pipeline, corpus) -> list[CorpusEncoding]:
    """What the pipeline's stages will embed (dense retrievers, fused parts, bi-encoder
    rerankers), in stage order: the same in every copy of the pipeline."""
    return [encoding for stage in pipeline.stages
            for encoding in stage.component.corpus_encodings(corpus)]


@dataclass(frozen=True)
class RayEngine:
    """The runner's engine on a Ray cluster (see the module docstring)."""

    options: RayOptions = RayOptions()

    def run(self, config: RunConfig, pipeline: Pipeline, queries, corpus) -> PipelineResult:
        """``pipeline`` (the driver's copy, built from ``config``) over ``queries``."""
        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            _connect(ray, self.options)
        try:
            return _run(ray, config, pipeline, queries, corpus, self.options)
        finally:
            if started_here:
                ray.shutdown()


def _connect(ray, options: RayOptions) -> None:
    quiet = {"include_dashboard": False, "log_to_driver": False,
             "configure_logging": False}
    if options.address is None:
        ray.init(num_cpus=options.workers * options.cpus_per_worker,
                 num_gpus=None if options.gpus_per_worker else 0,
                 _node_ip_address="127.0.0.1", **quiet)
        return
    _check_reachable(options.address)
    try:
        ray.init(address=options.address, **quiet)
    except Exception as err:                       # Ray raises several kinds here
        raise RerankitError(f"cannot reach the Ray cluster at {options.address}: "
                            f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
                            ) from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise RerankitError(f"Ray address '{address}' is not HOST:PORT (or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise RerankitError(f"cannot reach the Ray cluster at {address}: {err}") from None


def _run(ray, config: RunConfig, pipeline: Pipeline, queries, corpus,
         options: RayOptions) -> PipelineResult:
    from ray.util import ActorPool

    cache = pipeline.score_cache()
    env = {name: str(options.cpus_per_worker) for name in THREAD_VARIABLES}
    actor = ray.remote(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                       max_restarts=2, max_task_retries=2,
                       runtime_env={"env_vars": env})(PipelineWorker)
    run_id = os.urandom(4).hex()
    workers = [actor.options(name=f"{WORKER_PREFIX}{run_id}-{i}").remote(
        config.model_dump_json(), str(cache.path) if cache is not None else None,
        options.cpus_per_worker) for i in range(options.workers)]
    # corpus encoding, sharded in the in-process engine's fixed chunks, into the embedding
    # cache that indexing then reads
    started = time.perf_counter()
    for where, encoding in enumerate(corpus_encodings(pipeline, corpus)):
        encoding.encoder.encode_corpus(encoding.ids, encoding.texts,
                                       _chunk_mapper(ray, workers, where))
    encoded = time.perf_counter() - started
    ledger = pipeline.index(corpus)
    if encoded:
        ledger.setup_seconds["ray corpus encoding (wall)"] = encoded
    batches = pipeline.query_batches(list(queries.ids))
    pool = ActorPool(workers)
    for job in enumerate(batches):
        pool.submit(lambda worker, job: worker.run_batch.remote(*job), job)
    results = {}
    started = time.perf_counter()
    while pool.has_next():
        number, run, batch_ledger, rows = pool.get_next_unordered()
        if cache is not None and rows:
            cache.put_raw(rows)                 # finished batches are kept at once
        results[number] = (run, batch_ledger)
    ordered = [results[k] for k in range(len(batches))]
    runs = [run for run, _ in ordered]
    for _, batch_ledger in ordered:
        ledger.extend(batch_ledger)
    ledger.setup_seconds["ray workers (wall)"] = time.perf_counter() - started
    return PipelineResult(concat_runs(runs, pipeline.name), ledger)


def _chunk_mapper(ray, workers, where):
    def map_chunks(chunks: list[list[str]]):
        refs = [workers[i % len(workers)].encode.remote(where, chunk)
                for i, chunk in enumerate(chunks)]
        return ray.get(refs)
    return map_chunks


def _limit_threads(cpus: int) -> None:
    """torch's threads in this worker (the math libraries' variables come from the actor's
    runtime environment, set before the worker process starts)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(cpus)
