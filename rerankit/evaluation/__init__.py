"""Evaluation: trec_eval-exact measures and significance tests.

``compare`` (which needs scipy) is loaded on first use, so ``rerankit eval`` starts fast.
"""

from __future__ import annotations

from typing import Any

from rerankit.evaluation.evaluator import EvaluationResult, evaluate
from rerankit.evaluation.measures import Measure, parse_measures

__all__ = ["ComparisonReport", "EvaluationResult", "Measure", "compare", "evaluate",
           "parse_measures"]


def __getattr__(name: str) -> Any:
    if name in ("compare", "ComparisonReport"):
        from rerankit.evaluation import stats

        return getattr(stats, name)
    raise AttributeError(f"module 'rerankit.evaluation' has no attribute '{name}'")
