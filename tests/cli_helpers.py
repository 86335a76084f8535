"""Run the command line in the test process: ``invoke(["eval", QRELS, RUN])`` calls
:func:`rerankit.cli.main` as the console script does (through its one error handler), with
standard input, output and error replaced, and returns what it wrote and its exit status."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

from rerankit.cli import main


@dataclass(frozen=True)
class Invocation:
    """What one command wrote and how it ended."""
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Standard output, then standard error (for failure messages)."""
        return self.stdout + self.stderr


def invoke(args: Sequence[str | PathLike], input: str = "") -> Invocation:
    """``rerankit ARGS`` with ``input`` on standard input."""
    stdin = io.TextIOWrapper(io.BytesIO(input.encode()), encoding="utf-8")
    stdout, stderr = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8") for _ in range(2))
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        main([str(arg) for arg in args])
        raise AssertionError("rerankit.cli.main returned without an exit status")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return Invocation(code, _text(stdout), _text(stderr))


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8")
