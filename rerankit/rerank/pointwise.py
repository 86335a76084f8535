"""Pointwise rerankers: each (query, document) pair scored on its own, in batches across
queries.

* :class:`CrossEncoderReranker`: a sentence-transformers ``CrossEncoder`` (any model name or
  folder), scores exactly as ``CrossEncoder.predict`` gives them (which already sorts pairs
  by length before batching: checked in sentence-transformers 6.2).
* :class:`BiEncoderReranker`: a dense encoder as a reranker (cosine of query and document
  embeddings), for when a cross-encoder is too slow or unavailable.

Both take ``backend="onnx"|"openvino"`` (sentence-transformers' own backends; optimum
needed) and, on CUDA, run with weights cast to fp16 (``precision="bf16"`` or ``"fp32"`` to
choose).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rerankit.data.corpus import Corpus
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import local_model_folder
from rerankit.precision import Precision, model_dtype
from rerankit.progress import library_progress, progress_enabled
from rerankit.registry import register
from rerankit.rerank.base import CandidateList, Reranker, split_flat
from rerankit.retrieve.base import CorpusEncoding, documents_to_index
from rerankit.retrieve.dense import Backend, Dense, model_label, require_backend


@register("reranker", "cross-encoder")
class CrossEncoderReranker(Reranker):
    """A sentence-transformers ``CrossEncoder`` (any name or folder); scores equal
    ``CrossEncoder.predict``, all pairs of all queries batched together."""

    pointwise = batches_across_queries = True

    def __init__(self, model: str | Path, batch_size: int = 32, max_length: int | None = None,
                 device: str | None = None, quiet: bool | None = None,
                 backend: Backend = "torch", precision: Precision = "auto") -> None:
        super().__init__()
        try:
            from sentence_transformers import CrossEncoder
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "dense",
                                         "The cross-encoder reranker") from None
        self.model_name = local_model_folder(model)
        if backend not in ("torch", "onnx", "openvino"):
            raise ValueError(f"backend must be torch, onnx or openvino, got {backend!r}")
        if backend != "torch":
            require_backend(backend)
        self.batch_size, self.quiet = batch_size, quiet
        self.device = device or "cpu"
        dtype = model_dtype(self.device, precision)    # refuses fp16/bf16 without CUDA
        with library_progress(quiet), _load_warnings_off():
            self.model = CrossEncoder(self.model_name, max_length=max_length,
                                      device=self.device, backend=backend)
            _refuse_untrained_weights(self.model_name, self.model.model)
        if dtype is not None and backend == "torch":
            self.model.to(dtype)

    @property
    def name(self) -> str:
        return f"cross-encoder-{Path(self.model_name).name}"

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        pairs = [(c.query, text) for c in lists for text in c.texts]
        if not pairs:
            return []
        start = time.perf_counter()
        with TokensSeen(self.model) as seen:
            scores = self.model.predict(pairs, batch_size=self.batch_size,
                                        show_progress_bar=progress_enabled(self.quiet),
                                        convert_to_numpy=True)
        flat = np.asarray(scores, dtype=np.float64)
        self.calls.add(tokens_in=seen.total or _count_tokens(self.model.tokenizer, pairs),
                       seconds=time.perf_counter() - start,
                       calls=-(-len(pairs) // self.batch_size))
        return split_flat(flat, lists)


@contextmanager
def _load_warnings_off() -> Iterator[None]:
    """transformers' and sentence-transformers' warnings off while a cross-encoder loads:
    the one that matters, weights initialised at random (a multi-line table, with
    "Converting SentenceTransformer model ... to CrossEncoder" before it), becomes
    :func:`_refuse_untrained_weights`' one-line error. Levels are restored afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    library = logging.getLogger("sentence_transformers")
    level = library.level
    hf_logging.set_verbosity_error()
    library.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        library.setLevel(level)


def _refuse_untrained_weights(name: str, loaded: object) -> None:
    """Refuse a checkpoint that lacks weights the cross-encoder needs, above all a trained
    classification head.

    sentence-transformers loads any encoder as a cross-encoder: a checkpoint without a
    sequence-classification head (a bi-encoder such as all-MiniLM-L6-v2, a masked LM) gets
    a head of random weights, transformers only logs it, and every score is noise --
    other noise on each load, so a resumed run would mix two random heads in one ranking.
    transformers' loading info names the weights it had to initialise: the checkpoint is
    loaded once more (its files are in the OS cache by then) into the class and
    configuration sentence-transformers chose. An ONNX or OpenVINO model is not checked:
    it comes without transformers' loading info (an export of a headless checkpoint carries
    the random head it was exported with)."""
    from transformers import PreTrainedModel

    if not isinstance(loaded, PreTrainedModel):
        return
    _, info = type(loaded).from_pretrained(name, config=copy.deepcopy(loaded.config),
                                           output_loading_info=True)
    missing = sorted(info["missing_keys"])
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4
                                          else "")
        raise InputFormatError(name, "not a cross-encoder: it has no trained classification "
                               f"head ({shown} not in the checkpoint, newly initialised at "
                               "random: every score would be noise); give a cross-encoder "
                               "checkpoint (...ForSequenceClassification)")


@register("reranker", "bi-encoder")
class BiEncoderReranker(Reranker):
    """Cosine of query and document embeddings (default: the offline all-MiniLM-L6-v2),
    the corpus embedded once."""

    pointwise = batches_across_queries = True

    def __init__(self, model: str | Path | None = None, batch_size: int = 32,
                 query_prefix: str = "", passage_prefix: str = "",
                 corpus_limit: int = 200_000, quiet: bool | None = None,
                 backend: Backend = "torch", device: str | None = None,
                 precision: Precision = "auto") -> None:
        super().__init__()
        self.encoder = Dense(model, batch_size=batch_size, query_prefix=query_prefix,
                             passage_prefix=passage_prefix, normalize=True, quiet=quiet,
                             backend=backend, device=device, precision=precision)
        self.corpus_limit = corpus_limit
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._rows: dict[str, int] = {}

    @property
    def name(self) -> str:
        return f"bi-encoder-{model_label(self.encoder.model_name)}"

    def resolved_model(self) -> str:
        return self.encoder.model_name

    def corpus_encodings(self, corpus: Corpus) -> list[CorpusEncoding]:
        if len(corpus) > self.corpus_limit:
            return []
        return [CorpusEncoding(self.encoder, *self._documents_of(corpus))]

    def prepare(self, corpus: Corpus) -> None:
        """Embed the whole corpus once (fixed chunks, cached on disk like the dense
        retriever's), so candidates are looked up, not re-encoded for every query; only for
        corpora up to ``corpus_limit`` documents (beyond that, candidates are encoded per
        query)."""
        if len(corpus) > self.corpus_limit:
            return
        ids, texts = self._documents_of(corpus)
        self._vectors = self.encoder.encode_corpus(ids, texts)
        self._rows = {docid: row for row, docid in enumerate(ids)}

    @staticmethod
    def _documents_of(corpus: Corpus) -> tuple[list[str], list[str]]:
        """The (ids, texts) embedded for the corpus (documents without text left out)."""
        return documents_to_index(corpus, getattr(corpus, "source", "corpus"), "skip")

    def score_lists(self, lists: list[CandidateList]) -> list[np.ndarray]:
        if not lists:
            return []
        queries = self.encoder.encode([c.query for c in lists], self.encoder.query_prefix)
        self.calls.add()
        return [(self._documents(c) @ queries[i]).astype(np.float64)
                for i, c in enumerate(lists)]

    def _documents(self, candidates: CandidateList) -> np.ndarray:
        """The candidates' embeddings: prepared rows, or encoded now (one call per list, so
        a score never depends on other queries' candidates)."""
        if all(d in self._rows for d in candidates.doc_ids):
            return self._vectors[[self._rows[d] for d in candidates.doc_ids]]
        self.calls.add()
        return self.encoder.encode(candidates.texts, self.encoder.passage_prefix)


class _TokenTally:
    """Tokens a transformer was shown, from the attention masks its forward calls got."""

    def __init__(self) -> None:
        self.sums: list = []

    def record(self, _module, args, kwargs) -> None:
        features = args[0] if args and isinstance(args[0], Mapping) else kwargs
        mask = features.get("attention_mask")
        if mask is not None:
            self.sums.append(mask.sum())          # stays on the device: no sync per batch

    def total(self) -> int:
        return int(sum(int(s) for s in self.sums))


class TokensSeen:
    """Counts the (unpadded, truncated) tokens a sentence-transformers model's transformer
    sees inside a ``with`` block, from forward pre-hooks, so the cost ledger needs no second
    tokenisation of every pair (on a GPU that was a fifth of the time). Hooks sit on the
    model's first module (sentence-transformers >= 6 hands it the features mapping) and the
    Hugging Face model (earlier versions call it with the features as keywords); whichever
    saw the calls counts. ``total`` stays 0 when no hook saw an attention mask: callers
    count another way then."""

    def __init__(self, model) -> None:
        from transformers import PreTrainedModel

        first = next(model.children(), None)
        hugging_face = next((m for m in model.modules() if isinstance(m, PreTrainedModel)),
                            None)
        self.modules = [m for m in (first, hugging_face) if m is not None]
        self.total = 0

    def __enter__(self) -> TokensSeen:
        self.tallies = [_TokenTally() for _ in self.modules]
        self.handles = [m.register_forward_pre_hook(t.record, with_kwargs=True)
                        for m, t in zip(self.modules, self.tallies, strict=True)]
        return self

    def __exit__(self, *_exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.total = max((t.total() for t in self.tallies), default=0)


def _count_tokens(tokenizer, pairs: list[tuple[str, str]]) -> int:
    encoded = tokenizer([q for q, _ in pairs], [d for _, d in pairs], truncation=True)
    return int(sum(len(ids) for ids in encoded["input_ids"]))
