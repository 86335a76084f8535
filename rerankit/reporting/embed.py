"""The drill-down's data, embedded in the page as columns (JSON arrays), so that even
large runs load fast: per dataset the compared queries and the documents that appear in
any run's embedded rows (id, title, a text snippet), per run its top rows per query
(document, score, grade, and each stage's score and rank where the folder has them) and its
per-query values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rerankit.data import arrow_compute as pc
from rerankit.reporting.analysis import EMBEDDED_DEPTH, Group, RunView

SNIPPET_CHARS = 240


def payload(groups: list[Group], measure: str) -> dict:
    """Everything the page's script needs, JSON-ready."""
    return {"measure": measure, "depth": EMBEDDED_DEPTH,
            "groups": [_group(g) for g in groups]}


def _group(group: Group) -> dict:
    docids = pc.unique(pa.chunked_array([v.top.docid.cast(pa.string()) for v in group.runs]))
    queries = group.collection.queries
    return {
        "name": group.name,
        "queries": group.query_ids,
        "texts": None if queries is None else [queries.get(q, "") for q in group.query_ids],
        "docs": _documents(group, docids),
        "runs": [_run(v, group.query_ids, docids) for v in group.runs],
    }


def _documents(group: Group, docids: pa.Array) -> dict:
    ids = docids.to_pylist()
    corpus = group.collection.corpus
    if corpus is None:
        return {"ids": ids, "titles": None, "snippets": None}
    titles, snippets = [], []
    for docid in ids:
        if docid in corpus:
            doc = corpus[docid]
            titles.append(doc.title)
            snippets.append(_snippet(doc.text))
        else:
            titles.append("")
            snippets.append(None)
    return {"ids": ids, "titles": titles, "snippets": snippets}


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _run(view: RunView, query_ids: list[str], docids: pa.Array) -> dict:
    top = view.top
    codes = pc.index_in(top.qid, value_set=pa.array(query_ids, pa.string())).to_numpy(
        zero_copy_only=False)
    offsets = np.searchsorted(codes, np.arange(len(query_ids) + 1))
    return {
        "name": view.result.name,
        "colour": view.colour,
        "values": _floats(view.values),
        "ndcg": _floats(view.ndcg),
        "condensed": _floats(view.condensed),
        "unjudged": _floats(view.unjudged),
        "offsets": offsets.tolist(),
        "doc": pc.index_in(top.docid, value_set=docids).to_numpy(zero_copy_only=False).tolist(),
        "score": _floats(top.score),
        "grade": _floats(view.grades),
        "stages": [{"label": label, "score": _floats(scores), "rank": ranks.tolist()}
                   for label, scores, ranks in view.stage_scores],
    }


def _floats(values: np.ndarray) -> list[float | None]:
    """A float array as a JSON list, NaN as null."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isnan(values).any():
        return values.tolist()
    return np.where(np.isnan(values), None, values).tolist()
