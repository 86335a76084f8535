"""Top-k BM25 retrieval over the documents a query matches, for bm25s' eager index.

bm25s scores a query into a fresh dense array of every document's score and scans all of
them with a heap, so its cost grows with the collection even when a query's terms occur in
a few hundred documents. Documents without a query term score 0 and rerankit leaves them
out of a run anyway, so this kernel visits only the postings of the query's terms:

* scores add up per document in the same order as bm25s' own kernel (term by term, then
  posting by posting, in float32), so every score is bit-identical to bm25s';
* the documents touched are remembered and only they are read and reset for the next
  query; a query with as many postings as there are documents scans them all instead;
* the k best are chosen by (score desc, document id desc): trec_eval's order, so a cut at
  depth k keeps exactly the documents trec_eval would rank first, where bm25s keeps an
  arbitrary subset of those tied at the k-th score.

Each candidate becomes one 64-bit key, the float32 score's bits (monotone for positive
floats) above the document's tie rank, so a min-heap of k unique integers gives that order.
Only positive scores are kept: a term with a negative idf (Robertson's formula for terms in
most documents) can push a matched document to 0 or below, where bm25s would rank it under
every unmatched one.

The function is plain Python; :func:`rerankit.retrieve.bm25.cache_numba_kernels` jits it
with numba's disk cache.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc


def tie_ranks(doc_ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(rank of each document, document at each rank) in descending id order: trec_eval
    breaks score ties by document id, highest first (byte order, as ``strcmp``)."""
    by_rank = pc.sort_indices(doc_ids, sort_keys=[("", "descending")]).to_numpy()
    rank = np.empty(len(doc_ids), dtype=np.int64)
    rank[by_rank] = np.arange(len(doc_ids))
    return rank, by_rank.astype(np.int64)


def query_terms(token_ids: list[list[int]], num_terms: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat term ids and each query's start (``starts[i]:starts[i+1]``), terms outside the
    index's vocabulary dropped as bm25s drops them."""
    lengths = np.fromiter((len(query) for query in token_ids), dtype=np.int64,
                          count=len(token_ids))
    flat = np.fromiter((term for query in token_ids for term in query), dtype=np.int64,
                       count=int(lengths.sum()))
    known = (flat >= 0) & (flat < num_terms)
    query_of_term = np.repeat(np.arange(len(token_ids)), lengths)[known]
    starts = np.searchsorted(query_of_term, np.arange(len(token_ids) + 1))
    return flat[known], starts.astype(np.int64)


def matched_top_k(terms, starts, k, capacity, data, indptr, indices, tie_rank, doc_at_rank):
    """The ``k`` best positively scored documents of every query (1 <= k <= the number of
    documents, fewer than 2**32 documents: a key keeps the tie rank in its low 32 bits;
    ``capacity`` rows at least: the sum over queries of min(k, postings)).

    Returns flat arrays (query position, document position, the float32 score's bits),
    each query's rows in trec_eval order, queries in input order.
    """
    num_queries = len(starts) - 1
    num_docs = len(tie_rank)
    lowest = np.uint64(num_docs - 1)
    low_bits = np.uint64(0xFFFFFFFF)
    scores = np.zeros(num_docs, dtype=np.float32)
    signed_bits = scores.view(np.int32)
    seen = np.zeros(num_docs, dtype=np.bool_)
    touched = np.empty(num_docs, dtype=np.int64)
    heap = np.empty(k, dtype=np.uint64)
    out_query = np.empty(capacity, dtype=np.int64)
    out_doc = np.empty(capacity, dtype=np.int64)
    out_bits = np.empty(capacity, dtype=np.uint32)
    filled = 0
    for query in range(num_queries):
        postings = 0
        for position in range(starts[query], starts[query + 1]):
            postings += indptr[terms[position] + 1] - indptr[terms[position]]
        # as many postings as documents: scan them all rather than track those touched
        dense = postings >= num_docs
        matched = num_docs if dense else 0
        for position in range(starts[query], starts[query + 1]):
            term = terms[position]
            for posting in range(indptr[term], indptr[term + 1]):
                doc = indices[posting]
                scores[doc] += data[posting]
                if not dense and not seen[doc]:
                    seen[doc] = True
                    touched[matched] = doc
                    matched += 1
        # keys of the positively scored documents; once there are k, only those that beat
        # the smallest kept are collected (a min-heap of k, sorted when first full). As
        # signed integers, float32 bits order every score; 0, -0.0 and negatives are < 1.
        size, floor = 0, 1
        for i in range(matched):
            doc = i if dense else touched[i]
            bits = signed_bits[doc]
            if not dense:
                scores[doc] = 0
                seen[doc] = False
            if bits < floor:
                continue
            key = (np.uint64(bits) << np.uint64(32)) | (lowest - np.uint64(tie_rank[doc]))
            if size < k:
                heap[size] = key
                size += 1
                if size == k:
                    heap[:] = np.sort(heap)
                    floor = np.int32(heap[0] >> np.uint64(32))
            elif key > heap[0]:
                parent = 0
                while True:
                    child = 2 * parent + 1
                    if child >= k:
                        break
                    if child + 1 < k and heap[child + 1] < heap[child]:
                        child += 1
                    if heap[child] >= key:
                        break
                    heap[parent] = heap[child]
                    parent = child
                heap[parent] = key
                floor = np.int32(heap[0] >> np.uint64(32))
        if dense:
            scores[:] = 0
        best = np.sort(heap[:size])[::-1]
        for i in range(size):
            out_query[filled + i] = query
            out_doc[filled + i] = doc_at_rank[lowest - (best[i] & low_bits)]
            out_bits[filled + i] = np.uint32(best[i] >> np.uint64(32))
        filled += size
    return out_query[:filled], out_doc[:filled], out_bits[:filled]
