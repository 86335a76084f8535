"""When to show progress bars: on an interactive terminal, unless told to be quiet."""

from __future__ import annotations

import contextlib
import functools
import inspect
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
    """The libraries' own progress bars (transformers' "Loading weights", the Hugging Face
    hub's downloads, datasets' "Map", sentence-transformers' "Computing widget examples",
    any other tqdm bar) only while progress is on: switched off for the block only, and
    back to what they were afterwards."""
    if progress_enabled(quiet):
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(_hugging_face_bars_off())
        stack.enter_context(_tqdm_off())
        yield


@contextmanager
def _hugging_face_bars_off() -> Iterator[None]:
    """transformers' and datasets' switches (which also turn off the hub's bars)."""
    undo = []
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        if hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()
            undo.append(hf_logging.enable_progress_bar)
    if "datasets" in sys.modules:         # never imported just for this
        with contextlib.suppress(ImportError, AttributeError):
            import datasets

            if datasets.is_progress_bar_enabled():
                datasets.disable_progress_bars()
                undo.append(datasets.enable_progress_bars)
    try:
        yield
    finally:
        for switch_back in reversed(undo):
            switch_back()


@contextmanager
def _tqdm_off() -> Iterator[None]:
    """Every tqdm bar created meanwhile is disabled (tqdm has no switch of its own, and
    libraries such as sentence-transformers' model card use it directly): every variant
    (auto, asyncio, the Hugging Face subclasses) goes through ``tqdm.std.tqdm.__init__``."""
    try:
        from tqdm import std
    except ImportError:
        yield
        return
    original = std.tqdm.__init__
    # where ``disable`` sits among the positional arguments (after ``self``)
    position = list(inspect.signature(original).parameters).index("disable") - 1

    @functools.wraps(original)
    def disabled(self, *args, **kwargs):
        if len(args) > position:
            args = (*args[:position], True, *args[position + 1:])
        else:
            kwargs["disable"] = True
        original(self, *args, **kwargs)

    std.tqdm.__init__ = disabled
    try:
        yield
    finally:
        std.tqdm.__init__ = original
