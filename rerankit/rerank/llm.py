"""LLM rerankers: pointwise yes/no relevance from next-token log-probabilities, listwise
permutation generation over sliding windows (RankGPT) with every parse repair counted, and
pairwise preferences in both presentation orders (PRP)."""

from __future__ import annotations

import numpy as np

from rerankit.llm.base import LLM
from rerankit.rerank.base import CandidateList, Reranker
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


class YesNoReranker(Reranker):
    """Score = log P("Yes") - log P("No") for the first answer token (a log-odds of
    relevance; both options are read from the same softmax, so scores compare across
    documents)."""

    pointwise = True

    def __init__(self, llm: LLM, template: str = "pointwise_yes_no", max_words: int = 200,
                 yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.llm, self.template = llm, load_template(template)
        self.max_words, self.options = max_words, [yes, no]
        self.name = f"yes-no-{llm.name}"

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        prompts = [[{"role": "user", "content": self.template.format(
            query=c.query, passage=_truncate(text, self.max_words))}]
            for c in lists for text in c.texts]
        before = (self.llm.usage.calls, self.llm.usage.tokens_in)
        logprobs = self.llm.first_token_logprobs(prompts, self.options) if prompts else \
            np.zeros((0, 2))
        self.stats.model_calls += self.llm.usage.calls - before[0]
        self.stats.tokens_in += self.llm.usage.tokens_in - before[1]
        flat = logprobs[:, 0] - logprobs[:, 1]
        bounds = np.cumsum([0] + [len(c.texts) for c in lists])
        return [flat[bounds[i]:bounds[i + 1]] for i in range(len(lists))]


class ListwiseReranker(Reranker):
    """RankGPT-style listwise reranking: the model writes a permutation of each window."""

    def __init__(self, llm: LLM, window: int = 20, step: int = 10, passes: int = 1,
                 template: str = "listwise_rankgpt", max_words: int = 100,
                 max_new_tokens: int | None = None) -> None:
        super().__init__()
        self.llm, self.template = llm, load_template(template)
        self.window, self.step, self.passes = window, step, passes
        self.max_words, self.max_new_tokens = max_words, max_new_tokens
        self.repairs = Repairs()
        self.name = f"listwise-{llm.name}"

    def score(self, candidates: CandidateList) -> np.ndarray:
        def permute(chunk: list[int]) -> list[int]:
            passages = "\n".join(f"[{k + 1}] {_truncate(candidates.texts[i], self.max_words)}"
                                 for k, i in enumerate(chunk))
            prompt = self.template.format(num=len(chunk), query=candidates.query,
                                          passages=passages)
            usage = self.llm.usage
            before = (usage.calls, usage.tokens_in, usage.tokens_out)
            (text,) = self.llm.generate([[{"role": "user", "content": prompt}]],
                                        self.max_new_tokens or 5 * len(chunk) + 10)
            self.stats.model_calls += usage.calls - before[0]
            self.stats.tokens_in += usage.tokens_in - before[1]
            self.stats.tokens_out += usage.tokens_out - before[2]
            return parse_permutation(text, len(chunk), self.repairs)

        order = rerank_with_windows(list(range(len(candidates.texts))), permute,
                                    self.window, self.step, self.passes)
        self.stats.repairs = self.repairs.as_dict()
        scores = np.empty(len(order))
        scores[order] = -np.arange(len(order), dtype=np.float64)   # rank 1 scores highest
        return scores


class PairwiseReranker(Reranker):
    """PRP-style pairwise reranking (Qin et al. 2023). Every sampled pair is shown in both
    orders; P(i above j) averages "A" in one order with "B" in the other, on one probability
    scale (the two options' softmax), which cancels the model's preference for a position.
    Pairs come from :func:`rerankit.rerank.pairs.sample_pairs` (budget, seed); scores from
    :func:`rerankit.rerank.pairs.aggregate`."""

    def __init__(self, llm: LLM, sampling: str = "all", budget: int | None = None,
                 seed: int = 0, aggregation: str = "sum", window: int = 2, top: int = 3,
                 template: str = "pairwise_prp", max_words: int = 100,
                 strategy: str = "aggregate", top_k: int = 10) -> None:
        super().__init__()
        if strategy not in ("aggregate", "sliding", "heap"):
            raise ValueError(f"strategy must be aggregate, sliding or heap, got {strategy!r}")
        self.strategy, self.top_k = strategy, top_k
        self.llm, self.template = llm, load_template(template)
        self.sampling, self.budget, self.seed = sampling, budget, seed
        self.aggregation, self.window, self.top = aggregation, window, top
        self.max_words = max_words
        self.comparisons = 0
        self.name = f"pairwise-{aggregation}-{llm.name}"

    def preferences(self, query: str, texts: list[str], pairs: list[tuple[int, int]]
                    ) -> tuple[dict[tuple[int, int], float], np.ndarray]:
        """P(i above j) per pair, and the raw P("A") of every prompt (both orders)."""
        prompts = []
        for i, j in pairs:
            for first, second in ((i, j), (j, i)):
                prompts.append([{"role": "user", "content": self.template.format(
                    query=query, passage_a=_truncate(texts[first], self.max_words),
                    passage_b=_truncate(texts[second], self.max_words))}])
        usage = self.llm.usage
        before = (usage.calls, usage.tokens_in)
        logprobs = self.llm.first_token_logprobs(prompts, ["A", "B"]) if prompts else \
            np.zeros((0, 2))
        self.stats.model_calls += usage.calls - before[0]
        self.stats.tokens_in += usage.tokens_in - before[1]
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
            order = sort(n, prefer, self.top_k)
            scores = np.empty(n)
            scores[order] = -np.arange(n, dtype=np.float64)
            return scores
        pairs = sample_pairs(n, self.sampling, self.budget, self.seed, self.window, self.top)
        self.comparisons += 2 * len(pairs)
        prefs, _ = self.preferences(candidates.query, candidates.texts, pairs)
        scores = aggregate(n, prefs, self.aggregation)
        # documents never compared keep their initial order below the compared ones
        return scores - 1e-9 * np.arange(n)


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class FirstTokenListwiseReranker(Reranker):
    """FIRST-style listwise reranking (Reddy et al. 2024): one forward pass per window; the
    window is ordered by the log-probability of each passage's identifier as the first
    answer token, so nothing has to be generated or parsed. Windows of at most 26."""

    def __init__(self, llm: LLM, window: int = 20, step: int = 10, passes: int = 1,
                 template: str = "listwise_first", max_words: int = 100) -> None:
        super().__init__()
        if not 1 <= window <= len(LETTERS):
            raise ValueError(f"window must be between 1 and {len(LETTERS)}, got {window}")
        self.llm, self.template = llm, load_template(template)
        self.window, self.step, self.passes, self.max_words = window, step, passes, max_words
        self.name = f"first-{llm.name}"

    def window_prompt(self, query: str, texts: list[str]) -> list[dict[str, str]]:
        passages = "\n".join(f"{LETTERS[k]}. {_truncate(t, self.max_words)}"
                             for k, t in enumerate(texts))
        return [{"role": "user", "content": self.template.format(num=len(texts), query=query,
                                                                 passages=passages)}]

    def score(self, candidates: CandidateList) -> np.ndarray:
        def permute(chunk: list[int]) -> list[int]:
            prompt = self.window_prompt(candidates.query, [candidates.texts[i] for i in chunk])
            usage = self.llm.usage
            before = (usage.calls, usage.tokens_in)
            (logprobs,) = self.llm.first_token_logprobs([prompt], list(LETTERS[:len(chunk)]))
            self.stats.model_calls += usage.calls - before[0]
            self.stats.tokens_in += usage.tokens_in - before[1]
            return list(np.argsort(-logprobs, kind="stable"))

        order = rerank_with_windows(list(range(len(candidates.texts))), permute,
                                    self.window, self.step, self.passes)
        scores = np.empty(len(order))
        scores[order] = -np.arange(len(order), dtype=np.float64)
        return scores
