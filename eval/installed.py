"""Fresh-process benchmarks time rerankit as pip installs it: with its bytecode compiled.

``pip install`` compiles every module to ``__pycache__`` at install time, as it did for
numpy, pyarrow and the peers. A checkout used in place (``pip install -e .``) compiles on
first import and keeps the result, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on
the machines these benchmarks ran on: then every fresh process compiled rerankit's modules
from source again (``eval/bench_cli_start.py``: 0.268 s for ``rerankit eval`` then, 0.224 s
with the bytecode compiled), a cost no installed copy pays. :func:`compile_rerankit` writes
the bytecode once before the timings.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path


def compile_rerankit() -> dict:
    """Compile rerankit's modules to bytecode (``compileall``, as pip does); what was done,
    for the results file."""
    package = Path(importlib.util.find_spec("rerankit").origin).parent
    compiled = compileall.compile_dir(package, quiet=1)
    return {"bytecode": "compiled before timing (as pip install does)", "ok": bool(compiled)}
