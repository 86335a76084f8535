"""The pipeline: a retriever followed by any number of rerankers, with cut-offs.

``BM25() % 100 >> CrossEncoderReranker(path) % 20 >> ListwiseReranker(llm)`` retrieves 100
documents per query, re-scores all 100 with the cross-encoder, passes its top 20 to the
listwise reranker, and returns the listwise order followed by the cross-encoder's ranks
21-100 (``keep_tail=True``, so recall at 100 is not lost to a reranker that only saw 20).
A cut-off on the last stage cuts the final run. Each stage is the same object a user calls
alone; queries run in batches through all stages, scores go through the optional score
cache, and every stage's cost is recorded per query in a :class:`Ledger`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rerankit.compose import Stage, as_stages, check_cutoffs, cutoff_operand
from rerankit.data import arrow_compute as pc
from rerankit.data.corpus import Corpus
from rerankit.data.loaders import Dataset
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.evaluation.evaluator import EvaluationResult, evaluate
from rerankit.pipeline.ledger import Ledger, LedgerRow
from rerankit.progress import progress_enabled
from rerankit.registry import register
from rerankit.rerank.base import Reranker
from rerankit.rerank.cache import ScoreCache
from rerankit.rerank.candidates import candidate_lists, scored_run
from rerankit.rerank.scoring import score_candidates
from rerankit.retrieve.base import Retriever
from rerankit.retrieve.fusion import fuse
from rerankit.settings import Settings

DEFAULT_DEPTH = 1000


@dataclass
class PipelineResult:
    """A pipeline's run over a query set and what each stage cost."""

    run: Run
    ledger: Ledger


@dataclass
class PipelineEvaluation:
    """A pipeline evaluated on a dataset: metrics (BEIR-style table via ``.metrics.beir()``),
    the run, and the cost ledger."""

    metrics: EvaluationResult
    run: Run
    ledger: Ledger

    def __getitem__(self, measure: str) -> float:
        return self.metrics[measure]


@register("pipeline", "pipeline")
@dataclass
class Pipeline:
    """A retriever followed by rerankers; see the module docstring for the semantics."""

    stages: list[Stage]
    batch_size: int = 16
    cache: ScoreCache | str | Path | bool | None = None
    keep_tail: bool = True
    quiet: bool | None = None
    name: str = "pipeline"
    _cache: ScoreCache | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.stages = [s if isinstance(s, Stage) else Stage(s) for s in self.stages]
        if not self.stages:
            raise ValueError("a pipeline needs at least a retriever")
        first = self.stages[0].component
        if not isinstance(first, Retriever):
            raise ValueError(f"the first stage must be a retriever, got "
                             f"{type(first).__name__}")
        for position, stage in enumerate(self.stages[1:], 2):
            if not isinstance(stage.component, Reranker):
                raise ValueError(f"stage {position} must be a reranker, got "
                                 f"{type(stage.component).__name__}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        self.check_cutoffs()

    def check_cutoffs(self) -> None:
        """A reranker may not ask for more candidates than the previous stage passes on
        (:func:`rerankit.compose.check_cutoffs`)."""
        first = self.stages[0]
        if first.cutoff is not None and first.cutoff < 1:
            raise ValueError(f"stage 1 ({first.component.name}): cutoff must be >= 1, got "
                             f"{first.cutoff}")
        check_cutoffs(first.cutoff or DEFAULT_DEPTH,
                      [(f"stage {position} ({stage.component.name})", stage.depth,
                        stage.cutoff) for position, stage in enumerate(self.stages[1:], 2)])

    # ------------------------------------------------------------------ composition
    def __rshift__(self, other: Any) -> Pipeline:
        return replace(self, stages=[*self.stages, *as_stages(other)])

    def __mod__(self, cutoff: int) -> Pipeline:
        return replace(self, stages=[*self.stages[:-1], replace(self.stages[-1],
                                                                 cutoff=cutoff_operand(cutoff))])

    def describe(self) -> list[dict]:
        """Every stage's identity (models by content hash, prompts, seeds, cut-offs)."""
        return [stage.describe() for stage in self.stages]

    # ------------------------------------------------------------------ running
    def index(self, corpus: Corpus) -> Ledger:
        """Index the corpus with the retriever unless it already is, and let each reranker
        prepare for it (e.g. embed it once); the costs as a ledger."""
        ledger = Ledger.empty()
        retriever = self.stages[0]
        if not retriever.component.is_indexed:
            start = time.perf_counter()
            retriever.component.index(corpus)
            ledger.setup_seconds[retriever.label] = time.perf_counter() - start
        self.prepare(corpus, ledger)
        return ledger

    def prepare(self, corpus: Corpus, ledger: Ledger) -> None:
        """Every reranker's once-per-corpus work."""
        for stage in self.stages[1:]:
            start = time.perf_counter()
            stage.component.prepare(corpus)
            ledger.setup_seconds[stage.label] = time.perf_counter() - start

    def query_batches(self, ids: list[str]) -> list[list[str]]:
        """Query ids in runs of ``batch_size``: the unit of work of every engine (the Ray
        engine runs the same batches, which keeps its output identical)."""
        return [ids[i:i + self.batch_size] for i in range(0, len(ids), self.batch_size)]

    def run(self, queries: Queries, corpus: Corpus) -> PipelineResult:
        """Run every query through every stage, ``batch_size`` queries at a time."""
        queries.check_not_empty()
        ledger = self.index(corpus)
        ids = list(queries.ids)
        batches = self.query_batches(ids)
        runs = []
        with _QueryProgress(len(ids), self.quiet) as advance:
            for batch in batches:
                run, batch_ledger = self.run_batch(queries.subset(batch), corpus)
                runs.append(run)
                ledger.extend(batch_ledger)
                advance(len(batch))
        return PipelineResult(concat_runs(runs, self.name), ledger)

    def run_batch(self, queries: Queries, corpus: Corpus) -> tuple[Run, Ledger]:
        """One batch of queries through all stages (what a distributed worker runs)."""
        ledger = Ledger.empty()
        first = self.stages[0]
        start = time.perf_counter()
        current = first.component.retrieve(queries, first.cutoff or DEFAULT_DEPTH)
        seconds = time.perf_counter() - start
        counts = _counts(current)
        for qid in queries.ids:
            ledger.add(LedgerRow(stage=first.label, query_id=qid,
                                 seconds=seconds / len(queries),
                                 candidates=counts.get(qid, 0)))
        incoming = first.cutoff
        for stage in self.stages[1:]:
            depth = stage.depth or incoming
            current = self._rerank(stage, queries, current, corpus, depth, ledger)
            incoming = stage.cutoff or depth
        if self.stages[-1].cutoff and len(self.stages) > 1:
            current = current.top_k(self.stages[-1].cutoff)
        return current.rename(self.name), ledger

    def _rerank(self, stage: Stage, queries: Queries, current: Run, corpus: Corpus,
                depth: int | None, ledger: Ledger) -> Run:
        head = current.top_k(depth) if depth else current.ranked()
        lists = candidate_lists(queries, head, corpus, None)
        scores, costs = score_candidates(stage.component, lists, self.score_cache())
        for candidates, cost in zip(lists, costs, strict=True):
            ledger.add(LedgerRow(stage=stage.label, query_id=candidates.query_id,
                                 **asdict(cost)))
        reranked = scored_run(lists, scores, stage.component.name)
        if stage.fuse:
            reranked = fuse([head, reranked], name=stage.component.name, **stage.fuse)
        if not depth or not self.keep_tail:
            return reranked
        return with_tail(reranked, current, depth)

    def score_cache(self) -> ScoreCache | None:
        """The score cache this pipeline reads and fills (opened on first use), or None.
        ``cache=True`` is the settings' score-cache file ($RERANKIT_SCORE_CACHE, or
        ``scores.sqlite`` in the cache folder)."""
        if self._cache is None and self.cache is not None and self.cache is not False:
            if isinstance(self.cache, ScoreCache):
                self._cache = self.cache
            else:
                path = Settings.resolve().score_cache if self.cache is True else self.cache
                self._cache = ScoreCache(path)
        return self._cache

    def evaluate(self, dataset: Dataset, measures: Sequence[str] | None = None
                 ) -> PipelineEvaluation:
        """Run the dataset's judged queries and evaluate (BEIR's table by default)."""
        result = self.run(dataset.judged_queries(), dataset.corpus)
        return PipelineEvaluation(evaluate(dataset.qrels, result.run, measures), result.run,
                                  result.ledger)


def _counts(run: Run) -> dict[str, int]:
    if not len(run):
        return {}
    counted = pc.value_counts(pc.cast(run.qid, pa.string()))
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                    strict=True))


def with_tail(reranked: Run, previous: Run, depth: int) -> Run:
    """``reranked`` (a query's top ``depth`` re-scored) followed by the rest of ``previous``
    in its order, scored below every reranked document of the same query."""
    ranked = previous.ranked()
    tail = ranked.take(np.flatnonzero(ranked.ranks() > depth))
    if not len(tail):
        return reranked
    floors = pa.table({"qid": pc.cast(reranked.qid, pa.string()), "score": reranked.score}
                      ).group_by("qid", use_threads=False).aggregate([("score", "min")])
    where = pc.index_in(pc.cast(tail.qid, pa.string()), value_set=floors["qid"])
    floor = floors["score_min"].to_numpy()[where.to_numpy(zero_copy_only=False)]
    position = tail.ranks()                    # 1, 2, ... within each query's tail
    return concat_runs([reranked, Run(tail.qid, tail.docid, floor - position, reranked.name)],
                       reranked.name)


def concat_runs(runs: Sequence[Run], name: str) -> Run:
    """One run from several with disjoint (query, document) pairs, in ranked order."""
    runs = [r for r in runs if len(r)]
    if not runs:
        return Run.from_arrays([], [], [], name)
    qid = pa.concat_arrays([pc.cast(r.qid, pa.string()).combine_chunks()
                            if isinstance(r.qid, pa.ChunkedArray)
                            else pc.cast(r.qid, pa.string()) for r in runs])
    docid = pa.concat_arrays([pc.cast(r.docid, pa.string()).combine_chunks()
                              if isinstance(r.docid, pa.ChunkedArray)
                              else pc.cast(r.docid, pa.string()) for r in runs])
    return Run(qid, docid, np.concatenate([r.score for r in runs]), name).ranked()


class _QueryProgress:
    """A Rich progress bar over queries, or nothing when progress is off."""

    def __init__(self, total: int, quiet: bool | None) -> None:
        self.total, self.enabled = total, progress_enabled(quiet)

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(transient=False)
        self.bar.start()
        task = self.bar.add_task("pipeline (queries)", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.stop()
