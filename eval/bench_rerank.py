"""Reranking on SciFact (bundled): effectiveness, model calls, wall time, and the
reranker's overhead over the raw model time, all from one run.

1. Bi-encoder re-scoring (offline all-MiniLM-L6-v2) of BM25's top ``--bi-depth`` for every
   test query; raw model time = SentenceTransformer.encode of the same texts.
2. Qwen2.5-Coder-1.5B-Instruct (llama.cpp, CPU) on a seeded subset of queries: pointwise
   yes/no, listwise (RankGPT, one window; parse repairs and content-blind answers counted)
   and first-token listwise (FIRST); raw model time = time inside the model calls.
3. The pairwise budget curve (Qwen, PRP both orders): all pairs vs sampled pairs, nDCG@10
   gain over BM25 and comparisons.
4. Pairwise signal (Qwen, PRP both orders): how often, and by how much, the model prefers a
   judged-relevant passage to a non-relevant one from the same BM25 top ``--pair-depth``.
5. ``cross-encoder`` (pairs/s, scores compared in the same run): all-MiniLM-L6-v2's weights
   loaded as a one-logit sequence classifier (no trained cross-encoder ships offline; the
   head is seeded random, so the speed is real and the ranking is not), BM25's top
   ``--ce-depth`` for ``--ce-queries`` queries: plain ``CrossEncoder.predict`` (which sorts
   by length before batching) vs the same pairs batched in input order (no bucketing) vs
   rerankit's CrossEncoderReranker; ``--device cuda`` for the GPU check.
6. ``monot5`` (pairs/s, scores compared in the same run): a T5 with t5-small's layers (6+6,
   d_model 512; seeded random weights and a word-level tokenizer over SciFact's words,
   whose embedding is larger than t5-small's, as no T5 ships offline, so the speed is
   real and the ranking is not) on the
   same pairs: rerankit's MonoT5Reranker (length buckets) vs the same model's first-step
   logits batched in input order, as a plain loop over the model does it.
7. ``llm-buckets`` (pairs/s, scores compared in the same run): the real SmolLM2-135M-Instruct
   (offline GGUF, dequantised by transformers) scoring yes/no prompts of BM25's top
   ``--llm-bucket-depth`` for ``--llm-bucket-queries`` queries: rerankit's
   ``TransformersLLM.first_token_logprobs`` (length buckets, the last position's logits
   only) vs the same model batched in input order computing every position's logits, as
   a plain loop over the model does it, and in input order with the last position's
   logits only (so the buckets' own share shows).

Run: ``python eval/bench_rerank.py [--parts bi-encoder qwen pairwise]`` (all parts: about
45 minutes of 2 CPU cores); parts run again replace their entries in the results file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from rerankit import datasets, evaluate
from rerankit.rerank.base import candidate_lists
from rerankit.rerank.llm import (
    FirstTokenListwiseReranker,
    ListwiseReranker,
    PairwiseReranker,
    YesNoReranker,
)
from rerankit.rerank.pointwise import BiEncoderReranker
from rerankit.retrieve.bm25 import BM25


class TimedLLM:
    """Delegates to an LLM and adds up the seconds spent inside it."""

    def __init__(self, llm) -> None:
        self.llm, self.seconds = llm, 0.0
        self.name, self.calls = llm.name, llm.calls

    def generate(self, prompts, max_new_tokens):
        start = time.perf_counter()
        try:
            return self.llm.generate(prompts, max_new_tokens)
        finally:
            self.seconds += time.perf_counter() - start

    def first_token_logprobs(self, prompts, options):
        start = time.perf_counter()
        try:
            return self.llm.first_token_logprobs(prompts, options)
        finally:
            self.seconds += time.perf_counter() - start


def ndcg(qrels, run) -> float:
    return evaluate(qrels, run, ["ndcg_cut_10"])["ndcg_cut_10"]


def timed_rerank(reranker, queries, candidates, corpus, depth):
    start = time.perf_counter()
    out = reranker.rerank(queries, candidates, corpus, depth=depth)
    return out, time.perf_counter() - start


def save(path: Path, results: dict) -> None:
    """Write what is measured so far (a long run keeps its finished parts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["bi-encoder", "qwen", "pairwise"],
                        choices=["bi-encoder", "qwen", "qwen-yes-no", "qwen-listwise",
                                 "qwen-first-token", "pairwise", "pairwise-signal",
                                 "cross-encoder", "monot5", "llm-buckets"])
    parser.add_argument("--llm-bucket-queries", type=int, default=6)
    parser.add_argument("--llm-bucket-depth", type=int, default=8)
    parser.add_argument("--ce-queries", type=int, default=10)
    parser.add_argument("--ce-depth", type=int, default=20)
    parser.add_argument("--ce-rounds", type=int, default=3)
    parser.add_argument("--ce-batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bi-depth", type=int, default=20)
    parser.add_argument("--llm-queries", type=int, default=25)
    parser.add_argument("--llm-depth", type=int, default=10)
    parser.add_argument("--pair-queries", type=int, default=8)
    parser.add_argument("--pair-depth", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "rerank.json")
    args = parser.parse_args()
    results: dict = json.loads(args.results.read_text()) if args.results.is_file() else {}
    data = datasets.load("scifact")
    queries = data.judged_queries()
    bm25 = BM25(quiet=True).index(data.corpus).retrieve(queries, k=100)
    if "bi-encoder" in args.parts:
        results["bi-encoder"] = bi_encoder(args, data, queries, bm25)
        save(args.results, results)
    if "cross-encoder" in args.parts:
        results[f"cross-encoder-{args.device}"] = cross_encoder(args, data, queries, bm25)
        save(args.results, results)
    if "monot5" in args.parts:
        results[f"monot5-{args.device}"] = monot5(args, data, queries, bm25)
        save(args.results, results)
    if "llm-buckets" in args.parts:
        results[f"llm-buckets-{args.device}"] = llm_buckets(args, data, queries, bm25)
        save(args.results, results)
    rng = np.random.default_rng(args.seed)
    subset = queries.subset(sorted(rng.choice(list(queries.ids), args.llm_queries,
                                              replace=False).tolist(), key=int))
    candidates = bm25.take(np.flatnonzero(np.isin(np.asarray(bm25.qid.to_pylist()),
                                                  list(subset.ids))))
    llm_parts = [p for p in args.parts if p.startswith("qwen")]
    if llm_parts or {"pairwise", "pairwise-signal"} & set(args.parts):
        from rerankit.llm.llamacpp import LlamaCppLLM
        from rerankit.llm.offline import qwen

        llm = TimedLLM(LlamaCppLLM(qwen(), n_ctx=8192))
    if llm_parts:
        for name, entry in llm_rerankers(args, data, subset, candidates, llm, llm_parts):
            results[name] = entry
            save(args.results, results)
    if "pairwise" in args.parts:
        results["pairwise-budget"] = pairwise_curve(args, data, subset, candidates, llm)
        save(args.results, results)
    if "pairwise-signal" in args.parts:
        results["pairwise-signal"] = pairwise_signal(args, data, subset, candidates, llm)
        save(args.results, results)
    print(json.dumps(results, indent=2))


def bi_encoder(args, data, queries, bm25) -> dict:
    """Bi-encoder re-scoring of every query's top ``--bi-depth`` (standalone, so each
    query's candidates are encoded in one call); the raw model makes the same calls with
    SentenceTransformer.encode."""
    from sentence_transformers import SentenceTransformer

    from rerankit.retrieve.dense import default_model

    reranker = BiEncoderReranker(quiet=True)
    reranker.encoder.encoder  # load the model before timing  # noqa: B018
    out, wall = timed_rerank(reranker, queries, bm25, data.corpus, args.bi_depth)
    top = bm25.top_k(args.bi_depth)
    by_query: dict[str, list[str]] = {}
    for qid, docid in zip(top.qid.to_pylist(), top.docid.to_pylist(), strict=True):
        by_query.setdefault(qid, []).append(data.corpus[docid].full_text)
    raw = SentenceTransformer(default_model(), device="cpu")
    start = time.perf_counter()
    raw.encode(list(queries.texts), batch_size=32, normalize_embeddings=True)
    for texts in by_query.values():
        raw.encode(texts, batch_size=32, normalize_embeddings=True)
    raw_seconds = time.perf_counter() - start
    entry = {"queries": len(queries), "depth": args.bi_depth,
             "ndcg_before": ndcg(data.qrels, top), "ndcg_after": ndcg(data.qrels, out),
             "model_calls": reranker.stats.model_calls, "seconds": wall,
             "raw_model_seconds": raw_seconds, "overhead": (wall - raw_seconds) / raw_seconds}
    print("bi-encoder", json.dumps(entry), flush=True)
    return entry


def cross_encoder(args, data, queries, bm25) -> dict:
    """Pairs/s of plain CrossEncoder.predict, of input-order batches, and of rerankit's
    reranker on the same pairs, with the largest score difference to plain predict."""
    import tempfile

    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rerankit.rerank.pointwise import CrossEncoderReranker
    from rerankit.retrieve.dense import default_model

    folder = Path(tempfile.mkdtemp(prefix="bench-cross-encoder-"))
    torch.manual_seed(args.seed)
    AutoModelForSequenceClassification.from_pretrained(default_model(), num_labels=1
                                                       ).save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model()).save_pretrained(folder)
    subset = queries.subset(list(queries.ids)[:args.ce_queries])
    top = bm25.take(np.flatnonzero(np.isin(np.asarray(bm25.qid.to_pylist()), list(subset.ids))))
    lists = candidate_lists(subset, top, data.corpus, args.ce_depth)
    pairs = [(c.query, text) for c in lists for text in c.texts]
    batch, max_length = args.ce_batch, 256      # all-MiniLM-L6-v2's own max_seq_length
    peer = CrossEncoder(str(folder), device=args.device, max_length=max_length)
    ours = CrossEncoderReranker(folder, batch_size=batch, max_length=max_length,
                                device=args.device, quiet=True)   # fp16 weights on CUDA
    ways = {
        "CrossEncoder.predict": lambda: peer.predict(pairs, batch_size=batch),
        "input-order batches": lambda: np.concatenate(
            [peer.predict(pairs[i:i + batch], batch_size=batch)
             for i in range(0, len(pairs), batch)]),
        "rerankit": lambda: np.concatenate(
            [s.astype(np.float32) for s in ours.score_lists(lists)]),
    }
    if args.device != "cpu":
        bf16 = CrossEncoderReranker(folder, batch_size=batch, max_length=max_length,
                                    device=args.device, quiet=True, precision="bf16")
        ways["rerankit bf16"] = lambda: np.concatenate(
            [s.astype(np.float32) for s in bf16.score_lists(lists)])
    shutil.rmtree(folder)                               # every model is loaded
    scores, seconds = time_ways(ways, args.ce_rounds)
    base = "CrossEncoder.predict"
    lengths = [len(ids) for ids in peer.tokenizer([q for q, _ in pairs], [d for _, d in pairs],
                                                  truncation=True, max_length=max_length
                                                  )["input_ids"]]
    entry = {"pairs": len(pairs), "device": args.device, "batch_size": batch,
             "max_length": max_length, "rounds": args.ce_rounds,
             "pairs_at_max_length": sum(n == max_length for n in lengths),
             "load_average": os.getloadavg()[0],
             "pairs_per_s": {name: len(pairs) / s for name, s in seconds.items()},
             "speedup_vs_predict": {name: seconds[base] / s for name, s in seconds.items()},
             "max_abs_score_difference": {name: float(np.max(np.abs(v - scores[base])))
                                          for name, v in scores.items()},
             # on CUDA rerankit runs fp16 (and bf16) weights: how far the ranking moves
             "pearson_vs_predict": {name: float(np.corrcoef(v, scores[base])[0, 1])
                                    for name, v in scores.items()},
             "same_top10_order": {name: same_top_order(v, scores[base],
                                                       [len(c.texts) for c in lists], 10)
                                  for name, v in scores.items()}}
    print("cross-encoder", json.dumps(entry), flush=True)
    return entry


def t5_small_shaped(folder: Path, data, seed: int) -> None:
    """Save a seeded random T5 of t5-small's shape and a word-level tokenizer over the
    words of SciFact's abstracts (and the monoT5 prompt's) to ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    words = {"true", "false", "Query:", "Document:", "Relevant:"}
    for doc in data.corpus:
        words.update(doc.full_text.split())
    for text in data.queries.texts:
        words.update(text.split())
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *sorted(words)])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>",
                                        eos_token="</s>", unk_token="<unk>")
    config = T5Config(vocab_size=len(vocab), d_model=512, d_kv=64, d_ff=2048, num_layers=6,
                      num_heads=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    torch.manual_seed(seed)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def monot5(args, data, queries, bm25) -> dict:
    """Pairs/s of rerankit's MonoT5Reranker (length buckets) and of the same model's
    first-step log-odds batched in input order, with the largest score difference."""
    import tempfile

    import torch

    from rerankit.rerank.prompts import load_template
    from rerankit.rerank.seq2seq import MonoT5Reranker

    folder = Path(tempfile.mkdtemp(prefix="bench-monot5-"))
    t5_small_shaped(folder, data, args.seed)
    subset = queries.subset(list(queries.ids)[:args.ce_queries])
    top = bm25.take(np.flatnonzero(np.isin(np.asarray(bm25.qid.to_pylist()), list(subset.ids))))
    lists = candidate_lists(subset, top, data.corpus, args.ce_depth)
    batch, max_length = args.ce_batch, 512          # monoT5's usual input length
    ours = MonoT5Reranker(folder, batch_size=batch, max_length=max_length, device=args.device)
    shutil.rmtree(folder)                           # loaded: ~200 MB no longer needed
    scorer = ours.scorer                            # the same model and tokenizer
    template = load_template("monot5")
    texts = [template.format(query=c.query, document=t) for c in lists for t in c.texts]
    true, false = scorer.ids

    def input_order() -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch):
            inputs = scorer.tokenizer(texts[i:i + batch], truncation=True,
                                      max_length=max_length, padding=True,
                                      return_tensors="pt").to(args.device)
            start = torch.full((inputs["input_ids"].shape[0], 1),
                               scorer.model.config.decoder_start_token_id, device=args.device)
            with torch.no_grad():
                logits = scorer.model(**inputs, decoder_input_ids=start).logits[:, 0, :]
            pair = torch.log_softmax(logits[:, [true, false]].float(), dim=-1)
            out.append((pair[:, 0] - pair[:, 1]).cpu().numpy())
        return np.concatenate(out)

    ways = {"input-order batches": input_order,
            "rerankit": lambda: np.concatenate(ours.score_lists(lists))}
    scores, seconds = time_ways(ways, args.ce_rounds)
    base = "input-order batches"
    lengths = [len(ids) for ids in scorer.tokenizer(texts, truncation=True,
                                                    max_length=max_length)["input_ids"]]
    entry = {"pairs": len(texts), "device": args.device, "batch_size": batch,
             "max_length": max_length, "rounds": args.ce_rounds,
             "tokens_per_pair": {"min": min(lengths), "median": float(np.median(lengths)),
                                 "max": max(lengths)},
             "pairs_at_max_length": sum(n == max_length for n in lengths),
             "load_average": os.getloadavg()[0],
             "pairs_per_s": {name: len(texts) / s for name, s in seconds.items()},
             "speedup_vs_input_order": {name: seconds[base] / s for name, s in seconds.items()},
             "max_abs_score_difference": float(np.max(np.abs(scores["rerankit"] - scores[base])))}
    print("monot5", json.dumps(entry), flush=True)
    return entry


class PromptRecorder:
    """An LLM stand-in that keeps the prompts a reranker sends (and answers zeros)."""

    name = "recorder"

    def __init__(self) -> None:
        self.prompts: list = []

    def first_token_logprobs(self, prompts, options):
        self.prompts += prompts
        return np.zeros((len(prompts), len(options)))


def llm_buckets(args, data, queries, bm25) -> dict:
    """Pairs/s of rerankit's transformers yes/no scoring and of the same model's prompts
    batched in input order with every position's logits, with the largest difference."""
    import torch

    from rerankit.llm.hf import TransformersLLM
    from rerankit.llm.offline import smollm2

    subset = queries.subset(list(queries.ids)[:args.llm_bucket_queries])
    top = bm25.take(np.flatnonzero(np.isin(np.asarray(bm25.qid.to_pylist()), list(subset.ids))))
    lists = candidate_lists(subset, top, data.corpus, args.llm_bucket_depth)
    recorder = PromptRecorder()
    YesNoReranker(recorder).score_lists(lists)              # the prompts it would send
    prompts, options, batch = recorder.prompts, ["Yes", "No"], 8
    llm = TransformersLLM(smollm2(), batch_size=batch, device=args.device)
    option_ids = [llm.tokenizer.encode(o, add_special_tokens=False)[0] for o in options]
    ids = llm.tokenizer(llm._texts(prompts), add_special_tokens=False)["input_ids"]

    def input_order(**last) -> np.ndarray:
        out = []
        for i in range(0, len(ids), batch):
            inputs = llm.tokenizer.pad({"input_ids": ids[i:i + batch]},
                                       return_tensors="pt").to(args.device)
            positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                logits = llm.model(**inputs, position_ids=positions, **last
                                   ).logits[:, -1, :].float()
            out.append(torch.log_softmax(logits, dim=-1)[:, option_ids].cpu().numpy())
        return np.concatenate(out)

    # the middle way isolates the buckets: the same last-position logits, input order
    ways = {"input-order batches": input_order,
            "input-order batches, last logits only": lambda: input_order(logits_to_keep=1),
            "rerankit": lambda: llm.first_token_logprobs(prompts, options)}
    scores, seconds = time_ways(ways, args.ce_rounds)
    base = "input-order batches"
    lengths = [len(x) for x in ids]
    entry = {"pairs": len(prompts), "model": "SmolLM2-135M-Instruct Q4_1 (dequantised)",
             "device": args.device, "batch_size": batch, "rounds": args.ce_rounds,
             "tokens_per_prompt": {"min": min(lengths), "median": float(np.median(lengths)),
                                   "max": max(lengths)},
             "load_average": os.getloadavg()[0],
             "pairs_per_s": {name: len(prompts) / s for name, s in seconds.items()},
             "speedup_vs_input_order": {name: seconds[base] / s for name, s in seconds.items()},
             "bucket_speedup": seconds["input-order batches, last logits only"]
             / seconds["rerankit"],
             "max_abs_logprob_difference": {name: float(np.max(np.abs(v - scores[base])))
                                            for name, v in scores.items()}}
    print("llm-buckets", json.dumps(entry), flush=True)
    return entry


def time_ways(ways: dict, rounds: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each way's output (a warm-up call) and its best time over ``rounds`` interleaved
    rounds, so that drift in the machine's speed affects every way alike."""
    scores = {name: np.asarray(fn(), dtype=np.float64) for name, fn in ways.items()}
    seconds: dict[str, float] = {name: float("inf") for name in ways}
    for _ in range(rounds):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    return scores, seconds


def same_top_order(scores: np.ndarray, reference: np.ndarray, sizes: list[int], k: int
                   ) -> float:
    """The share of lists whose top ``k`` (documents and order) is the same under both
    score vectors (flat, list after list, ``sizes`` long each)."""
    bounds = np.cumsum([0, *sizes])
    same = [np.array_equal(np.argsort(-scores[a:b], kind="stable")[:k],
                           np.argsort(-reference[a:b], kind="stable")[:k])
            for a, b in itertools.pairwise(bounds)]
    return float(np.mean(same))


def llm_rerankers(args, data, subset, candidates, llm, parts):
    """Qwen yes/no, RankGPT listwise and FIRST listwise on the seeded subset."""
    base = candidates.top_k(args.llm_depth)
    makers = {
        "qwen-yes-no": lambda: YesNoReranker(llm, max_words=120),
        "qwen-listwise": lambda: ListwiseReranker(llm, window=args.llm_depth,
                                                  step=args.llm_depth, max_words=60,
                                                  max_new_tokens=6 * args.llm_depth),
        "qwen-first-token": lambda: FirstTokenListwiseReranker(
            llm, window=args.llm_depth, step=args.llm_depth, max_words=60),
    }
    for name, make in makers.items():
        if "qwen" not in parts and name not in parts:
            continue
        llm.seconds = 0.0
        reranker = make()
        out, wall = timed_rerank(reranker, subset, candidates, data.corpus, args.llm_depth)
        entry = {"queries": len(subset), "depth": args.llm_depth,
                 "ndcg_before": ndcg(data.qrels, base), "ndcg_after": ndcg(data.qrels, out),
                 "model_calls": reranker.stats.model_calls,
                 "tokens_in": reranker.stats.tokens_in, "tokens_out": reranker.stats.tokens_out,
                 "repairs": reranker.stats.repairs, "seconds": wall,
                 "raw_model_seconds": llm.seconds,
                 "overhead": (wall - llm.seconds) / llm.seconds}
        print(name, json.dumps(entry), flush=True)
        yield name, entry


def pairwise_curve(args, data, subset, candidates, llm) -> list[dict]:
    """PRP (both orders) over the top ``--pair-depth``: all pairs vs sampled pairs."""
    pair_subset = subset.subset(list(subset.ids)[:args.pair_queries])
    pair_base = candidates.take(np.flatnonzero(np.isin(np.asarray(candidates.qid.to_pylist()),
                                                       list(pair_subset.ids))))
    before = ndcg(data.qrels, pair_base.top_k(args.pair_depth))
    n_pairs = args.pair_depth * (args.pair_depth - 1) // 2
    curve = []
    for label, kwargs in (("all pairs", {}),
                          ("random 1/3", {"sampling": "random", "budget": max(1, n_pairs // 3)}),
                          ("neighbours", {"sampling": "neighbours", "window": 1}),
                          ("top-1 vs rest", {"sampling": "top_vs_rest", "top": 1})):
        reranker = PairwiseReranker(llm, seed=args.seed, max_words=80, **kwargs)
        out, wall = timed_rerank(reranker, pair_subset, pair_base, data.corpus, args.pair_depth)
        curve.append({"pairs": label, "comparisons": reranker.comparisons,
                      "ndcg_before": before, "ndcg_after": ndcg(data.qrels, out),
                      "seconds": wall})
        print("pairwise", json.dumps(curve[-1]), flush=True)
    full_gain = curve[0]["ndcg_after"] - before
    for point in curve:     # a share of the all-pairs gain means something only if it is > 0
        point["gain_kept"] = (point["ndcg_after"] - before) / full_gain if full_gain > 0 \
            else None
    return curve


def pairwise_signal(args, data, subset, candidates, llm, pairs_per_query: int = 4,
                    max_pairs: int = 40) -> dict:
    """Both-order PRP preference P(relevant above non-relevant) for judged pairs taken from
    each query's BM25 top ``--pair-depth`` (up to ``pairs_per_query`` per query)."""
    reranker = PairwiseReranker(llm, max_words=80)
    qrels = data.qrels.to_dict()
    top = candidates.top_k(args.pair_depth)
    row_query = np.asarray(top.qid.to_pylist())
    preferences, position_a = [], []
    for qid in subset.ids:
        docs = top.take(np.flatnonzero(row_query == qid)).docid.to_pylist()
        relevant = [i for i, d in enumerate(docs) if qrels.get(qid, {}).get(d, 0) > 0]
        pairs = [(r, x) for r in relevant for x in range(len(docs)) if x not in relevant]
        if not pairs:
            continue
        texts = [data.corpus[d].full_text for d in docs]
        prefs, p_a = reranker.preferences(subset.get(qid), texts, pairs[:pairs_per_query])
        preferences.extend(prefs.values())
        position_a.extend(p_a.tolist())
        if len(preferences) >= max_pairs:
            break
    prefs_array = np.asarray(preferences)
    entry = {"pairs": len(preferences), "prompts": 2 * len(preferences),
             "prefers_relevant": int((prefs_array > 0.5).sum()),
             "preference_min": float(prefs_array.min()),
             "preference_max": float(prefs_array.max()),
             "preference_mean": float(prefs_array.mean()),
             "p_first_position_mean": float(np.mean(position_a))}
    print("pairwise-signal", json.dumps(entry), flush=True)
    return entry


if __name__ == "__main__":
    main()
