"""When to show progress bars: on an interactive terminal, unless told to be quiet."""

from __future__ import annotations

import os
import sys


def progress_enabled(quiet: bool | None = None) -> bool:
    """True when stderr is a TTY, ``quiet`` is not set and ``RERANKIT_QUIET`` is unset."""
    if quiet or os.environ.get("RERANKIT_QUIET"):
        return False
    return sys.stderr.isatty()
