"""The learning-to-rank stage on a real SciFact subset, checked against the raw libraries:
features against BM25's own ranking and the tokenizer, the model against LightGBM trained
directly on the same data, and every bad input the issue lists (a named error or warning)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.corpus import InMemoryCorpus
from rerankit.data.loaders import load_beir
from rerankit.data.run import Run
from rerankit.errors import (
    InputFormatError,
    MissingDependencyError,
    OutputWriteError,
    RerankitError,
)
from rerankit.experiment.config import load_config
from rerankit.experiment.runner import run_config
from rerankit.rerank.base import candidate_lists
from rerankit.rerank.features import FeatureUnion, check_features, list_ranks
from rerankit.rerank.ltr import LTRNotImprovingWarning, LTRReranker
from rerankit.retrieve.bm25 import BM25

lightgbm = pytest.importorskip("lightgbm", reason="the LTR stage needs lightgbm (extra ltr)")

CHEAP = ["bm25.score", "bm25.rank", "input.rank", "doc.length", "query.overlap"]


@pytest.fixture(scope="module")
def scifact_subset(tmp_path_factory) -> Path:
    """A BEIR folder: 60 train and 30 test SciFact queries (seeded), the first 1,200
    documents plus every judged one, and both qrels files as shipped."""
    folder = tmp_path_factory.mktemp("scifact-subset")
    source = datasets.path("scifact")
    rng = np.random.default_rng(7)
    chosen = {}
    for split, count in (("train", 60), ("test", 30)):
        lines = (source / "qrels" / f"{split}.tsv").read_text().splitlines()
        qids = sorted({line.split("\t")[0] for line in lines[1:]})
        keep = set(rng.choice(qids, count, replace=False).tolist())
        chosen[split] = [line for line in lines[1:] if line.split("\t")[0] in keep]
        (folder / "qrels").mkdir(exist_ok=True)
        (folder / "qrels" / f"{split}.tsv").write_text(
            "\n".join([lines[0], *chosen[split]]) + "\n")
    judged = {line.split("\t")[1] for rows in chosen.values() for line in rows}
    corpus = (source / "corpus.jsonl").read_text().splitlines()
    kept = [line for i, line in enumerate(corpus)
            if i < 1200 or json.loads(line)["_id"] in judged]
    (folder / "corpus.jsonl").write_text("\n".join(kept) + "\n")
    (folder / "queries.jsonl").write_text((source / "queries.jsonl").read_text())
    return folder


@pytest.fixture(scope="module")
def splits(scifact_subset):
    train, test = load_beir(scifact_subset, "train"), load_beir(scifact_subset, "test")
    bm25 = BM25(backend="numpy", quiet=True).index(test.corpus)   # no numba compile
    return train, test, bm25


def _lists(data, bm25, depth=30):
    queries = data.judged_queries()
    return queries, bm25.retrieve(queries, depth), candidate_lists(
        queries, bm25.retrieve(queries, depth), data.corpus, None)


def test_features_equal_bm25_and_the_tokenizer(splits):
    train, _, bm25 = splits
    union = FeatureUnion(CHEAP)
    union.prepare(train.corpus)
    _, run, lists = _lists(train, bm25)
    matrices = union.matrices(lists)
    scores = dict(zip(zip(run.qid.to_pylist(), run.docid.to_pylist(), strict=True),
                      run.score, strict=True))
    texts = [t for c in lists for t in (c.query, *c.texts)]
    tokens = iter(BM25(quiet=True)._new_tokenizer().tokenize(
        texts, update_vocab=True, return_as="string", show_progress=False))
    for candidates, matrix in zip(lists, matrices, strict=True):
        expected = [scores[(candidates.query_id, d)] for d in candidates.doc_ids]
        np.testing.assert_allclose(matrix[:, 0], expected, rtol=1e-6)   # the retriever's
        np.testing.assert_array_equal(matrix[:, 1], np.arange(1, len(expected) + 1))
        np.testing.assert_array_equal(matrix[:, 2], np.arange(1, len(expected) + 1))
        query = set(next(tokens))
        documents = [next(tokens) for _ in candidates.texts]
        np.testing.assert_array_equal(matrix[:, 3], [len(d) for d in documents])
        np.testing.assert_allclose(matrix[:, 4], [len(query & set(d)) / max(len(query), 1)
                                                  for d in documents])


def test_ranks_are_one_for_the_best_and_stable_on_ties():
    np.testing.assert_array_equal(list_ranks(np.array([0.5, 2.0, 0.5, 3.0])), [3, 2, 4, 1])


def test_model_equals_lightgbm_trained_directly_and_survives_save_load(splits, tmp_path):
    train, test, bm25 = splits
    queries, run, lists = _lists(train, bm25)
    model = LTRReranker(CHEAP, n_estimators=60, early_stopping_rounds=20, seed=3)
    model.fit(queries, train.qrels, run, train.corpus)
    # the same split, data and parameters through LightGBM's own API
    matrices = model.union.matrices(lists)
    grades = train.qrels.to_dict()
    labels = [np.array([grades[c.query_id].get(d, 0) for d in c.doc_ids]) for c in lists]
    order = np.random.default_rng(3).permutation(len(lists))
    held = round(0.2 * len(lists))
    valid, fit = sorted(order[:held]), sorted(order[held:])
    stack = [(np.vstack([matrices[i] for i in p]), np.concatenate([labels[i] for i in p]),
              [len(labels[i]) for i in p]) for p in (fit, valid)]
    params = {k: v for k, v in model.params.items() if k != "num_iterations"}
    reference = lightgbm.train(
        params, lightgbm.Dataset(stack[0][0], stack[0][1], group=stack[0][2]),
        num_boost_round=60, valid_sets=[lightgbm.Dataset(stack[1][0], stack[1][1],
                                                         group=stack[1][2])],
        callbacks=[lightgbm.early_stopping(20, verbose=False)])
    test_queries, test_run, test_lists = _lists(test, bm25)
    ours = model.score_lists(test_lists)
    theirs = reference.predict(np.vstack(model.union.matrices(test_lists)),
                               num_iteration=reference.best_iteration)
    np.testing.assert_allclose(np.concatenate(ours), theirs)
    assert model.trained["train_queries"] == len(fit)
    assert model.trained["validation_queries"] == held
    # saved and loaded: same scores, same identity
    folder = model.save(tmp_path / "ltr-model")
    loaded = LTRReranker(CHEAP, model=folder)
    loaded.prepare(test.corpus)
    np.testing.assert_array_equal(np.concatenate(loaded.score_lists(test_lists)),
                                  np.concatenate(ours))
    assert loaded.identity()["trained"] == model.identity()["trained"]
    model.save(folder)                                  # its own model: replaced
    (folder / "model.txt").unlink()
    (folder / "model.txt").mkdir()                      # the name, not the kind it writes
    with pytest.raises(OutputWriteError, match=r"did not write \(model\.txt \(a folder\)\)"):
        model.save(folder)
    assert (folder / "model.txt").is_dir()
    # other training data: another identity, so never another model's cached scores
    other = LTRReranker(CHEAP, n_estimators=60, early_stopping_rounds=20, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LTRNotImprovingWarning)
        other.fit(test_queries, test.qrels, test_run, test.corpus)
    assert other.identity()["trained"]["training_data"] != \
        model.identity()["trained"]["training_data"]


@pytest.mark.parametrize("features, message", [
    (["bm25.score", "splade.idf"], "stage 'splade' does not produce 'idf'"),
    (["colbert.score"], "no stage 'colbert'"),
    (["bm25.score", "bm25.score"], "listed twice: bm25.score"),
    ([], "at least one feature"),
])
def test_a_feature_no_stage_produces_is_named(features, message):
    with pytest.raises(ValueError, match=message):
        check_features(features)


def test_training_queries_without_judgements_are_refused(splits):
    train, test, bm25 = splits
    queries, run, _ = _lists(train, bm25)
    with pytest.raises(InputFormatError, match="have no judgements"):
        LTRReranker(CHEAP).fit(queries, test.qrels, run, train.corpus, split="dev")


def test_an_unimproving_model_is_reported(splits):
    """Candidates already in the ideal order (relevant first): no model can do better."""
    train, _, bm25 = splits
    queries, run, _ = _lists(train, bm25)
    grades = train.qrels.to_dict()
    relevant = np.array([grades[q].get(d, 0) > 0 for q, d in
                         zip(run.qid.to_pylist(), run.docid.to_pylist(), strict=True)])
    ideal = Run(run.qid, run.docid, run.score + 1000.0 * relevant, "ideal")
    with pytest.warns(LTRNotImprovingWarning, match="did not improve nDCG@10"):
        LTRReranker(CHEAP, n_estimators=20).fit(queries, train.qrels, ideal, train.corpus)


def test_untrained_and_wrong_model_folders_are_named(tmp_path, splits):
    _, test, bm25 = splits
    _, _, lists = _lists(test, bm25)
    with pytest.raises(RerankitError, match="not trained"):
        LTRReranker(CHEAP).score_lists(lists)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputFormatError, match="not a rerankit LTR model folder"):
        LTRReranker(CHEAP, model=tmp_path)


def test_missing_lightgbm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingDependencyError, match=r"rerankit\[ltr\]"):
        LTRReranker(CHEAP)


def _config(tmp_path, dataset: Path, train_split: str = "train", extra: str = "") -> Path:
    path = tmp_path / "ltr.yaml"
    path.write_text(f"""name: subset-ltr
dataset: {{path: {dataset}, split: test}}
retriever: {{type: bm25, params: {{backend: numpy}}}}
depth: 30
rerankers:
  - type: ltr
    features: [{', '.join(CHEAP)}]
    train: {{split: {train_split}}}
    params: {{n_estimators: 40, early_stopping_rounds: 10}}
{extra}cache: false
""")
    return path


def test_run_trains_on_train_and_records_the_protocol(tmp_path, scifact_subset, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LTRNotImprovingWarning)
        outcome = run_config(load_config(_config(tmp_path, scifact_subset)), tmp_path / "out",
                             quiet=True)
    manifest = json.loads((outcome.folder / "manifest.json").read_text())
    [record] = manifest["training"]
    assert record["trained_on"]["split"] == "train" and record["trained_on"]["queries"] == 60
    assert record["evaluated_on"] == {**record["evaluated_on"], "split": "test",
                                      "queries": 30}
    assert manifest["stages"][1]["trained"] == record["model"]
    saved = LTRReranker(CHEAP, model=record["saved_to"].replace(
        "$RERANKIT_MODELS", manifest["settings"]["model_store"]))
    assert saved.trained == record["model"]
    assert json.loads((outcome.folder / "ledger.json").read_text())["setup_seconds"]["ltr"] > 0


def test_overlapping_train_and_test_queries_are_refused(tmp_path, scifact_subset, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "cache"))
    qrels = scifact_subset / "qrels"
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (leaky / name).symlink_to(scifact_subset / name)
    (leaky / "qrels").mkdir()
    (leaky / "qrels" / "test.tsv").write_text((qrels / "test.tsv").read_text())
    train = (qrels / "train.tsv").read_text() + \
        "\n".join((qrels / "test.tsv").read_text().splitlines()[1:3]) + "\n"
    (leaky / "qrels" / "dev.tsv").write_text(train)
    with pytest.raises(InputFormatError, match="training queries are also evaluated"):
        run_config(load_config(_config(tmp_path, leaky, "dev")), tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("stage, message", [
    ("  - {type: ltr, features: [bm25.score], train: {split: test}}",
     "is the split being evaluated"),
    ("  - {type: ltr, features: [bm25.score]}", "needs either 'train"),
    ("  - {type: bi-encoder, features: [bm25.score]}", r"belong to trainable types \(ltr\) only"),
    ("  - {type: ltr, features: [bm25.bogus], train: {split: train}}",
     "does not produce 'bogus'"),
])
def test_bad_ltr_configs_are_named(tmp_path, stage, message):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\n"
                    f"rerankers:\n{stage}\n")
    with pytest.raises(InputFormatError, match=message):
        load_config(path)


def test_the_corpus_is_part_of_the_identity(splits):
    """BM25 features depend on the whole corpus (idf), so the cache key must too."""
    train, _, _ = splits
    union, smaller = FeatureUnion(CHEAP), FeatureUnion(CHEAP)
    union.prepare(train.corpus)
    documents = list(train.corpus)
    smaller.prepare(InMemoryCorpus(documents[:-1]))
    assert union.identity()["corpus"] != smaller.identity()["corpus"]
