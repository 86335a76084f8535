"""Meta-evaluation of session metrics: how they track user satisfaction, whether one tracks it
better than another, how they agree with each other and with a simple gold measure, and how
well they separate systems.

Every statistic is scipy's or a published formula, seeded and reproducible:

* correlation with satisfaction (session level, and query level where queries carry their
  own satisfaction): Pearson, Spearman and Kendall tau-b (``scipy.stats``), the p-value of
  scipy's test of no correlation, and a percentile bootstrap 95% CI
  (``scipy.stats.bootstrap``, units resampled in pairs);
* the difference of two metrics' correlations with satisfaction, on the units where both and
  satisfaction are defined: a paired bootstrap CI of the difference, its two-sided bootstrap
  p-value (twice the smaller tail of the bootstrap distribution around 0, counted as
  (k + 1) / (B + 1) so it is never 0), and for Pearson
  and Spearman (Pearson of ranks) Williams' t-test for dependent correlations sharing a
  variable (Steiger 1980, eq. 3; df = n - 3);
* agreement matrices between metrics (Pearson, Spearman, Kendall across sessions);
* Sakai's intuitiveness test (Sakai, WWW 2012): over the pairs of units where two metrics
  disagree (one prefers A, the other B), the share where each agrees with a gold measure
  (satisfaction, or a simple metric such as ``found``). Units are pairs of systems on the
  same session when systems are given, else pairs of sessions of the log;
* discriminative power (Sakai, SIGIR 2006): a paired test over sessions for every pair of
  systems, the sorted achieved significance levels (ASL curve) and the share of pairs with
  ASL < alpha.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as sps

from rerankit.evaluation.stats import TESTS, check_resamples, paired_p_value

CORRELATIONS = {"pearson": sps.pearsonr, "spearman": sps.spearmanr, "kendall": sps.kendalltau}
METHODS = tuple(CORRELATIONS)
_NAMES = {"pearson": "Pearson r", "spearman": "Spearman rho", "kendall": "Kendall tau"}


# ---------------------------------------------------------------------- plain correlations
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


# ---------------------------------------------------------------------- statistics
def _vector_pearson(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.mean(axis=axis, keepdims=True)
    y = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=axis) / np.sqrt((x * x).sum(axis=axis) * (y * y).sum(axis=axis))


def _vector_spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return _vector_pearson(sps.rankdata(x, axis=axis), sps.rankdata(y, axis=axis), axis)


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    return float(sps.kendalltau(x, y)[0])


#: statistic for scipy.stats.bootstrap, and whether it is vectorised over resamples
_STATISTIC = {"pearson": (_vector_pearson, True), "spearman": (_vector_spearman, True),
              "kendall": (_kendall, False)}


def _bootstrap(data: tuple[np.ndarray, ...], statistic, vectorized: bool, resamples: int,
               seed: int, confidence: float):
    """Paired percentile bootstrap; NaN bounds when a resample is degenerate. Resamples go in
    batches of at most ~20M values, so a million sessions do not need 8 GB at once (the
    batching does not change the resamples drawn)."""
    batch = max(1, 20_000_000 // max(1, data[0].size * len(data)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sps.bootstrap(data, statistic, paired=True, vectorized=vectorized,
                             n_resamples=resamples, batch=batch, confidence_level=confidence,
                             method="percentile", random_state=seed)


def williams_test(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' t for H0: rho12 = rho13 when variables 2 and 3 are measured on the same n
    units as variable 1 (Steiger 1980, Psychological Bulletin 87(2), eq. 3):
    t = (r12 - r13) sqrt((n-1)(1+r23) / (2 (n-1)/(n-3) |R| + rbar^2 (1-r23)^3)), with |R| the
    determinant of the 3x3 correlation matrix and rbar = (r12 + r13) / 2; df = n - 3.
    Returns t and the two-sided p-value."""
    if n <= 3 or not all(math.isfinite(r) for r in (r12, r13, r23)):
        return float("nan"), float("nan")
    det = 1 - r12 ** 2 - r13 ** 2 - r23 ** 2 + 2 * r12 * r13 * r23
    rbar = (r12 + r13) / 2
    denominator = 2 * (n - 1) / (n - 3) * det + rbar ** 2 * (1 - r23) ** 3
    if denominator <= 0:
        return float("nan"), float("nan")
    t = (r12 - r13) * math.sqrt((n - 1) * (1 + r23) / denominator)
    return t, float(2 * sps.t.sf(abs(t), n - 3))


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Correlation:
    """One metric's correlation with satisfaction."""

    metric: str
    level: str            # session | query
    method: str
    r: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


@dataclass(frozen=True)
class CorrelationDifference:
    """corr(metric_a, satisfaction) - corr(metric_b, satisfaction) on the same units."""

    metric_a: str
    metric_b: str
    level: str
    method: str
    difference: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    williams_t: float     # NaN for Kendall (the test is for product-moment correlations)
    williams_p: float
    n: int


@dataclass(frozen=True)
class Intuitiveness:
    """Sakai's intuitiveness of two metrics against a gold measure."""

    metric_a: str
    metric_b: str
    gold: str
    units: str            # "system pairs" or "session pairs"
    pairs: int            # pairs compared
    disagreements: int    # pairs where a and b prefer different sides
    a_agrees: float       # share of disagreements where a agrees with gold
    b_agrees: float
    gold_ties: int        # disagreements where the gold measure ties (neither agrees)


@dataclass(frozen=True)
class Power:
    """Discriminative power of one metric over all pairs of systems."""

    metric: str
    test: str
    alpha: float
    pairs: list[str]      # "A vs B", sorted by ASL
    asl: list[float]      # achieved significance level (p) of each pair, ascending
    significant: int

    @property
    def power(self) -> float:
        return self.significant / len(self.asl) if self.asl else float("nan")


@dataclass(frozen=True)
class MetaReport:
    """Everything one meta-evaluation computed, with the settings to reproduce it."""

    settings: dict
    correlations: list[Correlation] = field(default_factory=list)
    differences: list[CorrelationDifference] = field(default_factory=list)
    agreement: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    intuitiveness: list[Intuitiveness] = field(default_factory=list)
    power: list[Power] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready (NaN becomes null)."""
        out = {"settings": self.settings,
               "correlations": [asdict(c) for c in self.correlations],
               "differences": [asdict(d) for d in self.differences],
               "agreement": self.agreement,
               "intuitiveness": [asdict(i) for i in self.intuitiveness],
               "discriminative_power": [dict(asdict(p), power=p.power) for p in self.power],
               "notes": self.notes}
        return _nan_to_none(out)

    def csv_text(self) -> str:
        """One row per number: section, level, method, metric, other, statistic, value,
        ci_low, ci_high, p_value, n."""
        buffer = io.StringIO()
        writer = _CsvWriter(csv.writer(buffer, lineterminator="\n"))
        writer.writerow(["section", "level", "method", "metric", "other", "statistic", "value",
                         "ci_low", "ci_high", "p_value", "n"])
        for c in self.correlations:
            writer.writerow(["satisfaction", c.level, c.method, c.metric, "satisfaction", "r",
                             c.r, c.ci_low, c.ci_high, c.p_value, c.n])
        for d in self.differences:
            writer.writerow(["difference", d.level, d.method, d.metric_a, d.metric_b,
                             "r_a - r_b", d.difference, d.ci_low, d.ci_high, d.p_bootstrap, d.n])
            if not math.isnan(d.williams_t):
                writer.writerow(["difference", d.level, d.method, d.metric_a, d.metric_b,
                                 "williams_t", d.williams_t, "", "", d.williams_p, d.n])
        for method, matrix in self.agreement.items():
            for a, row in matrix.items():
                for b, value in row.items():
                    writer.writerow(["agreement", "session", method, a, b, "r", value, "", "",
                                     "", ""])
        for i in self.intuitiveness:
            for metric, other, share in ((i.metric_a, i.metric_b, i.a_agrees),
                                         (i.metric_b, i.metric_a, i.b_agrees)):
                writer.writerow(["intuitiveness", i.units, f"gold={i.gold}", metric, other,
                                 "agrees_with_gold", share, "", "", "", i.disagreements])
        for p in self.power:
            writer.writerow(["discriminative_power", "session", p.test, p.metric, "",
                             f"share ASL<{p.alpha:g}", p.power, "", "", "", len(p.asl)])
        return buffer.getvalue()

    def tables(self) -> list[tuple[str, object]]:
        """(title, rich table) pairs, long rather than wide, so they stay readable on narrow
        terminals; titles are separate lines, not squeezed to the table's width."""
        out = []
        if self.correlations:
            title = (f"Correlation with satisfaction ({self._ci()} bootstrap CI, "
                     f"{self.settings['resamples']} resamples, seed {self.settings['seed']})")
            table = _table()
            for name in ("metric", "level", "method", "r", "95% CI", "p", "n"):
                table.add_column(name, justify="right" if name in ("r", "p", "n") else "left")
            for c in self.correlations:
                table.add_row(c.metric, c.level, c.method, _f(c.r), _ci(c.ci_low, c.ci_high),
                              _p(c.p_value), str(c.n))
            out.append((title, table))
        for level in ("session", "query"):
            rows = [d for d in self.differences if d.level == level]
            if not rows:
                continue
            title = (f"Difference of correlations with satisfaction, {level} level (a - b): "
                     "bootstrap CI and p; Williams' t (Steiger 1980) and its p")
            table = _table()
            for name in ("a - b", "method", "diff", "95% CI", "p", "t", "p(t)", "n"):
                table.add_column(name, justify="left" if name in ("a - b", "method")
                                 else "right")
            for d in rows:
                table.add_row(f"{d.metric_a} - {d.metric_b}", d.method,
                              _f(d.difference, sign=True), _ci(d.ci_low, d.ci_high),
                              _p(d.p_bootstrap), _f(d.williams_t, 2), _p(d.williams_p),
                              str(d.n))
            out.append((title, table))
        for method, matrix in self.agreement.items():
            names = list(matrix)
            title = f"Agreement between metrics across sessions: {_NAMES[method]}"
            table = _table()
            table.add_column("")
            for name in names:
                table.add_column(name, justify="right")
            for a in names:
                table.add_row(a, *(_f(matrix[a][b]) for b in names))
            out.append((title, table))
        if self.intuitiveness:
            gold = self.intuitiveness[0].gold
            title = (f"Intuitiveness (Sakai 2012): where a and b disagree, share agreeing "
                     f"with {gold} (ties: disagreements where {gold} ties)")
            table = _table()
            for name in ("a", "b", "units", "pairs", "disagree", "a agrees", "b agrees",
                         "ties"):
                table.add_column(name, justify="left" if name in ("a", "b", "units")
                                 else "right")
            for i in self.intuitiveness:
                table.add_row(i.metric_a, i.metric_b, i.units, str(i.pairs),
                              str(i.disagreements), _f(i.a_agrees), _f(i.b_agrees),
                              str(i.gold_ties))
            out.append((title, table))
        if self.power:
            p0 = self.power[0]
            title = f"Discriminative power ({p0.test} test over sessions, alpha={p0.alpha:g})"
            table = _table()
            for name in ("metric", "system pairs", f"ASL < {p0.alpha:g}", "power",
                         "median ASL"):
                table.add_column(name, justify="left" if name == "metric" else "right")
            for p in self.power:
                table.add_row(p.metric, str(len(p.asl)), str(p.significant), _f(p.power),
                              _p(float(np.median(p.asl)) if p.asl else float("nan")))
            out.append((title, table))
        return out

    def _ci(self) -> str:
        return f"{self.settings['confidence']:.0%}"


def _table():
    """A compact table (no borders, collapsed padding), so it fits 80 columns."""
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)


def _f(x: float, digits: int = 3, sign: bool = False) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _ci(low: float, high: float) -> str:
    return f"[{_f(low, sign=True)}, {_f(high, sign=True)}]"


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _nan_to_none(obj):
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


class _CsvWriter:
    """A csv writer that leaves undefined (NaN) numbers empty."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def writerow(self, row: list) -> None:
        self.writer.writerow(["" if isinstance(c, float) and math.isnan(c) else c for c in row])


# ---------------------------------------------------------------------- computations
def correlate_with_satisfaction(values: Mapping[str, np.ndarray], satisfaction: np.ndarray,
                                level: str = "session", methods: tuple[str, ...] = METHODS,
                                resamples: int = 1000, seed: int = 42,
                                confidence: float = 0.95) -> list[Correlation]:
    """Each metric's correlation with satisfaction over the units where both are defined:
    scipy's r and p-value, and a paired percentile bootstrap CI (seeded)."""
    check_meta_resamples(resamples, confidence=confidence)
    out = []
    for metric, v in values.items():
        both = ~(np.isnan(v) | np.isnan(satisfaction))
        x, y = v[both], satisfaction[both]
        for method in methods:
            n = int(both.sum())
            if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                out.append(Correlation(metric, level, method, *(4 * [float("nan")]), n))
                continue
            result = CORRELATIONS[method](x, y)
            statistic, vectorized = _STATISTIC[method]
            ci = _bootstrap((x, y), statistic, vectorized, resamples, seed,
                            confidence).confidence_interval
            out.append(Correlation(metric, level, method, float(result[0]), float(ci.low),
                                   float(ci.high), float(result[1]), n))
    return out


def compare_correlations(values: Mapping[str, np.ndarray], satisfaction: np.ndarray,
                         pairs: list[tuple[str, str]], level: str = "session",
                         methods: tuple[str, ...] = METHODS, resamples: int = 1000,
                         seed: int = 42, confidence: float = 0.95
                         ) -> list[CorrelationDifference]:
    """For each pair (a, b): corr(a, sat) - corr(b, sat) on the units where a, b and sat are
    all defined, with a paired bootstrap CI and p-value, and Williams' t for Pearson and
    Spearman."""
    check_meta_resamples(resamples, confidence=confidence)
    out = []
    for a, b in pairs:
        keep = ~(np.isnan(values[a]) | np.isnan(values[b]) | np.isnan(satisfaction))
        x, y, s = values[a][keep], values[b][keep], satisfaction[keep]
        n = int(keep.sum())
        for method in methods:
            degenerate = n < 4 or min(np.ptp(x), np.ptp(y), np.ptp(s)) == 0
            if degenerate:
                out.append(CorrelationDifference(a, b, level, method, *(6 * [float("nan")]), n))
                continue
            corr = CORRELATIONS[method]
            r_as, r_bs, r_ab = (float(corr(u, w)[0]) for u, w in ((x, s), (y, s), (x, y)))
            statistic, vectorized = _STATISTIC[method]

            def diff(u, w, t, axis=-1, statistic=statistic, vectorized=vectorized):
                if vectorized:
                    return statistic(u, t, axis) - statistic(w, t, axis)
                return statistic(u, t) - statistic(w, t)

            boot = _bootstrap((x, y, s), diff, vectorized, resamples, seed, confidence)
            dist = boot.bootstrap_distribution
            dist = dist[~np.isnan(dist)]
            tail = min(np.sum(dist <= 0), np.sum(dist >= 0))
            p_boot = min(1.0, 2 * (tail + 1) / (dist.size + 1)) if dist.size else float("nan")
            t, p_t = williams_test(r_as, r_bs, r_ab, n) if method != "kendall" else \
                (float("nan"), float("nan"))
            out.append(CorrelationDifference(
                a, b, level, method, r_as - r_bs, float(boot.confidence_interval.low),
                float(boot.confidence_interval.high), float(p_boot), t, p_t, n))
    return out


def intuitiveness(a_diff: np.ndarray, b_diff: np.ndarray, gold_diff: np.ndarray
                  ) -> tuple[int, int, float, float, int]:
    """Sakai's intuitiveness from per-pair differences (side A minus side B) of two metrics
    and the gold measure: (pairs, disagreements, share of disagreements where a has the
    gold's sign, same for b, disagreements where the gold ties). A pair disagrees when a and
    b prefer opposite sides (ties in a or b are not disagreements); a gold tie agrees with
    neither. NaN pairs are dropped."""
    keep = ~(np.isnan(a_diff) | np.isnan(b_diff) | np.isnan(gold_diff))
    sa, sb, sg = np.sign(a_diff[keep]), np.sign(b_diff[keep]), np.sign(gold_diff[keep])
    disagree = sa * sb < 0
    count = int(disagree.sum())
    if not count:
        return int(keep.sum()), 0, float("nan"), float("nan"), 0
    return (int(keep.sum()), count, float(np.mean(sa[disagree] == sg[disagree])),
            float(np.mean(sb[disagree] == sg[disagree])), int(np.sum(sg[disagree] == 0)))


def session_pairs(n: int, max_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j of n sessions, or ``max_pairs`` distinct-member pairs drawn with a
    seeded generator when there are more."""
    if n * (n - 1) // 2 <= max_pairs:
        return np.triu_indices(n, k=1)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, max_pairs)
    j = (i + rng.integers(1, n, max_pairs)) % n
    return i, j


def check_levels(alpha: float = 0.05, confidence: float = 0.95) -> None:
    """Refuse a significance level or confidence level outside (0, 1): ``alpha = 0`` counts
    no pair significant, ``alpha >= 1`` every pair, and NaN compares false with every
    p-value, each a table of numbers that look like findings."""
    for name, value in (("alpha", alpha), ("confidence", confidence)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0 < value < 1:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")


def check_meta_resamples(resamples: int, alpha: float | None = None,
                         confidence: float | None = None) -> None:
    """Refuse fewer resamples than ``rerankit compare`` accepts
    (:func:`rerankit.evaluation.stats.check_resamples`, 400 at 0.05), at the stricter of the
    levels given: ``alpha`` of the paired tests of discriminative power, ``1 - confidence``
    of the bootstrap intervals. Fewer resamples leave the interval bounds resting on a few
    resampled values and the p-values unable to fall well under alpha."""
    levels = [] if alpha is None else [alpha]
    if confidence is not None:
        levels.append(round(1 - confidence, 12))    # 1 - 0.95 is 0.050000000000000044
    check_resamples(resamples, min(levels), default=1000)


def power_over_systems(systems: Mapping[str, Mapping[str, np.ndarray]], test: str = "randomization",
                       alpha: float = 0.05, resamples: int = 1000, seed: int = 42,
                       metrics: list[str] | None = None) -> list[Power]:
    """Discriminative power of every metric (default: those of the first system): a paired
    test over the sessions both systems have a value for, for every pair of systems (one
    seeded generator per metric)."""
    check_levels(alpha)
    check_meta_resamples(resamples, alpha=alpha)
    if test not in TESTS:
        raise ValueError(f"test must be one of {', '.join(TESTS)}, got {test!r}")
    names = list(systems)
    metrics = metrics if metrics is not None else list(systems[names[0]])
    out = []
    for metric in metrics:
        rng = np.random.default_rng(seed)
        results = []
        for x, y in itertools.combinations(names, 2):
            a, b = systems[x][metric], systems[y][metric]
            both = ~(np.isnan(a) | np.isnan(b))
            p = paired_p_value(test, b[both] - a[both], rng, resamples) if both.sum() > 1 \
                else float("nan")
            results.append((p, f"{x} vs {y}"))
        results.sort(key=lambda r: (math.isnan(r[0]), r[0]))
        asl = [p for p, _ in results]
        out.append(Power(metric, test, alpha, [name for _, name in results], asl,
                         sum(p < alpha for p in asl)))
    return out


def meta_evaluate(values: Mapping[str, np.ndarray], satisfaction: np.ndarray | None = None,
                  query_values: Mapping[str, np.ndarray] | None = None,
                  query_satisfaction: np.ndarray | None = None,
                  systems: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                  compare: list[tuple[str, str]] | None = None, gold: str = "satisfaction",
                  gold_values: np.ndarray | None = None, methods: tuple[str, ...] = METHODS,
                  resamples: int = 1000, seed: int = 42, confidence: float = 0.95,
                  alpha: float = 0.05, test: str = "randomization",
                  max_pairs: int = 2_000_000) -> MetaReport:
    """The whole meta-evaluation of session metrics.

    ``values``: per metric, one value per session (NaN: undefined); ``satisfaction``: one per
    session (NaN: none). ``query_values`` / ``query_satisfaction``: the same per query.
    ``systems``: per system name, per metric, one value per session (same sessions, same
    order) for discriminative power and for intuitiveness over system pairs. ``compare``:
    metric pairs whose correlations are compared (default: the first metric against each
    other). ``gold``: the gold measure of the intuitiveness test, ``"satisfaction"`` or a
    metric name whose session values are ``gold_values`` (or a key of ``values``).
    ``resamples`` must reach :func:`check_meta_resamples`'s floor (400 at the defaults)."""
    check_levels(alpha, confidence)
    check_meta_resamples(resamples, alpha, confidence)
    unknown = [m for m in methods if m not in CORRELATIONS]
    if unknown:
        raise ValueError(f"unknown correlation {unknown[0]!r}; choose from {', '.join(METHODS)}")
    names = list(values)
    settings = {"resamples": resamples, "seed": seed, "confidence": confidence, "alpha": alpha,
                "test": test, "methods": list(methods), "gold": gold, "max_pairs": max_pairs,
                "bootstrap": "percentile, paired (scipy.stats.bootstrap)"}
    report = MetaReport(settings)
    pairs = compare if compare is not None else [(names[0], b) for b in names[1:]]
    for a, b in pairs:
        if a not in values or b not in values:
            raise ValueError(f"cannot compare {a!r} with {b!r}: metrics are {', '.join(names)}")
    levels = []
    if satisfaction is not None and np.any(~np.isnan(satisfaction)):
        levels.append(("session", values, satisfaction))
    else:
        report.notes.append("no session satisfaction: session-level correlations skipped")
    if query_satisfaction is not None and np.any(~np.isnan(query_satisfaction)):
        if query_values is None:
            raise ValueError("query_satisfaction needs query_values")
        levels.append(("query", query_values, query_satisfaction))
    else:
        report.notes.append("no query satisfaction: query-level correlations skipped")
    for level, vals, sat in levels:
        report.correlations.extend(correlate_with_satisfaction(vals, sat, level, methods,
                                                               resamples, seed, confidence))
        report.differences.extend(compare_correlations(vals, sat, pairs, level, methods,
                                                       resamples, seed, confidence))
    for method in methods:
        report.agreement[method] = correlation_matrix(values, method)
    _add_intuitiveness(report, values, satisfaction, systems, gold, gold_values, seed,
                       max_pairs)
    if systems is not None and len(systems) >= 2:
        report.power.extend(power_over_systems(systems, test, alpha, resamples, seed, names))
    elif systems is not None:
        report.notes.append("discriminative power needs at least two systems")
    return report


def _add_intuitiveness(report: MetaReport, values: Mapping[str, np.ndarray],
                       satisfaction: np.ndarray | None,
                       systems: Mapping[str, Mapping[str, np.ndarray]] | None, gold: str,
                       gold_values: np.ndarray | None, seed: int, max_pairs: int) -> None:
    names = list(values)
    if len(names) < 2:
        return
    if systems is not None and len(systems) >= 2:
        if gold != "satisfaction" and any(gold not in s for s in systems.values()):
            raise ValueError(f"gold measure {gold!r} is not computed for every system")
        if gold == "satisfaction":
            report.notes.append("intuitiveness over system pairs needs a metric as gold "
                                "(satisfaction belongs to the logged sessions, not to systems)")
            return
        units = "system pairs"
        diffs: dict[str, list[np.ndarray]] = {m: [] for m in [*names, gold]}
        for x, y in itertools.combinations(list(systems), 2):
            for m in diffs:
                diffs[m].append(systems[x][m] - systems[y][m])
        diff = {m: np.concatenate(v) for m, v in diffs.items()}
    else:
        if gold == "satisfaction":
            if satisfaction is None or not np.any(~np.isnan(satisfaction)):
                report.notes.append("intuitiveness skipped: no satisfaction for the gold "
                                    "measure (choose a metric as gold)")
                return
            target = satisfaction
        else:
            target = gold_values if gold_values is not None else values.get(gold)
            if target is None:
                raise ValueError(f"gold measure {gold!r} has no session values")
        units = "session pairs"
        i, j = session_pairs(len(target), max_pairs, seed)
        diff = {m: values[m][i] - values[m][j] for m in names}
        diff[gold] = target[i] - target[j]
    for a, b in itertools.combinations([m for m in names if m != gold], 2):
        report.intuitiveness.append(Intuitiveness(a, b, gold, units,
                                                  *intuitiveness(diff[a], diff[b], diff[gold])))
