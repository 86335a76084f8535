"""Small real test collections shipped with rerankit (see each folder's SOURCE.txt).

They make the quick start, the tests and the demos work offline on a fresh clone:
SciFact (BEIR, CC BY-NC 2.0: non-commercial use), Cranfield, Vaswani (TREC SGML),
TREC 2005 AQUAINT judgements with two real 1000-deep runs, TREC DL 2019/2020 qrels,
TREC Session 2014 sessions with clicks and labels (GraphCM export).
"""

from __future__ import annotations

from pathlib import Path

from rerankit.data.loaders import Dataset, load_beir, load_trec

ROOT = Path(__file__).parent

EMBEDDED = ("scifact", "cranfield", "vaswani", "aquaint", "trec-dl", "trec-session-2014")


def path(name: str) -> Path:
    """Folder of an embedded collection."""
    folder = ROOT / name
    if name not in EMBEDDED or not folder.is_dir():
        raise KeyError(f"unknown embedded dataset '{name}'; available: {', '.join(EMBEDDED)}")
    return folder


def load(name: str, split: str = "test") -> Dataset:
    """Load an embedded collection with documents (scifact, cranfield, vaswani)."""
    if name in ("scifact", "cranfield"):
        return load_beir(path(name), split)
    if name == "vaswani":
        folder = path(name)
        return load_trec(folder / "doc-text.trec", folder / "query-text.trec", folder / "qrels",
                         name="vaswani")
    raise KeyError(f"'{name}' has no documents to load; use rerankit.datasets.path('{name}')")
