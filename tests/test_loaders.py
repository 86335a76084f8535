"""Loaders on the shipped real collections: BEIR folders, TREC SGML/topics, ir_datasets."""

from __future__ import annotations

import gzip
import shutil

import pytest

from rerankit import datasets
from rerankit.data.corpus import JsonlCorpus, TrecSgmlCorpus, open_corpus
from rerankit.data.loaders import load_beir, read_queries
from rerankit.errors import InputFormatError


def test_scifact_beir_folder_matches_its_source_notes():
    ds = datasets.load("scifact")
    assert len(ds.corpus) == 5183 and len(ds.queries) == 1109 and len(ds.qrels) == 339
    assert len(ds.judged_queries()) == 300
    assert all(d in ds.corpus for d in ds.qrels.docid.to_pylist())
    doc = ds.corpus["4983"]
    assert doc.title.startswith("Microstructural development of human newborn")
    assert doc.full_text.startswith(doc.title + " Alterations of the architecture")
    with gzip.open(datasets.path("scifact") / "topics.test.anserini.tsv.gz", "rt") as f:
        first_id, first_text = f.readline().rstrip("\n").split("\t")
    assert ds.queries[first_id] == first_text


def test_lazy_corpus_iterates_in_file_order_and_reports_unknown_ids():
    corpus = JsonlCorpus.open(datasets.path("cranfield") / "corpus.jsonl")
    ids = [d.id for d in corpus]
    assert ids == corpus.ids and len(ids) == 1400
    with pytest.raises(KeyError, match="unknown document id 'nope'"):
        corpus["nope"]


def test_vaswani_trec_sgml_documents_and_topics():
    ds = datasets.load("vaswani")
    assert isinstance(ds.corpus, TrecSgmlCorpus)
    assert len(ds.corpus) == 11429 and len(ds.queries) == 93 and len(ds.qrels) == 2083
    assert ds.corpus["1"].text.startswith("compact memories have flexible capacities")
    assert ds.queries["1"] == ("MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF "
                               "MICROWAVE TECHNIQUES")


def test_trec_dl_topics_tsv():
    queries = read_queries(datasets.path("trec-dl") / "topics.dl19-passage.txt")
    assert len(queries) == 43 and queries["156493"] == "do goldfish grow"


def test_bad_collections_give_named_errors(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    with pytest.raises(InputFormatError, match=r"line 2: duplicate document id 'a'"):
        open_corpus(tmp_path / "corpus.jsonl")
    (tmp_path / "nodoc.jsonl").write_text('{"_id": "a", "text": "x"}\n{"text": "y"}\n')
    with pytest.raises(InputFormatError, match=r'line 2: line has no "_id"'):
        open_corpus(tmp_path / "nodoc.jsonl")
    (tmp_path / "q.jsonl").write_text('{"_id": "1", "text": "  "}\n')
    with pytest.raises(InputFormatError, match="query '1' has empty text"):
        read_queries(tmp_path / "q.jsonl")
    with pytest.raises(InputFormatError, match="no qrels for split 'dev'"):
        load_beir(datasets.path("scifact"), split="dev")


def test_ir_datasets_objects_built_on_local_files(tmp_path):
    """ir_datasets' own classes over the shipped files; nothing is downloaded."""
    from ir_datasets.datasets.base import Dataset as IrdsDataset
    from ir_datasets.datasets.beir import (
        BeirDocs,
        BeirQrels,
        BeirQueries,
        BeirTitleDoc,
    )
    from ir_datasets.formats import GenericQuery, TrecDocs, TrecQrels, TsvQueries
    from ir_datasets.util import LocalDownload

    from rerankit.data.irds import load_ir_dataset

    folder = tmp_path / "scifact"  # a copy: ir_datasets may write caches beside its inputs
    shutil.copytree(datasets.path("scifact"), folder)
    scifact = IrdsDataset(
        BeirDocs("scifact", LocalDownload(folder / "corpus.jsonl"), BeirTitleDoc),
        BeirQueries("scifact", LocalDownload(folder / "queries.jsonl"), GenericQuery),
        BeirQrels(LocalDownload(folder / "qrels" / "test.tsv"), {1: "relevant"}),
    )
    ours = load_ir_dataset(scifact, "scifact")
    native = datasets.load("scifact")
    assert ours.qrels.to_dict() == native.qrels.to_dict()
    assert dict(ours.queries) == dict(native.queries)
    assert ours.corpus["4983"] == native.corpus["4983"]

    vaswani = tmp_path / "vaswani"
    shutil.copytree(datasets.path("vaswani"), vaswani)
    native_vaswani = datasets.load("vaswani")
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in native_vaswani.queries.items()))
    trec = IrdsDataset(
        TrecDocs(LocalDownload(vaswani / "doc-text.trec"), parser="sax", content_tags=[],
                 docstore_path=str(tmp_path / "docstore")),
        TsvQueries(LocalDownload(topics)),
        TrecQrels(LocalDownload(vaswani / "qrels"), {1: "relevant"}),
    )
    converted = load_ir_dataset(trec, "vaswani")
    assert converted.corpus.ids == native_vaswani.corpus.ids
    assert converted.qrels.to_dict() == native_vaswani.qrels.to_dict()
    assert dict(converted.queries) == dict(native_vaswani.queries)
