"""Significance tests against scipy and hand-worked values, on the two real AQUAINT runs."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_randomization_is_seeded_and_agrees_with_exact_enumeration():
    diff = np.array([0.3, -0.1, 0.2, 0.25, 0.05, -0.05, 0.4, 0.1])
    signs = np.array(np.meshgrid(*[[-1, 1]] * diff.size)).reshape(diff.size, -1).T
    exact = np.mean(np.abs(signs @ diff) >= abs(diff.sum()) - 1e-12)
    p1 = randomization_test(diff, np.random.default_rng(1), 20_000)
    p2 = randomization_test(diff, np.random.default_rng(1), 20_000)
    assert p1 == p2
    assert p1 == pytest.approx(exact, abs=0.01)


def test_bootstrap_interval_covers_the_mean():
    diff = np.random.default_rng(0).normal(0.05, 0.1, size=200)
    low, high = bootstrap_ci(diff, np.random.default_rng(0), 5000, 0.05)
    assert low < diff.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * diff.std(ddof=1) / np.sqrt(200), rel=0.15)


def test_holm_hand_worked():
    # p = (0.01, 0.04, 0.03), m = 3: sorted 0.01*3=0.03, 0.03*2=0.06, max(0.04*1, 0.06)=0.06
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])


def test_identical_runs_are_not_significant(aquaint_qrels, bm25_run):
    report = compare(aquaint_qrels, [bm25_run, bm25_run.rename("copy")], ["map"],
                     test="randomization", resamples=500)
    assert report.comparisons[0].p_value == 1.0 and not report.comparisons[0].significant
