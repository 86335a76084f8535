"""Shared fixtures: the real collections shipped in rerankit/datasets."""

from __future__ import annotations

import os
import tempfile

import pytest

# ir_datasets caches document stores under its home folder: keep tests out of ~/.ir_datasets.
os.environ["IR_DATASETS_HOME"] = tempfile.mkdtemp(prefix="rerankit-irds-")

from pathlib import Path

from rerankit import datasets
from rerankit.data.trec import read_qrels, read_run

AQUAINT = datasets.path("aquaint")


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
