"""Random small runs with many ties and graded labels, checked against pytrec_eval."""

from __future__ import annotations

import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from rerankit.data.run import Run
from rerankit.evaluation.evaluator import evaluate as evaluate_any


def evaluate(*args, **options):
    """pytrec_eval holds trec_eval 9.0.x's C code: compare with rerankit's compat 9."""
    return evaluate_any(*args, compat="9", **options)

MEASURES = {"map", "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P", "recall", "ndcg",
            "ndcg_cut", "map_cut", "success", "num_rel_ret", "num_ret", "num_rel"}
DOCS = [f"d{i}" for i in range(12)] + ["D1", "d10a", "é", "Z"]

# trec_eval itself misbehaves (reads before an array) when every grade of a query is
# negative, so each generated query has at least one grade >= 0.
grades = st.dictionaries(st.sampled_from(DOCS), st.integers(-1, 3), min_size=1,
                         max_size=10).filter(lambda g: max(g.values()) >= 0)
scores = st.dictionaries(st.sampled_from(DOCS), st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0,
                                                                 -3.25, 1e-9, 7.0]),
                         min_size=1, max_size=14)


@settings(max_examples=150, deadline=None)
@given(qrels=st.dictionaries(st.sampled_from(["q1", "q2", "10", "2"]), grades, min_size=1,
                             max_size=4),
       run=st.dictionaries(st.sampled_from(["q1", "q2", "10", "2", "x"]), scores, min_size=1,
                           max_size=5),
       level=st.integers(1, 3), judged_only=st.booleans())
def test_random_runs_match_pytrec_eval(qrels, run, level, judged_only):
    if not set(qrels) & set(run):
        return
    ref = pytrec_eval.RelevanceEvaluator(qrels, MEASURES, relevance_level=level,
                                         judged_docs_only_flag=judged_only).evaluate(run)
    ours = evaluate(qrels, run, sorted(MEASURES), relevance_level=level,
                    judged_only=judged_only).per_query
    for qid, values in ref.items():
        for name, value in values.items():
            if name.startswith("iprec_at_recall") and ours[qid]["num_ret"] == 0:
                continue  # trec_eval divides 0 by 0 here; rerankit reports 0 (documented)
            assert ours[qid][name] == value, (qid, name, ours[qid][name], value)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), qrels=st.dictionaries(st.sampled_from(["q1", "q2", "10"]), grades,
                                              min_size=1, max_size=3))
def test_ranked_runs_with_ties_in_any_order_match_pytrec_eval(data, qrels):
    """Runs as files hold them: query by query, scores descending, tied documents in any
    order (trec_eval's is document id descending), which rerankit settles without sorting
    the run; and the same rows shuffled, which it sorts."""
    qids, docids, values = [], [], []
    for qid in data.draw(st.permutations(sorted(set(qrels) | {"x"}))):
        docs = data.draw(st.lists(st.sampled_from(DOCS), unique=True, min_size=1))
        levels = data.draw(st.lists(st.sampled_from([2.0, 1.0, 1e-9, 0.0, -0.0, -1.0]),
                                    min_size=len(docs), max_size=len(docs)))
        order = sorted(range(len(docs)), key=lambda i: -levels[i])  # stable: ties as drawn
        qids += [qid] * len(docs)
        docids += [docs[i] for i in order]
        values += [levels[i] for i in order]
    run: dict[str, dict[str, float]] = {}
    for qid, docid, value in zip(qids, docids, values, strict=True):
        run.setdefault(qid, {})[docid] = value
    ref = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(run)
    shuffle = data.draw(st.permutations(range(len(qids))))
    for rows in (range(len(qids)), shuffle):
        ranked = Run.from_arrays([qids[i] for i in rows], [docids[i] for i in rows],
                                 [values[i] for i in rows])
        ours = evaluate(qrels, ranked, sorted(MEASURES)).per_query
        for qid, expected in ref.items():
            for name, value in expected.items():
                if name.startswith("iprec_at_recall") and ours[qid]["num_ret"] == 0:
                    continue
                assert ours[qid][name] == value, (qid, name, ours[qid][name], value)
