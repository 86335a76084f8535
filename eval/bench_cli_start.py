"""Start-up of ``rerankit eval`` on a tiny file vs ``python -c "import pytrec_eval"``
(issue 18, goal: at most 2x), each the median of ``--runs`` fresh processes, taking turns.

Also times the imports every evaluation in Python needs anyway (numpy, pyarrow with its
CSV module, argparse for the command line), so the table shows how much of the start-up
is rerankit's own, and lists the heavy modules (pandas, scipy, torch, rich, pydantic,
typer, click, pyarrow.compute) the command imported: there must be none. Wall seconds and
CPU seconds (user + system of the child) are both reported: on a shared 2-core machine
the wall clock also measures the other processes. rerankit's bytecode is compiled first,
as an installed copy has it (``eval/installed.py``). Run: ``python eval/bench_cli_start.py``;
results go to ``eval/results/cli_start.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import compile_rerankit

HEAVY = ("pandas", "scipy", "torch", "rich", "pydantic", "typer", "click", "pyarrow.compute")
REPO = Path(__file__).resolve().parents[1]


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def heavy_imports(command: list[str], env: dict[str, str]) -> list[str]:
    """Heavy top-level packages ``command`` (a ``python ...`` command) imports."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=env,
                          capture_output=True, text=True, check=True)
    found = {line.rsplit("|", 1)[1].strip()
             for line in done.stderr.splitlines() if line.startswith("import time:")}
    return sorted(found & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).parent / "results" / "cli_start.json")
    args = parser.parse_args()
    bytecode = compile_rerankit()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with tempfile.TemporaryDirectory() as folder:
        qrels, run = Path(folder) / "qrels", Path(folder) / "run"
        qrels.write_text("1 0 d1 1\n1 0 d2 0\n2 0 d3 2\n")
        run.write_text("1 Q0 d1 1 2.0 r\n1 Q0 d2 2 1.0 r\n2 Q0 d3 1 1.0 r\n")
        python = sys.executable
        commands = {
            "python -c 'import pytrec_eval'": [python, "-c", "import pytrec_eval"],
            "rerankit eval QRELS RUN": [python, "-m", "rerankit", "eval", str(qrels), str(run)],
            "(imports: numpy, pyarrow, pyarrow.csv, argparse)": [
                python, "-c", "import numpy, pyarrow, pyarrow.csv, argparse"],
            "(python -c pass)": [python, "-c", "pass"],
        }
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                seconds, used = measure(command, env)
                wall[name].append(seconds)
                cpu[name].append(used)
        heavy = heavy_imports(commands["rerankit eval QRELS RUN"], env)
    reference = "python -c 'import pytrec_eval'"
    wall_median = {name: statistics.median(times) for name, times in wall.items()}
    cpu_median = {name: statistics.median(times) for name, times in cpu.items()}
    print(f"median of {args.runs} fresh processes, {os.cpu_count()} CPU cores")
    print(f"{'command':66s} {'wall s':>7s} {'x':>6s} {'CPU s':>7s} {'x':>6s}")
    for name in commands:
        print(f"{name:66s} {wall_median[name]:7.3f} "
              f"{wall_median[name] / wall_median[reference]:5.2f}x {cpu_median[name]:7.3f} "
              f"{cpu_median[name] / cpu_median[reference]:5.2f}x")
    print(f"heavy packages imported by rerankit eval: {heavy or 'none'}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({
        "runs": args.runs, "wall_seconds_median": wall_median,
        "cpu_seconds_median": cpu_median, "every_wall_seconds": wall,
        "ratio_to_import_pytrec_eval": {
            "wall": wall_median["rerankit eval QRELS RUN"] / wall_median[reference],
            "cpu": cpu_median["rerankit eval QRELS RUN"] / cpu_median[reference]},
        "heavy_imports": heavy, "cpu_cores": os.cpu_count(), "rerankit": bytecode,
        "machine": platform.platform(), "python": platform.python_version(),
    }, indent=2) + "\n")
    if heavy:
        raise SystemExit(f"rerankit eval imported {heavy}")


if __name__ == "__main__":
    main()
