"""Shared fixtures: the real collections shipped in rerankit/datasets."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

# ir_datasets caches document stores under its home folder: keep tests out of ~/.ir_datasets.
os.environ["IR_DATASETS_HOME"] = tempfile.mkdtemp(prefix="rerankit-irds-")

from pathlib import Path

from rerankit import datasets
from rerankit.data.qrels import read_qrels
from rerankit.data.run import read_run

AQUAINT = datasets.path("aquaint")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TREC_EVAL_SOURCE = SHARED / "tools" / "trec_eval-10.0"


@pytest.fixture(scope="session")
def trec_eval(tmp_path_factory) -> Path:
    """The trec_eval 10.0 binary, the evaluator's reference, built once per test session
    from ../shared/tools/trec_eval-10.0 (skipped where that folder, as in a user's clone,
    or a C compiler is absent; CI always has both)."""
    if not TREC_EVAL_SOURCE.is_dir():
        pytest.skip(f"trec_eval 10.0 source not found at {TREC_EVAL_SOURCE} (../shared absent)")
    if not (shutil.which("cc") or shutil.which("gcc")) or not shutil.which("make"):
        pytest.skip("building trec_eval 10.0 needs a C compiler and make")
    folder = tmp_path_factory.mktemp("trec_eval10")
    subprocess.run(["bash", str(SHARED / "tools" / "build-trec-eval"), str(folder)],
                   check=True, capture_output=True)
    return folder / "trec_eval"


@pytest.fixture(scope="session")
def aquaint_qrels():
    return read_qrels(AQUAINT / "trec_aq_303-689.qrels")


@pytest.fixture(scope="session")
def bm25_run():
    return read_run(AQUAINT / "aq_bm25.res")


@pytest.fixture(scope="session")
def lmd_run():
    return read_run(AQUAINT / "aq_lmd.res")


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A 2-layer BERT with random weights and a one-logit head, saved like any HF model."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from rerankit.retrieve.dense import default_model

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = BertTokenizerFast(vocab_file=str(Path(default_model()) / "vocab.txt"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=1,
                        max_position_embeddings=512)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
