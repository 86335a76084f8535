"""Evaluator speed: rerankit vs pytrec_eval vs ranx, end to end from files, same run.

Task (DEVELOPERS issue 3, issue 18): a TREC run of ``--queries`` x 1000 rows and its qrels,
from files to the four numbers nDCG@10, MAP@1000, Recall@100 and MRR@10, in two cases
reported separately:

* ``tie-free``: strictly decreasing scores (every tool ranks identically);
* ``tie-heavy``: 4-decimal scores from 200 levels per query, written in random order
  within a level, as real BM25 runs look: every evaluator has to break ties itself
  (trec_eval: by document id, descending). See ``eval/generate.py``.

The default size is 3M rows (3,000 queries); ``--big`` adds the 10M-row cases (10,000
queries): one 10M case took 8 minutes on 2 busy cores with ``--repeats 1 --fresh 1``, so
``--big`` with the default repeats takes most of an hour.

* rerankit: ``evaluate(qrels_path, run_path, measures)`` (reading, validation included),
  with trec_eval 10.0 semantics, its default.
* pytrec_eval: its own ``parse_qrel``/``parse_run``, ``RelevanceEvaluator``, ``evaluate``;
  MRR@10 is derived exactly from recip_rank (RR@10 = RR if RR >= 0.1 else 0).
* ranx: ``Qrels.from_file``, ``Run.from_file``, ``evaluate``. Its numba functions are
  compiled on a tiny input first, so its one-off compilation is not counted against it.

Each tool is timed ``--repeats`` times in this process (median reported), the tools
taking turns so that drift in the machine's speed affects all of them alike, then
``--fresh`` times in a fresh Python process each (rerankit's bytecode compiled first, as
pip installs it: ``eval/installed.py``; interpreter start, imports, reading the
files, evaluating: what a user running a script meets; median reported). The fresh
processes also time ``rerankit eval --json`` for the four measures (the console script,
as a user runs trec_eval), whose values must equal the Python call's exactly. Before every
timed call, of every tool, both files are read once (untimed) so they sit in the OS page
cache: on these VMs the kernel's memory reclaimer evicts a 400 MB file within seconds,
which otherwise turns the first tool's timing into a measure of disk speed.

Values are checked in the same run, on the same files: rerankit with ``compat="9"`` must
equal pytrec_eval (trec_eval 9.0.x inside) to 1e-9, and rerankit's default (trec_eval
10.0 semantics) must equal the trec_eval 10.0 binary (``$TREC_EVAL``, else built from
``../shared/tools``; skipped with a note when neither exists). ranx breaks ties its own
way, so its values are reported, and compared, but only the tie-free case requires them
to agree. Run: ``python eval/bench_evaluator.py`` (``--queries 300`` for a quick look).
Results are written to ``eval/results/evaluator.json``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

NAMES = ("nDCG@10", "MAP@1000", "Recall@100", "MRR@10")
MEASURES = ("ndcg_cut_10", "map_cut_1000", "recall_100", "recip_rank_cut_10")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def run_rerankit(qrels_path: Path, run_path: Path, compat: str = "10") -> dict[str, float]:
    from rerankit.evaluation.evaluator import evaluate

    result = evaluate(qrels_path, run_path, list(MEASURES), compat=compat)
    return dict(zip(NAMES, (result[m] for m in MEASURES), strict=True))


def run_rerankit_9(qrels_path: Path, run_path: Path) -> dict[str, float]:
    return run_rerankit(qrels_path, run_path, compat="9")


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


#: the console script, timed in fresh processes only (a user's ``rerankit eval`` call)
CLI = "rerankit eval (command line)"
CLI_MEASURES = ("ndcg_cut.10", "map_cut.1000", "recall.100", "recip_rank_cut.10")


def cli_command(qrels_path: Path, run_path: Path) -> list[str]:
    """``rerankit eval --json`` for the four measures, by the venv's console script."""
    script = Path(sys.executable).with_name("rerankit")
    start = [str(script)] if script.exists() else [sys.executable, "-m", "rerankit"]
    measures = [word for m in CLI_MEASURES for word in ("-m", m)]
    return [*start, "eval", "--json", *measures, str(qrels_path), str(run_path)]


def run_cli(qrels_path: Path, run_path: Path) -> dict[str, float]:
    """The four values as the console script prints them (its JSON, full precision)."""
    out = subprocess.run(cli_command(qrels_path, run_path), capture_output=True, text=True,
                         check=True).stdout
    aggregate = json.loads(out)["aggregate"]
    return dict(zip(NAMES, (aggregate[m] for m in MEASURES), strict=True))


def run_ranx(qrels_path: Path, run_path: Path) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    qrels = Qrels.from_file(str(qrels_path), kind="trec")
    run = Run.from_file(str(run_path), kind="trec")
    scores = evaluate(qrels, run, ["ndcg@10", "map@1000", "recall@100", "mrr@10"])
    return dict(zip(NAMES, (scores["ndcg@10"], scores["map@1000"], scores["recall@100"],
                            scores["mrr@10"]), strict=True))


def warm_up_ranx(folder: Path) -> float:
    """Compile ranx's numba kernels on a tiny input; returns the seconds it took."""
    from generate import generate

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


def time_fresh_processes(tools: list[str], qrels_path: Path, run_path: Path,
                         repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall seconds and CPU seconds (user + system, all threads) of one call per tool in a
    new Python process, ``repeats`` times, tools taking turns: interpreter start and
    imports included, as a user running a script or the command line meets it. On a
    shared machine the wall clock also measures the other processes; CPU time does not."""
    wall: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(repeats):
        for name in tools:
            warm_page_cache(qrels_path, run_path)
            start = time.perf_counter()
            command = cli_command(qrels_path, run_path) if name == CLI else [
                sys.executable, __file__, "--once", name, "--once-files", str(qrels_path),
                str(run_path)]
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{name} failed in a fresh process")
    return wall, cpu


def trec_eval_binary(folder: Path) -> str | None:
    """The trec_eval 10.0 binary: ``$TREC_EVAL``, else built from ../shared/tools."""
    if os.environ.get("TREC_EVAL"):
        return os.environ["TREC_EVAL"]
    build = SHARED / "tools" / "build-trec-eval"
    if not build.exists():
        return None
    done = subprocess.run([str(build), str(folder / "trec_eval-bin")], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def run_trec_eval_binary(binary: str, qrels_path: Path, run_path: Path) -> dict[str, float]:
    """The four values from the trec_eval 10.0 binary; MRR@10 from per-query recip_rank,
    as for pytrec_eval."""
    out = subprocess.run([binary, "-q", "-m", "ndcg_cut.10", "-m", "map_cut.1000", "-m",
                          "recall.100", "-m", "recip_rank", str(qrels_path), str(run_path)],
                         capture_output=True, text=True, check=True).stdout
    summary: dict[str, float] = {}
    rr: list[float] = []
    for line in out.splitlines():
        measure, query, value = line.split()
        if query == "all":
            summary[measure] = float(value)
        elif measure == "recip_rank":
            rr.append(float(value))
    mrr = float(np.mean([v if v >= 0.1 else 0.0 for v in rr]))
    return {"nDCG@10": summary["ndcg_cut_10"], "MAP@1000": summary["map_cut_1000"],
            "Recall@100": summary["recall_100"], "MRR@10": mrr}


def agree(a: dict[str, float], b: dict[str, float], tolerance: float) -> bool:
    return all(abs(a[m] - b[m]) <= tolerance for m in NAMES)


def run_case(name: str, ties: bool, queries: int, args: argparse.Namespace, tools: dict,
             binary: str | None, status) -> dict:
    """Time every tool on one generated run and check the values; the case's record."""
    from generate import generate  # not at the top: the timed children must not import it
    from installed import compile_rerankit

    with status(f"{name}: generating the synthetic run and qrels"):
        run_path, qrels_path = generate(
            args.data / f"synthetic-{queries}x{args.depth}{'-ties' if ties else ''}",
            queries, args.depth, ties=ties)
    with status(f"{name}: timing {', '.join(tools)} in turn, {args.repeats} times"):
        all_times, values = time_tools(tools, qrels_path, run_path, args.repeats)
    with status(f"{name}: timing one call per tool in a fresh process, {args.fresh} times"):
        compile_rerankit()             # as an installed copy has it (eval/installed.py)
        fresh_times, fresh_cpu_times = time_fresh_processes([*tools, CLI], qrels_path,
                                                            run_path, args.fresh)
    with status(f"{name}: checking the values (rerankit compat 9, trec_eval binary)"):
        values["rerankit (compat 9)"] = run_rerankit_9(qrels_path, run_path)
        values[CLI] = run_cli(qrels_path, run_path)
        if binary is not None:
            values["trec_eval 10.0 binary"] = run_trec_eval_binary(binary, qrels_path,
                                                                   run_path)
    seconds = {tool: statistics.median(times) for tool, times in all_times.items()}
    fresh = {tool: statistics.median(times) for tool, times in fresh_times.items()}
    fresh_cpu = {tool: statistics.median(times) for tool, times in fresh_cpu_times.items()}
    checks = {"rerankit compat 9 == pytrec_eval (1e-9)":
              agree(values["rerankit (compat 9)"], values["pytrec_eval"], 1e-9),
              f"{CLI} == rerankit (exactly)": values[CLI] == values["rerankit"]}
    if binary is not None:  # the binary prints 4 decimals
        checks["rerankit == trec_eval 10.0 binary (its 4 decimals)"] = agree(
            values["rerankit"], values["trec_eval 10.0 binary"], 5e-5)
    if "ranx" in values:
        checks["ranx == rerankit (1e-9)"] = agree(values["ranx"], values["rerankit"], 1e-9)
    return {
        "case": name, "ties": ties, "rows": queries * args.depth, "queries": queries,
        "depth": args.depth, "run_file": str(run_path), "seconds": seconds,
        "every_run_seconds": all_times,
        "speedup": {t: seconds[t] / seconds["rerankit"] for t in seconds},
        "fresh_process_seconds": fresh, "every_fresh_process_seconds": fresh_times,
        "fresh_process_speedup": {t: fresh[t] / fresh["rerankit"] for t in fresh},
        "fresh_process_cpu_seconds": fresh_cpu, "every_fresh_process_cpu_seconds":
        fresh_cpu_times,
        "fresh_process_cpu_speedup": {t: fresh_cpu[t] / fresh_cpu["rerankit"] for t in fresh},
        "values": values, "checks": checks,
        "identical": all(ok for check, ok in checks.items() if "ranx" not in check),
    }


TOOLS = {"rerankit": run_rerankit, "pytrec_eval": run_pytrec_eval, "ranx": run_ranx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--big", action="store_true",
                        help="also the 10M-row cases (10,000 queries)")
    parser.add_argument("--cases", default="tie-free,tie-heavy",
                        help="comma-separated: tie-free, tie-heavy")
    parser.add_argument("--repeats", type=int, default=3, help="in-process timings per tool")
    parser.add_argument("--fresh", type=int, default=3, help="fresh-process timings per tool")
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
    console = Console(width=200)
    tools = dict(TOOLS)
    ranx_compile = None
    if importlib.util.find_spec("ranx") is None:
        del tools["ranx"]
        console.print("ranx is not installed: timing rerankit and pytrec_eval only")
    else:
        with console.status("compiling ranx (not timed)"):
            ranx_compile = warm_up_ranx(args.data)
    binary = trec_eval_binary(args.data)
    if binary is None:
        console.print("no trec_eval 10.0 binary ($TREC_EVAL or ../shared/tools): the check "
                      "against it is skipped")
    sizes = [args.queries] + ([10_000] if args.big and args.queries != 10_000 else [])
    cases = []
    for queries in sizes:
        for name in args.cases.split(","):
            if name not in ("tie-free", "tie-heavy"):
                raise SystemExit(f"unknown case {name!r}: tie-free or tie-heavy")
            cases.append(run_case(name, name == "tie-heavy", queries, args, tools, binary,
                                  console.status))
            console.print(_table(cases[-1], Table))
            for check, ok in cases[-1]["checks"].items():
                console.print(f"  {check}: {ok}")
    compile_note = ("" if ranx_compile is None else f"ranx numba compilation excluded "
                    f"in-process ({ranx_compile:.1f} s), from its disk cache in the fresh "
                    "process; ")
    console.print(f"{compile_note}fresh process = interpreter start + imports + one call "
                  f"(median of {args.fresh}); rerankit with trec_eval 10.0 semantics (its "
                  f"default); {os.cpu_count()} CPU cores")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "cases": cases, "repeats": args.repeats, "fresh_repeats": args.fresh,
        "page_cache": "warmed before every timed call",
        "ranx_compile_seconds": ranx_compile,
        "semantics": "trec_eval 10.0 (rerankit default)", "cpu_cores": os.cpu_count(),
        "machine": platform.platform(), "python": platform.python_version(),
        "versions": _versions(),
    }, indent=2) + "\n")
    if not all(case["identical"] for case in cases):
        raise SystemExit("rerankit disagrees with pytrec_eval or the trec_eval binary")


def _table(case: dict, table_class):
    table = table_class(title=f"{case['case']}: end to end, {case['rows']:,} run rows "
                              f"({case['queries']:,} queries x {case['depth']})")
    table.add_column("tool")
    table.add_column("in process, s", justify="right")
    table.add_column("every run", justify="right")
    table.add_column("rerankit is x faster", justify="right")
    table.add_column("fresh process, s", justify="right")
    table.add_column("x faster", justify="right")
    table.add_column("its CPU s", justify="right")
    table.add_column("x less", justify="right")
    for m in NAMES:
        table.add_column(m, justify="right")
    seconds, fresh, values = case["seconds"], case["fresh_process_seconds"], case["values"]
    cpu = case["fresh_process_cpu_seconds"]
    for tool, found in values.items():
        timed, started = tool in seconds, tool in fresh
        table.add_row(
            tool, f"{seconds[tool]:.2f}" if timed else "-",
            " ".join(f"{t:.2f}" for t in case["every_run_seconds"][tool]) if timed else "-",
            f"{case['speedup'][tool]:.1f}x" if timed and tool != "rerankit" else "-",
            f"{fresh[tool]:.2f}" if started else "-",
            f"{case['fresh_process_speedup'][tool]:.2f}x" if started and tool != "rerankit"
            else "-",
            f"{cpu[tool]:.2f}" if started else "-",
            f"{case['fresh_process_cpu_speedup'][tool]:.2f}x" if started and tool != "rerankit"
            else "-",
            *(f"{found[m]:.6f}" for m in NAMES))
    return table


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("pytrec_eval", "pytrec-eval-terrier", "ranx", "numpy", "pyarrow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


if __name__ == "__main__":
    main()
