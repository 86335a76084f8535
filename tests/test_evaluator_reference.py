"""rerankit's measures (compat="9") against pytrec_eval (trec_eval 9.0.x's C code), real runs.

Values must be identical as doubles, not just close: rerankit sums in trec_eval's order.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.evaluation.evaluator import evaluate as evaluate_any


def evaluate(*args, **options):
    """pytrec_eval holds trec_eval 9.0.x's C code: compare with rerankit's compat 9."""
    return evaluate_any(*args, compat="9", **options)

FAMILIES = ["num_ret", "num_rel", "num_rel_ret", "map", "Rprec", "bpref", "recip_rank",
            "iprec_at_recall", "P", "recall", "ndcg", "ndcg_cut", "map_cut", "success"]
EXTRA_CUTOFFS = ["P.1,3,7", "recall.1,3,1000", "ndcg_cut.1,3,7,1000", "map_cut.1,3",
                 "success.1,3,5,10,100"]
ALL = FAMILIES + EXTRA_CUTOFFS
PYTREC_EXTRA = {"P.1,3,7", "recall.1,3,1000", "ndcg_cut.1,3,7,1000", "map_cut.1,3",
                "success.1,3,5,10,100"}


def reference(qrels: Qrels, run: Run, level: int = 1, judged_only: bool = False) -> dict:
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels.to_dict(), set(FAMILIES) | PYTREC_EXTRA, relevance_level=level,
        judged_docs_only_flag=judged_only)
    return evaluator.evaluate(run.to_dict())


def assert_identical(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs), "different query sets"
    checked = 0
    for qid, values in theirs.items():
        for name, value in values.items():
            assert ours[qid][name] == value, (qid, name, ours[qid][name], value)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("run_name", ["bm25_run", "lmd_run"])
def test_real_runs_match_pytrec_eval(request, aquaint_qrels, run_name, level):
    run = request.getfixturevalue(run_name)
    ours = evaluate(aquaint_qrels, run, ALL, relevance_level=level)
    assert_identical(ours.per_query, reference(aquaint_qrels, run, level))


def test_judged_only_matches_pytrec_eval(aquaint_qrels, bm25_run):
    ours = evaluate(aquaint_qrels, bm25_run, ALL, judged_only=True)
    assert_identical(ours.per_query, reference(aquaint_qrels, bm25_run, judged_only=True))


def test_ties_are_broken_like_trec_eval(aquaint_qrels, bm25_run):
    """Rounding scores to one decimal creates thousands of ties; order must still match."""
    tied = Run(bm25_run.qid, bm25_run.docid, np.round(bm25_run.score, 1), "tied")
    ours = evaluate(aquaint_qrels, tied, ALL)
    assert_identical(ours.per_query, reference(aquaint_qrels, tied))


def test_scores_compared_at_float32_precision(aquaint_qrels, bm25_run):
    """Scores that differ only beyond float32 precision tie in trec_eval (C float)."""
    score = bm25_run.score.copy()
    score[1::2] = np.nextafter(score[0::2][: score[1::2].size], np.inf)  # equal as float32
    run = Run(bm25_run.qid, bm25_run.docid, score, "f32")
    assert_identical(evaluate(aquaint_qrels, run, ALL).per_query,
                     reference(aquaint_qrels, run))


def test_unsorted_input_is_ranked_by_score(aquaint_qrels, bm25_run):
    shuffled = bm25_run.take(np.random.default_rng(7).permutation(len(bm25_run)))
    assert evaluate(aquaint_qrels, shuffled, ALL).per_query == \
        evaluate(aquaint_qrels, bm25_run, ALL).per_query


def test_graded_negative_and_unjudged_labels(aquaint_qrels, bm25_run):
    """Grades -1 ("pooled but unjudged") and 3 behave as in trec_eval."""
    grades = aquaint_qrels.grade.copy()
    grades[::7] = -1
    grades[1::11] = 3
    qrels = Qrels(aquaint_qrels.qid, aquaint_qrels.docid, grades)
    for judged_only in (False, True):
        ours = evaluate(qrels, bm25_run, ALL, judged_only=judged_only)
        assert_identical(ours.per_query, reference(qrels, bm25_run, judged_only=judged_only))


def test_max_docs_equals_evaluating_the_truncated_run(aquaint_qrels, bm25_run):
    ours = evaluate(aquaint_qrels, bm25_run, ALL, max_docs=100)
    assert_identical(ours.per_query, reference(aquaint_qrels, bm25_run.top_k(100)))


def test_average_complete_counts_missing_queries_as_zero(aquaint_qrels, bm25_run):
    kept = [q for q in bm25_run.query_ids if q not in {"303", "307", "310"}]
    partial = bm25_run.take(np.flatnonzero(np.isin(bm25_run.qid.to_numpy(zero_copy_only=False),
                                                   kept)))
    ref = reference(aquaint_qrels, partial)
    all_queries = aquaint_qrels.query_ids
    result = evaluate(aquaint_qrels, partial, ["map", "P_10", "num_rel", "num_ret", "num_q"],
                      average_complete=True)
    assert result.num_queries == len(all_queries) == 50
    expected_map = sum(ref[q]["map"] for q in sorted(ref, key=str.encode) if q in ref) / 50
    assert result.aggregate["map"] == pytest.approx(expected_map, abs=1e-15)
    # num_rel sums over every judged query, including those without results (trec_eval -c)
    assert result.aggregate["num_rel"] == int(np.sum(aquaint_qrels.grade >= 1))
    assert result.aggregate["num_ret"] == len(partial)
    # queries without results are not printed per query, as in trec_eval's own -q -c output
    assert "303" not in result.query_ids and len(result.query_ids) == 47
    default = evaluate(aquaint_qrels, partial, ["map"])
    assert default.num_queries == 47
    assert default.aggregate["map"] == pytest.approx(sum(ref[q]["map"] for q in ref) / 47)


def test_gm_map_is_trec_evals_geometric_mean(aquaint_qrels, lmd_run):
    ref = reference(aquaint_qrels, lmd_run)
    logs = [np.log(max(v["map"], 1e-5)) for v in ref.values()]
    result = evaluate(aquaint_qrels, lmd_run, ["gm_map"])
    assert result.aggregate["gm_map"] == pytest.approx(np.exp(np.mean(logs)), rel=1e-12)


def test_per_query_geometric_means_in_pytrec_evals_shape(aquaint_qrels, lmd_run):
    """compat 9 gives each query gm_map and gm_bpref as pytrec_eval does (the log term of
    the geometric mean); trec_eval 10.0 prints none per query, and neither does compat 10."""
    measures = {"gm_map", "gm_bpref", "map"}
    theirs = pytrec_eval.RelevanceEvaluator(aquaint_qrels.to_dict(), measures).evaluate(
        lmd_run.to_dict())
    ours = evaluate(aquaint_qrels, lmd_run, sorted(measures)).per_query
    assert ours == theirs and len(ours) == 50
    ten = evaluate_any(aquaint_qrels, lmd_run, sorted(measures)).per_query
    assert all(set(values) == {"map"} for values in ten.values())


def test_mrr_at_k_is_reciprocal_rank_within_the_top_k(aquaint_qrels, bm25_run):
    ref = reference(aquaint_qrels, bm25_run.top_k(10))
    result = evaluate(aquaint_qrels, bm25_run, ["MRR@10"])
    for qid, values in result.per_query.items():
        assert values["recip_rank_cut_10"] == ref[qid]["recip_rank"]


def test_ignore_identical_ids_drops_self_matches():
    qrels = Qrels.from_dict({"q1": {"d1": 1, "q1": 1}})
    run = Run.from_dict({"q1": {"q1": 3.0, "d1": 2.0, "d2": 1.0}})
    assert evaluate(qrels, run, ["P_1"]).aggregate["P_1"] == 1.0
    dropped = evaluate(qrels, run, ["P_1", "recall_3"], ignore_identical_ids=True)
    assert dropped.aggregate["P_1"] == 1.0 and dropped.aggregate["recall_3"] == 0.5


def test_hand_worked_example():
    """A ranking worked by hand: rel docs at ranks 1 and 3, R = 3 (grades 2, 1, 1)."""
    qrels = Qrels.from_dict({"q": {"a": 2, "b": 0, "c": 1, "z": 1}})
    run = Run.from_dict({"q": {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}})
    r = evaluate(qrels, run, ["map", "P_2", "recall_4", "ndcg_cut_3", "recip_rank", "Rprec",
                              "bpref"])
    assert r.aggregate["map"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert r.aggregate["P_2"] == 0.5
    assert r.aggregate["recall_4"] == pytest.approx(2 / 3)
    dcg = 2 / np.log2(2) + 1 / np.log2(4)
    idcg = 2 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert r.aggregate["ndcg_cut_3"] == pytest.approx(dcg / idcg)
    assert r.aggregate["recip_rank"] == 1.0
    assert r.aggregate["Rprec"] == pytest.approx(2 / 3)
    # bpref: a above b (1), c below one judged non-relevant of min(N=1, R=3)=1 -> 0
    assert r.aggregate["bpref"] == pytest.approx((1 + 0) / 3)


def test_verify_raises_when_values_differ(aquaint_qrels, bm25_run, monkeypatch):
    from rerankit.errors import VerificationError
    from rerankit.evaluation import kernels

    evaluate(aquaint_qrels, bm25_run, ["P_10", "MRR@10"], verify=True)  # agrees
    monkeypatch.setitem(kernels.KERNELS, "P", lambda s, k: kernels.precision(s, k) * 1.0001)
    with pytest.raises(VerificationError, match="P_10 for query"):
        evaluate(aquaint_qrels, bm25_run, ["P_10"], verify=True)


def test_duplicates_built_in_memory_are_refused():
    from rerankit.errors import InputFormatError

    run = Run.from_arrays(["q", "q"], ["a", "a"], [1.0, 2.0], "dup")
    qrels = Qrels.from_dict({"q": {"a": 1}})
    with pytest.raises(InputFormatError, match="'a' appears twice for query 'q'"):
        evaluate(qrels, run, ["map"])
    twice = Qrels.from_arrays(["q", "q"], ["a", "a"], [1, 0])
    with pytest.raises(InputFormatError, match="duplicate judgements"):
        evaluate(twice, Run.from_dict({"q": {"a": 1.0}}), ["map"])


def test_string_keys_do_not_depend_on_the_other_strings():
    import pyarrow as pa

    from rerankit.data.hashing import pair_keys, string_keys

    short = pa.array(["d1", "abcdefgh", ""])
    long = pa.array(["d1", "abcdefgh", "", "a-much-longer-document-identifier-than-8-bytes"])
    assert (string_keys(short) == string_keys(long)[:3]).all()
    codes = np.zeros(3, dtype=np.int32)
    assert (pair_keys((codes, pa.array(["q"])), short) ==
            pair_keys((np.zeros(4, dtype=np.int32), pa.array(["q"])), long)[:3]).all()


def test_subset_of_a_run_with_short_ids_against_long_id_qrels():
    """Regression: a run whose ids are all short, judged by qrels holding longer ids."""
    qrels = Qrels.from_dict({"q1": {"7": 1, "doc-with-a-long-identifier": 1}, "q2": {"8": 1}})
    run = Run.from_dict({"q1": {"7": 2.0, "3": 1.0}, "q2": {"8": 1.0}})
    ours = evaluate(qrels, run, ["P_1", "recall_2"]).per_query
    ref = pytrec_eval.RelevanceEvaluator(qrels.to_dict(), {"P.1", "recall.2"}).evaluate(
        run.to_dict())
    assert ours["q1"]["P_1"] == ref["q1"]["P_1"] == 1.0
    assert ours["q2"]["recall_2"] == ref["q2"]["recall_2"] == 1.0


def test_subset_of_a_real_scifact_run_matches_pytrec_eval():
    from rerankit import datasets
    from rerankit.retrieve.bm25 import BM25

    data = datasets.load("scifact")
    queries = data.judged_queries()
    run = BM25(quiet=True).index(data.corpus).retrieve(queries, k=20)
    subset = run.take(np.arange(0, len(run), 7))   # a sparse sample of rows
    ours = evaluate(data.qrels, subset, ["ndcg_cut_10", "map"]).per_query
    ref = pytrec_eval.RelevanceEvaluator(data.qrels.to_dict(), {"ndcg_cut.10", "map"}
                                         ).evaluate(subset.to_dict())
    assert ours.keys() == ref.keys()
    for qid in ref:
        assert ours[qid]["ndcg_cut_10"] == ref[qid]["ndcg_cut_10"]
        assert ours[qid]["map"] == ref[qid]["map"]
