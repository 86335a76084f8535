"""Meta-evaluation of session metrics: how they agree, how they track satisfaction, and how
well they separate two systems."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats as sps

from rerankit.evaluation.stats import paired_p_value

CORRELATIONS = {"pearson": sps.pearsonr, "spearman": sps.spearmanr, "kendall": sps.kendalltau}


def correlation(a: np.ndarray, b: np.ndarray, method: str) -> tuple[float, int]:
    """Correlation over the sessions where both values are defined, and how many those are."""
    both = ~(np.isnan(a) | np.isnan(b))
    n = int(both.sum())
    if n < 3 or np.ptp(a[both]) == 0 or np.ptp(b[both]) == 0:
        return float("nan"), n
    return float(CORRELATIONS[method](a[both], b[both])[0]), n


def correlation_matrix(values: Mapping[str, np.ndarray], method: str = "kendall"
                       ) -> dict[str, dict[str, float]]:
    """Pairwise correlation of metrics across sessions (``pearson``, ``spearman``,
    ``kendall``)."""
    if method not in CORRELATIONS:
        raise ValueError(f"method must be one of {', '.join(CORRELATIONS)}, got {method!r}")
    names = list(values)
    return {a: {b: correlation(values[a], values[b], method)[0] for b in names} for a in names}


def satisfaction_correlation(values: Mapping[str, np.ndarray], satisfaction: np.ndarray
                             ) -> dict[str, dict[str, float]]:
    """Each metric's correlation with session satisfaction, by method, plus ``n``."""
    out = {}
    for name, v in values.items():
        row = {method: correlation(v, satisfaction, method)[0] for method in CORRELATIONS}
        row["n"] = float(correlation(v, satisfaction, "pearson")[1])
        out[name] = row
    return out


def discriminative_power(system_a: Mapping[str, np.ndarray], system_b: Mapping[str, np.ndarray],
                         test: str = "t", resamples: int = 10_000, seed: int = 42
                         ) -> dict[str, float]:
    """Per metric, the p-value of a paired test between two systems over the sessions where
    both are defined (smaller: the metric tells the systems apart more surely)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in system_a:
        a, b = system_a[name], system_b[name]
        both = ~(np.isnan(a) | np.isnan(b))
        out[name] = paired_p_value(test, b[both] - a[both], rng, resamples) if both.sum() > 1 \
            else float("nan")
    return out
