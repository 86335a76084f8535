"""LLM rerankers: pointwise yes/no relevance from next-token log-probabilities, listwise
permutation generation over sliding windows (RankGPT) with every parse repair counted, and
pairwise preferences in both presentation orders (PRP)."""

from __future__ import annotations

import numpy as np

from rerankit.costs import CallRecord
from rerankit.llm.base import LLM
from rerankit.registry import register
from rerankit.rerank.base import CandidateList, Reranker, order_scores, split_flat
from rerankit.rerank.pairs import (
    aggregate,
    heap_top_k,
    sample_pairs,
    sliding_top_k,
    symmetric_preference,
)
from rerankit.rerank.permutation import Repairs, parse_permutation, rerank_with_windows
from rerankit.rerank.prompts import load_template


def _truncate(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words])


class LLMReranker(Reranker):
    """A reranker around an LLM backend: its name ends with the model's, and the backend's
    call records are its own."""

    #: the family part of :attr:`name`
    family = "llm"

    def __init__(self, llm: LLM) -> None:
        super().__init__()
        self.llm = llm

    @property
    def name(self) -> str:
        return f"{self.family}-{self.llm.name}"

    def take_calls(self) -> list[CallRecord]:
        return super().take_calls() + self.llm.calls.take()


@register("reranker", "yes-no", needs_llm=True)
class YesNoReranker(LLMReranker):
    """Score = log P("Yes") - log P("No") for the first answer token (a log-odds of
    relevance; both options are read from the same softmax, so scores compare across
    documents)."""

    pointwise = True
    family = "yes-no"

    def __init__(self, llm: LLM, template: str = "pointwise_yes_no", max_words: int = 200,
                 yes: str = "Yes", no: str = "No") -> None:
        super().__init__(llm)
        self.template = load_template(template)
        self.max_words, self.options = max_words, [yes, no]

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        prompts = [[{"role": "user", "content": self.template.format(
            query=c.query, passage=_truncate(text, self.max_words))}]
            for c in lists for text in c.texts]
        logprobs = self.llm.first_token_logprobs(prompts, self.options) if prompts else \
            np.zeros((0, 2))
        return split_flat(logprobs[:, 0] - logprobs[:, 1], lists)


@register("reranker", "listwise", needs_llm=True)
class ListwiseReranker(LLMReranker):
    """RankGPT-style listwise reranking: the model writes a permutation of each sliding
    window, back to front; permutations parsed robustly, every repair counted."""

    family = "listwise"

    def __init__(self, llm: LLM, window: int = 20, step: int = 10, passes: int = 1,
                 template: str = "listwise_rankgpt", max_words: int = 100,
                 max_new_tokens: int | None = None) -> None:
        super().__init__(llm)
        self.template = load_template(template)
        self.window, self.step, self.passes = window, step, passes
        self.max_words, self.max_new_tokens = max_words, max_new_tokens
        self.repairs = Repairs()

    def score(self, candidates: CandidateList) -> np.ndarray:
        def permute(chunk: list[int]) -> list[int]:
            passages = "\n".join(f"[{k + 1}] {_truncate(candidates.texts[i], self.max_words)}"
                                 for k, i in enumerate(chunk))
            prompt = self.template.format(num=len(chunk), query=candidates.query,
                                          passages=passages)
            (text,) = self.llm.generate([[{"role": "user", "content": prompt}]],
                                        self.max_new_tokens or 5 * len(chunk) + 10)
            return parse_permutation(text, len(chunk), self.repairs)

        order = rerank_with_windows(list(range(len(candidates.texts))), permute,
                                    self.window, self.step, self.passes)
        self.stats.repairs = self.repairs.as_dict()
        return order_scores(order)


@register("reranker", "pairwise", needs_llm=True)
class PairwiseReranker(LLMReranker):
    """PRP-style pairwise reranking (Qin et al. 2023). Every sampled pair is shown in both
    orders; P(i above j) averages "A" in one order with "B" in the other, on one probability
    scale (the two options' softmax), which cancels the model's preference for a position.
    Pairs come from :func:`rerankit.rerank.pairs.sample_pairs` (budget, seed); scores from
    :func:`rerankit.rerank.pairs.aggregate`."""

    def __init__(self, llm: LLM, sampling: str = "all", budget: int | None = None,
                 seed: int = 0, aggregation: str = "sum", window: int = 2, top: int = 3,
                 template: str = "pairwise_prp", max_words: int = 100,
                 strategy: str = "aggregate", top_k: int = 10) -> None:
        super().__init__(llm)
        if strategy not in ("aggregate", "sliding", "heap"):
            raise ValueError(f"strategy must be aggregate, sliding or heap, got {strategy!r}")
        self.strategy, self.top_k = strategy, top_k
        self.template = load_template(template)
        self.sampling, self.budget, self.seed = sampling, budget, seed
        self.aggregation, self.window, self.top = aggregation, window, top
        self.max_words = max_words
        self.comparisons = 0

    @property
    def name(self) -> str:
        return f"pairwise-{self.aggregation}-{self.llm.name}"

    def preferences(self, query: str, texts: list[str], pairs: list[tuple[int, int]]
                    ) -> tuple[dict[tuple[int, int], float], np.ndarray]:
        """P(i above j) per pair, and the raw P("A") of every prompt (both orders)."""
        prompts = []
        for i, j in pairs:
            for first, second in ((i, j), (j, i)):
                prompts.append([{"role": "user", "content": self.template.format(
                    query=query, passage_a=_truncate(texts[first], self.max_words),
                    passage_b=_truncate(texts[second], self.max_words))}])
        logprobs = self.llm.first_token_logprobs(prompts, ["A", "B"]) if prompts else \
            np.zeros((0, 2))
        p_a = 1.0 / (1.0 + np.exp(logprobs[:, 1] - logprobs[:, 0]))    # softmax over A, B
        prefs = {pair: symmetric_preference(p_a[2 * k], p_a[2 * k + 1])
                 for k, pair in enumerate(pairs)}
        return prefs, p_a

    def score(self, candidates: CandidateList) -> np.ndarray:
        n = len(candidates.texts)
        if self.strategy != "aggregate":
            memo: dict[tuple[int, int], float] = {}

            def prefer(a: int, b: int) -> float:
                key = (min(a, b), max(a, b))
                if key not in memo:
                    self.comparisons += 2
                    memo[key] = self.preferences(candidates.query, candidates.texts,
                                                 [key])[0][key]
                return memo[key] if a == key[0] else 1.0 - memo[key]

            sort = sliding_top_k if self.strategy == "sliding" else heap_top_k
            return order_scores(sort(n, prefer, self.top_k))
        pairs = sample_pairs(n, self.sampling, self.budget, self.seed, self.window, self.top)
        self.comparisons += 2 * len(pairs)
        prefs, _ = self.preferences(candidates.query, candidates.texts, pairs)
        scores = aggregate(n, prefs, self.aggregation)
        # documents never compared keep their initial order below the compared ones
        return scores - 1e-9 * np.arange(n)


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@register("reranker", "first-token", needs_llm=True)
class FirstTokenListwiseReranker(LLMReranker):
    """FIRST-style listwise reranking (Reddy et al. 2024): one forward pass per window; the
    window is ordered by the log-probability of each passage's identifier as the first
    answer token, so nothing has to be generated or parsed. Windows of at most 26."""

    family = "first"

    def __init__(self, llm: LLM, window: int = 20, step: int = 10, passes: int = 1,
                 template: str = "listwise_first", max_words: int = 100) -> None:
        super().__init__(llm)
        if not 1 <= window <= len(LETTERS):
            raise ValueError(f"window must be between 1 and {len(LETTERS)}, got {window}")
        self.template = load_template(template)
        self.window, self.step, self.passes, self.max_words = window, step, passes, max_words

    def window_prompt(self, query: str, texts: list[str]) -> list[dict[str, str]]:
        passages = "\n".join(f"{LETTERS[k]}. {_truncate(t, self.max_words)}"
                             for k, t in enumerate(texts))
        return [{"role": "user", "content": self.template.format(num=len(texts), query=query,
                                                                 passages=passages)}]

    def score(self, candidates: CandidateList) -> np.ndarray:
        def permute(chunk: list[int]) -> list[int]:
            prompt = self.window_prompt(candidates.query, [candidates.texts[i] for i in chunk])
            (logprobs,) = self.llm.first_token_logprobs([prompt], list(LETTERS[:len(chunk)]))
            return list(np.argsort(-logprobs, kind="stable"))

        return order_scores(rerank_with_windows(list(range(len(candidates.texts))), permute,
                                                self.window, self.step, self.passes))
