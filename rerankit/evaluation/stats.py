"""Significance testing between runs: paired t-test, Wilcoxon signed-rank, a seeded
paired randomisation (sign-flip) test and bootstrap confidence intervals, with
Holm-Bonferroni correction across the comparisons of each measure.

Only measures with a number per query whose mean is the measure are compared
(:func:`rerankit.evaluation.measures.incomparable`): one named explicitly that is not
(``relstring``, ``runid``, ``num_q``, ``gm_map``...) is refused, one that comes from a
nickname (``all``, ``all_trec``) is skipped and named in ``ComparisonReport.notes``.

Every run is compared with the first (the baseline) on per-query values over all qrels
queries; a query a run has no results for counts 0 (trec_eval's ``-c`` convention), so
a system cannot gain by skipping hard queries. Runs are checked first
(:func:`rerankit.evaluation.coverage.coverage`): a run no query of which is judged is
refused as ``rerankit eval`` refuses it, so are runs with no judged query in common, and
``ComparisonReport.notes`` say how many judged queries each run lacks.

The randomisation test is ``scipy.stats.permutation_test`` (one sample of differences,
``permutation_type="samples"``: signs flipped) and the interval a percentile
``scipy.stats.bootstrap``, both drawn from one ``numpy.random.Generator`` seeded by ``seed``,
so a report is reproducible. The bootstrap draws the same indices from the generator as
rerankit's former hand-written one, so with the t-test or Wilcoxon the intervals are unchanged
to the last bit. The randomisation p-values moved slightly with the switch (and with them the
intervals after them, which draw from the same generator): scipy's two-sided p-value is twice
the smaller one-sided p-value, each ``(1 + hits) / (1 + resamples)``, where the former was
``(1 + #{|flipped mean| >= |mean|}) / (1 + resamples)`` (the README example, seed 1: MAP
p = 0.0010, was 0.0013; P@10 and nDCG@10 p = 0.0002, were 0.0001); and with at least ``2**n``
resamples (``n`` queries) scipy enumerates every sign pattern, so the p-value is exact.

scipy is imported inside the functions that need it (``rerankit eval`` never loads it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rerankit.evaluation.coverage import coverage
from rerankit.evaluation.evaluator import QrelsLike, RunLike, as_qrels, as_run, evaluate
from rerankit.evaluation.measures import HEADLINE, comparable_measures, skipped_note

TESTS = ("t", "wilcoxon", "randomization")


@dataclass(frozen=True)
class Comparison:
    """One run against the baseline on one measure."""

    measure: str
    run: str
    baseline: str
    mean: float
    baseline_mean: float
    p_value: float
    p_adjusted: float
    ci_low: float
    ci_high: float
    significant: bool

    @property
    def delta(self) -> float:
        return self.mean - self.baseline_mean


@dataclass(frozen=True)
class ComparisonReport:
    """All comparisons, plus the settings needed to reproduce them."""

    comparisons: list[Comparison]
    means: dict[str, dict[str, float]]   # run -> measure -> mean over queries
    test: str
    alpha: float
    num_queries: int
    resamples: int
    seed: int
    notes: list[str] = field(default_factory=list)   # what a reader must know (stderr)

    def table(self):
        """A rich table: one row per measure; per run its mean, the difference from the
        baseline, and the Holm-corrected p-value (``*`` when below alpha)."""
        from rich.table import Table

        runs = list(self.means)
        table = Table(title=f"{self.test} test, Holm-corrected, alpha={self.alpha}, "
                            f"means over {self.num_queries} queries")
        table.add_column("measure")
        table.add_column(f"{runs[0]} (baseline)", justify="right")
        for run in runs[1:]:
            table.add_column(run, justify="right")
            table.add_column("delta", justify="right")
            table.add_column("p", justify="right")
        by_key = {(c.run, c.measure): c for c in self.comparisons}
        for measure, base in self.means[runs[0]].items():
            cells = [measure, f"{base:.4f}"]
            for run in runs[1:]:
                c = by_key[(run, measure)]
                cells += [f"{c.mean:.4f}", f"{c.delta:+.4f}",
                          f"{c.p_adjusted:.4f}" + (" *" if c.significant else "")]
            table.add_row(*cells)
        return table

    def to_dict(self) -> dict:
        return {
            "test": self.test, "alpha": self.alpha, "num_queries": self.num_queries,
            "resamples": self.resamples, "seed": self.seed, "notes": self.notes,
            "means": self.means,
            "comparisons": [c.__dict__ | {"delta": c.delta} for c in self.comparisons],
        }


def compare(
    qrels: QrelsLike,
    runs: Sequence[RunLike],
    measures: Sequence[str] = tuple(HEADLINE),
    test: str = "t",
    alpha: float = 0.05,
    resamples: int = 10_000,
    seed: int = 42,
    relevance_level: int = 1,
) -> ComparisonReport:
    """Compare every run with ``runs[0]`` on each measure; see the module docstring."""
    if test not in TESTS:
        raise ValueError(f"unknown test '{test}'; choose one of {', '.join(TESTS)}")
    if len(runs) < 2:
        raise ValueError("compare needs at least two runs (a baseline and one more)")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    check_resamples(resamples, alpha)
    wanted, skipped = comparable_measures(list(measures))
    qrels = as_qrels(qrels)
    loaded = [as_run(r) for r in runs]
    names = _unique_names([r.name for r in loaded])
    covered = coverage(qrels, loaded, names)
    notes = [skipped_note(skipped)] if skipped else []
    if not covered.complete:
        notes.append(f"judged queries without results count 0 (trec_eval -c): "
                     f"{covered.lacking()} of the {len(covered.judged)}; every run answered "
                     f"{len(covered.common)} of them")
    query_ids = qrels.query_ids
    matrices: list[np.ndarray] = []
    for run in loaded:
        result = evaluate(qrels, run, [m.key for m in wanted], relevance_level=relevance_level,
                          average_complete=True)
        position = {q: i for i, q in enumerate(result.query_ids)}
        rows = np.array([position.get(q, -1) for q in query_ids])
        matrices.append(np.stack([
            np.where(rows >= 0, result.values[m.key][np.maximum(rows, 0)], 0.0) for m in wanted
        ]))
    rng = np.random.default_rng(seed)
    means = {name: {m.name: float(matrix[j].mean()) for j, m in enumerate(wanted)}
             for name, matrix in zip(names, matrices, strict=True)}
    comparisons: list[Comparison] = []
    for j, m in enumerate(wanted):
        base = matrices[0][j]
        raw = []
        for name, matrix in zip(names[1:], matrices[1:], strict=True):
            other = matrix[j]
            p = paired_p_value(test, other - base, rng, resamples)
            low, high = bootstrap_ci(other - base, rng, resamples, alpha)
            raw.append((name, other.mean(), p, low, high))
        adjusted = holm(np.array([r[2] for r in raw]))
        for (name, mean, p, low, high), p_adj in zip(raw, adjusted, strict=True):
            comparisons.append(Comparison(m.name, name, names[0], float(mean), float(base.mean()),
                                          float(p), float(p_adj), low, high,
                                          bool(p_adj < alpha)))
    return ComparisonReport(comparisons, means, test, alpha, len(query_ids), resamples, seed,
                            notes)


#: Resamples a percentile bootstrap interval needs beyond each of its bounds
TAIL_RESAMPLES = 10


def min_resamples(alpha: float) -> int:
    """The fewest resamples for which a comparison at ``alpha`` means something:
    ``TAIL_RESAMPLES / (alpha / 2)`` (400 at alpha 0.05, 2,000 at 0.01). Below it, the
    percentile bootstrap's ``1 - alpha`` interval rests on fewer than 10 resampled means
    beyond each bound (with one resample it is that single mean, which need not contain
    the observed difference), and the randomisation p-value, never below
    ``2 / (resamples + 1)`` (scipy's two-sided p), cannot fall an order of magnitude under
    alpha, so Holm's correction of a few comparisons leaves nothing significant. It is a
    floor, not advice: Efron and Tibshirani (1993) suggest 1,000 or more for percentile
    intervals, and the default is 10,000."""
    return math.ceil(round(2 * TAIL_RESAMPLES / alpha, 9))


def check_resamples(resamples: int, alpha: float, default: int = 10_000) -> None:
    """Refuse fewer resamples than :func:`min_resamples` asks for at ``alpha``; the message
    names the caller's ``default``."""
    minimum = min_resamples(alpha)
    if resamples < minimum:
        raise ValueError(f"resamples must be at least {minimum} at alpha {alpha} (got "
                         f"{resamples}): the {1 - alpha:.0%} bootstrap interval needs "
                         f"{TAIL_RESAMPLES} resampled means beyond each bound; the default "
                         f"is {default}")


#: Resamples drawn per batch: bounds memory at about 4M values whatever the query count.
_BATCH_VALUES = 4_000_000


def paired_p_value(test: str, diff: np.ndarray, rng: np.random.Generator, resamples: int) -> float:
    """Two-sided p-value of a paired test on per-item differences (1.0 if all are 0)."""
    from scipy import stats as sps

    if not np.any(diff):
        return 1.0
    if test == "t":
        return float(sps.ttest_1samp(diff, 0.0).pvalue)
    if test == "wilcoxon":
        return float(sps.wilcoxon(diff, zero_method="wilcox").pvalue)
    return randomization_test(diff, rng, resamples)


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return values.mean(axis=axis)


def randomization_test(diff: np.ndarray, rng: np.random.Generator, resamples: int) -> float:
    """Two-sided paired randomisation test of a zero mean difference: each query's sign
    flipped at random (``scipy.stats.permutation_test``, exact when ``resamples`` reaches the
    ``2**n`` sign patterns); p = 2 * min(one-sided p-values), capped at 1. One query: its
    two sign patterns mirror each other, so p = 1 exactly."""
    from scipy import stats as sps

    if len(diff) < 2:
        return 1.0
    result = sps.permutation_test((np.asarray(diff, dtype=np.float64),), _mean,
                                  permutation_type="samples", vectorized=True,
                                  n_resamples=resamples, rng=rng,
                                  batch=max(1, _BATCH_VALUES // max(len(diff), 1)))
    return float(result.pvalue)


def bootstrap_ci(diff: np.ndarray, rng: np.random.Generator, resamples: int,
                 alpha: float) -> tuple[float, float]:
    """Percentile bootstrap confidence interval (level ``1 - alpha``) of the mean difference
    (``scipy.stats.bootstrap``); a single query or equal differences give a zero-width
    interval at their value."""
    from scipy import stats as sps

    diff = np.asarray(diff, dtype=np.float64)
    if diff.size == 0:
        raise ValueError("a bootstrap interval needs at least one difference")
    if np.all(diff == diff[0]):          # also one query; the mean is exactly diff[0]
        return float(diff[0]), float(diff[0])
    result = sps.bootstrap((diff,), _mean, vectorized=True, n_resamples=resamples,
                           confidence_level=1 - alpha, method="percentile", rng=rng,
                           batch=max(1, _BATCH_VALUES // diff.size))
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1)."""
    m = p_values.size
    order = np.argsort(p_values)
    scaled = np.maximum.accumulate((m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out
