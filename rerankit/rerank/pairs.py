"""Pairwise reranking without the model: which pairs to compare (with a budget and a seed)
and how to turn pairwise preferences into a ranking.

Preferences are probabilities ``P[i, j]`` that document i should rank above j. Pairwise
models are position-biased, so callers score each pair in both presentation orders and
combine them on one probability scale: ``P[i, j] = (p(i first) + 1 - p(j first)) / 2``
(:func:`symmetric_preference`); then ``P[j, i] = 1 - P[i, j]``.

Sampling schemes follow "Sparse Pairwise Re-ranking with Pre-trained Transformers"
(Gienapp et al., ICTIR 2022): all pairs, random pairs, sliding neighbours in the initial
ranking, and top-vs-rest.
"""

from __future__ import annotations

import numpy as np

SAMPLERS = ("all", "random", "neighbours", "top_vs_rest")
AGGREGATIONS = ("sum", "mean", "copeland", "bradley_terry")


def symmetric_preference(p_i_first: float, p_j_first: float) -> float:
    """P(i above j) from the model's answers with i shown first and with j shown first."""
    return (p_i_first + (1.0 - p_j_first)) / 2.0


def sample_pairs(n: int, scheme: str = "all", budget: int | None = None, seed: int = 0,
                 window: int = 2, top: int = 3) -> list[tuple[int, int]]:
    """Unordered pairs (i < j) of positions in the initial ranking to compare.

    ``all``: every pair. ``random``: ``budget`` distinct pairs drawn with ``seed``.
    ``neighbours``: pairs at most ``window`` apart. ``top_vs_rest``: each of the first
    ``top`` against every other. ``budget`` caps any scheme (keeping its first pairs).
    """
    if scheme not in SAMPLERS:
        raise ValueError(f"pair sampling must be one of {', '.join(SAMPLERS)}, got {scheme!r}")
    everything = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if scheme == "all":
        pairs = everything
    elif scheme == "random":
        if budget is None:
            raise ValueError("random pair sampling needs a budget")
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(everything), size=min(budget, len(everything)), replace=False)
        pairs = [everything[k] for k in sorted(chosen)]
    elif scheme == "neighbours":
        pairs = [(i, j) for i, j in everything if j - i <= window]
    else:
        pairs = [(i, j) for i, j in everything if i < top]
    return pairs[:budget] if budget is not None else pairs


def aggregate(n: int, preferences: dict[tuple[int, int], float],
              method: str = "sum", iterations: int = 200) -> np.ndarray:
    """A score per document from ``{(i, j): P(i above j)}`` over the compared pairs.

    ``sum``: sum of preference probabilities; ``mean``: that divided by the number of
    comparisons the document took part in (for sampled designs, where ``sum`` favours
    documents compared more often); ``copeland``: wins (P > 0.5) minus losses;
    ``bradley_terry``: log-strengths maximising the likelihood of the (soft) outcomes,
    by Hunter's MM algorithm, with a weak prior so unbeaten documents stay finite.
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {method!r}")
    wins = np.zeros((n, n))
    for (i, j), p in preferences.items():
        wins[i, j] += p
        wins[j, i] += 1.0 - p
    if method == "sum":
        return wins.sum(axis=1)
    if method == "mean":
        played = ((wins + wins.T) > 0).sum(axis=1)
        return wins.sum(axis=1) / np.maximum(played, 1)
    if method == "copeland":
        compared = (wins + wins.T) > 0
        return np.where(compared, np.sign(wins - wins.T), 0.0).sum(axis=1)
    # Bradley-Terry: every document also plays one virtual game (half won) against a
    # reference of strength 1, which keeps the maximum likelihood finite.
    games = wins + wins.T
    won = wins.sum(axis=1) + 0.5
    strength = np.ones(n)
    for _ in range(iterations):
        pair_terms = games / (strength[:, None] + strength[None, :])
        np.fill_diagonal(pair_terms, 0.0)
        denominator = pair_terms.sum(axis=1) + 1.0 / (strength + 1.0)
        strength = won / denominator
    return np.log(strength)


def sliding_top_k(n: int, prefer, k: int) -> list[int]:
    """PRP-Sliding-k (Qin et al. 2023): ``k`` bubble passes from the bottom of the initial
    order; ``prefer(a, b)`` is P(a above b). Returns the new order (top k settled)."""
    order = list(range(n))
    for settled in range(min(k, n)):
        for i in range(n - 2, settled - 1, -1):
            if prefer(order[i + 1], order[i]) > 0.5:
                order[i], order[i + 1] = order[i + 1], order[i]
    return order


def heap_top_k(n: int, prefer, k: int) -> list[int]:
    """PRP-Heapsort: a max-heap under ``prefer`` (P(a above b) > 0.5 means a first); the
    first ``k`` pops form the top, the rest keep their initial order after them."""
    heap = list(range(n))

    def above(a: int, b: int) -> bool:
        return prefer(a, b) > 0.5

    def sift_down(start: int, end: int) -> None:
        root = start
        while 2 * root + 1 < end:
            child = 2 * root + 1
            if child + 1 < end and above(heap[child + 1], heap[child]):
                child += 1
            if above(heap[child], heap[root]):
                heap[root], heap[child] = heap[child], heap[root]
                root = child
            else:
                return

    for start in range(n // 2 - 1, -1, -1):
        sift_down(start, n)
    top: list[int] = []
    end = n
    while end > 0 and len(top) < k:
        top.append(heap[0])
        end -= 1
        heap[0] = heap[end]
        sift_down(0, end)
    chosen = set(top)
    return top + [i for i in range(n) if i not in chosen]
