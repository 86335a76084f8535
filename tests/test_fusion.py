"""Fusion on the two real AQUAINT runs, checked against hand-computed definitions."""

from __future__ import annotations

import numpy as np
import pytest

from rerankit.data.run import Run
from rerankit.retrieve.fusion import fuse


def test_rrf_by_hand():
    a = Run.from_dict({"q": {"x": 3.0, "y": 2.0, "z": 1.0}}, "a")
    b = Run.from_dict({"q": {"y": 9.0, "w": 5.0}}, "b")
    fused = fuse([a, b], "rrf", k=60).to_dict()["q"]
    assert fused["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["x"] == pytest.approx(1 / 61) and fused["w"] == pytest.approx(1 / 62)


def test_combsum_and_combmnz_with_minmax_by_hand():
    a = Run.from_dict({"q": {"x": 4.0, "y": 2.0, "z": 0.0}}, "a")
    b = Run.from_dict({"q": {"y": 10.0, "w": 5.0}}, "b")
    total = fuse([a, b], "combsum", normalisation="minmax").to_dict()["q"]
    assert total == pytest.approx({"x": 1.0, "y": 0.5 + 1.0, "z": 0.0, "w": 0.0})
    mnz = fuse([a, b], "combmnz", normalisation="minmax").to_dict()["q"]
    assert mnz["y"] == pytest.approx(3.0) and mnz["x"] == pytest.approx(1.0)
    weighted = fuse([a, b], "weighted", weights=[2.0, 1.0]).to_dict()["q"]
    assert weighted["y"] == pytest.approx(2 * 0.5 + 1.0)


def test_zscore_and_rank_normalisation(bm25_run, lmd_run):
    fused = fuse([bm25_run, lmd_run], "combsum", normalisation="zscore")
    assert len(fused) >= max(len(bm25_run), len(lmd_run))
    ranks = fuse([bm25_run, bm25_run.rename("copy")], "combsum", normalisation="rank")
    best = ranks.top_k(1)
    assert np.allclose(best.score, 2.0)  # the top document of every query, twice


def test_fusion_improves_the_real_runs(aquaint_qrels, bm25_run, lmd_run):
    from rerankit import evaluate

    base = evaluate(aquaint_qrels, bm25_run, ["map"])["map"]
    fused = evaluate(aquaint_qrels, fuse([bm25_run, lmd_run], "rrf"), ["map"])["map"]
    assert fused > base


def test_bad_fusion_arguments(bm25_run, lmd_run):
    with pytest.raises(ValueError, match="at least two runs"):
        fuse([bm25_run])
    with pytest.raises(ValueError, match="one weight per run"):
        fuse([bm25_run, lmd_run], "weighted", weights=[1.0])
    with pytest.raises(ValueError, match="fusion method"):
        fuse([bm25_run, lmd_run], "borda")


def test_fusion_ranks_by_the_double_score():
    """Run a ranks a above b by less than float32 can tell: ranked by float32, the tie
    would put b first (document id descending) and make b win the fusion."""
    a = Run.from_dict({"q": {"a": 1.00000002, "b": 1.00000001}})
    b = Run.from_dict({"q": {"a": 2.0, "b": 1.0}})
    c = Run.from_dict({"q": {"a": 1.0, "b": 2.0}})
    fused = fuse([a, b, c], method="rrf", k=60).to_dict()["q"]
    assert fused["a"] == pytest.approx(2 / 61 + 1 / 62) and fused["a"] > fused["b"]


@pytest.mark.parametrize("method", ["rrf", "combsum", "combmnz"])
def test_weights_are_refused_by_methods_that_would_ignore_them(method):
    from rerankit.retrieve.bm25 import BM25
    from rerankit.retrieve.fusion import Fusion

    a = Run.from_dict({"q": {"a": 1.0, "b": 0.5}})
    b = Run.from_dict({"q": {"b": 1.0, "a": 0.5}})
    message = f"'weights' are taken by method 'weighted' only .*method '{method}'"
    with pytest.raises(ValueError, match=message):
        fuse([a, b], method=method, weights=[1.0, 0.0])
    with pytest.raises(ValueError, match=message):
        Fusion([BM25(), BM25()], method=method, weights=[1.0, 0.0])
