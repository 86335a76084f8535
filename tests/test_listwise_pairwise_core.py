"""Listwise parsing and windows, pairwise sampling and aggregation: hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from rerankit.rerank.pairs import aggregate, sample_pairs, symmetric_preference
from rerankit.rerank.permutation import (
    Repairs,
    parse_permutation,
    rerank_with_windows,
    sliding_windows,
)


@pytest.mark.parametrize("text, expected, repairs", [
    ("[3] > [1] > [2]", [2, 0, 1], {}),
    ("3, 1, 2", [2, 0, 1], {}),
    ("[2] > [2] > [1] > [3]", [1, 0, 2], {"duplicate": 1}),
    ("[7] > [2] > [0]", [1, 0, 2], {"out_of_range": 2, "missing": 2}),
    ("I think [3] is best", [2, 0, 1], {"missing": 2}),
    ("I cannot rank these.", [0, 1, 2], {"unparseable": 1}),
    ("", [0, 1, 2], {"unparseable": 1}),
    ("[1] > [2] > [3]", [0, 1, 2], {"suspect_identity": 1}),
    ("[3] > [2] > [1]", [2, 1, 0], {"suspect_reversed": 1}),
])
def test_parse_permutation_repairs_and_counts(text, expected, repairs):
    counts = Repairs()
    assert parse_permutation(text, 3, counts) == expected
    assert counts.as_dict() == repairs


def test_sliding_windows_rankgpt_schedule():
    assert sliding_windows(100, 20, 10) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60),
                                            (30, 50), (20, 40), (10, 30), (0, 20)]
    assert sliding_windows(5, 20, 10) == [(0, 5)]        # window larger than the list
    assert sliding_windows(25, 20, 10) == [(5, 25), (0, 15)]


def test_windows_bubble_the_best_documents_to_the_top():
    """With a perfect 'model' that sorts each window by true relevance, one back-to-front
    pass brings the best `step` documents from anywhere in the list to the top."""
    relevance = np.arange(100)[::-1].copy()   # item i has relevance 99 - i
    initial = list(np.random.default_rng(3).permutation(100))
    perfect = lambda chunk: list(np.argsort([-relevance[c] for c in chunk], kind="stable"))  # noqa: E731
    after = rerank_with_windows(initial, perfect, window=20, step=10)
    assert sorted(after[:10]) == list(range(10))
    assert sorted(after) == list(range(100))
    with pytest.raises(ValueError, match="permutation"):
        rerank_with_windows([0, 1, 2], lambda chunk: [0, 0, 1])


def test_pair_sampling_schemes_and_budget():
    assert len(sample_pairs(10, "all")) == 45
    assert sample_pairs(4, "neighbours", window=1) == [(0, 1), (1, 2), (2, 3)]
    assert sample_pairs(4, "top_vs_rest", top=1) == [(0, 1), (0, 2), (0, 3)]
    a = sample_pairs(20, "random", budget=30, seed=7)
    assert a == sample_pairs(20, "random", budget=30, seed=7) != sample_pairs(20, "random",
                                                                                budget=30, seed=8)
    assert len(set(a)) == 30 and all(i < j for i, j in a)
    assert len(sample_pairs(10, "all", budget=5)) == 5
    with pytest.raises(ValueError, match="needs a budget"):
        sample_pairs(10, "random")


def test_both_orders_cancel_a_pure_position_bias():
    # a model that always prefers whichever passage is shown first says 0.9 both times
    assert symmetric_preference(0.9, 0.9) == pytest.approx(0.5)
    assert symmetric_preference(0.8, 0.3) == pytest.approx(0.75)


def test_aggregations_hand_worked():
    # 0 beats 1 (0.9), 1 beats 2 (0.8), 0 beats 2 (0.6)
    prefs = {(0, 1): 0.9, (1, 2): 0.8, (0, 2): 0.6}
    np.testing.assert_allclose(aggregate(3, prefs, "sum"), [1.5, 0.9, 0.6])
    np.testing.assert_allclose(aggregate(3, prefs, "mean"), [0.75, 0.45, 0.3])
    # neighbours only (0-1, 1-2): the middle document played twice, the ends once
    chain = {(0, 1): 0.9, (1, 2): 0.6}
    np.testing.assert_allclose(aggregate(3, chain, "sum"), [0.9, 0.7, 0.4])
    np.testing.assert_allclose(aggregate(3, chain, "mean"), [0.9, 0.35, 0.4])
    np.testing.assert_allclose(aggregate(3, prefs, "copeland"), [2, 0, -2])
    strengths = aggregate(3, prefs, "bradley_terry")
    assert np.argsort(-strengths).tolist() == [0, 1, 2]


def test_bradley_terry_is_the_maximum_likelihood():
    prefs = {(0, 1): 0.7, (1, 2): 0.6, (0, 2): 0.8, (2, 3): 0.9, (1, 3): 0.55}
    ours = aggregate(4, prefs, "bradley_terry", iterations=2000)

    def negative_log_likelihood(log_s):
        total = 0.0
        for (i, j), p in prefs.items():
            d = log_s[i] - log_s[j]
            total -= p * -np.logaddexp(0, -d) + (1 - p) * -np.logaddexp(0, d)
        for v in log_s:   # the same weak prior: half a game against a strength-1 reference
            total -= 0.5 * -np.logaddexp(0, -v) + 0.5 * -np.logaddexp(0, v)
        return total

    best = optimize.minimize(negative_log_likelihood, np.zeros(4), method="BFGS").x
    np.testing.assert_allclose(ours, best, atol=1e-4)


@pytest.mark.parametrize("sort", ["sliding", "heap"])
def test_prp_sorting_finds_the_true_top_k(sort):
    from rerankit.rerank.pairs import heap_top_k, sliding_top_k

    relevance = np.random.default_rng(5).permutation(30)
    calls = []

    def prefer(a, b):
        calls.append((a, b))
        return 1.0 if relevance[a] > relevance[b] else 0.0

    algorithm = sliding_top_k if sort == "sliding" else heap_top_k
    order = algorithm(30, prefer, 5)
    assert list(order[:5]) == list(np.argsort(-relevance)[:5])
    assert sorted(order) == list(range(30))
    budget = 5 * 29 if sort == "sliding" else 30 * 2 + 5 * 2 * 5   # bubble passes / heap
    assert len(calls) <= budget
