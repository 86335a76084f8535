"""A learning-to-rank stage: LightGBM LambdaMART (``lambdarank``) over a feature union.

``LTRReranker(features=[...]).fit(queries, qrels, candidates, corpus)`` trains on the
pipeline's own candidates for training queries (labels from their judgements, unjudged
candidates 0), stops early on a seeded validation split carved from those queries, and then
re-scores any candidate list. A trained model is saved as a folder (``model.txt``: LightGBM's
text model; ``ltr.json``: its identity) and loaded with ``LTRReranker(model=FOLDER)``.

Its identity (features and the components computing them, LightGBM parameters, the sha256
of the training matrix, labels and query groups) enters the score-cache key and the
manifest, so two differently trained models can never share a cached score.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerankit.data.atomic import atomic_folder
from rerankit.data.corpus import Corpus
from rerankit.data.ownership import foreign_entries
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, MissingDependencyError, RerankitError
from rerankit.registry import register
from rerankit.rerank.base import CandidateList, Reranker, candidate_lists
from rerankit.rerank.features import DEFAULT_FEATURES, FeatureUnion, check_features

MODEL_FORMAT = 1


class LTRNotImprovingWarning(UserWarning):
    """Training did not improve nDCG@10 on the validation queries over the input ranking."""


def _lightgbm():
    try:
        import lightgbm
    except ImportError:
        raise MissingDependencyError("lightgbm", "ltr", "The LTR stage (type: ltr)") from None
    return lightgbm


@register("reranker", "ltr", trainable=True)
class LTRReranker(Reranker):
    """LambdaMART over :mod:`rerankit.rerank.features`; ``fit`` before scoring, or load a
    saved model with ``model=FOLDER``."""

    pointwise = False               # rank features depend on the whole candidate list
    batches_across_queries = True

    def __init__(self, features: Sequence[str] = DEFAULT_FEATURES,
                 model: str | Path | None = None, num_leaves: int = 15,
                 learning_rate: float = 0.05, n_estimators: int = 500,
                 min_child_samples: int = 20, early_stopping_rounds: int = 50,
                 validation_fraction: float = 0.2, seed: int = 42,
                 quiet: bool | None = None) -> None:
        super().__init__()
        _lightgbm()
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be between 0 and 1, got "
                             f"{validation_fraction}")
        self.union = FeatureUnion(features, quiet=quiet)
        self.params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10],
                       "num_leaves": num_leaves, "learning_rate": learning_rate,
                       "num_iterations": n_estimators, "min_data_in_leaf": min_child_samples,
                       "seed": seed, "deterministic": True, "force_row_wise": True,
                       "num_threads": 1, "verbosity": -1}
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction, self.seed = validation_fraction, seed
        self.booster = None
        self.trained: dict[str, Any] | None = None
        if model is not None:
            self._load(Path(model))

    @property
    def name(self) -> str:
        return "ltr"

    @classmethod
    def check_stage(cls, features: Sequence[str] | None, trains: bool,
                    params: dict[str, Any]) -> None:
        """A config's ``ltr`` stage: known features, and either ``train`` or a trained
        ``model`` folder (the config layer calls this for trainable stages)."""
        if features is not None:
            check_features(features)
        if trains == ("model" in params):
            raise ValueError("type 'ltr' needs either 'train: {split: ...}' or a "
                             "trained model folder in 'params: {model: ...}'")

    # ------------------------------------------------------------------ identity
    def identity(self) -> dict:
        identity = super().identity()
        identity["features"] = self.union.identity()
        identity["trained"] = self.trained
        return identity

    def prepare(self, corpus: Corpus) -> None:
        self.union.prepare(corpus)

    # ------------------------------------------------------------------ training
    def fit(self, queries: Queries, qrels: Qrels, candidates: Run, corpus: Corpus,
            depth: int | None = None, split: str = "train") -> LTRReranker:
        """Train on each query's top ``depth`` candidates (labels: the judgement grades,
        negatives and unjudged 0); a seeded ``validation_fraction`` of the queries stops
        training early. Queries without judgements are an error naming the split."""
        lightgbm = _lightgbm()
        judged = set(qrels.query_ids)
        unjudged = [q for q in queries.ids if q not in judged]
        if unjudged:
            raise InputFormatError(split, f"{len(unjudged)} training queries have no "
                                   f"judgements (first: '{unjudged[0]}'); LTR needs judged "
                                   "training queries")
        self.prepare(corpus)
        lists = candidate_lists(queries, candidates, corpus, depth)
        if len(lists) < 2:
            raise InputFormatError(split, "LTR training needs candidates for at least two "
                                   "judged queries (one for validation)")
        grades = qrels.to_dict()
        labels = [np.array([max(grades[c.query_id].get(d, 0), 0) for d in c.doc_ids],
                           dtype=np.int32) for c in lists]
        matrices = self.union.matrices(lists)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(lists))
        held = max(1, round(self.validation_fraction * len(lists)))
        valid, train = sorted(order[:held]), sorted(order[held:])
        x_train, y_train, g_train = _stack(matrices, labels, train)
        x_valid, y_valid, g_valid = _stack(matrices, labels, valid)
        training = lightgbm.Dataset(x_train, y_train, group=g_train)
        validation = lightgbm.Dataset(x_valid, y_valid, group=g_valid, reference=training)
        rounds = self.params["num_iterations"]
        self.booster = lightgbm.train(
            {k: v for k, v in self.params.items() if k != "num_iterations"}, training,
            num_boost_round=rounds, valid_sets=[validation], valid_names=["validation"],
            callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)])
        valid_ndcg = float(self.booster.best_score["validation"]["ndcg@10"])
        baseline = _input_ndcg10([labels[i] for i in valid])
        digest = hashlib.sha256()
        for part in (x_train, y_train, np.asarray(g_train), x_valid, y_valid,
                     np.asarray(g_valid)):
            digest.update(np.ascontiguousarray(part).tobytes())
        digest.update(json.dumps([lists[i].query_id for i in (*train, *valid)]).encode())
        self.trained = {"training_data": "sha256:" + digest.hexdigest(),
                        "split": split, "train_queries": len(train),
                        "validation_queries": len(valid), "rows": len(y_train),
                        "best_iteration": int(self.booster.best_iteration or
                                              self.booster.current_iteration()),
                        "validation_ndcg_cut_10": round(valid_ndcg, 6),
                        "input_validation_ndcg_cut_10": round(baseline, 6),
                        "params": self.params}
        if valid_ndcg <= baseline:
            warnings.warn(f"LTR stage: training on split '{split}' did not improve nDCG@10 "
                          f"on its {len(valid)} validation queries ({valid_ndcg:.4f} vs the "
                          f"input ranking's {baseline:.4f}); the model is kept but may hurt",
                          LTRNotImprovingWarning, stacklevel=2)
        return self

    # ------------------------------------------------------------------ scoring
    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        if self.booster is None:
            raise RerankitError("the LTR stage is not trained: call fit() (in a config: "
                                "train: {split: train}) or give model=FOLDER")
        if not lists:
            return []
        matrices = self.union.matrices(lists)
        flat = self.booster.predict(np.vstack(matrices),
                                    num_iteration=self.trained["best_iteration"])
        bounds = np.cumsum([0] + [len(m) for m in matrices])
        return [np.asarray(flat[bounds[i]:bounds[i + 1]], dtype=np.float64)
                for i in range(len(lists))]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``model.txt`` and ``ltr.json`` into ``folder`` atomically."""
        if self.booster is None:
            raise RuntimeError("nothing to save: fit() first")
        with atomic_folder(folder, foreign=_foreign_entries) as staging:
            self.booster.save_model(str(staging / "model.txt"))
            meta = {"format": MODEL_FORMAT, "kind": "rerankit-ltr",
                    "features": self.union.features, "trained": self.trained}
            (staging / "ltr.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return Path(folder)

    def _load(self, folder: Path) -> None:
        meta_path = folder / "ltr.json"
        if not folder.is_dir():
            raise InputFormatError(folder, "LTR model folder does not exist")
        if not meta_path.is_file() or not (folder / "model.txt").is_file():
            raise InputFormatError(folder, "not a rerankit LTR model folder (needs ltr.json "
                                   "and model.txt, written by LTRReranker.save)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise InputFormatError(meta_path, f"not valid JSON: {err}") from None
        if not isinstance(meta, dict) or meta.get("kind") != "rerankit-ltr" or \
                meta.get("format") != MODEL_FORMAT:
            raise InputFormatError(meta_path, f"not a rerankit LTR model of format "
                                   f"{MODEL_FORMAT}")
        if meta.get("features") != self.union.features:
            raise InputFormatError(meta_path, f"'features': the model was trained on "
                                   f"{meta.get('features')}, the stage asks for "
                                   f"{self.union.features}")
        self.booster = _lightgbm().Booster(model_file=str(folder / "model.txt"))
        self.trained = meta["trained"]


def _foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that :meth:`LTRReranker.save` did not write: all of them
    without its ``ltr.json``, else all but its two files. Only a folder without any is
    replaced."""
    if not (folder / "ltr.json").is_file():
        return sorted(entry.name for entry in folder.iterdir())
    return foreign_entries(folder, ("ltr.json", "model.txt"))


def _stack(matrices: list[np.ndarray], labels: list[np.ndarray], part: list[int]):
    """Features, labels and group sizes of the lists at positions ``part``."""
    return (np.vstack([matrices[i] for i in part]), np.concatenate([labels[i] for i in part]),
            [len(labels[i]) for i in part])


def _input_ndcg10(labels: list[np.ndarray]) -> float:
    """Mean nDCG@10 (exponential gain as LightGBM uses) of the lists in their given order."""
    values = []
    for grades in labels:
        gains = (2.0 ** grades.astype(float)) - 1.0
        discounts = 1.0 / np.log2(np.arange(2, min(10, len(gains)) + 2))
        ideal = np.sort(gains)[::-1][:10] @ discounts
        values.append(1.0 if ideal == 0 else (gains[:10] @ discounts) / ideal)
    return float(np.mean(values))
