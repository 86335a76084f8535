"""Session metrics: the specification's worked examples exactly, and agreement with an
independent plain implementation on all 1,253 real TREC Session 2014 sessions."""

from __future__ import annotations

import decimal
import json
import math
import subprocess
import sys
import warnings
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.sessions import (
    SessionLog,
    SessionParams,
    evaluate_sessions,
    read_graphcm,
    read_jsonl,
    u_measure,
)
from rerankit.sessions.meta import correlation_matrix, discriminative_power

from . import session_reference as ref

WORKED = {"session_id": "w", "interactions": [
    {"results": ["a", "b", "c"], "clicks": [0, 0, 0]},
    {"results": ["b", "d", "e"], "clicks": [1, 0, 0]},
    {"results": ["f", "a", "g"], "clicks": [0, 1, 1]}]}
SDCG = {"session_id": "q", "qrels": {"d1": 1, "d2": 0, "d3": 2, "d4": 1, "d5": 0},
        "interactions": [{"results": ["d1", "d2", "d3"]}, {"results": ["d4", "d1", "d5"]}]}


@pytest.fixture(scope="module")
def trec_log():
    return read_graphcm(datasets.path("trec-session-2014"))


@pytest.fixture(scope="module")
def trec_records(trec_log):
    return list(trec_log.to_records())


def test_num_worked_example_exactly():
    log = SessionLog.from_records([WORKED])
    params = SessionParams(depth=3, patience=10, reformulation_cost=1)
    forward = evaluate_sessions(log, ("num", "umeasure"), params, enhance="forward")
    assert forward.values["umeasure"][0] == pytest.approx(1.7, abs=1e-12)
    assert forward.values["num"][0] == pytest.approx(1.7 / 2.4, abs=1e-12)   # 0.708333...
    none = evaluate_sessions(log, ("num",), params, enhance="none")
    assert none.values["num"][0] == pytest.approx(0.5 / 2.4, abs=1e-12)      # 0.208333...


def test_u_measure_check_values():
    lengths, gains = (100, 300, 100, 100, 400), (0, 1, 0, 0, 3)
    assert u_measure(gains, lengths, 1000) == pytest.approx(0.6)
    assert u_measure(gains, lengths, 2000) == pytest.approx(2.3)


@pytest.mark.parametrize("gains, lengths, message", [
    ([1, 2, 3], [1], "one value per item, got 3 gains and 1 lengths"),
    ([1], [-1], "lengths must be finite numbers >= 0, got -1"),
    ([-1], [1], "gains must be finite numbers >= 0, got -1"),
    ([float("nan")], [1], "gains must be finite numbers >= 0, got nan"),
    ([1], [float("inf")], "lengths must be finite numbers >= 0, got inf"),
    ([[1, 2]], [[1, 1]], "gains must be a flat list"),
    (["a"], [1], "gains must be a list of numbers")])
def test_u_measure_refuses_what_is_no_trailtext(gains, lengths, message):
    with pytest.raises(ValueError, match=message):
        u_measure(gains, lengths, 10)


def test_u_measure_with_logged_lengths_matches_the_check_values():
    record = {"session_id": "u", "interactions": [
        {"results": ["a", "b", "c", "d", "e"], "lengths": [100, 300, 100, 100, 400],
         "labels": [0, 1, 0, 0, 2]}]}
    log = SessionLog.from_records([record])
    for patience, expected in ((1000, 0.6), (2000, 2.3)):
        scores = evaluate_sessions(log, ("umeasure",), SessionParams(patience=patience),
                                   labels="labels", length="lengths")
        assert scores.values["umeasure"][0] == pytest.approx(expected)


def test_sdcg_and_nsdcg_check_values():
    log = SessionLog.from_records([SDCG])
    scores = evaluate_sessions(log, ("sdcg", "nsdcg"), SessionParams(depth=3), labels="qrels")
    assert scores.values["sdcg"][0] == pytest.approx(3.904806425, abs=1e-9)
    assert scores.values["nsdcg"][0] == pytest.approx(0.507835350, abs=1e-9)


HUGE, TINY, NEXT_AFTER_ONE = 1.7976931348623157e308, 5e-324, 1.0000000000000002


@pytest.mark.parametrize("c", [1e308, HUGE])
def test_a_huge_reformulation_cost_weighs_later_queries_zero_without_warnings(c):
    """c (i - 1) past float range: every item after the first query lies beyond L and
    weighs 0 (hand-worked on the worked example: forward, a at 1 and b at 2 gain 0.9 + 0.8;
    none, b gains only in the second query)."""
    log = SessionLog.from_records([WORKED])
    params = SessionParams(depth=3, patience=10, reformulation_cost=c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forward = evaluate_sessions(log, ("num", "umeasure"), params, enhance="forward")
        none = evaluate_sessions(log, ("num", "umeasure"), params, enhance="none")
        start = evaluate_sessions(log, ("umeasure",), replace(params, position="start"))
    assert forward.values["umeasure"][0] == pytest.approx(1.7, abs=1e-12)
    assert forward.values["num"][0] == pytest.approx(1.7 / 2.4, abs=1e-12)
    assert none.values["umeasure"][0] == none.values["num"][0] == 0.0
    assert start.values["umeasure"][0] == pytest.approx(1.0 + 0.9, abs=1e-12)


def test_a_tiny_patience_weighs_every_item_past_position_zero_zero_without_warnings():
    """L = 5e-324: pos / L overflows for every pos >= 1, whose weight is 0; only an item at
    position 0 (the first one, with position="start") weighs 1."""
    log = SessionLog.from_records([WORKED])
    params = SessionParams(depth=3, patience=TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        end = evaluate_sessions(log, ("num", "umeasure"), params)
        start = evaluate_sessions(log, ("num", "umeasure"), replace(params, position="start"))
        assert u_measure([1, 2], [1, 1], TINY) == 0.0
        assert u_measure([1, 2], [1, 1], TINY, position="start") == 1.0
    assert end.values["umeasure"][0] == 0.0 and math.isnan(end.values["num"][0])
    assert start.values["umeasure"][0] == start.values["num"][0] == 1.0


def _sdcg_exactly(b: float, bq: float) -> tuple[float, float]:
    """sDCG and nsDCG of the specification's check session, in 50-digit decimals from the
    exact binary values of b and bq, written as the formula reads."""
    with decimal.localcontext() as context:
        context.prec = 50
        b, bq = Decimal(b), Decimal(bq)
        qrels = SDCG["qrels"]
        total = Decimal(0)
        for j, it in enumerate(SDCG["interactions"], 1):
            inner = sum((2 ** qrels[d] - 1) / ((r + b - 1).ln() / b.ln())
                        for r, d in enumerate(it["results"], 1))
            total += inner / ((j + bq - 1).ln() / bq.ln())
        ideal = sorted(qrels.values(), reverse=True)[:3]
        idcg = sum((2 ** g - 1) / ((k + b - 1).ln() / b.ln()) for k, g in enumerate(ideal, 1))
        per_query = sum(1 / ((j + bq - 1).ln() / bq.ln()) for j in (1, 2))
        return float(total), float(total / (idcg * per_query))


@pytest.mark.parametrize("b, bq", [(NEXT_AFTER_ONE, 4.0), (2.0, NEXT_AFTER_ONE),
                                   (1.0000000001, 1.0000000001), (1e308, HUGE), (2.0, 4.0)])
def test_sdcg_log_bases_near_one_and_huge_are_exact_without_warnings(b, bq):
    """A base within an ulp of 1 made log(1 + b - 1) = log(1.0) = 0 (an infinite sDCG, a
    NaN nsDCG, numpy warnings); the limit b -> 1 is a discount so steep that only the first
    rank (query) counts, which is what the exact values show."""
    log = SessionLog.from_records([SDCG])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = evaluate_sessions(log, ("sdcg", "nsdcg"),
                                   SessionParams(depth=3, sdcg_b=b, sdcg_bq=bq), labels="qrels")
    sdcg, nsdcg = _sdcg_exactly(b, bq)
    assert scores.values["sdcg"][0] == pytest.approx(sdcg, rel=1e-14)
    assert scores.values["nsdcg"][0] == pytest.approx(nsdcg, rel=1e-14)


def test_cli_extreme_parameters_print_no_warning(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(WORKED) + "\n")
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "rerankit",
                             "session", str(path), "--num-c", "1e308", "--num-L", "5e-324",
                             "--sdcg-b", "1.0000000000000002", "--sdcg-bq",
                             "1.0000000000000002"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stdout + result.stderr


@pytest.mark.parametrize("p, b, expected", [(0.8, 0.64, 0.312861587), (0.9, 0.75, 0.192293269),
                                            (0.8, 1.0, 0.328)])
def test_srbp_check_values(p, b, expected):
    record = {"session_id": "r", "qrels": {"x1": 1, "x3": 1, "y2": 1}, "interactions": [
        {"results": ["x1", "x2", "x3"]}, {"results": ["y1", "y2", "y3"]}]}
    log = SessionLog.from_records([record])
    scores = evaluate_sessions(log, ("srbp",), SessionParams(depth=3, srbp_p=p, srbp_b=b),
                               labels="qrels")
    assert scores.values["srbp"][0] == pytest.approx(expected, abs=1e-9)


def test_real_log_matches_source_notes(trec_log):
    assert trec_log.num_sessions == 1253 and trec_log.num_interactions == 3596
    assert int(trec_log.item_click.sum()) == 1610
    assert int((~np.isnan(trec_log.item_label)).sum()) == 8560


@pytest.mark.parametrize("enhance", ["none", "forward", "session"])
@pytest.mark.parametrize("depth, patience, cost, kind", [(10, 20, 1, "exp"), (5, 8, 0, "linear"),
                                                         (3, 50, 2.5, "exp")])
def test_num_and_u_match_the_reference_on_all_real_sessions(trec_log, trec_records, enhance,
                                                            depth, patience, cost, kind):
    params = SessionParams(depth=depth, patience=patience, reformulation_cost=cost, gain=kind)
    scores = evaluate_sessions(trec_log, ("num", "umeasure"), params, enhance=enhance)
    for i, record in enumerate(trec_records):
        num, u = ref.num_and_u(record, depth, patience, cost, kind, enhance)
        assert scores.values["umeasure"][i] == pytest.approx(u, abs=1e-12)
        if math.isnan(num):
            assert math.isnan(scores.values["num"][i])
        else:
            assert scores.values["num"][i] == pytest.approx(num, abs=1e-12)


@pytest.mark.parametrize("source", ["clicks", "labels"])
def test_sdcg_nsdcg_srbp_match_the_reference_on_all_real_sessions(trec_log, trec_records,
                                                                  source):
    params = SessionParams(depth=10, sdcg_b=2, sdcg_bq=4, srbp_p=0.8, srbp_b=0.64)
    scores = evaluate_sessions(trec_log, ("sdcg", "nsdcg", "srbp", "num"), params, labels=source)
    for i, record in enumerate(trec_records):
        sdcg, nsdcg = ref.sdcg_pair(record, 10, "exp", 2, 4, source)
        assert scores.values["sdcg"][i] == pytest.approx(sdcg, abs=1e-9)
        assert np.isnan(scores.values["nsdcg"][i]) == math.isnan(nsdcg)
        if not math.isnan(nsdcg):
            assert scores.values["nsdcg"][i] == pytest.approx(nsdcg, abs=1e-12)
        assert scores.values["srbp"][i] == pytest.approx(ref.srbp(record, 10, 0.8, 0.64, source),
                                                         abs=1e-12)
        num, _ = ref.num_and_u(record, 10, 20, 1, "exp", "session", source)
        assert np.isnan(scores.values["num"][i]) == math.isnan(num)


def test_system_evaluation_of_reversed_lists_matches_the_reference(trec_log, trec_records):
    """A run that reverses every logged list, keyed by session and interaction."""
    qids, docids, scores_ = [], [], []
    reversed_records = []
    for record in trec_records:
        interactions = []
        for k, it in enumerate(record["interactions"], 1):
            seen, order = set(), []
            for d in reversed(it["results"]):
                if d not in seen:
                    seen.add(d)
                    order.append(d)
            for rank, d in enumerate(order):
                qids.append(f"{record['session_id']}:{k}")
                docids.append(d)
                scores_.append(float(len(order) - rank))
            interactions.append({"results": order})
        reversed_records.append({"interactions": interactions})
    run = Run.from_arrays(qids, docids, scores_, "reversed")
    scores = evaluate_sessions(trec_log, ("num", "srbp"), run=run)
    for i, (record, system) in enumerate(zip(trec_records, reversed_records, strict=True)):
        # labels come from the log; the lists being scored are the system's
        num, _ = _reference_num_for_lists(record, system)
        if math.isnan(num):
            assert math.isnan(scores.values["num"][i])
        else:
            assert scores.values["num"][i] == pytest.approx(num, abs=1e-12)


def _reference_num_for_lists(log_record, system):
    merged = {"interactions": [dict(it, results=sys["results"], clicks=None)
                               for it, sys in zip(log_record["interactions"],
                                                  system["interactions"], strict=True)]}
    pos, u, credited = 0.0, 0.0, set()
    for i, it in enumerate(merged["interactions"]):
        rel = ref.labels_at(log_record, i, "forward", "clicks")
        if i > 0:
            pos += 1
        for d in it["results"][:10]:
            pos += 1
            r = rel.get(d, 0)
            if r > 0 and d not in credited:
                credited.add(d)
                u += ref.gain(r, "exp") * max(0.0, 1 - pos / 20)
    ideal = sorted(ref.ideal_set(log_record, "clicks").items(),
                   key=lambda x: (-ref.gain(x[1], "exp"), x[0]))
    u_ideal = sum(ref.gain(r, "exp") * max(0.0, 1 - (k + 1) / 20) for k, (_, r) in
                  enumerate(ideal))
    return (u / u_ideal if u_ideal > 0 else math.nan), u


def test_query_aggregates(trec_log):
    scores = evaluate_sessions(trec_log, ("ndcg_mean", "ndcg_max", "ndcg_first", "ndcg_last"))
    v = scores.values
    defined = ~np.isnan(v["ndcg_max"])
    assert np.all(v["ndcg_max"][defined] >= v["ndcg_mean"][defined] - 1e-12)
    assert np.all(v["ndcg_max"][defined] >= v["ndcg_first"][defined] - 1e-12)
    assert np.all((v["ndcg_last"][defined] >= 0) & (v["ndcg_last"][defined] <= 1 + 1e-12))
    assert np.all(v["ndcg_max"][defined] <= 1 + 1e-12)  # repeats in a list gain once


def test_jsonl_round_trip_keeps_every_value(trec_log, tmp_path):
    path = trec_log.write_jsonl(tmp_path / "sessions.jsonl")
    back = read_jsonl(path)
    a = evaluate_sessions(trec_log, ("num", "sdcg", "srbp"), labels="labels")
    b = evaluate_sessions(back, ("num", "sdcg", "srbp"), labels="labels")
    for metric in a.values:
        np.testing.assert_array_equal(a.values[metric], b.values[metric])
    assert back.session_ids == trec_log.session_ids


def test_meta_evaluation_on_real_sessions(trec_log):
    scores = evaluate_sessions(trec_log, ("num", "sdcg", "srbp"))
    matrix = correlation_matrix(scores.values, "kendall")
    assert matrix["num"]["num"] == pytest.approx(1.0)
    assert 0 < matrix["num"]["srbp"] < 1
    reversed_run = _reversed_run(trec_log)
    worse = evaluate_sessions(trec_log, ("num", "sdcg", "srbp"), run=reversed_run)
    power = discriminative_power(scores.values, worse.values, test="t")
    assert all(p < 0.05 for p in power.values())


def _reversed_run(log):
    qids, docids, values = [], [], []
    for record in log.to_records():
        for k, it in enumerate(record["interactions"], 1):
            seen = set()
            for rank, d in enumerate(reversed(it["results"])):
                if d not in seen:
                    seen.add(d)
                    qids.append(f"{record['session_id']}:{k}")
                    docids.append(d)
                    values.append(-rank)
    return Run.from_arrays(qids, docids, values, "reversed")


@pytest.mark.parametrize("record, message", [
    ({"session_id": "a", "interactions": []}, "has no queries"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "clicked": ["y"]}]},
     "click on document 'y' that was not shown"),
    ({"session_id": "a", "interactions": [{"results": ["x", "y"], "clicks": [1]}]},
     "'clicks' has 1 values for 2 results"),
    ({"session_id": "a", "interactions": [{"index": 1, "results": ["x"]},
                                          {"index": 1, "results": ["y"]}]},
     "field .index.: 1 is also the index of interaction 1"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "labels": [-3]}]},
     "must be an integer >= -2"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "clicks": [-1]}]},
     "field .clicks. must be 0 or 1, got -1"),
])
def test_bad_sessions_are_named(record, message):
    with pytest.raises(InputFormatError, match=message):
        SessionLog.from_records([record])


@pytest.mark.parametrize("kwargs, message", [
    ({"patience": 0}, "L"), ({"srbp_p": 1.0}, "p must be in"), ({"srbp_b": 0}, "b must be in"),
    ({"reformulation_cost": -1}, "c .reformulation cost. must be"), ({"depth": 0}, "depth"),
    ({"reformulation_cost": math.inf}, "c .reformulation cost. must be a finite number >= 0"),
    ({"reformulation_cost": math.nan}, "c .reformulation cost. must be a finite number"),
    ({"patience": math.inf}, "L .patience. must be a finite number > 0, got inf"),
    ({"sdcg_b": math.inf}, "sDCG b must be a finite number > 1, got inf"),
    ({"sdcg_bq": math.inf}, "sDCG bq must be a finite number > 1, got inf"),
    ({"sdcg_bq": math.nan}, "sDCG bq must be a finite number > 1, got nan"),
    ({"srbp_p": math.nan}, "p must be in"), ({"srbp_b": math.inf}, "b must be in"),
    ({"depth": math.inf}, "depth must be an integer >= 1, got inf"),
    ({"depth": 2.5}, "depth must be an integer"),
    ({"gain_map": {1: math.inf}}, "gain map values must be finite")])
def test_parameters_out_of_range(kwargs, message):
    """Non-finite values are refused too: an infinite c or sDCG base made NUM, U or sDCG
    NaN for every session, behind a RuntimeWarning."""
    with pytest.raises(ValueError, match=message):
        SessionParams(**kwargs)


def test_interaction_without_results_costs_a_reformulation():
    record = {"session_id": "e", "interactions": [
        {"results": []}, {"results": ["a"], "clicks": [1]}]}
    scores = evaluate_sessions(SessionLog.from_records([record]), ("umeasure", "num"),
                               SessionParams(patience=10))
    assert scores.values["umeasure"][0] == pytest.approx(1 - 2 / 10)
    assert scores.values["num"][0] == pytest.approx(0.8 / 0.9)


def test_unknown_run_query_is_named(trec_log):
    run = Run.from_dict({"nope:1": {"d": 1.0}})
    with pytest.raises(InputFormatError, match="run query 'nope:1'"):
        evaluate_sessions(trec_log, ("num",), run=run)


def test_satisfaction_correlation_equals_scipy(trec_log):
    from scipy import stats as sps

    from rerankit.sessions.meta import correlate_with_satisfaction

    scores = evaluate_sessions(trec_log, ("num", "srbp"))
    # the TREC export has no satisfaction; use the number of queries as a stand-in signal
    satisfaction = np.bincount(trec_log.inter_session).astype(float)
    satisfaction[::7] = np.nan
    found = correlate_with_satisfaction(scores.values, satisfaction,
                                        methods=("pearson", "kendall"), resamples=400)
    result = {(c.metric, c.method): c for c in found}
    for metric, values in scores.values.items():
        both = ~(np.isnan(values) | np.isnan(satisfaction))
        assert result[metric, "pearson"].n == result[metric, "kendall"].n == both.sum()
        assert result[metric, "kendall"].r == pytest.approx(
            sps.kendalltau(values[both], satisfaction[both])[0])
        assert result[metric, "pearson"].r == pytest.approx(
            sps.pearsonr(values[both], satisfaction[both])[0])


def test_system_run_scored_with_session_qrels():
    log = SessionLog.from_records([SDCG])
    run = Run.from_dict({"q:1": {"d3": 3.0, "d1": 2.0, "d9": 1.0}, "q:2": {"d4": 1.0}})
    scores = evaluate_sessions(log, ("sdcg", "srbp"), SessionParams(depth=3), labels="qrels",
                               run=run)
    expected = (3 + 1 / math.log2(3)) + 1 / math.log(5, 4)   # d3, d1 | d4
    assert scores.values["sdcg"][0] == pytest.approx(expected)


def test_malformed_jsonl_line_is_named(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"session_id": "a", "interactions": [{"results": ["x"]}]}\n{oops\n')
    with pytest.raises(InputFormatError, match=r"s.jsonl, line 2: invalid JSON"):
        read_jsonl(path)
