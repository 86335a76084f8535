"""Shared fixtures: the real collections shipped in rerankit/datasets."""

from __future__ import annotations

import os
import tempfile

import pytest

# ir_datasets caches document stores under its home folder: keep tests out of ~/.ir_datasets.
os.environ["IR_DATASETS_HOME"] = tempfile.mkdtemp(prefix="rerankit-irds-")

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
