"""BM25 on real collections: scores against an independent implementation of Lucene's
formula and against rank-bm25 itself, published SciFact figures, persistence, bad input."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rerankit import datasets, evaluate
from rerankit.data.corpus import Document, InMemoryCorpus
from rerankit.data.queries import Queries
from rerankit.errors import InputFormatError
from rerankit.retrieve.bm25 import BM25


@pytest.fixture(scope="module")
def cranfield():
    return datasets.load("cranfield")


def lucene_scores(doc_tokens: list[list[str]], query: list[str], k1: float, b: float):
    """Lucene BM25 written from its formula, independently of bm25s."""
    n = len(doc_tokens)
    avgdl = sum(map(len, doc_tokens)) / n
    df = Counter(t for tokens in doc_tokens for t in set(tokens))
    scores = np.zeros(n)
    for i, tokens in enumerate(doc_tokens):
        tf = Counter(tokens)
        for term in query:  # a repeated query term counts each time, as in Lucene
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                scores[i] += idf * tf[term] / (tf[term] + k1 * (1 - b + b * len(tokens) / avgdl))
    return scores


def test_bm25s_lucene_equals_the_formula_on_cranfield(cranfield):
    retriever = BM25(k1=1.2, b=0.75, on_empty="skip").index(cranfield.corpus)
    queries = cranfield.queries.subset(list(cranfield.queries.ids)[:15])
    run = retriever.retrieve(queries, k=20)
    tokenizer = retriever._new_tokenizer()
    docs = [d for d in cranfield.corpus if d.full_text.strip()]
    doc_tokens = tokenizer.tokenize([d.full_text for d in docs], return_as="string",
                                    show_progress=False)
    query_tokens = tokenizer.tokenize(list(queries.texts), update_vocab=False,
                                      return_as="string", show_progress=False)
    ids = np.array([d.id for d in docs])
    got = run.to_dict()
    for qid, tokens in zip(queries.ids, query_tokens, strict=True):
        expected = lucene_scores(doc_tokens, tokens, 1.2, 0.75)
        top = np.argsort(-expected, kind="stable")[:20]
        assert set(got[qid]) <= set(ids[expected > 0])
        for doc, score in got[qid].items():
            assert score == pytest.approx(expected[np.flatnonzero(ids == doc)[0]], rel=1e-5)
        assert sorted(got[qid].values(), reverse=True)[:5] == pytest.approx(
            list(expected[top[:5]]), rel=1e-5)


def test_rank_bm25_engine_equals_rank_bm25(cranfield):
    import rank_bm25

    retriever = BM25(engine="rank-bm25", variant="okapi", on_empty="skip").index(
        cranfield.corpus)
    tokenizer = retriever._new_tokenizer()
    docs = [d for d in cranfield.corpus if d.full_text.strip()]
    doc_tokens = tokenizer.tokenize([d.full_text for d in docs], return_as="string",
                                    show_progress=False)
    reference = rank_bm25.BM25Okapi(doc_tokens, k1=1.5, b=0.75)
    queries = cranfield.queries.subset(["1", "2", "3"])
    run = retriever.retrieve(queries, k=10).to_dict()
    for qid, text in queries.items():
        tokens = tokenizer.tokenize([text], update_vocab=False, return_as="string",
                                    show_progress=False)[0]
        scores = reference.get_scores(tokens)
        for doc, score in run[qid].items():
            assert score == pytest.approx(scores[[d.id for d in docs].index(doc)])


def test_scifact_matches_published_bm25s_figures():
    """xhluca/bm25-benchmarks reports SciFact nDCG@10 68.7 (Lucene, k1=1.5, b=0.75) and
    67.6 (k1=0.9, b=0.4) with stemming and stopwords; BEIR's Anserini BM25 is 0.665."""
    ds = datasets.load("scifact")
    queries = ds.judged_queries()
    default = evaluate(ds.qrels, BM25().index(ds.corpus).retrieve(queries, 100),
                       ["ndcg_cut_10"])["ndcg_cut_10"]
    anserini_params = evaluate(ds.qrels, BM25(k1=0.9, b=0.4).index(ds.corpus).retrieve(
        queries, 100), ["ndcg_cut_10"])["ndcg_cut_10"]
    assert abs(default - 0.687) < 0.01 and abs(anserini_params - 0.676) < 0.01
    assert abs(default - 0.665) < 0.03


def test_save_and_load_give_identical_runs(cranfield, tmp_path):
    queries = cranfield.queries.subset(["1", "5", "9"])
    for engine in ("bm25s", "rank-bm25"):
        retriever = BM25(engine=engine, on_empty="skip").index(cranfield.corpus)
        folder = retriever.save(tmp_path / engine)
        loaded = BM25.load(folder)
        assert loaded.retrieve(queries, 50).to_dict() == retriever.retrieve(queries, 50).to_dict()
    (tmp_path / "bm25s" / "rerankit.json").write_text('{"format": 99}')
    with pytest.raises(InputFormatError, match="index format 99 is not supported"):
        BM25.load(tmp_path / "bm25s")


def test_save_replaces_only_a_folder_holding_nothing_but_its_index(cranfield, tmp_path):
    """The tester's repro: a note added to a saved index, or a file inside its bm25s
    folder, makes it the user's folder; a fake rerankit.json does not make the user's files
    the index's. Each save is refused, naming the file, and deletes nothing."""
    from rerankit.errors import OutputWriteError

    small = InMemoryCorpus([Document("a", "wing flutter"), Document("b", "boundary layer")])
    for engine in ("bm25s", "rank-bm25"):
        retriever = BM25(engine=engine).index(small)
        folder = tmp_path / engine
        retriever.save(folder)
        retriever.save(folder)                          # its own index: replaced
        (folder / "MY_NOTES.txt").write_text("mine")
        with pytest.raises(OutputWriteError, match=r"did not write \(MY_NOTES\.txt\)"):
            retriever.save(folder)
        assert (folder / "MY_NOTES.txt").read_text() == "mine"
        assert BM25.load(folder).doc_ids.to_pylist() == ["a", "b"]
    (tmp_path / "bm25s" / "MY_NOTES.txt").unlink()
    (tmp_path / "bm25s" / "bm25s" / "draft.txt").write_text("mine")
    with pytest.raises(OutputWriteError, match=r"\(bm25s/draft\.txt\)"):
        retriever.save(tmp_path / "bm25s")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "rerankit.json").write_text('{"format": 1}')   # no list of the index's files
    (fake / "doc_ids.json").write_text("my ids")
    with pytest.raises(OutputWriteError, match=r"\(doc_ids\.json\)"):
        retriever.save(fake)
    assert (fake / "doc_ids.json").read_text() == "my ids"


def test_bad_input_is_named():
    with pytest.raises(InputFormatError, match="corpus is empty"):
        BM25().index([])
    with pytest.raises(InputFormatError, match="duplicate document id 'a'"):
        BM25().index([Document("a", "x y"), Document("a", "z")])
    with pytest.raises(InputFormatError, match="document 'b' has no text"):
        BM25().index([Document("a", "x y"), Document("b", "  ")])
    kept = BM25(on_empty="skip").index([Document("a", "x y"), Document("b", "  ")])
    assert kept.doc_ids.to_pylist() == ["a"]
    retriever = BM25().index(InMemoryCorpus([Document("a", "wing flutter"),
                                             Document("b", "heat transfer")]))
    with pytest.raises(InputFormatError, match="query 'q2' has empty text"):
        retriever.retrieve(Queries(("q1", "q2"), ("wing", "  ")))
    with pytest.raises(ValueError, match="variant 'okapi' is not one of bm25s'"):
        BM25(variant="okapi")
    for bad, words in ((dict(k1=float("nan")), "k1 must be a finite number >= 0, got nan"),
                       (dict(k1=float("inf")), "k1 must be a finite number >= 0, got inf"),
                       (dict(b=1.5), "b must be a number from 0 to 1"),
                       (dict(delta=float("nan")), "delta must be a finite number >= 0"),
                       (dict(stemmer="klingon"), "unknown stemmer 'klingon'; PyStemmer's"),
                       (dict(stopwords="xx"), "unknown stopword language 'xx'; known: en")):
        with pytest.raises(ValueError, match=words):
            BM25(**bad)
    run = retriever.retrieve(Queries(("q1",), ("the of and",)), k=5)
    assert len(run) == 0   # only stopwords: nothing matches, nothing is made up


def test_the_stopword_languages_rerankit_accepts_are_those_bm25s_knows():
    """rerankit checks the language before bm25s sees it: the names it lists must be ones
    bm25s' tokenizer takes (and a wrong one is refused by both)."""
    from bm25s.tokenization import Tokenizer

    from rerankit.retrieve.bm25_params import STOPWORD_LANGUAGES

    for language in STOPWORD_LANGUAGES:
        assert Tokenizer(stopwords=language).stopwords
    with pytest.raises(ValueError):
        Tokenizer(stopwords="xx")


def test_cached_kernels_equal_plain_bm25s_and_compile_once_per_machine(cranfield, tmp_path):
    """rerankit's top-k kernel keeps bm25s' own numbers (a fresh bm25s model with its
    uncached kernels, same tokens): the same scores bit for bit and the same documents
    above each query's k-th score (at it, bm25s keeps an arbitrary subset of the tied);
    a second process loads the disk-cached kernel instead of compiling it."""
    import os
    import subprocess
    import sys

    import bm25s

    from rerankit.retrieve.base import documents_to_index

    retriever = BM25(on_empty="skip", quiet=True).index(cranfield.corpus)
    queries = cranfield.queries.subset(list(cranfield.queries.ids)[:40])
    ours = retriever.retrieve(queries, k=50).to_dict()
    plain = bm25s.BM25(k1=1.5, b=0.75, method="lucene", backend="numba")
    ids, texts = documents_to_index(cranfield.corpus, on_empty="skip")
    tokenizer = retriever._new_tokenizer()
    plain.index(tokenizer.tokenize(list(texts), return_as="tuple", show_progress=False),
                show_progress=False)
    indices, scores = plain.retrieve(
        tokenizer.tokenize(list(queries.texts), update_vocab=False, return_as="ids",
                           show_progress=False), k=50, show_progress=False)
    for qid, docs, values in zip(queries.ids, indices, scores, strict=True):
        keep = values > 0
        assert sorted(ours[qid].values()) == sorted(values[keep].astype(np.float64))
        above = values > values[keep].min()
        assert set(np.asarray(ids)[docs[above]]) == {
            doc for doc, score in ours[qid].items() if score > values[keep].min()}

    script = ("from rerankit import datasets; from rerankit.retrieve import bm25; "
              "d = datasets.load('cranfield'); bm25.BM25(on_empty='skip', quiet=True)"
              ".index(d.corpus).retrieve(d.queries, k=10); "
              "print(sum(bm25._cached_kernels['top_k'].stats.cache_hits.values()))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    hits = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split()[-1] for _ in range(2)]
    assert hits == ["0", "1"]          # compiled (and written) once, then loaded
    assert any((tmp_path / "numba").rglob("*.nbi"))


@pytest.mark.parametrize("variant,stopwords", [("lucene", "en"), ("lucene", None),
                                               ("robertson", None), ("atire", "en")])
def test_top_k_is_trec_eval_order_of_bm25s_dense_scores(cranfield, variant, stopwords):
    """Each query's rows are the k best positive scores of bm25s' dense scorer
    (``get_scores_from_ids``, which scores every document), bit for bit, in trec_eval's
    order: score descending, then document id descending, including which of the
    documents tied at the k-th score are kept. Cranfield's long queries take both of the
    kernel's paths (as many postings as documents: it scans them all); without stopwords
    Robertson's idf is negative for the commonest terms (matched documents at or below 0
    are left out)."""
    retriever = BM25(variant=variant, stopwords=stopwords, on_empty="skip",
                     quiet=True).index(cranfield.corpus)
    k = 10
    run = retriever.retrieve(cranfield.queries, k=k)
    ids = retriever.doc_ids.to_pylist()
    tokens = retriever._tokenizer.tokenize(list(cranfield.queries.texts), update_vocab=False,
                                           return_as="ids", show_progress=False)
    rows: dict[str, list] = {}
    for qid, doc, score in zip(run.qid.to_pylist(), run.docid.to_pylist(), run.score,
                               strict=True):
        rows.setdefault(qid, []).append((doc, score))
    indptr = retriever._model.scores["indptr"]
    scanned = tied_at_cut = 0
    for qid, query in zip(cranfield.queries.ids, tokens, strict=True):
        full = np.asarray(retriever._model.get_scores_from_ids(query), dtype=np.float32)
        ranked = sorted(np.flatnonzero(full > 0), key=lambda d: (full[d], ids[d]),
                        reverse=True)
        assert rows.get(qid, []) == [(ids[d], float(full[d])) for d in ranked[:k]]
        tied_at_cut += len(ranked) > k and full[ranked[k - 1]] == full[ranked[k]]
        scanned += sum(indptr[t + 1] - indptr[t] for t in query) >= len(ids)
    assert tied_at_cut > 0 or stopwords is None   # stopwords in a query rarely tie
    assert scanned > 0 and (stopwords is None or scanned < len(tokens))  # both paths


def test_queries_in_chunks_give_the_same_run(cranfield, monkeypatch):
    """The kernel runs on chunks of queries (bounded output arrays); the chunk edges change
    nothing, and a query without a known term gets no rows."""
    from rerankit.retrieve import bm25

    retriever = BM25(on_empty="skip", quiet=True).index(cranfield.corpus)
    queries = Queries(("unknown", *cranfield.queries.ids[:30]),
                      ("zzxqv qqzzx", *cranfield.queries.texts[:30]))
    whole = retriever.retrieve(queries, k=20)
    monkeypatch.setattr(bm25, "QUERIES_PER_CALL", 7)
    chunked = retriever.retrieve(queries, k=20)
    assert chunked.to_dict() == whole.to_dict()
    assert chunked.qid.to_pylist() == whole.qid.to_pylist()
    assert "unknown" not in whole.to_dict() and len(whole.to_dict()) == 30


def test_a_query_without_a_known_term_matches_no_document(cranfield):
    """bm25s' tokenizer gives a text without an indexable word (only stopwords, one-letter
    words, punctuation) the empty token "", a document and a query alike; the query must
    not match such documents through it: neither shares a term with the other. Cranfield
    plus two such documents; a real query still scores them 0 (no shared term); rerankit's
    top-k kernel and bm25s' own (numpy backend) alike."""
    docs = [d for d in cranfield.corpus if d.full_text.strip()]
    extra = [Document("only-stopwords", "The of and"), Document("only-symbols", "1 + 2 = 3 ?")]
    queries = Queries(("unknown", "stopwords", "1"),
                      ("zzxqv qqzzx", "the of and", cranfield.queries.texts[0]))
    for variant, backend in [("lucene", "numba"), ("robertson", "numba"), ("atire", "numba"),
                             ("lucene", "numpy")]:
        retriever = BM25(variant=variant, backend=backend, quiet=True).index(
            InMemoryCorpus(docs + extra))
        run = retriever.retrieve(queries, k=len(docs) + 2).to_dict()
        assert "unknown" not in run and "stopwords" not in run
        assert not {"only-stopwords", "only-symbols"} & set(run["1"])
        for _, text in list(queries.items())[:2]:
            assert not retriever.corpus_scores(text).any()


@pytest.mark.parametrize("variant", ["bm25l", "bm25+"])
def test_bm25l_and_bm25plus_add_nothing_for_unknown_words(cranfield, variant):
    """BM25L and BM25+ also score a document without any query term (their formulas give
    an absent term a positive weight), so every document is returned; a document without
    an indexable word must score exactly that, not more through the empty token it shares
    with a query's unknown words; a query without a known word gets no rows (numba and
    numpy backends alike)."""
    docs = [d for d in cranfield.corpus if d.full_text.strip()]
    extra = [Document("only-stopwords", "The of and"), Document("only-symbols", "1 + 2 = 3 ?")]
    queries = Queries(("unknown", "mixed"), ("zzxqv qqzzx", "flutter zzxqv"))
    for backend in ("numba", "numpy"):
        retriever = BM25(variant=variant, backend=backend, quiet=True).index(
            InMemoryCorpus(docs + extra))
        run = retriever.retrieve(queries, k=len(docs) + 2).to_dict()
        assert "unknown" not in run
        lowest = min(run["mixed"].values())       # a document without "flutter"
        assert run["mixed"]["only-stopwords"] == run["mixed"]["only-symbols"] == lowest
        assert not retriever.corpus_scores("zzxqv qqzzx").any()


def test_pickled_retriever_retrieves_the_same(cranfield):
    """A retriever pickled (as when shipped to another process) with the default Snowball
    stemmer, before and after its first retrieve, gives the same run; the original keeps
    stemming."""
    import pickle

    queries = cranfield.queries.subset(list(cranfield.queries.ids)[:20])
    for engine in ("bm25s", "rank-bm25"):
        retriever = BM25(engine=engine, on_empty="skip", quiet=True).index(cranfield.corpus)
        before = pickle.loads(pickle.dumps(retriever))
        expected = retriever.retrieve(queries, k=30).to_dict()
        after = pickle.loads(pickle.dumps(retriever))
        assert before.retrieve(queries, k=30).to_dict() == expected
        assert after.retrieve(queries, k=30).to_dict() == expected
        assert retriever.retrieve(queries, k=30).to_dict() == expected


def test_top_k_kernel_equals_a_brute_force_ranking_on_random_indexes():
    """The kernel against a plain re-computation on 1,000 random small indexes: float32
    postings with ties, zeros and negatives, non-ASCII and mixed-case document ids,
    queries with repeated, unknown or no terms, every k from 1 to the collection size
    (small collections take the scanning path, sparse queries the tracking one). Expected:
    the float32 sums in bm25s' order, positive ones only, by score descending then id
    descending in byte order (trec_eval's strcmp), the first k."""
    import pyarrow as pa

    from rerankit.retrieve import bm25
    from rerankit.retrieve.bm25_top_k import query_terms, tie_ranks

    bm25.cache_numba_kernels()
    kernel = bm25._cached_kernels["top_k"]
    rng = np.random.default_rng(7)
    values = np.array([0.5, 1.0, 1.5, 2.0, 0.0, -0.5, -1.0], dtype=np.float32)
    for _ in range(1000):
        num_docs, num_terms = int(rng.integers(1, 14)), int(rng.integers(1, 6))
        postings = [np.sort(rng.choice(num_docs, int(rng.integers(0, num_docs + 1)),
                                       replace=False)) for _ in range(num_terms)]
        indptr = np.cumsum([0, *map(len, postings)]).astype(np.int64)
        indices = np.concatenate(postings).astype(np.int32)
        data = rng.choice(values, len(indices)).astype(np.float32)
        ids = [f"{rng.choice(['a', 'B', 'ab', 'é', 'z', '10', '9'])}{i}" for i in
               rng.permutation(num_docs)]
        queries = [list(rng.integers(0, num_terms + 2, int(rng.integers(0, 6))))
                   for _ in range(int(rng.integers(1, 5)))]
        k = int(rng.integers(1, num_docs + 1))
        terms, starts = query_terms(queries, num_terms)
        query, doc, bits = kernel(terms, starts, k, len(queries) * k, data, indptr, indices,
                                  *tie_ranks(pa.array(ids)))
        got = [(int(q), ids[d], float(s)) for q, d, s in zip(query, doc, bits.view(np.float32),
                                                             strict=True)]
        expected = []
        for position, terms_of_query in enumerate(queries):
            scores = np.zeros(num_docs, dtype=np.float32)
            for term in terms_of_query:
                if term < num_terms:
                    for row in range(indptr[term], indptr[term + 1]):
                        scores[indices[row]] += data[row]
            ranked = sorted((d for d in range(num_docs) if scores[d] > 0),
                            key=lambda d: (scores[d], ids[d].encode()), reverse=True)
            expected += [(position, ids[d], float(scores[d])) for d in ranked[:k]]
        assert got == expected
