"""trec_eval's text output: ``measure<TAB>qid|all<TAB>value`` with its exact layout.

The name is left-aligned in 22 characters (``%-22s``). Counts print as integers (``%ld``),
other values as ``%6.4f``, text as the kernel gives it (relstring with its quotes). With z-scores
(``-Z``) every numeric line, counts included, prints ``Z`` + name and ``%6.4f``; runid and
relstring lines are unchanged. Per query (``-q``): queries in trec_eval's order, measures in
its order, summary-only measures (runid, num_q, gm_*) left out; then, unless ``-n``, the
summary lines, where per-query-only measures (relstring) are left out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rerankit.evaluation.measures import SUMMARY_ONLY_RULES, summary_rule, value_kind

if TYPE_CHECKING:
    from rerankit.evaluation.evaluator import EvaluationResult


def format_value(kind: str, value: float | str, zscores: bool = False) -> str:
    """One value as trec_eval prints it (``kind`` from ``measures.value_kind``)."""
    if kind == "text":
        return str(value)
    if kind == "count" and not zscores:
        return str(int(value))  # C's (long) cast: truncation toward zero
    if math.isnan(value):  # glibc keeps a NaN's sign (0.0 / 0.0 is -nan on x86)
        return ("-nan" if math.copysign(1.0, value) < 0 else "nan").rjust(6)
    return f"{value:6.4f}"


def format_trec_eval(result: EvaluationResult, per_query: bool, summary: bool) -> str:
    """Per-query lines, then summary lines, exactly as trec_eval writes them."""
    lines: list[str] = []
    if per_query:
        printed = [m for m in result.measures
                   if summary_rule(m.family) not in SUMMARY_ONLY_RULES]
        for i, qid in enumerate(result.query_ids):
            for m in printed:
                kind = value_kind(m.family)
                value = format_value(kind, result.values[m.key][i], result.zscores)
                lines.append(_line(m.name, qid, value, result.zscores and kind != "text"))
    if summary:
        for m in result.measures:
            if m.key not in result.aggregate:
                continue
            kind = value_kind(m.family)
            value = format_value(kind, result.aggregate[m.key], result.zscores)
            lines.append(_line(m.name, "all", value, result.zscores and kind != "text"))
    return "".join(lines)


def _line(name: str, qid: str, value: str, z: bool) -> str:
    return f"{'Z' if z else ''}{name:<22}\t{qid}\t{value}\n"
