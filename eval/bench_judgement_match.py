"""The judged-key bitmap of ``evaluation.ranking._match_judgements`` at 2^22 flags (the
default, 4 MB) against 2^24 (16 MB), on the 3M-row tie-heavy files of
``eval/bench_evaluator.py`` (generated there first): best of ``--runs`` in process each,
the matches checked equal.

Run: ``python eval/bench_judgement_match.py``; results go to
``eval/results/judgement_match.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

FILES = Path(__file__).parent / "out" / "synthetic-3000x1000-ties"


def bitmap(runs: int) -> dict:
    import rerankit.evaluation.ranking as ranking
    from rerankit.data.qrels import read_qrels
    from rerankit.data.run import read_run

    run, qrels = read_run(FILES / "run.trec"), read_qrels(FILES / "qrels.trec")
    codes, distinct = run.query_codes
    query_ids = sorted(set(qrels.qid.to_pylist()), key=str.encode)
    table = {q: i for i, q in enumerate(query_ids)}
    qrels_query = np.array([table[q] for q in qrels.qid.to_pylist()])
    group_query = np.array([table.get(q, -1) for q in distinct.to_pylist()])
    default = ranking._BITMAP_BITS
    entry, matched = {}, []
    for bits in (default, 24):
        ranking._BITMAP_BITS, ranking._HIGH = bits, np.uint64(64 - bits)
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            rows, judgement = ranking._match_judgements(run.pair_keys, codes, group_query,
                                                        run.docid, qrels, qrels_query)
            best = min(best, time.perf_counter() - start)
        matched.append((rows.tolist(), judgement.tolist()))
        entry[f"2^{bits}"] = best
        print(f"  judgement match, bitmap 2^{bits}: {best * 1000:.1f} ms (best of {runs})")
    ranking._BITMAP_BITS, ranking._HIGH = default, np.uint64(64 - default)
    entry["same_matches"] = matched[0] == matched[1]
    print(f"  same matches: {entry['same_matches']}")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "judgement_match.json")
    args = parser.parse_args()
    if not (FILES / "run.trec").is_file():
        raise SystemExit(f"{FILES} missing: run eval/bench_evaluator.py first")
    results: dict = {"load_average": os.getloadavg()[0]}
    print(f"3M-row tie-heavy files, load average {results['load_average']:.1f}")
    results["bitmap"] = bitmap(args.runs)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
