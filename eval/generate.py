"""Deterministic synthetic TREC run + qrels of any size, for speed benchmarks.

Each query retrieves ``depth`` distinct documents from a pool of 2M ids, with strictly
decreasing scores (distinct at float32 precision, so every evaluator ranks identically);
about 60 documents per query are judged with grades 0-3, two thirds of them retrieved.

``ties=True`` writes scores as a BM25 run printed with 4 decimals looks: each query's
scores come from 200 levels between 5 and 25, so nearly every document ties with a few
others (about 5 per level), and documents are written in random order within a level (not
trec_eval's document id descending), so an evaluator has to break every tie itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

POOL = 2_000_000


def generate(folder: Path, queries: int, depth: int, seed: int = 0,
             ties: bool = False) -> tuple[Path, Path]:
    """Write ``run.trec`` and ``qrels.trec`` into ``folder`` (reused if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    run_path, qrels_path = folder / "run.trec", folder / "qrels.trec"
    stamp = folder / f".complete-{queries}x{depth}-{seed}{'-ties' if ties else ''}"
    if stamp.exists() and run_path.exists() and qrels_path.exists():
        return run_path, qrels_path
    rng = np.random.default_rng(seed)
    q = np.repeat(np.arange(queries), depth)
    # distinct documents per query: a random start plus a stride coprime with the pool
    start = rng.integers(0, POOL, size=queries)
    docs = (np.repeat(start, depth) + np.tile(np.arange(depth), queries) * 7919) % POOL
    rank = np.tile(np.arange(1, depth + 1), queries)
    score = (depth - rank) + rng.uniform(0.0, 0.5, size=q.size).round(4)
    if ties:
        score = _tied_scores(rng, queries, depth)
        docs = rng.permuted(docs.reshape(queries, depth), axis=1).ravel()
    qid = pa.array(np.char.add("q", q.astype(str)))
    docid = pa.array(np.char.add("D", docs.astype(str)))
    n = q.size
    run = pa.table({"qid": qid, "iter": pa.array(np.full(n, "Q0")), "docid": docid,
                    "rank": pa.array(rank), "score": pa.array(score),
                    "tag": pa.array(np.full(n, "synthetic"))})
    options = pacsv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
    pacsv.write_csv(run, run_path, options)
    # judgements: 40 retrieved documents (biased to the top) and 20 unretrieved ones
    judged_ranks = np.minimum(rng.geometric(1 / 60, size=(queries, 40)) - 1, depth - 1)
    retrieved = docs.reshape(queries, depth)[np.arange(queries)[:, None], judged_ranks]
    unretrieved = (start[:, None] + 7919 * (depth + np.arange(20))[None, :]) % POOL
    judged = np.concatenate([retrieved, unretrieved], axis=1)
    qj = np.repeat(np.arange(queries), judged.shape[1])
    flat = judged.ravel()
    key = qj.astype(np.int64) * POOL + flat
    _, first = np.unique(key, return_index=True)
    first.sort()
    grades = rng.choice([0, 1, 2, 3], p=[0.5, 0.25, 0.15, 0.1], size=first.size)
    qrels = pa.table({"qid": pa.array(np.char.add("q", qj[first].astype(str))),
                      "iter": pa.array(np.full(first.size, "0")),
                      "docid": pa.array(np.char.add("D", flat[first].astype(str))),
                      "grade": pa.array(grades)})
    pacsv.write_csv(qrels, qrels_path, options)
    stamp.touch()
    return run_path, qrels_path


def _tied_scores(rng: np.random.Generator, queries: int, depth: int) -> np.ndarray:
    """Scores with 4 decimals, descending per query, drawn from 200 levels per query (see
    the module docstring); the documents keep their random order within a level."""
    levels = np.round(rng.uniform(5.0, 25.0, size=(queries, 200)), 4)
    score = np.take_along_axis(levels, rng.integers(0, 200, size=(queries, depth)), axis=1)
    return -np.sort(-score, axis=1).ravel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--ties", action="store_true", help="4-decimal scores, ties everywhere")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "synthetic")
    args = parser.parse_args()
    print(*generate(args.out, args.queries, args.depth, ties=args.ties))
