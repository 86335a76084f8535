"""trec_eval's text output: ``measure<TAB>qid|all<TAB>value`` with its exact layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rerankit.evaluation.measures import COUNT_FAMILIES, SUMMARY_ONLY

if TYPE_CHECKING:
    from rerankit.evaluation.evaluator import EvaluationResult


def format_value(family: str, value: float | str) -> str:
    """Counts as integers, run ids as text, everything else as ``%6.4f``, like trec_eval."""
    if isinstance(value, str):
        return value
    if family in COUNT_FAMILIES:
        return str(int(value))
    return f"{value:6.4f}"


def format_trec_eval(result: EvaluationResult, per_query: bool, summary: bool) -> str:
    """Per-query lines (queries in trec_eval order, measures in its order), then summary."""
    lines: list[str] = []
    if per_query:
        for i, qid in enumerate(result.query_ids):
            for m in result.measures:
                if m.family in SUMMARY_ONLY:
                    continue
                lines.append(_line(m.name, qid, format_value(m.family, result.values[m.name][i])))
    if summary:
        for m in result.measures:
            lines.append(_line(m.name, "all", format_value(m.family, result.aggregate[m.name])))
    return "".join(lines)


def _line(name: str, qid: str, value: str) -> str:
    return f"{name:<22}\t{qid}\t{value}\n"
