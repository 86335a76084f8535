"""monoT5 / duoT5 (Nogueira et al. 2020; Pradeep et al. 2021): relevance from the logits
of the words "true" and "false" at the first decoder step of an AutoModelForSeq2SeqLM.

* :class:`MonoT5Reranker`: ``Query: q Document: d Relevant:`` -> P(true) over {true, false}
  (reported as the log-odds, on one scale for all documents).
* :class:`DuoT5Reranker`: ``Query: q Document0: a Document1: b Relevant:`` -> P(a above b);
  every pair is scored in both orders and combined like the LLM pairwise reranker, then
  aggregated (sum, Copeland, Bradley-Terry) over the sampled pairs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rerankit.batching import length_batches
from rerankit.costs import CallLog
from rerankit.errors import MissingDependencyError
from rerankit.identity import local_model_folder
from rerankit.precision import Precision, autocast
from rerankit.registry import register
from rerankit.rerank.base import CandidateList, Reranker, split_flat
from rerankit.rerank.pairs import aggregate, sample_pairs, symmetric_preference
from rerankit.rerank.prompts import load_template


class _T5Scorer:
    """Batched first-decoder-step log-odds of "true" over "false", inputs batched by
    token length (fp16/bf16 autocast on CUDA unless ``precision="fp32"``)."""

    def __init__(self, model: str | Path, batch_size: int, max_length: int, device: str,
                 calls: CallLog, true_word: str = "true", false_word: str = "false",
                 precision: Precision = "auto") -> None:
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError:
            raise MissingDependencyError("transformers", "llm", "monoT5/duoT5") from None
        model = local_model_folder(model)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        self.model = AutoModelForSeq2SeqLM.from_pretrained(str(model)).to(device).eval()
        self.ids = [self.tokenizer.encode(w, add_special_tokens=False)[0]
                    for w in (true_word, false_word)]
        self.batch_size, self.max_length, self.device = batch_size, max_length, device
        self.precision = precision
        autocast(device, precision)         # refuse fp16/bf16 without CUDA now, not later
        self.calls = calls

    def log_odds(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros(len(texts))
        start_id = self.model.config.decoder_start_token_id
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        for rows in length_batches([len(x) for x in ids], self.batch_size):
            began = time.perf_counter()
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]},
                                       return_tensors="pt").to(self.device)
            decoder = torch.full((len(rows), 1), start_id, device=self.device)
            with torch.no_grad(), autocast(self.device, self.precision):
                logits = self.model(**batch, decoder_input_ids=decoder).logits[:, 0, :].float()
            pair = torch.log_softmax(logits[:, self.ids], dim=-1)
            out[rows] = (pair[:, 0] - pair[:, 1]).cpu().numpy()
            self.calls.add(tokens_in=int(batch["attention_mask"].sum()),
                           seconds=time.perf_counter() - began)
        return out


@register("reranker", "monot5")
class MonoT5Reranker(Reranker):
    """monoT5: the log-odds of "true" over "false" at the first decoder step."""

    pointwise = batches_across_queries = True

    def __init__(self, model: str | Path, batch_size: int = 16, max_length: int = 512,
                 device: str = "cpu", template: str = "monot5", precision: Precision = "auto"
                 ) -> None:
        super().__init__()
        self.scorer = _T5Scorer(model, batch_size, max_length, device, self.calls,
                                precision=precision)
        self.template = load_template(template)
        self.model_name = str(model)

    @property
    def name(self) -> str:
        return f"monot5-{Path(self.model_name).name}"

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        texts = [self.template.format(query=c.query, document=t) for c in lists for t in c.texts]
        return split_flat(self.scorer.log_odds(texts), lists)


@register("reranker", "duot5")
class DuoT5Reranker(Reranker):
    """Pairwise seq2seq preferences (duoT5), both orders, sampled pairs, aggregated."""

    def __init__(self, model: str | Path, sampling: str = "all", budget: int | None = None,
                 seed: int = 0, aggregation: str = "sum", batch_size: int = 16,
                 max_length: int = 512, device: str = "cpu", template: str = "duot5",
                 precision: Precision = "auto") -> None:
        super().__init__()
        self.scorer = _T5Scorer(model, batch_size, max_length, device, self.calls,
                                precision=precision)
        self.template = load_template(template)
        self.sampling, self.budget, self.seed, self.aggregation = sampling, budget, seed, \
            aggregation
        self.model_name = str(model)

    @property
    def name(self) -> str:
        return f"duot5-{self.aggregation}-{Path(self.model_name).name}"

    def preferences(self, query: str, texts: list[str], pairs: list[tuple[int, int]]
                    ) -> dict[tuple[int, int], float]:
        """P(i above j) for each pair, from both presentation orders."""
        prompts = [self.template.format(query=query, a=texts[x], b=texts[y])
                   for i, j in pairs for x, y in ((i, j), (j, i))]
        p_first = 1.0 / (1.0 + np.exp(-self.scorer.log_odds(prompts)))
        return {pair: symmetric_preference(p_first[2 * k], p_first[2 * k + 1])
                for k, pair in enumerate(pairs)}

    def score(self, candidates: CandidateList) -> np.ndarray:
        n = len(candidates.texts)
        pairs = sample_pairs(n, self.sampling, self.budget, self.seed)
        prefs = self.preferences(candidates.query, candidates.texts, pairs)
        return aggregate(n, prefs, self.aggregation) - 1e-9 * np.arange(n)
