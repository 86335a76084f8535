"""Evaluator speed: rerankit vs pytrec_eval vs ranx, end to end from files, same run.

Task (DEVELOPERS issue 3): a 10M-row TREC run (10k queries x 1000) and its qrels, from
files to the four numbers nDCG@10, MAP@1000, Recall@100 and MRR@10.

* rerankit: ``evaluate(qrels_path, run_path, measures)`` (reading, validation included).
* pytrec_eval: its own ``parse_qrel``/``parse_run``, ``RelevanceEvaluator``, ``evaluate``;
  MRR@10 is derived exactly from recip_rank (RR@10 = RR if RR >= 0.1 else 0).
* ranx: ``Qrels.from_file``, ``Run.from_file``, ``evaluate``. Its numba functions are
  compiled on a tiny input first, so its one-off compilation is not counted against it.

Each tool is timed ``--repeats`` times (median reported), the tools taking turns so
that drift in the machine's speed affects all of them alike, and the four aggregate values
must agree to 1e-9. Before every timed call, of every tool, both files are read once
(untimed) so they sit in the OS page cache: on these VMs the kernel's memory reclaimer
evicts a 400 MB file within seconds, which otherwise turns the first tool's timing into a
measure of disk speed. Run: ``python eval/bench_evaluator.py`` (``--queries 1000`` for a
quick look). Results are written to ``eval/results/evaluator.json``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

NAMES = ("nDCG@10", "MAP@1000", "Recall@100", "MRR@10")


def run_rerankit(qrels_path: Path, run_path: Path) -> dict[str, float]:
    from rerankit.evaluation.evaluator import evaluate

    result = evaluate(qrels_path, run_path,
                      ["ndcg_cut_10", "map_cut_1000", "recall_100", "recip_rank_cut_10"])
    return dict(zip(NAMES, (result["ndcg_cut_10"], result["map_cut_1000"],
                            result["recall_100"], result["recip_rank_cut_10"]), strict=True))


def run_pytrec_eval(qrels_path: Path, run_path: Path) -> dict[str, float]:
    import pytrec_eval

    with open(qrels_path) as handle:
        qrels = pytrec_eval.parse_qrel(handle)
    with open(run_path) as handle:
        run = pytrec_eval.parse_run(handle)
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map_cut.1000",
                                                      "recall.100", "recip_rank"})
    per_query = evaluator.evaluate(run)
    values = {
        "nDCG@10": [v["ndcg_cut_10"] for v in per_query.values()],
        "MAP@1000": [v["map_cut_1000"] for v in per_query.values()],
        "Recall@100": [v["recall_100"] for v in per_query.values()],
        "MRR@10": [v["recip_rank"] if v["recip_rank"] >= 0.1 else 0.0
                   for v in per_query.values()],
    }
    return {k: float(np.mean(v)) for k, v in values.items()}


def run_ranx(qrels_path: Path, run_path: Path) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    qrels = Qrels.from_file(str(qrels_path), kind="trec")
    run = Run.from_file(str(run_path), kind="trec")
    scores = evaluate(qrels, run, ["ndcg@10", "map@1000", "recall@100", "mrr@10"])
    return dict(zip(NAMES, (scores["ndcg@10"], scores["map@1000"], scores["recall@100"],
                            scores["mrr@10"]), strict=True))


def warm_up_ranx(folder: Path) -> float:
    """Compile ranx's numba kernels on a tiny input; returns the seconds it took."""
    run_path, qrels_path = generate(folder / "tiny", queries=5, depth=20)
    start = time.perf_counter()
    run_ranx(qrels_path, run_path)
    return time.perf_counter() - start


def warm_page_cache(*paths: Path) -> None:
    """Read the files once so every tool starts from the same (cached) state."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass


def time_tools(tools: dict, qrels_path: Path, run_path: Path,
               repeats: int) -> tuple[dict[str, list[float]], dict[str, dict]]:
    """Seconds of every call and the values, tools taking turns in each repetition."""
    times: dict[str, list[float]] = {name: [] for name in tools}
    values: dict[str, dict] = {}
    for _ in range(repeats):
        for name, function in tools.items():
            warm_page_cache(qrels_path, run_path)
            gc.collect()
            start = time.perf_counter()
            values[name] = function(qrels_path, run_path)
            times[name].append(time.perf_counter() - start)
    return times, values


def time_fresh_processes(tools: dict, qrels_path: Path, run_path: Path) -> dict[str, float]:
    """Wall seconds of one call per tool in a new Python process: interpreter start and
    imports included, as a user running a script or the command line meets it."""
    seconds = {}
    for name in tools:
        warm_page_cache(qrels_path, run_path)
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--once", name, "--once-files",
                        str(qrels_path), str(run_path)], check=True, stdout=subprocess.DEVNULL)
        seconds[name] = time.perf_counter() - start
    return seconds


TOOLS = {"rerankit": run_rerankit, "pytrec_eval": run_pytrec_eval, "ranx": run_ranx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "evaluator.json")
    parser.add_argument("--once", choices=list(TOOLS), help=argparse.SUPPRESS)
    parser.add_argument("--once-files", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:  # the child of time_fresh_processes
        warnings.filterwarnings("ignore")
        print(json.dumps(TOOLS[args.once](*args.once_files)))
        return

    from rich.console import Console
    from rich.table import Table

    warnings.filterwarnings("ignore")  # numba type-safety chatter from ranx
    console = Console(width=150)
    with console.status("generating the synthetic run and qrels"):
        run_path, qrels_path = generate(args.data / f"synthetic-{args.queries}x{args.depth}",
                                        args.queries, args.depth)
    rows = args.queries * args.depth
    tools = dict(TOOLS)
    ranx_compile = None
    if importlib.util.find_spec("ranx") is None:
        del tools["ranx"]
        console.print("ranx is not installed: timing rerankit and pytrec_eval only")
    else:
        with console.status("compiling ranx (not timed)"):
            ranx_compile = warm_up_ranx(args.data)
    with console.status(f"timing {', '.join(tools)} in turn, {args.repeats} times"):
        all_times, values = time_tools(tools, qrels_path, run_path, args.repeats)
    with console.status("timing one call per tool in a fresh process"):
        fresh = time_fresh_processes(tools, qrels_path, run_path)
    timings = {name: statistics.median(times) for name, times in all_times.items()}

    identical = all(abs(values[tool][m] - values["rerankit"][m]) < 1e-9
                    for tool in values for m in NAMES)
    table = Table(title=f"End to end, {rows:,} run rows ({args.queries:,} queries x "
                        f"{args.depth}), median of {args.repeats}")
    table.add_column("tool")
    table.add_column("seconds", justify="right")
    table.add_column("every run", justify="right")
    table.add_column("rerankit is x faster", justify="right")
    table.add_column("fresh process", justify="right")
    table.add_column("x faster", justify="right")
    for m in NAMES:
        table.add_column(m, justify="right")
    for tool in timings:
        ratio = timings[tool] / timings["rerankit"]
        table.add_row(tool, f"{timings[tool]:.2f}",
                      " ".join(f"{t:.2f}" for t in all_times[tool]),
                      "-" if tool == "rerankit" else f"{ratio:.1f}x",
                      f"{fresh[tool]:.2f}",
                      "-" if tool == "rerankit" else f"{fresh[tool] / fresh['rerankit']:.1f}x",
                      *(f"{values[tool][m]:.6f}" for m in NAMES))
    console.print(table)
    compile_note = ("" if ranx_compile is None else f"; ranx numba compilation excluded "
                    f"in-process ({ranx_compile:.1f} s), from its disk cache in the fresh process")
    console.print(f"values identical across tools (1e-9): {identical}{compile_note}; fresh "
                  "process = interpreter start + imports + one call; rerankit with trec_eval "
                  "10.0 semantics (its default)")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "rows": rows, "queries": args.queries, "depth": args.depth, "repeats": args.repeats,
        "seconds": timings, "every_run_seconds": all_times,
        "page_cache": "warmed before every timed call",
        "speedup": {t: timings[t] / timings["rerankit"] for t in timings},
        "fresh_process_seconds": fresh,
        "fresh_process_speedup": {t: fresh[t] / fresh["rerankit"] for t in fresh},
        "values": values, "identical": identical, "ranx_compile_seconds": ranx_compile,
        "semantics": "trec_eval 10.0 (rerankit default)",
        "machine": platform.platform(), "python": platform.python_version(),
    }, indent=2) + "\n")
    if not identical:
        raise SystemExit("the tools disagree on the values")


if __name__ == "__main__":
    main()
