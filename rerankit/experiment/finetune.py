"""Fine-tuning encoders on a dataset's training split (``rerankit train``).

* bi-encoders: sentence-transformers' trainer with an in-batch-negatives ranking loss
  (``MultipleNegativesRankingLoss``) on (query, relevant document, hard negative) triples;
* cross-encoders, from a cross-encoder checkpoint: binary cross-entropy on (query,
  document, 1/0) pairs from the same triples.

Hard negatives are mined with rerankit's own BM25: for each judged training query, the
best-ranked document of its top ``depth`` that is not judged relevant. Only the training
split is read, and its queries must be judged. Documents without text (Cranfield has two)
are left out, as positives and as negatives: an empty text teaches an encoder nothing, and
refusing them would leave such a collection untrainable, since ``rerankit train`` has no
``on_empty`` switch. The output is an ordinary model folder that any ``model:`` argument
accepts (its embeddings are cached under its content hash), plus
``rerankit-training.json``: base model identity, split, counts, seed, training seconds and
the files written (an earlier output is replaced only when it holds nothing else).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rerankit.data.atomic import atomic_folder, staged_files
from rerankit.data.loaders import Dataset
from rerankit.data.ownership import FILES_KEY, unlisted_entries
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import model_identity
from rerankit.progress import library_progress

TRAINING_RECORD = "rerankit-training.json"


@dataclass(frozen=True)
class Triples:
    """Training examples: parallel lists of query, relevant and hard-negative texts."""

    queries: list[str]
    positives: list[str]
    negatives: list[str]
    query_ids: list[str]


def mine_triples(data: Dataset, depth: int = 30, split: str = "train",
                 limit: int | None = None, seed: int = 42) -> Triples:
    """One triple per (judged query, relevant document with text): the negative is the
    best BM25 candidate not judged relevant. ``limit`` keeps a seeded subset of the
    queries; documents without text are never indexed nor used as positives."""
    from rerankit.retrieve.bm25 import BM25

    queries = data.judged_queries()
    if len(queries) == 0:
        raise InputFormatError(split, "the split has no judged queries to train on")
    if limit is not None and limit < len(queries):
        chosen = np.random.default_rng(seed).choice(len(queries), limit, replace=False)
        queries = queries.subset(sorted(queries.ids[i] for i in chosen))
    grades = data.qrels.to_dict()
    run = BM25(backend="numpy", on_empty="skip", quiet=True).index(data.corpus).retrieve(
        queries, depth).ranked()
    ranked: dict[str, list[str]] = {}
    for qid, docid in zip(run.qid.to_pylist(), run.docid.to_pylist(), strict=True):
        ranked.setdefault(qid, []).append(docid)
    out = Triples([], [], [], [])
    for qid in queries.ids:
        relevant = [d for d, g in grades.get(qid, {}).items()
                    if g > 0 and d in data.corpus and data.corpus[d].full_text.strip()]
        negative = next((d for d in ranked.get(qid, []) if grades[qid].get(d, 0) <= 0), None)
        if not relevant or negative is None:
            continue
        for docid in sorted(relevant):
            out.queries.append(queries[qid])
            out.positives.append(data.corpus[docid].full_text)
            out.negatives.append(data.corpus[negative].full_text)
            out.query_ids.append(qid)
    if not out.queries:
        raise InputFormatError(split, "no training triple: no judged query has a relevant "
                               "document with text in the corpus and a non-relevant BM25 "
                               "candidate")
    return out


def model_kind(model: str | Path) -> Literal["bi-encoder", "cross-encoder", "other"]:
    """What a local model folder holds: a sentence-transformers bi-encoder (modules.json),
    a sequence-classification (cross-encoder) checkpoint, or something else."""
    folder = Path(model)
    if (folder / "modules.json").is_file():
        return "bi-encoder"
    config = folder / "config.json"
    if config.is_file():
        kinds = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        if any(k.endswith("ForSequenceClassification") for k in kinds):
            return "cross-encoder"
    return "other"


def check_base(model: str | Path, kind: str) -> None:
    """A local base model must be of the kind being trained (named error otherwise)."""
    if not Path(model).is_dir():
        if str(model).startswith((".", "/")):
            raise InputFormatError(str(model), "model folder does not exist")
        return                                   # a hub name: sentence-transformers checks
    found = model_kind(model)
    if kind == "cross-encoder" and found != "cross-encoder":
        what = "it is a sentence-transformers bi-encoder" if found == "bi-encoder" else \
            "config.json names no ...ForSequenceClassification architecture"
        raise InputFormatError(str(model), f"not a cross-encoder checkpoint ({what}); train "
                               "cross-encoders from a cross-encoder, e.g. an MS MARCO one")
    if kind == "bi-encoder" and found == "cross-encoder":
        raise InputFormatError(str(model), "a cross-encoder checkpoint given as a bi-encoder; "
                               "use --kind cross-encoder")


def _training_api():
    try:
        import datasets  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError(err.name or "datasets", "train",
                                     "rerankit train") from None


def train_encoder(kind: Literal["bi-encoder", "cross-encoder"], model: str | Path,
                  triples: Triples, output: str | Path, split: str, epochs: int = 1,
                  batch_size: int = 32, learning_rate: float = 2e-5, seed: int = 42,
                  max_length: int = 256, quiet: bool | None = None) -> dict:
    """Fine-tune ``model`` on ``triples`` and write the model folder ``output`` atomically;
    returns the training record (also written into the folder). The libraries' progress
    bars (model loading, model card) show only when progress is on (a terminal, not
    ``quiet``)."""
    _training_api()
    check_base(model, kind)
    with library_progress(quiet):
        return _train(kind, model, triples, output, split, epochs, batch_size,
                      learning_rate, seed, max_length)


def _train(kind, model, triples, output, split, epochs, batch_size, learning_rate, seed,
           max_length) -> dict:
    import datasets
    import transformers

    transformers.set_seed(seed)
    start = time.perf_counter()
    with atomic_folder(output, foreign=foreign_entries) as staging:
        if kind == "bi-encoder":
            trained = _train_bi_encoder(model, triples, staging, epochs, batch_size,
                                        learning_rate, seed, max_length, datasets)
        else:
            trained = _train_cross_encoder(model, triples, staging, epochs, batch_size,
                                           learning_rate, seed, max_length, datasets)
        seconds = time.perf_counter() - start
        record = {"kind": kind, "base_model": str(model), "base_identity": model_identity(model),
                  "split": split, "queries": len(set(triples.query_ids)),
                  "examples": trained, "epochs": epochs, "batch_size": batch_size,
                  "learning_rate": learning_rate, "seed": seed, "max_length": max_length,
                  "negatives": "BM25 (rerankit), best-ranked non-relevant candidate",
                  "seconds": round(seconds, 1), FILES_KEY: staged_files(staging)}
        (staging / TRAINING_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that ``rerankit train`` did not write: all but its
    training record and the model files that lists. Only a folder without any (an empty
    folder, an earlier output left as it was) is replaced."""
    return unlisted_entries(folder, TRAINING_RECORD)


def _arguments(cls, folder: Path, epochs, batch_size, learning_rate, seed, **extra):
    return cls(output_dir=str(folder / ".checkpoints"), num_train_epochs=epochs,
               per_device_train_batch_size=batch_size, learning_rate=learning_rate,
               seed=seed, data_seed=seed, save_strategy="no", report_to=[],
               logging_strategy="no", disable_tqdm=True, use_cpu=True, **extra)


def _train_bi_encoder(model, triples, staging, epochs, batch_size, learning_rate, seed,
                      max_length, datasets) -> int:
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    encoder = SentenceTransformer(str(model), device="cpu")
    encoder.max_seq_length = max_length
    data = datasets.Dataset.from_dict({"anchor": triples.queries,
                                       "positive": triples.positives,
                                       "negative": triples.negatives})
    args = _arguments(SentenceTransformerTrainingArguments, staging, epochs, batch_size,
                      learning_rate, seed, batch_sampler=BatchSamplers.NO_DUPLICATES)
    SentenceTransformerTrainer(model=encoder, args=args, train_dataset=data,
                               loss=losses.MultipleNegativesRankingLoss(encoder)).train()
    _remove_checkpoints(staging)
    encoder.save(str(staging))
    return len(data)


def _train_cross_encoder(model, triples, staging, epochs, batch_size, learning_rate, seed,
                         max_length, datasets) -> int:
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    scorer = CrossEncoder(str(model), num_labels=1, max_length=max_length, device="cpu")
    n = len(triples.queries)
    data = datasets.Dataset.from_dict({"query": triples.queries * 2,
                                       "document": triples.positives + triples.negatives,
                                       "label": [1.0] * n + [0.0] * n})
    args = _arguments(CrossEncoderTrainingArguments, staging, epochs, batch_size,
                      learning_rate, seed)
    CrossEncoderTrainer(model=scorer, args=args, train_dataset=data,
                        loss=BinaryCrossEntropyLoss(scorer)).train()
    _remove_checkpoints(staging)
    scorer.save(str(staging))
    return len(data)


def _remove_checkpoints(staging: Path) -> None:
    import shutil

    shutil.rmtree(staging / ".checkpoints", ignore_errors=True)
