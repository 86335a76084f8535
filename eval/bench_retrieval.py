"""Retrieval speed, each ratio measured in the same run:

1. BM25, one thread: rerankit's BM25 vs raw bm25s on the same index and queries (overhead,
   issue 18's goal <= 0%), top-1000 on >= 100k generated documents with a Zipfian
   vocabulary and top-1000/top-100 on SciFact's abstracts with all its real queries; each
   case checks that both return the same documents with the same scores bit for bit, except
   which of the documents tied at a query's k-th score are kept, and that rerankit keeps
   trec_eval's first of those (see :func:`same_retrieval`). Also vs rank-bm25 (goal >=
   100x; timed on a sample of queries because it scores every document in Python).
2. FAISS exact vs HNSW vs IVF: queries/s and recall@10 against exact search, on
   100k x 384 normalised vectors drawn around cluster centres.
3. Encoding: rerankit's Dense.encode vs raw SentenceTransformer.encode on SciFact
   abstracts with the offline all-MiniLM-L6-v2 (overhead, goal < 5%).
4. ``bm25-process``: the quick start's BM25 stage on SciFact (index 5,183 abstracts,
   top-100 for the 300 test queries) in fresh processes: rerankit with an empty numba
   cache (compiles, writes the cache), rerankit again (loads it), and raw bm25s (compiles
   in every process); the retrieval of rerankit and bm25s compared row for row.

Run: ``python eval/bench_retrieval.py`` (``--docs 20000 --passages 128`` for a quick look;
``--parts bm25 bm25-process`` for one part); the BM25 parts' results go to
``eval/results/retrieval.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def zipf_corpus(num_docs: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    weights = 1.0 / np.arange(1, vocab.size + 1) ** 1.1
    weights /= weights.sum()
    lengths = rng.integers(40, 140, size=num_docs)
    words = vocab[rng.choice(vocab.size, size=int(lengths.sum()), p=weights)]
    splits = np.cumsum(lengths)[:-1]
    docs = [" ".join(chunk) for chunk in np.split(words, splits)]
    queries = [" ".join(vocab[rng.integers(50, 20_000, size=4)]) for _ in range(1000)]
    return docs, queries


def same_retrieval(raw_rows: dict[str, list[tuple[str, float]]],
                   ours_rows: dict[str, list[tuple[str, float]]], k: int,
                   ties_at_cut=None) -> bool:
    """Whether two top-k retrievals of the same index agree where exactness is promised,
    query by query: where bm25s returned fewer than k rows, the same documents with the
    same scores (bit for bit); otherwise every document above bm25s' k-th score with its
    score, and as many documents at that score, each with it: bm25s keeps an arbitrary
    subset of the documents tied there, rerankit those trec_eval ranks first.
    ``ties_at_cut(qid, score)``, when given, lists every document of the collection with
    that score (from bm25s' dense scorer), and rerankit's documents at the cut must be
    the first of them in trec_eval's order (document id descending)."""
    for qid in raw_rows.keys() | ours_rows.keys():
        raw, ours = dict(raw_rows.get(qid, [])), dict(ours_rows.get(qid, []))
        if len(raw) != len(ours):
            return False
        if len(raw) < k:
            if raw != ours:
                return False
            continue
        cut = min(raw.values())
        above = {d: s for d, s in raw.items() if s > cut}
        at = sorted((d for d, s in ours.items() if s == cut), reverse=True)
        if {d: s for d, s in ours.items() if s > cut} != above or \
                len(at) != len(raw) - len(above):
            return False
        if ties_at_cut is not None and at != sorted(ties_at_cut(qid, cut), reverse=True
                                                    )[:len(at)]:
            return False
    return True


def raw_rows(query_ids, doc_ids, found: np.ndarray, scores: np.ndarray) -> dict:
    """bm25s' (queries x k) arrays as {qid: [(docid, score), ...]}, unmatched left out."""
    return {q: [(doc_ids[d], float(s)) for d, s in zip(row, srow, strict=True) if s > 0]
            for q, row, srow in zip(query_ids, found, scores, strict=True)}


def run_rows(run) -> dict:
    """A rerankit run as {qid: [(docid, score), ...]}."""
    rows: dict = {}
    for q, d, s in zip(run.qid.to_pylist(), run.docid.to_pylist(), run.score.tolist(),
                       strict=True):
        rows.setdefault(q, []).append((d, s))
    return rows


def time_against_bm25s(retriever, query_ids: list[str], texts: list[str], k: int) -> dict:
    """Best of 3: rerankit's BM25.retrieve vs the same bm25s index's own retrieve (both
    tokenising the queries, one thread), and whether their results agree."""
    from rerankit.data.queries import Queries

    raw, tokenizer = retriever._model, retriever._tokenizer
    query_set = Queries(tuple(query_ids), tuple(texts))
    warm = tokenizer.tokenize(texts[:10], update_vocab=False, return_as="ids",
                              show_progress=False)
    raw.retrieve(warm, k=k, show_progress=False)                      # compile / warm up
    retriever.retrieve(query_set.subset(query_ids[:10]), k=k)
    raw_times, ours_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        tokens = tokenizer.tokenize(texts, update_vocab=False, return_as="ids",
                                    show_progress=False)
        found, scores = raw.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        raw_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        run = retriever.retrieve(query_set, k=k)
        ours_times.append(time.perf_counter() - start)
    doc_ids = np.asarray(retriever.doc_ids.to_pylist(), dtype=object)
    position = dict(zip(query_ids, range(len(query_ids)), strict=True))

    def ties_at_cut(qid: str, score: float) -> list[str]:
        dense = raw.get_scores_from_ids(tokens[position[qid]]).astype(np.float64)
        return list(doc_ids[dense == score])

    agree = same_retrieval(raw_rows(query_ids, doc_ids, found, scores), run_rows(run), k,
                           ties_at_cut)
    return {"raw_qps": len(texts) / min(raw_times), "rerankit_qps": len(texts) / min(ours_times),
            "overhead_percent": (min(ours_times) / min(raw_times) - 1) * 100,
            "same_results": agree}


def bench_bm25(num_docs: int, rank_sample: int) -> dict:
    import bm25s
    import rank_bm25

    from rerankit import datasets
    from rerankit.data.corpus import Document
    from rerankit.retrieve.bm25 import BM25

    docs, queries = zipf_corpus(num_docs)
    retriever = BM25(stemmer=None, stopwords=None, quiet=True).index(
        [Document(f"d{i}", text) for i, text in enumerate(docs)])
    results = {"zipf": time_against_bm25s(retriever, [f"q{i}" for i in range(len(queries))],
                                          queries, 1000)}
    doc_tokens = retriever._tokenizer.tokenize(docs, return_as="string", show_progress=False)
    okapi = rank_bm25.BM25Okapi(doc_tokens)
    sample = retriever._tokenizer.tokenize(queries[:rank_sample], update_vocab=False,
                                           return_as="string", show_progress=False)
    start = time.perf_counter()
    for query in sample:
        scores = okapi.get_scores(query)
        np.argpartition(-scores, 999)[:1000]
    rank_qps = len(sample) / (time.perf_counter() - start)
    scifact = datasets.load("scifact")
    real = BM25(quiet=True).index(scifact.corpus)
    for k in (1000, 100):
        results[f"scifact top-{k}"] = time_against_bm25s(
            real, list(scifact.queries.ids), list(scifact.queries.texts), k)
    zipf = results["zipf"]
    print(f"BM25, one thread, query tokenisation included, best of 3 (bm25s {bm25s.__version__}"
          f", backend {retriever._model.backend})")
    print(f"  {'case':50s} {'raw bm25s':>10s} {'rerankit':>10s} {'overhead':>9s}  same results")
    cases = {f"top-1000, {num_docs:,} Zipfian docs, {len(queries):,} queries": zipf,
             **{f"{name}, 5,183 abstracts, {len(scifact.queries):,} queries": r
                for name, r in results.items() if name.startswith("scifact")}}
    for label, r in cases.items():
        print(f"  {label:50s} {r['raw_qps']:8.0f}/s {r['rerankit_qps']:8.0f}/s "
              f"{r['overhead_percent']:+8.1f}%  {'yes' if r['same_results'] else 'NO'}")
    print("  (goal: overhead <= 0%; same results: the same documents with the same scores, "
          "bit for bit, but for which of those tied at a query's k-th score are kept: "
          "trec_eval's first)")
    print(f"  rank-bm25 Okapi on the Zipfian docs: {rank_qps:.1f} q/s; rerankit is "
          f"{zipf['rerankit_qps'] / rank_qps:,.0f}x faster (goal >= 100x; {rank_sample} "
          "sampled queries)")
    return {**results, "rank_bm25_qps": rank_qps, "num_docs": num_docs,
            "bm25s": bm25s.__version__}


def bench_faiss(num_vectors: int, dim: int = 384) -> None:
    import faiss

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 1000, num_vectors)] + 0.6 * rng.normal(
        size=(num_vectors, dim)).astype(np.float32)
    faiss.normalize_L2(vectors)
    queries = vectors[rng.integers(0, num_vectors, 2000)] + 0.3 * rng.normal(
        size=(2000, dim)).astype(np.float32)
    faiss.normalize_L2(queries)
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    start = time.perf_counter()
    _, exact = flat.search(queries, 10)
    results = {"flat (exact)": (len(queries) / (time.perf_counter() - start), 1.0)}
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    hnsw.add(vectors)
    nlist = int(4 * np.sqrt(num_vectors))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    for label, index, setting in (("hnsw ef=128", hnsw, ("efSearch", 128)),
                                  (f"ivf nlist={nlist} nprobe=16", ivf, ("nprobe", 16))):
        if label.startswith("hnsw"):
            index.hnsw.efSearch = setting[1]
        else:
            index.nprobe = setting[1]
        start = time.perf_counter()
        _, found = index.search(queries, 10)
        qps = len(queries) / (time.perf_counter() - start)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)])
        results[label] = (qps, recall)
    print(f"FAISS, {num_vectors:,} x {dim} vectors, 2,000 queries, top-10")
    for label, (qps, recall) in results.items():
        print(f"  {label:28s} {qps:9.0f} q/s   recall@10 vs exact {recall:.3f}")


def bench_encoding(passages: int) -> None:
    from sentence_transformers import SentenceTransformer

    from rerankit import datasets
    from rerankit.retrieve.dense import Dense, default_model

    texts = [d.full_text for d in list(datasets.load("scifact").corpus)[:passages]]
    raw = SentenceTransformer(default_model(), device="cpu")
    ours = Dense(quiet=True, cache=False)
    ours.encode(texts[:8])
    raw.encode(texts[:8], batch_size=32)
    timings = {"raw": [], "rerankit": []}
    for _ in range(2):
        start = time.perf_counter()
        raw.encode(texts, batch_size=32, normalize_embeddings=True)
        timings["raw"].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours.encode(texts)
        timings["rerankit"].append(time.perf_counter() - start)
    raw_s, ours_s = min(timings["raw"]), min(timings["rerankit"])
    print(f"Encoding {passages} SciFact abstracts, all-MiniLM-L6-v2, batch 32, CPU (best of 2)")
    print(f"  raw SentenceTransformer.encode  {passages / raw_s:7.1f} passages/s")
    print(f"  rerankit Dense.encode           {passages / ours_s:7.1f} passages/s   overhead "
          f"{(ours_s / raw_s - 1) * 100:+.1f}% (goal < 5%)")


STAGE = """
import json, sys, time
import numpy as np
start = time.perf_counter()
from rerankit import datasets
from rerankit.retrieve.base import documents_to_index
data = datasets.load("scifact")
queries = data.judged_queries()
imported = time.perf_counter()
if sys.argv[1] == "rerankit":
    from rerankit.retrieve.bm25 import BM25
    retriever = BM25(quiet=True).index(data.corpus)
    indexed = time.perf_counter()
    run = retriever.retrieve(queries, k=100)
    done = time.perf_counter()
    rows = list(zip(run.qid.to_pylist(), run.docid.to_pylist(), run.score.tolist()))
else:
    import bm25s, Stemmer
    from bm25s.tokenization import Tokenizer
    ids, texts = documents_to_index(data.corpus)
    tokenizer = Tokenizer(stopwords="en", stemmer=Stemmer.Stemmer("english").stemWord)
    model = bm25s.BM25(k1=1.5, b=0.75, method="lucene", backend="numba")
    model.index(tokenizer.tokenize(texts, return_as="tuple", show_progress=False),
                show_progress=False)
    indexed = time.perf_counter()
    tokens = tokenizer.tokenize(list(queries.texts), update_vocab=False, return_as="ids",
                                show_progress=False)
    found, scores = model.retrieve(tokens, k=100, show_progress=False, n_threads=0)
    done = time.perf_counter()
    rows = [(q, ids[d], float(s)) for q, row, srow in zip(queries.ids, found, scores)
            for d, s in zip(row, srow) if s > 0]
print(json.dumps({"load_s": imported - start, "index_s": indexed - imported,
                  "retrieve_s": done - indexed, "queries": len(queries),
                  "stage_ms_per_query": (done - imported) / len(queries) * 1000,
                  "retrieve_ms_per_query": (done - indexed) / len(queries) * 1000,
                  "rows": rows}))
"""


def bench_bm25_processes() -> dict:
    """The SciFact BM25 stage in fresh processes (numba cache cold, warm; raw bm25s)."""
    cache = tempfile.mkdtemp(prefix="rerankit-numba-")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}

    def stage(who: str) -> dict:
        out = subprocess.run([sys.executable, "-c", STAGE, who], env=env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    try:
        results = {"rerankit, numba cache cold": stage("rerankit"),
                   "rerankit, numba cache warm": stage("rerankit"),
                   "raw bm25s (compiles per process)": stage("bm25s")}
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    grouped = {}
    for label, r in results.items():
        grouped[label] = {}
        for q, d, s in r.pop("rows"):
            grouped[label].setdefault(q, []).append((d, s))
    same = same_retrieval(grouped["raw bm25s (compiles per process)"],
                          grouped["rerankit, numba cache warm"], 100)
    print(f"BM25 stage on SciFact (5,183 abstracts, 300 queries, top-100), fresh processes, "
          f"load average {os.getloadavg()[0]:.1f}; same results as bm25s: {same}")
    for label, r in results.items():
        print(f"  {label:34s} index {r['index_s']:5.2f} s  retrieve {r['retrieve_s']:5.2f} s  "
              f"({r['retrieve_ms_per_query']:5.2f} ms/query; stage "
              f"{r['stage_ms_per_query']:5.2f} ms/query)")
    return {"same_results": same, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--rank-bm25-queries", type=int, default=20)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--parts", nargs="+", default=["bm25", "bm25-process", "faiss",
                                                       "encoding"],
                        choices=["bm25", "bm25-process", "faiss", "encoding"])
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "retrieval.json")
    args = parser.parse_args()
    results = {}
    if "bm25" in args.parts:
        results["bm25"] = bench_bm25(args.docs, args.rank_bm25_queries)
    if "bm25-process" in args.parts:
        results["bm25_process"] = bench_bm25_processes()
    if "faiss" in args.parts:
        bench_faiss(args.vectors)
    if "encoding" in args.parts:
        bench_encoding(args.passages)
    if results:
        results["measured"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
        print(f"BM25 results written to {args.results}")


if __name__ == "__main__":
    main()
