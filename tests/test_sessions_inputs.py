"""Getting session logs in without silent surprises (issues 13 and 16): label sources chosen
from what the log holds, real-valued gains, both position conventions, clicks 0/1 (counts
opt-in), per-query satisfaction, and every malformed input named by file, line, session and
field, through the API and the CLI (never a traceback). Expected numbers are worked by hand
or computed by plain loops written here."""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pytest

from rerankit import datasets
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.sessions import (
    SessionLog,
    SessionParams,
    evaluate_queries,
    evaluate_sessions,
    read_graphcm,
    read_jsonl,
    u_measure,
)

from .cli_helpers import invoke

NO_CLICKS = {"session_id": "img", "satisfaction": 4, "interactions": [
    {"results": ["a", "b", "c"], "labels": [2, 0, 1]},
    {"results": ["d", "a"], "labels": [3, 2]}]}


def write(tmp_path, *records, name="s.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records))
    return path


def cli(*args):
    result = invoke(["session", *map(str, args)])
    assert "Traceback" not in result.output
    return result


# ---------------------------------------------------------------------- label sources
def test_auto_labels_score_a_log_without_clicks_with_its_labels():
    log = SessionLog.from_records([NO_CLICKS])
    auto = evaluate_sessions(log, ("num", "umeasure"))
    explicit = evaluate_sessions(log, ("num", "umeasure"), labels="labels")
    assert auto.labels == "labels"
    np.testing.assert_array_equal(auto.values["num"], explicit.values["num"])
    assert auto.values["umeasure"][0] > 0


def test_asking_for_clicks_a_log_lacks_names_the_missing_field():
    log = SessionLog.from_records([NO_CLICKS])
    with pytest.raises(InputFormatError, match="no session has field 'clicks' or 'clicked'; "
                       "it has labels"):
        evaluate_sessions(log, labels="clicks")
    with pytest.raises(InputFormatError, match="'qrels'"):
        evaluate_sessions(log, labels="qrels")


def test_a_log_with_nothing_to_score_is_an_error_not_zeros():
    log = SessionLog.from_records([{"session_id": "x", "interactions": [{"results": ["a"]}]}])
    with pytest.raises(InputFormatError, match="nothing to score with"):
        evaluate_sessions(log)


def test_cli_on_a_log_without_clicks(tmp_path):
    path = write(tmp_path, NO_CLICKS)
    bad = cli(path, "--labels", "clicks")
    assert bad.exit_code == 2 and "no session has field 'clicks'" in bad.output
    good = cli(path)
    assert good.exit_code == 0, good.output
    assert "labels=auto: scoring with labels" in good.output


def test_cli_notes_when_no_label_is_positive(tmp_path):
    path = write(tmp_path, {"session_id": "z", "interactions": [
        {"results": ["a", "b"], "clicks": [0, 0]}]})
    result = cli(path)
    assert result.exit_code == 0
    assert "no session has a positive clicks value" in result.output


def test_trec_log_still_defaults_to_clicks():
    log = read_graphcm(datasets.path("trec-session-2014"))
    assert evaluate_sessions(log, ("num",)).labels == "clicks"


# ---------------------------------------------------------------------- gains
def test_real_valued_gains_are_used_as_they_are():
    record = {"session_id": "g", "interactions": [
        {"results": ["a", "b", "c"], "gains": [0.2, 0, 0.6]}]}
    scores = evaluate_sessions(SessionLog.from_records([record]), ("umeasure", "num", "sdcg"),
                               SessionParams(patience=10, depth=3))
    assert scores.labels == "gains"
    assert scores.values["umeasure"][0] == pytest.approx(0.2 * 0.9 + 0.6 * 0.7)
    assert scores.values["num"][0] == pytest.approx(0.6 / (0.6 * 0.9 + 0.2 * 0.8))
    assert scores.values["sdcg"][0] == pytest.approx(0.2 + 0.6 / math.log2(3 + 1))


def test_gain_map_turns_grades_into_cwl_style_gains():
    record = {"session_id": "g", "interactions": [
        {"results": ["a", "b", "c"], "labels": [1, 0, 3]}]}
    params = SessionParams(patience=10, depth=3, gain_map=((1, 0.2), (2, 0.4), (3, 0.6)))
    scores = evaluate_sessions(SessionLog.from_records([record]), ("umeasure",), params)
    assert scores.values["umeasure"][0] == pytest.approx(0.2 * 0.9 + 0.6 * 0.7)
    as_dict = SessionParams(patience=10, depth=3, gain_map={3: 0.6, 1: 0.2, 2: 0.4})
    assert evaluate_sessions(SessionLog.from_records([record]), ("umeasure",),
                             as_dict).values["umeasure"][0] == scores.values["umeasure"][0]
    with pytest.raises(ValueError, match="grade 3 has no gain in the gain map"):
        evaluate_sessions(SessionLog.from_records([record]), ("umeasure",),
                          SessionParams(gain_map=((1, 0.2),)))


def test_a_grade_missing_from_the_gain_map_names_the_session_and_document(tmp_path):
    ok = {"session_id": "s1", "interactions": [{"results": ["a", "b"], "labels": [1, 0]}]}
    bad = {"session_id": "s2", "interactions": [
        {"results": ["a", "b"], "labels": [1, 0]},
        {"results": ["c", "d", "e"], "labels": [0, 3, 5]}]}
    path = write(tmp_path, ok, bad, bad | {"session_id": "s3"})
    message = (f"{path}: session 's2', interaction 2, document 'd': grade 3 has no gain in "
               "the gain map (1=0.2, 2=0.4); labels grades the map lacks: 3, 5 (in 2 "
               "sessions)")
    params = SessionParams(gain_map={1: 0.2, 2: 0.4})
    for evaluate in (evaluate_sessions, evaluate_queries):
        with pytest.raises(InputFormatError) as caught:
            evaluate(read_jsonl(path), ("num",), params)
        assert str(caught.value) == message
    result = cli(path, "--gain-map", "1=0.2,2=0.4")
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    # a grade only in the session's judgements (its ideal set) names the judged document
    judged = {"session_id": "q", "qrels": {"a": 1, "z": 4},
              "interactions": [{"results": ["a", "b"]}]}
    with pytest.raises(InputFormatError, match=r"session 'q', document 'z': grade 4 has no "
                       r"gain in the gain map \(1=0.2\); qrels grades the map lacks: 4 "
                       r"\(in 1 session\)"):
        evaluate_sessions(SessionLog.from_records([judged]), ("num",),
                          SessionParams(gain_map={1: 0.2}), labels="qrels")


LIMIT = "8.988e+307 (half of float64's largest value)"


@pytest.mark.parametrize("record, params, labels, largest, cli_args", [
    ({"results": ["a", "b"], "labels": [1024, 1]}, SessionParams(), "labels",
     "grade 1024, exp gain 2^1024 - 1 = inf", ()),
    ({"results": ["a", "b"], "labels": [1023, 0]}, SessionParams(), "labels",
     "grade 1023, exp gain 2^1023 - 1 = 8.988e+307", ()),
    ({"results": ["a", "b"], "labels": [2, 1]}, SessionParams(gain_map={1: 1, 2: 1e308}),
     "labels", "grade 2, gain 1e+308 in the gain map", ("--gain-map", "1=1,2=1e308")),
    ({"results": ["a", "b"], "gains": [1e308, 0.5]}, SessionParams(), "gains",
     "logged gain 1e+308", ("--labels", "gains")),
    ({"results": ["a", "b"], "labels": [1e308, 0]}, SessionParams(gain="linear"), "labels",
     "grade 1e+308, linear gain 1e+308", ("--gain", "linear")),
])
def test_gains_that_could_sum_past_float64_are_refused_before_scoring(
        tmp_path, record, params, labels, largest, cli_args):
    """A gain near float64's largest value (exp gains of grades above 1022, a gain map or
    logged gains near 1e308) made the session sums inf and their ratios NaN, with numpy
    RuntimeWarnings: such a session is refused before scoring, naming the session, its
    largest gain with the grade behind it, and the limit (half of float64's largest value,
    which no sum of gains times weights in [0, 1] can then pass)."""
    ok = {"session_id": "fine", "interactions": [{"results": ["a"], "labels": [1],
                                                  "gains": [1.0]}]}
    bad = {"session_id": "huge", "interactions": [record]}
    path = write(tmp_path, ok, bad)
    message = (f"{path}: session 'huge': its gains could sum past {LIMIT}, where its "
               f"metrics would overflow to inf or NaN; its largest: {largest} (1 session "
               "past the limit)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for evaluate in (evaluate_sessions, evaluate_queries):
            with pytest.raises(InputFormatError) as caught:
                evaluate(read_jsonl(path), ("num", "umeasure", "sdcg", "nsdcg"), params,
                         labels=labels)
            assert str(caught.value) == message
    result = cli(path, "--labels", labels, *cli_args)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "RuntimeWarning" not in result.output and "nan" not in result.output


def test_gains_just_within_float64_are_scored_exactly():
    """Below the limit the sums are taken as always: one logged gain of 2^1000 at position 1
    of L = 20 gives U = 2^1000 * 19/20, NUM = 1 and sDCG = 2^1000 (discounts log_2(2) =
    log_4(4) = 1); gains of 2^1021 twice in one session (items plus its ideal set: 2^1022,
    the limit is just below 2^1023) are scored too, with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for gain, metrics in ((2.0 ** 1000, ("num", "umeasure", "sdcg")),
                              (2.0 ** 1021, ("num", "umeasure", "sdcg", "nsdcg"))):
            one = {"session_id": "s", "interactions": [{"results": ["a"], "gains": [gain]}]}
            scores = evaluate_sessions(SessionLog.from_records([one]), metrics,
                                       labels="gains").values
            assert scores["umeasure"][0] == gain * (1 - 1 / 20)
            assert scores["num"][0] == 1.0 and scores["sdcg"][0] == gain


@pytest.mark.parametrize("grade", [1, 3, 10, 52, 1000])
def test_exp_gains_are_exactly_two_to_the_grade_minus_one(grade):
    """The exp gain of an integer grade is 2^r - 1 rounded once (Python's own 2.0 ** r - 1):
    one result at rank 1 of one query has sDCG = its gain (both discounts are 1) and
    U = gain * 19/20. It was expm1(r ln 2), off by ulps (grade 3: 6.999999999999998)."""
    record = {"session_id": "s", "interactions": [{"results": ["a"], "labels": [grade]}]}
    scores = evaluate_sessions(SessionLog.from_records([record]), ("umeasure", "sdcg"),
                               labels="labels").values
    assert scores["sdcg"][0] == 2.0 ** grade - 1
    assert scores["umeasure"][0] == (2.0 ** grade - 1) * (1 - 1 / 20)


def test_u_measure_refuses_gains_that_could_sum_past_float64():
    """u_measure refuses gains whose sum is past the same limit (it overflowed to inf with
    a RuntimeWarning)."""
    with pytest.raises(ValueError, match=r"gains must sum to at most 8.988e\+307 \(half of "
                       r"float64's largest value, so that U cannot overflow\), got inf"):
        u_measure([1e308, 1e308], [1, 1], 10)


def test_a_grade_missing_from_the_gain_map_in_real_sessions():
    """TREC Session 2014's labels go up to 4: a cwl map of 1..3 names the first session
    that holds a 4, the first result it is scored at, and how many sessions hold one
    (found here by a plain loop over the sessions)."""
    log = read_graphcm(datasets.path("trec-session-2014"))
    first, holding = None, 0
    for record in log.to_records():
        best = {}
        for it in record["interactions"]:
            for d, g in zip(it["results"], it.get("labels", []), strict=False):
                best[d] = max(best.get(d, -1), g)
        if 4 in best.values():
            holding += 1
            if first is None:
                first = next((record["session_id"], n, d) for n, it in
                             enumerate(record["interactions"], 1) for d in it["results"][:10]
                             if best.get(d) == 4)
    sid, n, doc = first
    with pytest.raises(InputFormatError) as caught:
        evaluate_sessions(log, ("nsdcg",), SessionParams(gain_map={1: 0.2, 2: 0.4, 3: 0.6}),
                          labels="labels")
    assert str(caught.value) == (
        f"{log.source}: session '{sid}', interaction {n}, document '{doc}': grade 4 has no "
        f"gain in the gain map (1=0.2, 2=0.4, 3=0.6); labels grades the map lacks: 4 (in "
        f"{holding} sessions)")


def test_cli_gain_map(tmp_path):
    path = write(tmp_path, {"session_id": "g", "interactions": [
        {"results": ["a", "b", "c"], "labels": [1, 0, 3]}]})
    out = tmp_path / "per.tsv"
    result = cli(path, "--gain-map", "1=0.2,2=0.4,3=0.6", "--num-L", "10", "--depth", "3",
                 "--metrics", "umeasure", "--per-session", out)
    assert result.exit_code == 0, result.output
    assert float(out.read_text().split("\t")[2]) == pytest.approx(0.6)
    assert cli(path, "--gain-map", "1:0.2").exit_code == 2


def test_fractional_label_points_to_gains():
    with pytest.raises(InputFormatError, match=r"field 'labels'.*got 0\.4.*'gains'"):
        SessionLog.from_records([{"session_id": "f", "interactions": [
            {"results": ["a"], "labels": [0.4]}]}])


# ---------------------------------------------------------------------- position convention
def test_start_position_is_cwl_weighting():
    lengths, gains = (100, 300, 100, 100, 400), (0, 1, 0, 0, 3)
    # cwl: weight of item k is max(0, 1 - (l_1 + ... + l_(k-1)) / L)
    assert u_measure(gains, lengths, 1000, position="start") == pytest.approx(
        1 * (1 - 100 / 1000) + 3 * (1 - 600 / 1000))
    assert u_measure(gains, lengths, 1000) == pytest.approx(0.6)        # end: unchanged


def test_start_position_on_the_worked_example():
    record = {"session_id": "w", "interactions": [
        {"results": ["a", "b", "c"], "clicks": [0, 0, 0]},
        {"results": ["b", "d", "e"], "clicks": [1, 0, 0]},
        {"results": ["f", "a", "g"], "clicks": [0, 1, 1]}]}
    params = SessionParams(depth=3, patience=10, position="start")
    scores = evaluate_sessions(SessionLog.from_records([record]), ("umeasure", "num"), params)
    # a at 0, b at 1 gain; g at 10 gains nothing; ideal a, b, g at 0, 1, 2
    assert scores.values["umeasure"][0] == pytest.approx(1.0 + 0.9)
    assert scores.values["num"][0] == pytest.approx(1.9 / 2.7)


def test_start_position_matches_a_plain_loop_on_all_real_sessions():
    log = read_graphcm(datasets.path("trec-session-2014"))
    scores = evaluate_sessions(log, ("umeasure",), SessionParams(patience=20, position="start"),
                               labels="labels")
    for i, record in enumerate(log.to_records()):
        best = {}
        for it in record["interactions"]:
            for d, g in zip(it["results"], it.get("labels", []), strict=False):
                best[d] = max(best.get(d, -1), g)
        u, pos, credited = 0.0, 0.0, set()
        for k, it in enumerate(record["interactions"]):
            pos += 1 if k else 0
            for d in it["results"][:10]:
                r = best.get(d, 0)
                if r > 0 and d not in credited:
                    credited.add(d)
                    u += (2 ** r - 1) * max(0.0, 1 - pos / 20)
                pos += 1
        assert scores.values["umeasure"][i] == pytest.approx(u, abs=1e-12)


# ---------------------------------------------------------------------- clicks
@pytest.mark.parametrize("value", [2, 0.5, "1", None])
def test_clicks_must_be_zero_or_one(value):
    with pytest.raises(InputFormatError, match="field 'clicks' must be 0 or 1"):
        SessionLog.from_records([{"session_id": "c", "interactions": [
            {"results": ["a"], "clicks": [value]}]}])


def test_click_counts_are_opt_in_and_used_as_grades():
    record = {"session_id": "c", "interactions": [{"results": ["a", "b"], "clicks": [2, True]}]}
    log = SessionLog.from_records([record], click_counts=True)
    scores = evaluate_sessions(log, ("umeasure",), SessionParams(patience=10))
    assert scores.values["umeasure"][0] == pytest.approx(3 * 0.9 + 1 * 0.8)
    with pytest.raises(InputFormatError, match="click counts must be integers >= 0"):
        SessionLog.from_records([{"session_id": "c", "interactions": [
            {"results": ["a"], "clicks": [0.5]}]}], click_counts=True)


def test_cli_click_counts(tmp_path):
    path = write(tmp_path, {"session_id": "c", "interactions": [
        {"results": ["a"], "clicks": [2]}]})
    refused = cli(path)
    assert refused.exit_code == 2 and "--click-counts" in refused.output
    assert cli(path, "--click-counts").exit_code == 0


# ---------------------------------------------------------------------- satisfaction
def test_query_and_session_satisfaction_are_read_and_round_trip(tmp_path):
    record = {"session_id": "s", "satisfaction": 3.5, "interactions": [
        {"results": ["a"], "clicks": [1], "satisfaction": 4},
        {"results": ["b"], "clicks": [0]}]}
    log = SessionLog.from_records([record])
    assert log.satisfaction[0] == 3.5
    assert log.inter_satisfaction[0] == 4 and math.isnan(log.inter_satisfaction[1])
    back = read_jsonl(log.write_jsonl(tmp_path / "r.jsonl"))
    assert list(back.to_records()) == list(log.to_records())


def test_per_session_output_has_satisfaction(tmp_path):
    path = write(tmp_path, {"session_id": "s", "satisfaction": 3.5, "interactions": [
        {"results": ["a"], "clicks": [1], "satisfaction": 4}]})
    per_session, per_query = tmp_path / "s.tsv", tmp_path / "q.tsv"
    result = cli(path, "--per-session", per_session, "--per-query", per_query)
    assert result.exit_code == 0, result.output
    assert "s\tsatisfaction\t3.5\n" in per_session.read_text()
    assert "s:1\tsatisfaction\t4.0\n" in per_query.read_text()


# ---------------------------------------------------------------------- bad input
BAD = [
    ({"session_id": "a", "interactions": [{"results": ["x"], "clikcs": [1]}]},
     r"session 'a', interaction 1: unknown field 'clikcs'"),
    ({"session_id": "a", "satisfation": 3, "interactions": [{"results": ["x"]}]},
     r"session 'a': unknown field 'satisfation'"),
    ({"session_id": "a", "interactions": [{"labels": [1, 2]}]},
     r"session 'a', interaction 1: field 'results' is missing"),
    ({"session_id": "a", "satisfaction": "high", "interactions": [{"results": ["x"]}]},
     r"session 'a': field 'satisfaction' must be a number, got 'high'"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "satisfaction": "ok"}]},
     r"session 'a', interaction 1: field 'satisfaction' must be a number"),
    ({"session_id": "a", "qrels": [["x", 1]], "interactions": [{"results": ["x"]}]},
     r"session 'a': field 'qrels' must be an object"),
    ({"session_id": "a", "qrels": {"x": "high"}, "interactions": [{"results": ["x"]}]},
     r"session 'a', field 'qrels' of 'x': must be an integer"),
    ({"session_id": "a", "interactions": [{"results": "x"}]},
     r"session 'a', interaction 1: field 'results' must be a list"),
    ({"session_id": "a", "interactions": [{"results": [None]}]},
     r"session 'a', interaction 1: field 'results': document ids are strings"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "gains": [-0.1]}]},
     r"session 'a', interaction 1: field 'gains' must be numbers >= 0"),
    ({"session_id": "a", "interactions": [{"results": ["x"], "clicked": "x"}]},
     r"session 'a', interaction 1: field 'clicked' must be a list"),
    ({"interactions": [{"results": ["x"]}]}, r"session: field 'session_id' is missing"),
    ([1, 2], r"session: expected a JSON object"),
    ({"session_id": "a", "interactions": ["x"]}, r"session 'a', interaction 1: expected an "
     "object"),
]


@pytest.mark.parametrize("record, message", BAD)
def test_bad_sessions_name_file_line_session_field(tmp_path, record, message):
    path = write(tmp_path, NO_CLICKS | {"session_id": "ok"}, record)
    with pytest.raises(InputFormatError, match=rf"s\.jsonl, line 2: {message}"):
        read_jsonl(path)
    result = cli(path)
    assert result.exit_code == 2
    assert "s.jsonl, line 2:" in result.output


def test_allow_extra_ignores_unknown_fields(tmp_path):
    path = write(tmp_path, {"session_id": "a", "device": "phone", "interactions": [
        {"results": ["x"], "clicks": [1], "position_bias": 0.3}]})
    with pytest.raises(InputFormatError, match="unknown field 'device'"):
        read_jsonl(path)
    assert read_jsonl(path, allow_extra=True).num_sessions == 1
    assert cli(path, "--allow-extra").exit_code == 0


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(json.dumps(NO_CLICKS).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputFormatError, match=r"line 2: not UTF-8"):
        read_jsonl(path)


def test_missing_lengths_name_the_session(tmp_path):
    log = SessionLog.from_records([NO_CLICKS])
    with pytest.raises(InputFormatError, match=r"field 'lengths'.*session 'img', interaction 1"):
        evaluate_sessions(log, length="lengths")


# ---------------------------------------------------------------------- runs
def test_run_is_ranked_by_score_then_docid_not_by_file_order():
    log = SessionLog.from_records([{"session_id": "r", "interactions": [
        {"results": ["a", "b", "c"], "labels": [3, 0, 0]}]}])
    # file order a, b, c; scores put c first, a and b tie (ties: document id descending)
    run = Run.from_arrays(["r:1"] * 3, ["a", "b", "c"], [1.0, 1.0, 2.0], "sys")
    scores = evaluate_sessions(log, ("umeasure",), SessionParams(patience=10), run=run)
    assert scores.values["umeasure"][0] == pytest.approx(7 * (1 - 3 / 10))   # c, b, a


# ---------------------------------------------------------------------- query level
def test_query_level_values_equal_one_query_sessions_with_the_session_qrels():
    qrels = {"a": 2, "b": 1, "d": 3}
    record = {"session_id": "q", "qrels": qrels, "interactions": [
        {"results": ["a", "b", "c"]}, {"results": ["d", "a"]}, {"results": ["e"]}]}
    split = [{"session_id": f"q:{k}", "qrels": qrels, "interactions": [it]}
             for k, it in enumerate(record["interactions"], 1)]
    metrics = ("num", "umeasure", "sdcg", "nsdcg", "srbp", "found")
    per_query = evaluate_queries(SessionLog.from_records([record]), metrics, labels="qrels")
    alone = evaluate_sessions(SessionLog.from_records(split), metrics, labels="qrels")
    assert per_query.session_ids == alone.session_ids
    for metric in metrics:
        np.testing.assert_allclose(per_query.values[metric], alone.values[metric],
                                   rtol=0, atol=1e-12)


def test_found_counts_distinct_relevant_documents_in_the_trail():
    record = {"session_id": "f", "interactions": [
        {"results": ["a", "b", "a"], "labels": [1, 0, 1]}, {"results": ["a", "c"],
                                                             "labels": [1, 2]}]}
    scores = evaluate_sessions(SessionLog.from_records([record]), ("found",))
    assert scores.values["found"][0] == 2


def test_graphcm_errors_name_the_split_file_and_line(tmp_path):
    (tmp_path / "query_qid.dict").write_text("{'cheap flights': 1}")
    (tmp_path / "url_uid.dict").write_text("{'clueweb-a': 1, 'clueweb-b': 2}")
    (tmp_path / "human_label_for_GraphCM_per_query_quid.txt").write_text("")
    (tmp_path / "train_per_query_quid.txt").write_text("5\t1\t[1, 2]\t[0, 0]\t[1, 0]\n")
    (tmp_path / "valid_per_query_quid.txt").write_text("")
    (tmp_path / "test_per_query_quid.txt").write_text("6\t1\t[1, 2]\t[0, 0]\t[0, 0]\n"
                                                      "7\t1\t[1, 2]\t[0, 0]\t[2, 0]\n")
    with pytest.raises(InputFormatError, match=r"test_per_query_quid\.txt, line 2: session "
                       r"'7', interaction 1: field 'clicks' must be 0 or 1, got 2"):
        read_graphcm(tmp_path)


# ---------------------------------------------------------------------- outputs
@pytest.mark.parametrize("options", [
    ("--per-session", "same.out", "--write-jsonl", "same.out"),
    ("--json", "j.out", "--per-session", "j.out"),
    ("--per-session", "same.out", "--per-query", "link.out"),
    ("--meta", "--json", "rep/meta.json", "--report", "rep")])
def test_two_outputs_naming_one_file_are_refused_before_any_work(tmp_path, monkeypatch,
                                                                 options):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, NO_CLICKS)
    (tmp_path / "link.out").symlink_to("same.out")
    result = cli("s.jsonl", *options)
    first, second = (o for o in options if o.startswith("--") and o != "--meta")
    assert result.exit_code == 2
    assert "name the same file" in result.output and first in result.output \
        and second in result.output
    assert not (tmp_path / "same.out").exists() and not (tmp_path / "j.out").exists()
    assert not (tmp_path / "rep").exists() or not any((tmp_path / "rep").iterdir())


def test_an_output_naming_the_input_is_refused_even_with_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write(tmp_path, NO_CLICKS)
    before = data.read_bytes()
    result = cli("s.jsonl", "--per-session", "x/../s.jsonl", "--force")
    assert result.exit_code == 2 and "--per-session and DATA name the same file" \
        in result.output
    assert data.read_bytes() == before


# ---------------------------------------------------------------------- interaction order
INDEXED = {"session_id": "s", "interactions": [
    {"index": 2, "results": ["b", "d"], "clicks": [0, 1]},
    {"index": 1, "results": ["10", "b", "c"], "clicks": [0, 1, 0]}]}


def test_index_orders_the_interactions():
    # by hand, index order: 10(1) b(2, gain 0.9) c(3) | (4) b(5, credited) d(6, gain 0.7);
    # U = 1.6, ideal b, d at 1, 2: 1.85; sDCG: b at rank 2 of query 1, d at rank 2 of
    # query 2 (b is not clicked again): (1 / log2(3)) * (1 + 1 / log4(5))
    scores = evaluate_sessions(SessionLog.from_records([INDEXED]), ("num", "sdcg"))
    assert scores.values["num"][0] == pytest.approx(1.6 / 1.85)
    assert scores.values["sdcg"][0] == pytest.approx(
        (1 + math.log(4) / math.log(5)) / math.log2(3))
    assert (round(scores.values["num"][0], 4), round(scores.values["sdcg"][0], 3)) == \
        (0.8649, 1.174)
    in_order = {"session_id": "s", "interactions": [
        {k: v for k, v in it.items() if k != "index"} for it in INDEXED["interactions"][::-1]]}
    log = SessionLog.from_records([INDEXED])
    assert log.query_ids == ["s:1", "s:2"] and log.doc_ids[log.item_doc[0]] == "10"
    expected = evaluate_sessions(SessionLog.from_records([in_order]), ("num", "sdcg"))
    for metric in ("num", "sdcg"):
        assert scores.values[metric][0] == expected.values[metric][0]


@pytest.mark.parametrize("interactions, message", [
    ([{"index": [1], "results": ["b"]}],
     "interaction 1: field 'index' must be an integer, got [1]"),
    ([{"index": 1.0, "results": ["b"]}],
     "interaction 1: field 'index' must be an integer, got 1.0"),
    ([{"index": True, "results": ["b"]}],
     "interaction 1: field 'index' must be an integer, got True"),
    ([{"index": 1, "results": ["b"]}, {"results": ["c"]}],
     "interaction 2: field 'index' is missing"),
    ([{"index": 3, "results": ["b"]}, {"index": 3, "results": ["c"]}],
     "interaction 2: field 'index': 3 is also the index of interaction 1")])
def test_bad_index_is_named(tmp_path, interactions, message):
    path = write(tmp_path, {"session_id": "s", "interactions": interactions})
    with pytest.raises(InputFormatError, match=f"s.jsonl, line 1: session 's', "
                       f"{message.replace('[', '.').replace(']', '.')}"):
        read_jsonl(path)
    result = cli(path)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("sid", ["a\tb", "a\nb", "a\rb", "a\u2028b"])
def test_session_id_with_a_tab_or_line_break_is_refused(tmp_path, sid):
    path = write(tmp_path, {"session_id": "ok", "interactions": [{"results": ["x"]}]},
                 {"session_id": sid, "interactions": [{"results": ["x"], "clicks": [1]}]})
    message = "s.jsonl, line 2: session: field 'session_id' must hold no tab or line break"
    with pytest.raises(InputFormatError, match=message):
        read_jsonl(path)
    result = cli(path, "--per-session", tmp_path / "per.tsv")
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "per.tsv").exists()


@pytest.mark.parametrize("digits", [309, 401, 5001])
def test_integers_past_float_range_are_no_number(tmp_path, digits):
    huge = "9" * digits
    path = write(tmp_path, '{"session_id": "s", "satisfaction": ' + huge + ', "interactions": '
                 '[{"results": ["a"], "clicks": [1]}]}')
    message = ("s.jsonl, line 1: session 's': field 'satisfaction' must be a number, got "
               f"999999999999... ({digits} digits)")
    with pytest.raises(InputFormatError, match=re.escape(message)):
        read_jsonl(path)
    result = cli(path)
    assert result.exit_code == 2 and message in result.output
    labels = write(tmp_path, '{"session_id": "s", "interactions": [{"results": ["a"], '
                   '"labels": [-' + huge + ']}]}', name="l.jsonl")
    with pytest.raises(InputFormatError, match="field 'labels'.* must be an integer >= -2, "
                       rf"got -99999999999\.\.\. \({digits} digits\)"):
        read_jsonl(labels)
    with pytest.raises(InputFormatError, match="'satisfaction' must be a number"):
        SessionLog.from_records([{"session_id": "s", "satisfaction": 10 ** 400,
                                  "interactions": [{"results": ["a"]}]}])
    assert read_jsonl(write(tmp_path, '{"session_id": 1' + "0" * 400 + ', "interactions": '
                            '[{"results": ["a"], "clicks": [1]}]}', name="id.jsonl")
                      ).session_ids == ["1" + "0" * 400]


def test_json_nested_too_deeply_is_named(tmp_path):
    path = write(tmp_path, {"session_id": "ok", "interactions": [{"results": ["a"]}]},
                 "[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputFormatError, match=r"s\.jsonl, line 2: invalid JSON \(nested "
                       r"too deeply\)"):
        read_jsonl(path)
    result = cli(path)
    assert result.exit_code == 2 and "line 2: invalid JSON (nested too deeply)" in result.output


GOOD_LINE = ('{"session_id": "s1", "qrels": {"d1": 1}, "interactions": [{"query": "heat", '
             '"results": ["d1", "d2"], "clicks": [1, 0]}]}')


@pytest.mark.parametrize("line, field", [
    ('{"session_id": "s2", "session_id": "s3", "interactions": [{"results": ["d1"]}]}',
     '"session_id" appears twice in the object'),
    ('{"session_id": "s2", "interactions": [{"results": ["d1"], "clicks": [1], '
     '"clicks": [0]}]}', '"clicks" appears twice in the object'),
    ('{"session_id": "s2", "qrels": {"d1": 1, "d1": 0}, "interactions": [{"results": '
     '["d1"]}]}', '"d1" appears twice in the object'),
    ('{"session_id": "s\\ud800", "interactions": [{"results": ["d1"]}]}',
     '"session_id" holds the escape \\ud800, a lone surrogate'),
    ('{"session_id": "s2", "interactions": [{"query": "heat \\udfff", "results": ["d1"]}]}',
     '"interactions[0].query" holds the escape \\udfff, a lone surrogate'),
    ('{"session_id": "s2", "interactions": [{"results": ["d1"]}, {"results": ["d1", '
     '"d\\uD83D"]}]}', '"interactions[1].results[1]" holds the escape \\ud83d'),
    ('{"session_id": "s2", "qrels": {"d\\udc00": 1}, "interactions": [{"results": ["d1"]}]}',
     '"qrels.d\\udc00" holds the escape \\udc00, a lone surrogate'),
])
def test_repeated_keys_and_lone_surrogates_are_refused_as_in_corpora(tmp_path, line, field):
    """A key twice (json keeps the last value, other readers the first) and a lone surrogate
    (not Unicode: it cannot be written back as UTF-8) are refused naming the file, line and
    field, with the words the corpus and queries readers use; a surrogate pair is text."""
    path = write(tmp_path, GOOD_LINE, line)
    with pytest.raises(InputFormatError) as caught:
        read_jsonl(path)
    assert str(caught.value).startswith(f"{path}, line 2: {field}")
    result = cli(path)
    assert result.exit_code == 2 and f"line 2: {field}" in " ".join(result.output.split())
    paired = read_jsonl(write(tmp_path, GOOD_LINE.replace("heat", "heat \\ud83d\\ude00"),
                              name="pair.jsonl"))
    assert paired.query_texts == ["heat \U0001f600"]


@pytest.mark.parametrize("record, message", [
    ({"session_id": "s\ud800", "interactions": [{"results": ["d1"]}]},
     'session \'s\\ud800\': "session_id" holds \\ud800, a lone surrogate'),
    ({"session_id": "s2", "interactions": [{"query_id": "\ud800", "results": ["d1"]}]},
     'session \'s2\': "interactions[0].query_id" holds \\ud800, a lone surrogate'),
    ({"session_id": 7, "interactions": [{"query": "heat \udfff", "results": ["d1"]}]},
     'session \'7\': "interactions[0].query" holds \\udfff, a lone surrogate'),
    ({"session_id": "s2", "interactions": [{"results": ["d1"]}, {"results": ["d1", "d\ud83d"],
                                                                  "clicked": ["d\ud83d"]}]},
     'session \'s2\': "interactions[1].results[1]" holds \\ud83d'),
    ({"session_id": "s2", "qrels": {"d\udc00": 1}, "interactions": [{"results": ["d1"]}]},
     'session \'s2\': "qrels.d\\udc00" holds \\udc00, a lone surrogate'),
    ({"session_id": "s2", "interactions": [{"results": ["d1"], "note\udc00": 1}]},
     'session \'s2\': "interactions[0].note\\udc00" holds \\udc00'),
])
def test_from_records_refuses_the_lone_surrogates_the_reader_refuses(tmp_path, record,
                                                                      message):
    """A record given through the API is checked as a JSONL line is: a lone surrogate in any
    key or string (which the reader refuses as a lone escape) is refused naming the record
    number, the session and the field's path, and the message itself prints as UTF-8; it was
    kept (or crashed an error message about it with UnicodeEncodeError)."""
    with pytest.raises(InputFormatError) as caught:
        SessionLog.from_records([json.loads(GOOD_LINE), record])
    assert str(caught.value).startswith(f"sessions, line 2: {message}")
    str(caught.value).encode("utf-8")
    with pytest.raises(InputFormatError, match="a lone surrogate"):
        read_jsonl(write(tmp_path, GOOD_LINE, json.dumps(record)))


def test_from_records_keeps_a_nul_as_the_reader_keeps_its_escape(tmp_path):
    """A NUL character is text to both: a JSONL line can hold it only as the escape
    \\u0000 (a raw NUL byte is invalid JSON), which the reader keeps, so the API keeps it
    too and both give the same log."""
    record = {"session_id": "s\x00", "interactions": [
        {"query_id": "q\x00", "query": "a\x00b", "results": ["d\x00"], "clicked": ["d\x00"]}],
        "qrels": {"d\x00": 1}}
    from_api = SessionLog.from_records([record])
    from_file = read_jsonl(write(tmp_path, json.dumps(record)))
    assert list(from_api.to_records()) == list(from_file.to_records()) == [
        {**record, "interactions": [{"query_id": "q\x00", "query": "a\x00b",
                                     "results": ["d\x00"], "clicks": [1]}]}]
