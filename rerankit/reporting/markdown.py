"""Markdown tables: the one renderer behind the leaderboards, the BEIR export and the
session demo, and its inverse (the export reads its file back to validate it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table, unpadded (``| a | b |``, separator ``|---|---|``),
    without a final newline; a ``|`` inside a cell is escaped as ``\\|``."""
    lines = [_row(header), "|" + "---|" * len(header)]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def read_markdown_table(text: str) -> list[list[str]]:
    """The header and rows of the first table in ``text`` (lines starting with ``|``; the
    separator dropped), cells stripped and unescaped."""
    lines = [line.strip() for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip().replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(line[1:-1])]
            for i, line in enumerate(lines) if i != 1]


def _row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {_escape(c)} " if c else " " for c in cells) + "|"


def _escape(cell: str) -> str:
    return str(cell).replace("|", "\\|")
