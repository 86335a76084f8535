"""Listwise reranking without the model: parsing a permutation the model wrote, and the
sliding-window schedule (RankGPT: window 20, step 10, back to front).

Parsing is forgiving and accountable: numbers are read in order from any text
("[3] > [1] > [2]", "3, 1, 2", "Ranking: 3 1 2"); duplicates are dropped, numbers outside
1..n are ignored, identifiers the model forgot are appended in their previous order, and
every repair is counted so a run can report how often the model's output was fixed.
Complete answers that merely repeat or reverse the given order are counted too
(``suspect_identity``, ``suspect_reversed``): the typical failure of small models.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

_NUMBER = re.compile(r"\d+")


@dataclass
class Repairs:
    """How many times each repair was needed."""

    counts: Counter = field(default_factory=Counter)

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] += n

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def parse_permutation(text: str, n: int, repairs: Repairs | None = None) -> list[int]:
    """0-based order of ``n`` passages from the model's text (see the module docstring)."""
    repairs = repairs if repairs is not None else Repairs()
    seen: set[int] = set()
    order: list[int] = []
    numbers = [int(m) for m in _NUMBER.findall(text or "")]
    if not numbers:
        repairs.add("unparseable")
    for number in numbers:
        if not 1 <= number <= n:
            repairs.add("out_of_range")
            continue
        if number - 1 in seen:
            repairs.add("duplicate")
            continue
        seen.add(number - 1)
        order.append(number - 1)
    missing = [i for i in range(n) if i not in seen]
    repairs.add("missing", len(missing) if numbers else 0)
    if n > 2 and len(order) == n:
        # complete but content-blind: small models often copy the given order or reverse
        # it whatever the passages say; counted so a run shows it (the order is kept)
        if order == list(range(n)):
            repairs.add("suspect_identity")
        elif order == list(range(n - 1, -1, -1)):
            repairs.add("suspect_reversed")
    return order + missing


def sliding_windows(n: int, window: int = 20, step: int = 10) -> list[tuple[int, int]]:
    """(start, end) of each window, from the bottom of the list to the top, so the best
    documents bubble up. A window larger than the list covers all of it once."""
    if window < 1 or step < 1:
        raise ValueError(f"window and step must be >= 1, got {window}, {step}")
    if n <= window:
        return [(0, n)] if n else []
    spans = []
    end = n
    while True:
        start = max(0, end - window)
        spans.append((start, end))
        if start == 0:
            return spans
        end -= step


def rerank_with_windows(order: list[int], permute: Callable[[list[int]], list[int]],
                        window: int = 20, step: int = 10, passes: int = 1) -> list[int]:
    """Apply ``permute`` (a window's items -> a 0-based order of them) over sliding windows,
    ``passes`` times; returns the new order of the items."""
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    current = list(order)
    for _ in range(passes):
        for start, end in sliding_windows(len(current), window, step):
            chunk = current[start:end]
            new = permute(chunk)
            if sorted(new) != list(range(len(chunk))):
                raise ValueError("permute must return a permutation of the window")
            current[start:end] = [chunk[i] for i in new]
    return current
