"""monoT5/duoT5 plumbing with a small randomly initialised T5 (no T5 weights ship in a PyPI
package): scores must equal the model's own first-step logits for "true" and "false"."""

from __future__ import annotations

import pytest

from rerankit import datasets
from rerankit.retrieve.bm25 import BM25

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    ds = datasets.load("scifact")
    words = {"true", "false", "Query:", "Document:", "Document0:", "Document1:", "Relevant:"}
    for doc in list(ds.corpus)[:300]:
        words.update(doc.full_text.split())
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *sorted(words)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>",
                                        eos_token="</s>", unk_token="<unk>")
    config = T5Config(vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                      num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def candidates():
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    queries = queries.subset(list(queries.ids)[:4])
    return ds, queries, BM25(quiet=True).index(ds.corpus).retrieve(queries, k=6)


def reference_log_odds(folder, texts):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSeq2SeqLM.from_pretrained(str(folder)).eval()
    true, false = (tokenizer.encode(w, add_special_tokens=False)[0] for w in ("true", "false"))
    out = []
    for text in texts:                         # one at a time: no padding involved
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**ids, decoder_input_ids=torch.zeros((1, 1), dtype=torch.long)
                           ).logits[0, 0]
        pair = torch.log_softmax(logits[[true, false]], dim=-1)
        out.append(float(pair[0] - pair[1]))
    return out


def test_monot5_scores_equal_the_models_logits(tiny_t5, candidates):
    from rerankit.rerank.prompts import load_template
    from rerankit.rerank.seq2seq import MonoT5Reranker
    MONO = load_template("monot5")

    ds, queries, run = candidates
    reranker = MonoT5Reranker(tiny_t5, batch_size=5)
    got = reranker.rerank(queries, run, ds.corpus, depth=6).to_dict()
    qid = queries.ids[0]
    docs = list(run.to_dict()[qid])
    texts = [MONO.format(query=queries[qid], document=ds.corpus[d].full_text) for d in docs]
    for doc, expected in zip(docs, reference_log_odds(tiny_t5, texts), strict=True):
        assert got[qid][doc] == pytest.approx(expected, abs=1e-4)
    assert reranker.stats.model_calls == 5          # 24 pairs in batches of 5


def test_duot5_uses_both_orders_and_a_budget(tiny_t5, candidates):
    from rerankit.rerank.prompts import load_template
    from rerankit.rerank.seq2seq import DuoT5Reranker
    DUO = load_template("duot5")

    ds, queries, run = candidates
    reranker = DuoT5Reranker(tiny_t5, sampling="random", budget=5, seed=3,
                             aggregation="bradley_terry")
    qid = queries.ids[0]
    texts = [ds.corpus[d].full_text for d in run.to_dict()[qid]]
    prefs = reranker.preferences(queries[qid], texts, [(0, 1)])
    a, b = reference_log_odds(tiny_t5, [DUO.format(query=queries[qid], a=texts[0], b=texts[1]),
                                        DUO.format(query=queries[qid], a=texts[1], b=texts[0])])
    import math

    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert prefs[(0, 1)] == pytest.approx((sig(a) + 1 - sig(b)) / 2, abs=1e-4)
    out = reranker.rerank(queries, run, ds.corpus, depth=6)
    assert len(out) == 24
