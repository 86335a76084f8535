"""The pipeline object, its score cache and cost ledger, with real weights on SciFact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.corpus import Document, InMemoryCorpus
from rerankit.pipeline import Pipeline, ScoreCache, Stage
from rerankit.retrieve.bm25 import BM25

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def scifact():
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    return ds, queries.subset(list(queries.ids)[:12])


@pytest.fixture(scope="module")
def bm25(scifact):
    return BM25(quiet=True).index(scifact[0].corpus)


@pytest.fixture(scope="module")
def cross_encoder(tiny_cross_encoder):
    from rerankit.rerank.pointwise import CrossEncoderReranker

    return CrossEncoderReranker(tiny_cross_encoder, quiet=True)


def ranking(run, qid: str) -> list[str]:
    """A query's documents in trec_eval order (ties by document id, as written to files)."""
    ranked = run.ranked()
    return [d for q, d in zip(ranked.qid.to_pylist(), ranked.docid.to_pylist(), strict=True)
            if q == qid]


def test_operators_build_stages(bm25, cross_encoder):
    pipeline = bm25 % 30 >> cross_encoder % 10 >> cross_encoder
    assert isinstance(pipeline, Pipeline)
    assert [(s.component, s.cutoff) for s in pipeline.stages] == [
        (bm25, 30), (cross_encoder, 10), (cross_encoder, None)]
    tail = cross_encoder % 5 >> cross_encoder               # a chain of rerankers
    assert [s.cutoff for s in (bm25 % 30 >> tail).stages] == [30, 5, None]
    assert (bm25 >> cross_encoder % 10).stages[1].cutoff == 10


@pytest.mark.parametrize("cutoff", [2.7, True, np.float64(3.0), "3", None])
def test_a_cut_off_must_be_an_integer(cutoff):
    """``% 2.7`` was truncated to 2 and ``% True`` became 1; both are refused now."""
    retriever = BM25(quiet=True)
    for operand in (retriever, Stage(retriever), Pipeline([Stage(retriever)])):
        with pytest.raises(TypeError, match=r"cut-off \(the number after %\) must be an "
                           "integer"):
            operand % cutoff
    assert (retriever % np.int64(3)).cutoff == 3
    assert (Pipeline([Stage(retriever)]) % 3).stages[0].cutoff == 3


def test_bad_pipelines_are_refused(bm25, cross_encoder):
    with pytest.raises(ValueError, match="first stage must be a retriever"):
        Pipeline([cross_encoder])
    with pytest.raises(ValueError, match="stage 2 must be a reranker"):
        Pipeline([bm25, bm25])
    with pytest.raises(ValueError, match="cutoff 50 is larger than the 20 candidates"):
        bm25 % 20 >> cross_encoder % 50
    with pytest.raises(ValueError, match="depth 40 is larger than the 20 candidates the "
                                         "stage before passes on"):
        Pipeline([Stage(bm25, cutoff=20), Stage(cross_encoder, depth=40)])


def test_pipeline_equals_the_stages_called_by_hand(scifact, bm25, cross_encoder):
    ds, queries = scifact
    result = (bm25 % 30 >> cross_encoder % 10 >> cross_encoder).run(queries, ds.corpus)
    by_hand = cross_encoder.rerank(queries, bm25.retrieve(queries, 30), ds.corpus)
    for qid in queries.ids:
        ranked = ranking(result.run, qid)
        assert ranked == ranking(by_hand, qid)  # tail (ranks 11-30) in the cross-encoder's order
        assert len(ranked) == 30
    cut = (bm25 % 30 >> cross_encoder % 10).run(queries, ds.corpus).run
    assert set(np.unique(np.asarray(cut.qid.to_pylist()), return_counts=True)[1]) == {10}


def test_rerank_depth_keeps_the_tail_in_retrieval_order(scifact, bm25, cross_encoder):
    ds, queries = scifact
    retrieved = bm25.retrieve(queries, 20)
    result = Pipeline([Stage(bm25, cutoff=20), Stage(cross_encoder, depth=5)]).run(
        queries, ds.corpus).run
    for qid in queries.ids:
        order, bm25_order = ranking(result, qid), ranking(retrieved, qid)
        assert set(order[:5]) == set(bm25_order[:5]) and order[5:] == bm25_order[5:]


def test_cache_resumes_and_invalidates_exactly_what_changed(scifact, bm25, cross_encoder,
                                                           tmp_path):
    ds, queries = scifact
    cache = ScoreCache(tmp_path / "scores.sqlite")
    pipeline = Pipeline([Stage(bm25, cutoff=15), Stage(cross_encoder)], cache=cache)
    first = pipeline.run(queries, ds.corpus)
    (_, stage), = [(t["stage"], t) for t in first.ledger.totals()[1:]]
    assert stage["cache_hits"] == 0 and stage["candidates"] == len(first.run)
    assert len(cache) == len({(queries[q], d) for q, d in zip(
        first.run.qid.to_pylist(), first.run.docid.to_pylist(), strict=True)})
    calls = cross_encoder.stats.model_calls
    again = pipeline.run(queries, ds.corpus)
    assert cross_encoder.stats.model_calls == calls                   # nothing recomputed
    assert again.ledger.totals()[1]["cache_hits"] == len(first.run)
    assert np.array_equal(again.run.score, first.run.score)

    # change one candidate's text: exactly its (query, document) pairs miss
    changed = first.run.docid.to_pylist()[0]
    docs = [Document(d.id, d.text + " (revised)", d.title) if d.id == changed else d
            for d in ds.corpus]
    third = pipeline.run(queries, InMemoryCorpus(docs))
    expected_misses = first.run.docid.to_pylist().count(changed)
    assert third.ledger.totals()[1]["cache_hits"] == len(first.run) - expected_misses

    # another model setting: a different fingerprint, everything misses
    from rerankit.rerank.pointwise import CrossEncoderReranker

    other = CrossEncoderReranker(cross_encoder.model_name, max_length=64, quiet=True)
    assert other.identity() != cross_encoder.identity()
    fourth = Pipeline([Stage(bm25, cutoff=15), Stage(other)], cache=cache).run(queries,
                                                                                 ds.corpus)
    assert fourth.ledger.totals()[1]["cache_hits"] == 0


def test_ledger_records_every_stage_and_query(scifact, bm25, cross_encoder):
    ds, queries = scifact
    before = dataclasses.replace(cross_encoder.stats)
    result = (bm25 % 10 >> cross_encoder).run(queries, ds.corpus)
    totals = result.ledger.totals()
    assert [t["queries"] for t in totals] == [len(queries)] * 2
    assert totals[1]["model_calls"] == pytest.approx(cross_encoder.stats.model_calls -
                                                     before.model_calls)
    assert totals[1]["tokens_in"] == pytest.approx(cross_encoder.stats.tokens_in -
                                                   before.tokens_in)
    assert totals[1]["candidates"] == 10 * len(queries)
    assert all(r.seconds > 0 for r in result.ledger.rows)


def test_evaluate_returns_the_beir_table(scifact, bm25, cross_encoder):
    ds, queries = scifact
    small = dataclasses.replace(ds, queries=queries)
    evaluation = (bm25 % 10 >> cross_encoder).evaluate(small)
    table = evaluation.metrics.beir()
    assert {"NDCG@10", "MAP@10", "Recall@10", "P@10", "MRR@10"} <= set(table)
    assert evaluation.metrics.num_queries == len(queries)
