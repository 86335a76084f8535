"""Session metric throughput: one million generated sessions, sessions per second.

Sessions have 1-6 queries of 10 results drawn from a per-session pool of 25 documents (so
documents recur across reformulations, as in real sessions) and clicks with probability
decreasing by rank. All five headline metrics (NUM, U, sDCG, nsDCG, sRBP) are computed;
the same sessions are also scored by the plain per-session reference implementation in
tests/session_reference.py on a sample, to show what vectorisation buys.

Run: ``python eval/bench_sessions.py`` (``--sessions 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from rerankit.sessions import SessionLog, SessionParams, evaluate_sessions

METRICS = ("num", "umeasure", "sdcg", "nsdcg", "srbp")


def generate(num_sessions: int, seed: int = 0) -> SessionLog:
    """A random session log built directly as columns (no JSON parsing in the timing)."""
    rng = np.random.default_rng(seed)
    queries = rng.integers(1, 7, size=num_sessions)
    inter_session = np.repeat(np.arange(num_sessions), queries)
    n_inter, depth = inter_session.size, 10
    item_inter = np.repeat(np.arange(n_inter), depth)
    item_rank = np.tile(np.arange(1, depth + 1), n_inter)
    # 10 distinct documents per list out of the session's pool of 25
    offsets = rng.permuted(np.tile(np.arange(25), (n_inter, 1)), axis=1)[:, :depth].ravel()
    item_doc = inter_session[item_inter] * 25 + offsets
    click_p = 0.3 / item_rank
    item_click = (rng.random(item_rank.size) < click_p).astype(float)
    nan = np.full(item_rank.size, np.nan)
    return SessionLog(
        session_ids=[str(i) for i in range(num_sessions)],
        satisfaction=np.full(num_sessions, np.nan), inter_session=inter_session,
        query_ids=[""] * n_inter, query_texts=[""] * n_inter, item_inter=item_inter,
        item_rank=item_rank, item_doc=item_doc, item_click=item_click, item_label=nan,
        item_length=nan, item_dwell=nan, doc_ids=[str(i) for i in range(num_sessions * 25)],
        qrels_session=np.zeros(0, np.int64), qrels_doc=np.zeros(0, np.int64),
        qrels_grade=np.zeros(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--reference-sample", type=int, default=2_000)
    args = parser.parse_args()

    log = generate(args.sessions)
    params = SessionParams()
    start = time.perf_counter()
    scores = evaluate_sessions(log, METRICS, params)
    seconds = time.perf_counter() - start
    rate = args.sessions / seconds
    print(f"{args.sessions:,} sessions, {log.num_interactions:,} queries, "
          f"{log.item_doc.size:,} results: {seconds:.2f} s, {rate:,.0f} sessions/s")
    for metric in METRICS:
        print(f"  {metric:9s} mean {scores.mean(metric):.4f}  "
              f"undefined {scores.undefined(metric):,}")

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    import session_reference as ref

    sample = generate(args.reference_sample, seed=1)
    records = list(sample.to_records())
    start = time.perf_counter()
    for record in records:
        ref.num_and_u(record, 10, 20, 1, "exp", "forward")
        ref.sdcg_pair(record, 10, "exp", 2, 4, "clicks")
        ref.srbp(record, 10, 0.8, 0.64, "clicks")
    ref_rate = len(records) / (time.perf_counter() - start)
    fast = evaluate_sessions(sample, METRICS, params)
    agree = all(np.allclose(fast.values["num"][i], ref.num_and_u(r, 10, 20, 1, "exp",
                                                                  "forward")[0],
                            equal_nan=True) for i, r in enumerate(records))
    print(f"plain per-session reference: {ref_rate:,.0f} sessions/s -> rerankit "
          f"{rate / ref_rate:,.0f}x faster; NUM values agree on the sample: {agree}")


if __name__ == "__main__":
    main()
