"""Pointwise rerankers with real weights: a small randomly initialised BERT cross-encoder
checked score for score against CrossEncoder.predict, and MiniLM bi-encoder re-scoring of
real BM25 candidates on SciFact."""

from __future__ import annotations

import numpy as np
import pytest

from rerankit import datasets, evaluate
from rerankit.errors import InputFormatError
from rerankit.retrieve.bm25 import BM25

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def scifact_candidates():
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    queries = queries.subset(list(queries.ids)[:30])
    run = BM25(quiet=True).index(ds.corpus).retrieve(queries, k=20)
    return ds, queries, run


def test_cross_encoder_scores_equal_crossencoder_predict(tiny_cross_encoder, scifact_candidates):
    from sentence_transformers import CrossEncoder

    from rerankit.rerank.pointwise import CrossEncoderReranker

    ds, queries, run = scifact_candidates
    reranker = CrossEncoderReranker(tiny_cross_encoder, batch_size=16, quiet=True)
    reranked = reranker.rerank(queries, run, ds.corpus, depth=10)
    reference = CrossEncoder(str(tiny_cross_encoder), device="cpu")
    top = run.top_k(10).to_dict()
    got = reranked.to_dict()
    tokens = 0
    for qid, docs in top.items():
        pairs = [(queries[qid], ds.corpus[d].full_text) for d in docs]
        expected = reference.predict(pairs, batch_size=16)
        for doc, value in zip(docs, expected, strict=True):
            assert got[qid][doc] == pytest.approx(float(value), abs=1e-6)
        encoded = reference.tokenizer([q for q, _ in pairs], [d for _, d in pairs],
                                      truncation=True, max_length=reference.max_seq_length)
        tokens += sum(len(ids) for ids in encoded["input_ids"])
    assert reranker.stats.candidates == len(reranked) == 300
    # tokens counted from the model's own inputs (no second tokenisation) = the tokenizer's
    assert reranker.stats.model_calls == 300 // 16 + 1 and reranker.stats.tokens_in == tokens
    for values in got.values():               # rows come sorted by the new scores
        assert np.all(np.diff(list(values.values())) <= 0)


def test_bi_encoder_rescoring_equals_cosine_and_keeps_quality(scifact_candidates):
    from sentence_transformers import SentenceTransformer

    from rerankit.rerank.pointwise import BiEncoderReranker
    from rerankit.retrieve.dense import default_model

    ds, queries, run = scifact_candidates
    reranked = BiEncoderReranker(quiet=True).rerank(queries, run, ds.corpus, depth=20)
    raw = SentenceTransformer(default_model(), device="cpu")
    qid = queries.ids[0]
    docs = list(run.to_dict()[qid])
    q = raw.encode([queries[qid]], normalize_embeddings=True)[0]
    d = raw.encode([ds.corpus[x].full_text for x in docs], normalize_embeddings=True)
    for doc, value in zip(docs, d @ q, strict=True):
        assert reranked.to_dict()[qid][doc] == pytest.approx(float(value), abs=1e-5)
    before = evaluate(ds.qrels, run, ["ndcg_cut_10"])["ndcg_cut_10"]
    after = evaluate(ds.qrels, reranked, ["ndcg_cut_10"])["ndcg_cut_10"]
    assert after > 0.5 and abs(after - before) < 0.15


def test_bad_candidates_and_models(tiny_cross_encoder, scifact_candidates, tmp_path):
    import torch

    from rerankit.data.queries import Queries
    from rerankit.data.run import Run
    from rerankit.rerank.pointwise import CrossEncoderReranker

    ds, queries, run = scifact_candidates
    reranker = CrossEncoderReranker(tiny_cross_encoder, quiet=True)
    with pytest.raises(InputFormatError, match=r"'nope' .* is not in the corpus"):
        reranker.rerank(queries, Run.from_dict({queries.ids[0]: {"nope": 1.0}}), ds.corpus)
    with pytest.raises(InputFormatError, match="query 'q-missing'"):
        reranker.rerank(Queries(("a",), ("x",)), Run.from_dict({"q-missing": {"4983": 1.0}}),
                        ds.corpus)
    with pytest.raises(InputFormatError, match="model folder does not exist"):
        CrossEncoderReranker(tmp_path / "absent")
    with torch.no_grad():                     # a real model whose head outputs NaN
        for parameter in reranker.model.model.classifier.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(InputFormatError, match="the model returned nan for query"):
        reranker.rerank(queries, run, ds.corpus, depth=2)


def test_a_model_without_a_trained_classification_head_is_refused(tiny_cross_encoder, tmp_path,
                                                                 capfd):
    """sentence-transformers gives a headless checkpoint a random head (other noise on each
    load): the offline all-MiniLM-L6-v2 bi-encoder, and the tiny cross-encoder's own BERT
    body saved without its head, are refused in one line naming the model; the tiny
    cross-encoder itself (a real trained-head checkpoint) loads without a word."""
    from transformers import BertForSequenceClassification

    from rerankit.rerank.pointwise import CrossEncoderReranker
    from rerankit.retrieve.dense import default_model

    body = tmp_path / "bert-body"
    BertForSequenceClassification.from_pretrained(tiny_cross_encoder).bert.save_pretrained(body)
    for model in (default_model(), body):
        with pytest.raises(InputFormatError) as raised:
            CrossEncoderReranker(model, quiet=True)
        assert str(raised.value).startswith(f"{model}: not a cross-encoder: it has no trained "
                                            "classification head (classifier.bias, "
                                            "classifier.weight not in the checkpoint, newly "
                                            "initialised")
    capfd.readouterr()
    CrossEncoderReranker(tiny_cross_encoder, quiet=True)
    assert capfd.readouterr().err == ""
