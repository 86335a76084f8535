"""The cost ledger: per stage and per query, wall time, model calls, tokens in and out,
candidates scored and score-cache hits.

When a reranker scores many queries in one batched call (cross-encoders, bi-encoders,
monoT5), that call's cost is shared among its queries in proportion to the candidates each
had scored; rerankers that work one query at a time (LLM yes/no, listwise, pairwise) are
measured per query. Stage totals are exact either way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.rerank.scoring import ListCost

COSTS = ("seconds", "model_calls", "tokens_in", "tokens_out", "candidates", "cache_hits")


@dataclass(kw_only=True)
class LedgerRow(ListCost):
    """The cost of one stage for one query."""

    stage: str
    query_id: str

    def to_json(self) -> dict:
        """Stage and query first, then the costs (the ledger file's row layout)."""
        return {"stage": self.stage, "query_id": self.query_id,
                **{k: v for k, v in asdict(self).items() if k not in ("stage", "query_id")}}


@dataclass
class Ledger:
    """Every (stage, query) cost of a pipeline run, plus one-off setup costs (indexing)."""

    rows: list[LedgerRow]
    setup_seconds: dict[str, float]

    @classmethod
    def empty(cls) -> Ledger:
        return cls([], {})

    def add(self, row: LedgerRow) -> None:
        self.rows.append(row)

    def extend(self, other: Ledger) -> None:
        self.rows.extend(other.rows)
        for stage, seconds in other.setup_seconds.items():
            self.setup_seconds[stage] = self.setup_seconds.get(stage, 0.0) + seconds

    def stages(self) -> list[str]:
        """Stage labels in pipeline order."""
        return list(dict.fromkeys(row.stage for row in self.rows))

    def totals(self) -> list[dict]:
        """One row per stage: summed costs, queries, and the mean milliseconds per query."""
        out = []
        for stage in self.stages():
            rows = [r for r in self.rows if r.stage == stage]
            total = {"stage": stage, "queries": len(rows),
                     "setup_seconds": self.setup_seconds.get(stage, 0.0)}
            for cost in COSTS:
                total[cost] = sum(getattr(r, cost) for r in rows)
            total = {k: float(v) if isinstance(v, np.floating) else v for k, v in total.items()}
            total["ms_per_query"] = 1000.0 * total["seconds"] / max(1, len(rows))
            out.append(total)
        return out

    def to_json(self) -> dict:
        return {"totals": self.totals(), "setup_seconds": self.setup_seconds,
                "per_query": [r.to_json() for r in self.rows]}

    def write(self, path: str | Path) -> Path:
        data = self.to_json()
        rows = ",\n  ".join(json.dumps(row) for row in data.pop("per_query"))
        head = json.dumps(data, indent=1)[:-2]          # one line per query row below
        with atomic_write(path) as handle:
            handle.write(f"{head},\n \"per_query\": [\n  {rows}\n ]\n}}\n")
        return Path(path)

    def table(self, title: str = "cost ledger"):
        """A Rich table of the stage totals."""
        from rich.table import Table

        table = Table(title=title)
        for column in ("stage", "queries", "ms/query", "seconds", "calls", "tok in",
                       "tok out", "scored", "cache hits", "setup s"):
            table.add_column(column, justify="left" if column == "stage" else "right")
        for t in self.totals():
            table.add_row(t["stage"], str(t["queries"]), f"{t['ms_per_query']:.1f}",
                          f"{t['seconds']:.2f}", f"{t['model_calls']:.0f}",
                          f"{t['tokens_in']:.0f}", f"{t['tokens_out']:.0f}",
                          str(t["candidates"]), str(t["cache_hits"]),
                          f"{t['setup_seconds']:.1f}")
        return table
