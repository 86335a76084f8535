"""Real rerankit processes stopped at a chosen point, for signal and clean-up tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_paused(script: str, ready: Path, args: list[str], timeout: float) -> subprocess.Popen:
    """Run ``python -c script ready *args`` (a script that writes a path into ``ready`` and
    then sleeps) and wait until it has written it; the process is left running. Debug
    tracebacks and progress bars are off, as for a user's plain command line."""
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment.update({"PYTHONPATH": str(REPO), "RERANKIT_QUIET": "1"})
    process = subprocess.Popen([sys.executable, "-c", script, str(ready), *args],
                               env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while not ready.is_file() or not ready.read_text():
        assert process.poll() is None, process.communicate()[1]
        assert time.time() < deadline
        time.sleep(0.05)
    return process
