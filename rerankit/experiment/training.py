"""Training a config's learned stages before it is evaluated, with train/test hygiene.

For each reranker stage with ``train: {split: S}``, the pipeline's stages before it run over
split S's judged queries, and the stage is fitted on those candidates. Training never sees an
evaluated query: overlapping query ids between S and the evaluated query set are an error.
The protocol (which split trained what, on how many queries, with which training data) is
returned for the manifest, with the training time (stages before included) as ``seconds``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from rerankit.data.loaders import Dataset
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError
from rerankit.experiment.config import RunConfig
from rerankit.pipeline import Pipeline
from rerankit.settings import Settings


def train_stages(config: RunConfig, pipeline: Pipeline, evaluated: Queries,
                 load_split: Callable[[str], Dataset],
                 settings: Settings | None = None) -> list[dict]:
    """Fit every stage of ``pipeline`` whose config has ``train``; the protocol records.
    Trained models are kept in the settings' model store (``ltr/``)."""
    store = (settings or Settings.resolve()).model_store
    protocol = []
    for position, spec in enumerate(config.rerankers):
        if spec.train is None:
            continue
        split = spec.train.split
        where = f"{config.name}: rerankers[{position}].train.split '{split}'"
        data = load_split(split)
        queries = data.judged_queries()
        if len(queries) == 0:
            raise InputFormatError(where, "the split has no judged queries to train on")
        shared = sorted(set(queries.ids) & set(evaluated.ids))
        if shared:
            raise InputFormatError(where, f"{len(shared)} training queries are also evaluated "
                                   f"(first: '{shared[0]}'); training must never see an "
                                   "evaluation query")
        stage = pipeline.stages[position + 1]
        start = time.perf_counter()
        prefix = Pipeline(pipeline.stages[:position + 1], batch_size=pipeline.batch_size,
                          cache=pipeline.cache, quiet=pipeline.quiet, name=pipeline.name)
        candidates = prefix.run(queries, data.corpus).run
        depth = stage.depth             # None: all the stages before pass on, as when run
        model = stage.component.fit(queries, data.qrels, candidates, data.corpus, depth,
                                    split=split)
        seconds = time.perf_counter() - start
        saved = _save(model, store)
        protocol.append({"stage": stage.label, "trained_on": {
            "dataset": config.dataset.name or str(config.dataset.path), "split": split,
            "queries": len(queries), "query_ids": _digest(sorted(queries.ids)),
            "depth": depth}, "evaluated_on": {"split": config.dataset.split,
                                              "queries": len(evaluated),
                                              "query_ids": _digest(sorted(evaluated.ids))},
            "model": model.trained, "saved_to": f"$RERANKIT_MODELS/ltr/{saved.name}",
            "seconds": round(seconds, 3)})
    return protocol


def _save(model, store: Path) -> Path:
    """The trained model's folder in the model store, named by the hash of its features
    and training record (training data, parameters), written once; ``params: {model:
    FOLDER}`` reuses it without training. The manifest names it under ``$RERANKIT_MODELS``
    (default ``~/.cache/rerankit/models``), not by the user's home path."""
    identity = json.dumps({"features": model.union.features, "trained": model.trained},
                          sort_keys=True)
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    folder = store / "ltr" / f"{model.name}-{name}"
    if not folder.is_dir():
        model.save(folder)
    return folder


def _digest(ids: list[str]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(ids).encode()).hexdigest()
