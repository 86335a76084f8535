"""Length-bucketed batching and the precision switch (the parts CI can run without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerankit.batching import length_batches
from rerankit.precision import autocast, effective_precision


@given(st.lists(st.integers(0, 600), max_size=200), st.integers(1, 40))
def test_length_batches_cover_every_input_once_longest_first(lengths, batch_size):
    batches = length_batches(lengths, batch_size)
    order = np.concatenate(batches) if batches else np.zeros(0, dtype=int)
    assert sorted(order.tolist()) == list(range(len(lengths)))       # order restorable
    assert all(len(b) == batch_size for b in batches[:-1])
    ordered = np.asarray(lengths)[order] if lengths else np.zeros(0)
    assert np.all(np.diff(ordered) <= 0)                               # longest first
    out = np.empty(len(lengths))
    for rows in batches:                        # results written back land in input order
        out[rows] = np.asarray(lengths)[rows] * 2.0
    np.testing.assert_array_equal(out, np.asarray(lengths, dtype=float) * 2.0)


def test_length_batches_refuse_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        length_batches([3, 1], 0)


def test_precision_is_float32_on_cpu_and_reduced_precision_needs_cuda():
    with autocast("cpu"):                      # "auto" on a CPU: plain float32
        pass
    with autocast(None, "fp32"):
        pass
    with pytest.raises(ValueError, match="needs a CUDA device"):
        autocast("cpu", "fp16")
    with pytest.raises(ValueError, match="precision must be"):
        autocast("cuda", "int4")


def test_reduced_precision_enters_the_dense_identity_and_embedding_cache_key(tmp_path,
                                                                            monkeypatch):
    """Embeddings computed with bf16/fp16 weights must never be served as fp32 ones (nor the
    reverse); fp32 keys stay what they were, so existing caches still hit."""
    import torch

    from rerankit.retrieve.dense import Dense

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert effective_precision("cuda", "bf16") == "fp16"       # a GPU without bf16
    assert effective_precision("cuda", "auto") == "fp16"       # cast weights: fp16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert effective_precision("cuda", "auto", auto="bf16") == "bf16"    # autocast: bf16

    ids, texts = ["d1", "d2"], ["a passage", "another passage"]
    cpu = Dense(embeddings=tmp_path)
    fp32_on_gpu = Dense(device="cuda", precision="fp32", embeddings=tmp_path)
    bf16 = Dense(device="cuda", precision="bf16", embeddings=tmp_path)
    fp16 = Dense(device="cuda", precision="fp16", embeddings=tmp_path)
    assert effective_precision("cpu") == effective_precision(None, "auto") == "fp32"
    assert "precision" not in cpu.identity() and "precision" not in fp32_on_gpu.identity()
    assert (bf16.identity()["precision"], fp16.identity()["precision"]) == ("bf16", "fp16")
    paths = {d.embedding_cache_path(ids, texts) for d in (cpu, fp32_on_gpu, bf16, fp16)}
    assert len(paths) == 3                     # cpu and fp32-on-GPU share one
