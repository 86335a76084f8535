"""Data model (queries, corpus, qrels, runs) and readers/writers for common formats."""

from rerankit.data.corpus import Corpus, Document, InMemoryCorpus, open_corpus
from rerankit.data.loaders import Dataset, load_beir, load_trec, read_queries
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.data.trec import read_qrels, read_run, write_qrels, write_run

__all__ = ["Corpus", "Dataset", "Document", "InMemoryCorpus", "Qrels", "Queries", "Run",
           "load_beir", "load_trec", "open_corpus", "read_qrels", "read_queries", "read_run",
           "write_qrels", "write_run"]
