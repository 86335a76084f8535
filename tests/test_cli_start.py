"""``rerankit eval`` starts light: no pandas, scipy, torch, rich, pydantic, nor a command-line
framework (typer, click) on its path (issue 18); the standard library's argparse reads its
command line (``tests/test_cli_args.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"pandas", "scipy", "torch", "rich", "pydantic", "sklearn", "transformers", "typer",
         "click"}
REPO = Path(__file__).resolve().parents[1]


def _imported(args: list[str], stdin: bytes = b"") -> set[str]:
    """Top-level packages a fresh ``python -m rerankit ...`` imports (``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "rerankit", *args],
                          input=stdin, capture_output=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in lines if line.startswith("import time:") and "|" in line}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("start")
    qrels, run, spaced = folder / "qrels", folder / "run", folder / "spaced"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 2\n")
    run.write_text("q1 Q0 d1 1 2.5 tag\nq1 Q0 d2 2 2.5 tag\nq2 Q0 d3 1 1 tag\n")
    spaced.write_text("q1  Q0\td2 1 2.5 tag\r\n# comment\nq2 Q0 d3 1 1.0 tag\n")
    return qrels, run, spaced


@pytest.mark.parametrize("options", [[], ["-q", "-c", "-m", "ndcg_cut.10", "--measure=P_5"],
                                     ["--compat", "9", "-M", "1", "-J", "--json"]])
def test_eval_imports_no_heavy_package(files, options):
    qrels, run, _ = files
    heavy = _imported(["eval", *options, str(qrels), str(run)]) & HEAVY
    assert not heavy, f"rerankit eval imported {sorted(heavy)}"


def test_eval_from_stdin_with_any_whitespace_imports_no_heavy_package(files):
    qrels, _, spaced = files
    heavy = _imported(["eval", "-m", "all", str(qrels), "-"], stdin=spaced.read_bytes()) & HEAVY
    assert not heavy, f"rerankit eval imported {sorted(heavy)}"


_BLAS_PROBE = """
import atexit, os, sys
atexit.register(lambda: print("blas", os.environ.get("OPENBLAS_NUM_THREADS"), file=sys.stderr))
from rerankit.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("2", "2")])
def test_eval_imports_numpy_with_one_blas_thread_unless_told(files, given, seen):
    """numpy's OpenBLAS threads spin at import, competing with the reader's threads:
    ``rerankit eval`` (no linear algebra) asks for one, keeping the user's own setting."""
    qrels, run, _ = files
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    done = subprocess.run([sys.executable, "-c", _BLAS_PROBE, "eval", str(qrels), str(run)],
                          capture_output=True, cwd=REPO, timeout=120, env=env)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert f"blas {seen}" in done.stderr.decode()
