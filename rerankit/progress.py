"""When to show progress bars: on an interactive terminal, unless told to be quiet."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rerankit.settings import Settings


def progress_enabled(quiet: bool | None = None) -> bool:
    """True when stderr is a TTY and neither ``quiet`` nor the settings (``RERANKIT_QUIET``)
    ask for quiet."""
    if quiet or Settings.resolve(quiet=quiet).quiet:
        return False
    return sys.stderr.isatty()


@contextmanager
def library_progress(quiet: bool | None = None) -> Iterator[None]:
    """Hugging Face's own progress bars (model loading) only while progress is on, switched
    back to what they were afterwards: never a process-wide change."""
    if progress_enabled(quiet):
        yield
        return
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
