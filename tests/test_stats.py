"""Significance tests against scipy, exact enumeration and hand-worked values, on the two
real AQUAINT runs."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from rerankit.evaluation.evaluator import evaluate
from rerankit.evaluation.stats import bootstrap_ci, compare, holm, randomization_test


def per_query(qrels, run, measure):
    values = evaluate(qrels, run, [measure]).per_query
    return np.array([values[q][measure] for q in qrels.query_ids])


def test_t_test_equals_scipy_paired_t_test(aquaint_qrels, bm25_run, lmd_run):
    report = compare(aquaint_qrels, [bm25_run, lmd_run], ["map", "ndcg_cut_10"], test="t")
    for measure in ("map", "ndcg_cut_10"):
        a = per_query(aquaint_qrels, bm25_run, measure)
        b = per_query(aquaint_qrels, lmd_run, measure)
        (c,) = [c for c in report.comparisons if c.measure == measure]
        assert c.p_value == pytest.approx(sps.ttest_rel(b, a).pvalue, rel=1e-12)
        assert c.mean == pytest.approx(b.mean()) and c.baseline_mean == pytest.approx(a.mean())
        assert c.ci_low < c.delta < c.ci_high


def test_wilcoxon_equals_scipy(aquaint_qrels, bm25_run, lmd_run):
    report = compare(aquaint_qrels, [bm25_run, lmd_run], ["P_10"], test="wilcoxon")
    a = per_query(aquaint_qrels, bm25_run, "P_10")
    b = per_query(aquaint_qrels, lmd_run, "P_10")
    assert report.comparisons[0].p_value == pytest.approx(sps.wilcoxon(b - a).pvalue, rel=1e-12)


def exact_sign_flip_p(diff: np.ndarray) -> float:
    """Two-sided p of the sign-flip test by enumerating all 2**n sign patterns: twice the
    smaller tail, capped at 1 (the null distribution is symmetric, so this is also the share
    of patterns whose |sum| reaches the observed |sum|)."""
    sums = np.array(list(itertools.product([-1, 1], repeat=diff.size))) @ diff
    observed = diff.sum()
    return min(1.0, 2 * min(np.mean(sums >= observed), np.mean(sums <= observed)))


# multiples of 1/16: every sum is exact in floating point, so ties are real ties
sixteenths = st.lists(st.integers(-16, 16), min_size=1, max_size=10).map(
    lambda xs: np.array(xs, dtype=np.float64) / 16)


@given(sixteenths)
@settings(max_examples=60, deadline=None)
def test_randomization_is_exact_when_resamples_cover_every_sign_pattern(diff):
    p = randomization_test(diff, np.random.default_rng(0), 2 ** diff.size)
    assert p == pytest.approx(exact_sign_flip_p(diff), abs=1e-12)
    symmetric = np.mean(np.abs(
        np.array(list(itertools.product([-1, 1], repeat=diff.size))) @ diff) >= abs(diff.sum()))
    assert p == pytest.approx(symmetric, abs=1e-12)


def test_randomization_is_seeded_and_agrees_with_exact_enumeration():
    diff = np.array([0.3, -0.1, 0.2, 0.25, 0.05, -0.05, 0.4, 0.1, -0.2, 0.15, 0.0, 0.35, -0.3])
    exact = exact_sign_flip_p(diff)                 # 8,192 patterns; 2,000 drawn
    p1 = randomization_test(diff, np.random.default_rng(1), 2_000)
    p2 = randomization_test(diff, np.random.default_rng(1), 2_000)
    assert p1 == p2
    assert p1 == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 2_000) + 0.002)
    assert randomization_test(diff, np.random.default_rng(2), 2_000) != p1


def former_bootstrap(diff, rng, resamples, alpha, block):
    """rerankit 0.1's hand-written percentile bootstrap, kept as the before/after reference:
    scipy's bootstrap must give the same interval from the same seed."""
    means, done = [], 0
    while done < resamples:
        size = min(block, resamples - done)
        means.append(diff[rng.integers(0, diff.size, size=(size, diff.size))].mean(axis=1))
        done += size
    low, high = np.quantile(np.concatenate(means), [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


@given(st.lists(st.floats(-1, 1), min_size=2, max_size=60), st.integers(0, 2**32 - 1),
       st.sampled_from([0.05, 0.1, 0.01]))
@settings(max_examples=40, deadline=None)
def test_bootstrap_interval_is_unchanged_by_the_switch_to_scipy(values, seed, alpha):
    diff = np.array(values)
    if np.all(diff == diff[0]):
        assert bootstrap_ci(diff, np.random.default_rng(seed), 999, alpha) == (diff[0], diff[0])
        return
    ours = bootstrap_ci(diff, np.random.default_rng(seed), 999, alpha)
    before = former_bootstrap(diff, np.random.default_rng(seed), 999, alpha,
                              4_000_000 // diff.size)
    np.testing.assert_allclose(ours, before, rtol=1e-12, atol=1e-15)


def test_stats_import_loads_no_scipy():
    code = ("import sys, rerankit.evaluation.stats; "
            "assert 'scipy' not in sys.modules, 'scipy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_holm_hand_worked():
    # p = (0.01, 0.04, 0.03), m = 3: sorted 0.01*3=0.03, 0.03*2=0.06, max(0.04*1, 0.06)=0.06
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])


def test_identical_runs_are_not_significant(aquaint_qrels, bm25_run):
    report = compare(aquaint_qrels, [bm25_run, bm25_run.rename("copy")], ["map"],
                     test="randomization", resamples=500)
    assert report.comparisons[0].p_value == 1.0 and not report.comparisons[0].significant


@pytest.mark.parametrize("resamples, alpha, minimum", [(1, 0.05, 400), (2, 0.05, 400),
                                                       (399, 0.05, 400), (1999, 0.01, 2000)])
def test_too_few_resamples_for_alpha_are_refused(aquaint_qrels, bm25_run, lmd_run, resamples,
                                                 alpha, minimum):
    """One resample made the 95% interval that single resampled mean, [0.0422, 0.0422] for
    a MAP difference of 0.0229, behind numpy warnings; the floor keeps 10 resampled means
    beyond each bound and lets a randomisation p fall to alpha / 10."""
    with pytest.raises(ValueError, match=f"resamples must be at least {minimum} at alpha "
                       f"{alpha} .got {resamples}."):
        compare(aquaint_qrels, [bm25_run, lmd_run], ["map"], alpha=alpha,
                resamples=resamples)


@pytest.mark.parametrize("test", ["t", "randomization"])
def test_the_fewest_resamples_allowed_give_an_interval_around_the_difference(
        aquaint_qrels, bm25_run, lmd_run, test):
    (c,) = compare(aquaint_qrels, [bm25_run, lmd_run], ["map"], test=test,
                   resamples=400).comparisons
    assert c.ci_low < c.delta < c.ci_high
    assert c.p_value >= 2 / 401 or test == "t"      # scipy's randomisation p-value floor


def test_compare_keeps_a_parameter_its_printed_name_rounds(trec_eval):
    """``Rprec_mult.0.504`` prints as Rprec_mult_0.50; the comparison evaluates 0.504 (it
    raised KeyError), its means equal trec_eval's ``-c`` values for that parameter."""
    from rerankit import datasets

    folder = datasets.path("aquaint")
    qrels, runs = folder / "trec_aq_303-689.qrels", [folder / "aq_bm25.res",
                                                       folder / "aq_lmd.res"]
    report = compare(qrels, runs, ["Rprec_mult.0.504", "iprec_at_recall.0.501"])
    for run, means in zip(runs, report.means.values(), strict=True):
        out = subprocess.run([str(trec_eval), "-c", "-m", "Rprec_mult.0.504", "-m",
                              "iprec_at_recall.0.501", str(qrels), str(run)],
                             capture_output=True, text=True, check=True).stdout
        expected = {line.split()[0]: float(line.split()[2]) for line in out.splitlines()}
        assert {name: round(value, 4) for name, value in means.items()} == expected
