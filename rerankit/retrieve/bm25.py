"""BM25 over string document ids, with two engines behind one class.

* ``engine="bm25s"`` (default): bm25s' eager sparse scoring, variants ``lucene``,
  ``robertson``, ``atire``, ``bm25l``, ``bm25+``; indexes save and load memory-mapped.
* ``engine="rank-bm25"``: rank-bm25's ``okapi``, ``bm25l``, ``bm25plus`` formulas for users
  who need exactly those numbers (slow: it scores every document in Python per query).

Both engines see the same tokens (bm25s' tokenizer: lower-casing, a regex splitter,
optional stopwords and PyStemmer stemming), so their differences are the formulas alone.

bm25s compiles its numba kernels without numba's on-disk cache, which costs seconds in
every new process; :func:`cache_numba_kernels` recompiles the same Python functions with
``cache=True`` so that happens once per machine (under ``$NUMBA_CACHE_DIR`` when set, else
``<rerankit cache>/numba``).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import pickle
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from rerankit.data.atomic import INDEX_RECORD, atomic_folder, staged_files
from rerankit.data.corpus import Corpus, Document
from rerankit.data.ownership import FILES_KEY
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.progress import progress_enabled
from rerankit.registry import register
from rerankit.retrieve.base import (
    Retriever,
    check_queries,
    documents_to_index,
    top_k_run,
)
from rerankit.retrieve.bm25_params import (
    check_numbers,
    check_stemmer,
    check_stopwords,
    check_variant,
)
from rerankit.retrieve.bm25_top_k import matched_top_k, query_terms, tie_ranks
from rerankit.retrieve.saved import index_part, read_index_meta
from rerankit.settings import Settings

INDEX_FORMAT = 1
#: Queries per call of the top-k kernel (bounds one call's output arrays).
QUERIES_PER_CALL = 4096


@register("retriever", "bm25")
class BM25(Retriever):
    """BM25 retriever: ``BM25().index(corpus).retrieve(queries, k=1000) -> Run``."""

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """What a config's ``params`` can be checked for before anything is built (the
        engine's variant, the numbers' ranges, the stemmer and stopword languages); the
        config layer calls this after checking the values' types."""
        engine = params.get("engine", "bm25s")
        if engine in ("bm25s", "rank-bm25") and isinstance(params.get("variant"), str):
            check_variant(engine, params["variant"])
        defaults = inspect.signature(cls.__init__).parameters
        check_numbers(*(params.get(name, defaults[name].default)
                        for name in ("k1", "b", "delta")))
        check_stemmer(params.get("stemmer"))
        check_stopwords(params.get("stopwords"))

    def __init__(
        self,
        engine: Literal["bm25s", "rank-bm25"] = "bm25s",
        variant: str | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        delta: float = 0.5,
        stemmer: str | None = "english",
        stopwords: str | list[str] | None = "en",
        lowercase: bool = True,
        backend: Literal["auto", "numpy", "numba"] = "auto",
        on_empty: Literal["error", "skip"] = "error",
        quiet: bool | None = None,
    ) -> None:
        if engine not in ("bm25s", "rank-bm25"):
            raise ValueError(f"engine must be 'bm25s' or 'rank-bm25', got {engine!r}")
        variant = check_variant(engine, variant)
        check_numbers(k1, b, delta)
        check_stemmer(stemmer)
        check_stopwords(stopwords)
        self.engine, self.variant = engine, variant
        self.k1, self.b, self.delta = k1, b, delta
        self.stemmer_language, self.stopwords, self.lowercase = stemmer, stopwords, lowercase
        if backend not in ("auto", "numpy", "numba"):
            raise ValueError(f"backend must be auto, numpy or numba, got {backend!r}")
        self.backend = backend
        self.on_empty, self.quiet = on_empty, quiet
        self.doc_ids: pa.Array | None = None
        self._model = None
        self._tokenizer = None
        self._tie_order: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def name(self) -> str:
        return f"bm25-{self.engine}-{self.variant}"

    @property
    def is_indexed(self) -> bool:
        """True once :meth:`index` or :meth:`load` has run."""
        return self.doc_ids is not None and self._model is not None

    def identity(self) -> dict:
        """Everything that determines the scores (for manifests and cache keys)."""
        return {"engine": self.engine, "variant": self.variant, "k1": self.k1, "b": self.b,
                "delta": self.delta, "stemmer": self.stemmer_language,
                "stopwords": self.stopwords, "lowercase": self.lowercase,
                "backend": self.backend, "on_empty": self.on_empty}

    # ------------------------------------------------------------------ indexing
    def index(self, corpus: Corpus | Iterable[Document]) -> BM25:
        """Tokenise and index the documents (title + text); returns ``self``."""
        ids, texts = documents_to_index(corpus, getattr(corpus, "source", "corpus"),
                                        self.on_empty)
        self.doc_ids = pa.array(ids, type=pa.string())
        self._tie_order = None
        self._tokenizer = self._new_tokenizer()
        show = progress_enabled(self.quiet)
        if self.engine == "bm25s":
            import bm25s

            tokens = self._tokenizer.tokenize(texts, update_vocab=True, return_as="tuple",
                                              show_progress=show)
            self._model = bm25s.BM25(k1=self.k1, b=self.b, delta=self.delta,
                                     method=self.variant, backend=self._bm25s_backend())
            _use_cached_kernels(self._model)
            self._model.index(tokens, show_progress=show)
        else:
            tokens = self._tokenizer.tokenize(texts, update_vocab=True, return_as="string",
                                              show_progress=show)
            self._model = _rank_bm25_model(self.variant)(tokens, k1=self.k1, b=self.b,
                                                         **self._rank_bm25_extra())
        return self

    def _bm25s_backend(self) -> str:
        """numba (compiled top-k selection, ~2x faster) when installed, unless told otherwise."""
        if self.backend != "auto":
            return self.backend
        try:
            import numba  # noqa: F401
        except ImportError:
            return "numpy"
        return "numba"

    def _new_tokenizer(self):
        from bm25s.tokenization import Tokenizer

        stemmer = None
        if self.stemmer_language:
            try:
                import Stemmer
            except ImportError:
                raise ImportError("stemming needs PyStemmer: pip install PyStemmer "
                                  "(or pass stemmer=None)") from None
            stemmer = Stemmer.Stemmer(self.stemmer_language).stemWord
        return Tokenizer(lower=self.lowercase, stopwords=self.stopwords or [], stemmer=stemmer)

    def __getstate__(self) -> dict:
        """Pickle state without the tokenizer's PyStemmer stemmer (a C object pickle
        refuses); :meth:`__setstate__` makes a new one for the same language."""
        state = {**self.__dict__, "_tie_order": None}       # rebuilt on the first retrieve
        tokenizer = state.get("_tokenizer")
        if tokenizer is not None and getattr(tokenizer, "stemmer", None) is not None:
            tokenizer = copy.copy(tokenizer)
            tokenizer.stemmer = None
            state["_tokenizer"] = tokenizer
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"_tie_order": None, **state})
        if self._tokenizer is not None and self.stemmer_language:
            self._tokenizer.stemmer = self._new_tokenizer().stemmer

    def _rank_bm25_extra(self) -> dict:
        return {"epsilon": 0.25} if self.variant == "okapi" else {"delta": self.delta}

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, queries: Queries, k: int = 1000) -> Run:
        """Top ``k`` documents per query with their BM25 scores (documents that match no
        query term are left out)."""
        if self._model is None or self.doc_ids is None:
            raise RuntimeError("index() (or BM25.load) before retrieve()")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        check_queries(queries)
        k = min(k, len(self.doc_ids))
        show = progress_enabled(self.quiet)
        texts = list(queries.texts)
        if self.engine == "bm25s":
            _use_cached_kernels(self._model)
            tokens = self._query_token_ids(texts)
            if self._matched_top_k_applies():
                return self._matched_top_k(list(queries.ids), tokens, k)
            # bm25s refuses a query without a term: it is given term 0, then no rows
            indices, scores = self._model.retrieve([query or [0] for query in tokens], k=k,
                                                   show_progress=show, n_threads=0)
            scores = np.asarray(scores)
            scores[[not query for query in tokens]] = 0
        else:
            tokens = self._tokenizer.tokenize(texts, update_vocab=False, return_as="string",
                                              show_progress=False)
            indices, scores = _rank_bm25_top_k(self._model, tokens, k)
        return top_k_run(list(queries.ids), self.doc_ids, np.asarray(indices),
                         np.asarray(scores, dtype=np.float64), self.name)

    def _unmatched_score_zero(self) -> bool:
        """Whether a document without a query term scores 0 (every bm25s variant but BM25L
        and BM25+)."""
        return getattr(self._model, "nonoccurrence_array", None) is None

    def _query_token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each query's term ids under the index's tokenizer. bm25s' tokenizer turns a
        text without an indexable word (unknown words, stopwords only) into the empty
        token "", for documents and queries alike; that token is dropped, so such a query
        matches nothing (no rows) rather than every document without a word."""
        tokens = self._tokenizer.tokenize(texts, update_vocab=False, return_as="ids",
                                          show_progress=False)
        empty = self._tokenizer.get_vocab_dict().get("")
        if empty is None:
            return tokens
        return [[term for term in query if term != empty] for query in tokens]

    def _matched_top_k_applies(self) -> bool:
        """rerankit's own top-k kernel (:mod:`rerankit.retrieve.bm25_top_k`) serves the
        numba backend wherever a document without a query term scores 0 (every variant
        but BM25L and BM25+, which give such documents a positive score) on bm25s' default
        float32 scores, whose bits it ranks by."""
        return (self._model.backend == "numba" and self._unmatched_score_zero()
                and self._model.scores["data"].dtype == np.float32
                and len(self.doc_ids) < 2 ** 32)     # the tie rank fills a key's low half

    def _matched_top_k(self, query_ids: list[str], tokens: list[list[int]], k: int) -> Run:
        """The run of :func:`~rerankit.retrieve.bm25_top_k.matched_top_k`, computed in
        chunks of queries, each with room for exactly the rows it can return (a query
        returns at most min(k, its postings))."""
        if self._tie_order is None:
            self._tie_order = tie_ranks(self.doc_ids)
        index = self._model.scores
        terms, starts = query_terms(tokens, len(index["indptr"]) - 1)
        per_term = np.concatenate([[0], np.cumsum(index["indptr"][terms + 1]
                                                  - index["indptr"][terms])])
        most = np.minimum(per_term[starts[1:]] - per_term[starts[:-1]], k)
        queries, docs, bits = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [
            np.empty(0, np.uint32)]
        for first in range(0, len(tokens), QUERIES_PER_CALL):
            last = min(first + QUERIES_PER_CALL, len(tokens))
            query, doc, score_bits = _cached_kernels["top_k"](
                terms, starts[first:last + 1], k, int(most[first:last].sum()), index["data"],
                index["indptr"], index["indices"], *self._tie_order)
            queries.append(query + first)
            docs.append(doc)
            bits.append(score_bits)
        query, doc, bits = np.concatenate(queries), np.concatenate(docs), np.concatenate(bits)
        return Run(pa.array(query_ids, type=pa.string()).take(query),
                   self.doc_ids.take(doc), bits.view(np.float32).astype(np.float64),
                   self.name, verified_unique=True)

    def corpus_scores(self, query: str) -> np.ndarray:
        """The BM25 score of every indexed document for one query (in ``doc_ids`` order):
        the same numbers :meth:`retrieve` ranks by, for features of arbitrary candidates."""
        if self._model is None or self.doc_ids is None:
            raise RuntimeError("index() (or BM25.load) before corpus_scores()")
        if self.engine == "bm25s":
            ids = self._query_token_ids([query])[0]
            if not ids:
                return np.zeros(len(self.doc_ids))
            return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float64)
        tokens = self._tokenizer.tokenize([query], update_vocab=False, return_as="string",
                                          show_progress=False)[0]
        return np.asarray(self._model.get_scores(tokens), dtype=np.float64)

    def term_matrix(self, texts: list[str]):
        """A (texts x vocabulary) scipy CSR matrix of term counts under this index's
        tokenizer (unknown terms dropped): document lengths and query-term overlap."""
        import scipy.sparse as sp

        if self._tokenizer is None:
            raise RuntimeError("index() (or BM25.load) before term_matrix()")
        ids = self._tokenizer.tokenize(texts, update_vocab=False, return_as="ids",
                                       show_progress=False)
        lengths = np.array([len(row) for row in ids])
        flat = np.fromiter((t for row in ids for t in row), dtype=np.int64,
                           count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(ids)), lengths)
        width = max(len(self._tokenizer.get_vocab_dict()), int(flat.max(initial=-1)) + 1)
        return sp.csr_matrix((np.ones(len(flat)), (rows, flat)), shape=(len(ids), width))

    def distinct_terms(self, texts: list[str]) -> np.ndarray:
        """How many distinct terms each text has under this index's tokenizer, terms no
        indexed document contains included (a fresh vocabulary, so none is dropped)."""
        tokens = self._new_tokenizer().tokenize(texts, update_vocab=True, return_as="string",
                                                show_progress=False)
        return np.array([len(set(t)) for t in tokens], dtype=np.float64)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` atomically (built in a sibling temp folder)."""
        if self._model is None or self.doc_ids is None:
            raise RuntimeError("nothing to save: index() first")
        with atomic_folder(folder) as tmp:
            (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids.to_pylist()))
            self._tokenizer.save_vocab(save_dir=str(tmp))
            if self.engine == "bm25s":
                self._model.save(str(tmp / "bm25s"), show_progress=False)
            else:
                with open(tmp / "rank_bm25.pkl", "wb") as handle:
                    pickle.dump(self._model, handle)
            meta = {"format": INDEX_FORMAT, "params": self.identity(),
                    "num_docs": len(self.doc_ids), FILES_KEY: staged_files(tmp)}
            (tmp / INDEX_RECORD).write_text(json.dumps(meta, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True, quiet: bool | None = None) -> BM25:
        """Load an index saved by :meth:`save` (bm25s arrays memory-mapped by default)."""
        folder = Path(folder)
        meta, doc_ids = read_index_meta(folder, "BM25", INDEX_FORMAT)
        with index_part(folder, INDEX_RECORD):
            retriever = cls(**meta["params"], quiet=quiet)
        retriever.doc_ids = doc_ids
        retriever._tokenizer = retriever._new_tokenizer()
        with index_part(folder, "vocab.tokenizer.json"):
            retriever._tokenizer.load_vocab(str(folder))
        if retriever.engine == "bm25s":
            import bm25s

            with index_part(folder, "bm25s/"):
                retriever._model = bm25s.BM25.load(str(folder / "bm25s"), mmap=mmap,
                                                   show_progress=False)
            retriever._model.backend = retriever._bm25s_backend()
        else:
            with index_part(folder, "rank_bm25.pkl"), open(folder / "rank_bm25.pkl",
                                                           "rb") as handle:
                retriever._model = pickle.load(handle)  # a file this class wrote
        return retriever


_cached_kernels: dict = {}
_kernels_lock = threading.Lock()


def _use_cached_kernels(model) -> None:
    """Give a numba-backed bm25s model the disk-cached kernels (index builder, scorer and
    the retrieval loop); a numpy-backed model is left alone."""
    if model.backend != "numba":
        return
    cache_numba_kernels()
    model._np_csc = _cached_kernels["csc"]
    model._compute_relevance_from_scores = _cached_kernels["scorer"]


def cache_numba_kernels() -> None:
    """Swap bm25s' numba kernels for the same Python functions jitted with numba's on-disk
    cache (once per process): the first process on a machine compiles and writes the
    cache, later ones load it in milliseconds. Scores are those of the same code."""
    with _kernels_lock:                   # a second thread waits for the whole set
        if not _cached_kernels:
            _cached_kernels.update(_compile_cached_kernels())


def _compile_cached_kernels() -> dict:
    """bm25s' kernels and rerankit's top-k kernel as numba dispatchers with the disk cache
    on (each compiles, or loads from the cache, on its first call)."""
    import numba
    from bm25s import scoring
    from bm25s.numba import retrieve_utils

    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(Settings.resolve().cache_root / "numba")
    kernel = retrieve_utils._retrieve_internal_jitted
    # the kernel resolves these module globals when it compiles: make them cached too
    retrieve_utils._compute_relevance_from_scores_jit_ready = numba.njit(cache=True)(
        retrieve_utils._compute_relevance_from_scores_jit_ready.py_func)
    retrieve_utils._numba_sorted_top_k = numba.njit(cache=True, nogil=True)(
        retrieve_utils._numba_sorted_top_k.py_func)
    retrieve_utils._retrieve_internal_jitted_serial = numba.njit(cache=True, nogil=True)(kernel)
    retrieve_utils._retrieve_internal_jitted_parallel = numba.njit(cache=True, parallel=True)(
        kernel)
    return {"csc": numba.njit(cache=True)(scoring._np_csc_jit_ready),
            "top_k": numba.njit(cache=True, nogil=True)(matched_top_k),
            "scorer": numba.njit(cache=True)(scoring._compute_relevance_from_scores_jit_ready)}


def _rank_bm25_model(variant: str):
    import rank_bm25

    return {"okapi": rank_bm25.BM25Okapi, "bm25l": rank_bm25.BM25L,
            "bm25plus": rank_bm25.BM25Plus}[variant]


def _rank_bm25_top_k(model, tokens: list[list[str]], k: int) -> tuple[np.ndarray, np.ndarray]:
    indices = np.empty((len(tokens), k), dtype=np.int64)
    scores = np.empty((len(tokens), k))
    for i, query in enumerate(tokens):
        all_scores = model.get_scores(query)
        top = np.argpartition(-all_scores, k - 1)[:k]
        top = top[np.argsort(-all_scores[top], kind="stable")]
        indices[i], scores[i] = top, all_scores[top]
    return indices, scores
