"""Meta-evaluation of session metrics against independent computations: scipy called directly
(correlations, p-values, bootstrap CIs, paired t-tests), Williams' t against Steiger's
(1980) case A as printed in the documentation of R's psych::r.test, hand-worked
intuitiveness counts, and the CLI's JSON equal to the API's."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re

import numpy as np
import pytest
from scipy import stats as sps

from rerankit.data.run import Run
from rerankit.sessions import (
    demo_log_path,
    evaluate_queries,
    evaluate_sessions,
    read_jsonl,
)
from rerankit.sessions.meta import (
    compare_correlations,
    correlate_with_satisfaction,
    intuitiveness,
    meta_evaluate,
    power_over_systems,
    williams_test,
)

from .cli_helpers import invoke

METRICS = ("num", "umeasure", "sdcg", "nsdcg", "srbp")
SCIPY = {"pearson": sps.pearsonr, "spearman": sps.spearmanr, "kendall": sps.kendalltau}


@pytest.fixture(scope="module")
def demo():
    log = read_jsonl(demo_log_path())
    return log, evaluate_sessions(log, METRICS), evaluate_queries(log, METRICS)


def _defined(*arrays):
    keep = ~np.any([np.isnan(a) for a in arrays], axis=0)
    return [a[keep] for a in arrays]


def test_correlations_equal_scipy_with_scipy_bootstrap_cis(demo):
    log, scores, _ = demo
    result = correlate_with_satisfaction(scores.values, log.satisfaction, resamples=400, seed=7)
    assert len(result) == len(METRICS) * 3
    for c in result:
        x, y = _defined(scores.values[c.metric], log.satisfaction)
        direct = SCIPY[c.method](x, y)
        assert c.n == x.size
        assert c.r == pytest.approx(direct[0], abs=1e-12)
        assert c.p_value == pytest.approx(direct[1], rel=1e-9, abs=1e-300)
        ci = sps.bootstrap((x, y), lambda a, b, f=SCIPY[c.method]: f(a, b)[0], paired=True,
                           vectorized=False, n_resamples=400, method="percentile",
                           random_state=7).confidence_interval
        assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert c.ci_low <= c.r <= c.ci_high


def test_query_level_correlations_use_query_satisfaction(demo):
    log, _, queries = demo
    result = correlate_with_satisfaction(queries.values, log.inter_satisfaction, "query",
                                         ("spearman",), resamples=400)
    for c in result:
        x, y = _defined(queries.values[c.metric], log.inter_satisfaction)
        assert c.level == "query" and c.n == x.size
        assert c.r == pytest.approx(sps.spearmanr(x, y)[0], abs=1e-12)


def test_difference_of_correlations_equals_scipy(demo):
    log, scores, _ = demo
    v, sat = scores.values, log.satisfaction
    result = compare_correlations(v, sat, [("num", "srbp"), ("sdcg", "umeasure")],
                                  resamples=400, seed=3)
    for d in result:
        x, y, s = _defined(v[d.metric_a], v[d.metric_b], sat)
        f = SCIPY[d.method]
        assert d.n == x.size
        assert d.difference == pytest.approx(f(x, s)[0] - f(y, s)[0], abs=1e-12)
        boot = sps.bootstrap((x, y, s), lambda a, b, t, f=f: f(a, t)[0] - f(b, t)[0], paired=True,
                             vectorized=False, n_resamples=400, method="percentile",
                             random_state=3)
        assert (d.ci_low, d.ci_high) == pytest.approx(
            (boot.confidence_interval.low, boot.confidence_interval.high), abs=1e-9)
        dist = boot.bootstrap_distribution
        tail = min(np.sum(dist <= 0), np.sum(dist >= 0))
        assert d.p_bootstrap == pytest.approx(min(1, 2 * (tail + 1) / (dist.size + 1)))
        if d.method == "kendall":
            assert math.isnan(d.williams_t)
        else:
            expected = _williams_by_matrix(f(x, s)[0], f(y, s)[0], f(x, y)[0], x.size)
            assert d.williams_t == pytest.approx(expected, abs=1e-9)


def _williams_by_matrix(r12, r13, r23, n):
    """Williams' T2 written from Steiger (1980, eq. 3) with the determinant taken by numpy."""
    det = np.linalg.det(np.array([[1, r12, r13], [r12, 1, r23], [r13, r23, 1]]))
    rbar = (r12 + r13) / 2
    return (r12 - r13) * math.sqrt((n - 1) * (1 + r23) /
                                   (2 * det * (n - 1) / (n - 3) + rbar ** 2 * (1 - r23) ** 3))


def test_williams_test_reproduces_steiger_case_a():
    # psych::r.test(n = 103, r12 = .4, r13 = .5, r23 = .1), "Steiger Case A" in its
    # examples: t = -0.89 on 100 df.
    t, p = williams_test(0.4, 0.5, 0.1, 103)
    assert round(t, 2) == -0.89
    assert t == pytest.approx(_williams_by_matrix(0.4, 0.5, 0.1, 103), abs=1e-12)
    assert p == pytest.approx(2 * sps.t.sf(abs(t), 100))
    assert 0.37 < p < 0.38


def test_williams_test_is_symmetric_and_zero_for_equal_correlations():
    t, p = williams_test(0.3, 0.3, 0.5, 50)
    assert t == 0 and p == pytest.approx(1.0)
    assert williams_test(0.6, 0.2, 0.4, 40)[0] == pytest.approx(-williams_test(0.2, 0.6, 0.4,
                                                                               40)[0])
    assert math.isnan(williams_test(0.6, 0.2, 0.4, 3)[0])


def test_intuitiveness_hand_worked():
    # pairs: 1 a>, b<, gold>  (disagree, a right)   2 a<, b>, gold>  (disagree, b right)
    #        3 a>, b<, gold>  (disagree, a right)   4 a>, b>, gold<  (agree: not counted)
    #        5 a>, b=, gold<  (tie in b: not a disagreement)   6 a<, b>, gold= (neither right)
    a = np.array([1.0, -1, 2, 1, 1, -1])
    b = np.array([-1.0, 1, -2, 1, 0, 1])
    gold = np.array([1.0, 1, 1, -1, -1, 0])
    assert intuitiveness(a, b, gold) == (6, 4, 2 / 4, 1 / 4, 1)
    _, count, share, _, _ = intuitiveness(a, a, gold)
    assert count == 0 and math.isnan(share)


def test_intuitiveness_over_session_pairs_counts_every_pair(demo):
    log, scores, _ = demo
    report = meta_evaluate({m: scores.values[m] for m in ("num", "srbp")}, log.satisfaction,
                           resamples=400, methods=("pearson",))
    (item,) = report.intuitiveness
    num, srbp, sat = scores.values["num"], scores.values["srbp"], log.satisfaction
    disagree = right_num = right_srbp = pairs = 0
    for i, j in itertools.combinations(range(log.num_sessions), 2):
        da, db, dg = num[i] - num[j], srbp[i] - srbp[j], sat[i] - sat[j]
        if np.isnan([da, db, dg]).any():
            continue
        pairs += 1
        if da * db < 0:
            disagree += 1
            right_num += np.sign(da) == np.sign(dg)
            right_srbp += np.sign(db) == np.sign(dg)
    assert (item.pairs, item.disagreements) == (pairs, disagree)
    assert item.a_agrees == pytest.approx(right_num / disagree)
    assert item.b_agrees == pytest.approx(right_srbp / disagree)


def _reordered(log, name, key):
    qids, docs, scores = [], [], []
    for record in log.to_records():
        for k, it in enumerate(record["interactions"], 1):
            seen = list(dict.fromkeys(it["results"]))
            for rank, d in enumerate(key(seen)):
                qids.append(f"{record['session_id']}:{k}")
                docs.append(d)
                scores.append(float(-rank))
    return Run.from_arrays(qids, docs, scores, name)


def test_discriminative_power_equals_scipy_paired_t(demo):
    log, _, _ = demo
    runs = {"logged": None, "reversed": _reordered(log, "reversed", lambda d: d[::-1]),
            "sorted": _reordered(log, "sorted", sorted)}
    systems = {name: evaluate_sessions(log, METRICS, run=run).values
               for name, run in runs.items()}
    power = power_over_systems(systems, test="t", alpha=0.05)
    for p in power:
        expected = {}
        for x, y in itertools.combinations(systems, 2):
            a, b = _defined(systems[x][p.metric], systems[y][p.metric])
            expected[f"{x} vs {y}"] = sps.ttest_rel(b, a).pvalue
        assert sorted(expected.values()) == pytest.approx(p.asl, rel=1e-9)
        assert p.pairs == sorted(expected, key=expected.get)
        assert p.significant == sum(v < 0.05 for v in expected.values())


def test_cli_json_equals_the_api(tmp_path, demo):
    log, scores, queries = demo
    out = tmp_path / "meta.json"
    result = invoke(["session", str(demo_log_path()), "--meta", "--resamples", "400",
                     "--seed", "5", "--json", str(out), "--csv",
                     str(tmp_path / "meta.csv")])
    assert result.exit_code == 0, result.output
    got = json.loads(out.read_text())
    api = meta_evaluate(scores.values, log.satisfaction, queries.values,
                        log.inter_satisfaction, resamples=400, seed=5).to_dict()
    assert got["meta"] == json.loads(json.dumps(api))
    assert got["means"]["num"] == pytest.approx(scores.mean("num"))
    assert {c["level"] for c in got["meta"]["correlations"]} == {"session", "query"}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "meta.csv").read_text())))
    by_key = {(r["section"], r["level"], r["method"], r["metric"], r["statistic"]): r
              for r in rows}
    for c in got["meta"]["correlations"]:
        row = by_key[("satisfaction", c["level"], c["method"], c["metric"], "r")]
        assert float(row["value"]) == pytest.approx(c["r"])
        assert int(row["n"]) == c["n"]


def test_cli_tables_are_whole_lines_and_systems_give_power(tmp_path, demo):
    log, _, _ = demo
    run = _reordered(log, "reversed", lambda d: d[::-1])
    path = tmp_path / "reversed.trec"
    run.write_trec(path)
    result = invoke(["session", str(demo_log_path()), "--meta", "--resamples", "400",
                     "--systems", str(path), "--test", "t"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^num +session +pearson +0\.\d{3} +\[[-+]0\.\d{3}, [-+]0\.\d{3}\]",
                     result.output, re.M)
    assert "Discriminative power (t test over sessions, alpha=0.05)" in result.output
    assert "share agreeing with found" in result.output      # gold defaults to found


def test_report_writes_the_plots(tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "report"
    result = invoke(["session", str(demo_log_path()), "--meta", "--resamples", "400",
                     "--report", str(folder)])
    assert result.exit_code == 0, result.output
    for name in ("satisfaction_scatter.png", "satisfaction_ci.png", "agreement_heatmap.png",
                 "meta.json"):
        assert (folder / name).stat().st_size > 1000
    assert (folder / "satisfaction_scatter.png").read_bytes()[:4] == b"\x89PNG"


def test_meta_without_satisfaction_says_so_and_outputs_need_meta(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"session_id": "a", "interactions": [
        {"results": ["x", "y"], "clicks": [1, 0]}]}) + "\n" + json.dumps(
        {"session_id": "b", "interactions": [{"results": ["y", "x"], "clicks": [0, 1]}]}) + "\n")
    result = invoke(["session", str(path), "--meta", "--resamples", "400"])
    assert result.exit_code == 0, result.output
    assert "no session satisfaction: session-level correlations skipped" in result.output
    refused = invoke(["session", str(path), "--csv", str(tmp_path / "x.csv")])
    assert refused.exit_code == 2 and "need --meta" in refused.output


def test_tables_fit_an_80_column_terminal(demo):
    from rich.console import Console

    log, scores, queries = demo
    report = meta_evaluate(scores.values, log.satisfaction, queries.values,
                           log.inter_satisfaction, resamples=400, methods=("pearson",))
    console = Console(width=80, record=True, file=io.StringIO())
    for title, table in report.tables():
        console.print(title)
        console.print(table)
    rows = [line for line in console.export_text().splitlines() if "[" in line]
    assert rows and all(re.search(r"\[[-+]\d\.\d{3}, [-+]\d\.\d{3}\]", line) for line in rows)
    assert all(len(line.rstrip()) <= 80 for line in console.export_text().splitlines())


def test_intuitiveness_over_system_pairs_with_a_metric_as_gold(demo):
    log, _, _ = demo
    runs = {"logged": None, "reversed": _reordered(log, "reversed", lambda d: d[::-1]),
            "sorted": _reordered(log, "sorted", sorted)}
    systems = {name: evaluate_sessions(log, ("num", "srbp", "nsdcg"), run=run).values
               for name, run in runs.items()}
    values = {m: systems["logged"][m] for m in ("num", "srbp")}
    report = meta_evaluate(values, systems=systems, gold="nsdcg", resamples=400, test="t")
    (item,) = report.intuitiveness
    assert item.units == "system pairs" and [p.metric for p in report.power] == ["num", "srbp"]
    counts = np.zeros(3)
    for x, y in itertools.combinations(systems, 2):
        for s in range(log.num_sessions):
            da, db, dg = (systems[x][m][s] - systems[y][m][s] for m in ("num", "srbp", "nsdcg"))
            if not np.isnan([da, db, dg]).any() and da * db < 0:
                counts += [1, np.sign(da) == np.sign(dg), np.sign(db) == np.sign(dg)]
    assert item.disagreements == counts[0] > 0
    assert (item.a_agrees, item.b_agrees) == pytest.approx((counts[1] / counts[0],
                                                            counts[2] / counts[0]))


@pytest.mark.parametrize("alpha", [float("nan"), 0.0, 1.0, 2.0, -0.1])
def test_alpha_outside_zero_one_is_refused_by_api_and_cli(tmp_path, demo, alpha):
    _, scores, _ = demo
    message = f"alpha must be a number strictly between 0 and 1, got {alpha!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        meta_evaluate(scores.values, alpha=alpha)
    with pytest.raises(ValueError, match=re.escape(message)):
        power_over_systems({"a": scores.values, "b": scores.values}, alpha=alpha)
    out = tmp_path / "per.tsv"
    result = invoke(["session", str(demo_log_path()), "--meta", "--alpha",
                     str(alpha), "--per-session", str(out)])
    assert result.exit_code == 2 and f"--{message}" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_report_skips_the_scatter_panel_of_a_metric_undefined_everywhere(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "s.jsonl"                 # nothing clicked: NUM and nsDCG undefined
    path.write_text("".join(json.dumps(
        {"session_id": f"s{i}", "satisfaction": i + 1, "interactions": [
            {"results": ["a", "b", "c", "d"][i % 3:], "clicks": [0] * (4 - i % 3)}]}) + "\n"
        for i in range(4)))
    folder, out = tmp_path / "rep", tmp_path / "fj.json"
    result = invoke(["session", str(path), "--meta", "--resamples", "400",
                     "--report", str(folder), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "Warning" not in result.output
    note = ("satisfaction_scatter.png: no session has both a num value and satisfaction; "
            "its panel is left out")
    assert note in result.output
    assert note in json.loads(out.read_text())["meta"]["notes"]
    assert json.loads((folder / "meta.json").read_text()) == json.loads(out.read_text())
    for name in ("satisfaction_scatter.png", "satisfaction_ci.png", "agreement_heatmap.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"


def _floor_message(minimum: int, level: float, got: int) -> str:
    return (f"resamples must be at least {minimum} at alpha {level} (got {got}): the "
            f"{1 - level:.0%} bootstrap interval needs 10 resampled means beyond each bound; "
            "the default is 1000")


@pytest.mark.parametrize("options, level, minimum", [({}, 0.05, 400),
                                                     ({"alpha": 0.01}, 0.01, 2000),
                                                     ({"confidence": 0.99}, 0.01, 2000),
                                                     ({"alpha": 0.1}, 0.05, 400)])
def test_too_few_resamples_are_refused_as_compare_refuses_them(demo, options, level, minimum):
    """The floor of ``rerankit compare`` (stats.check_resamples, 20 / level: 10 resampled
    values beyond each bound of the interval) at the stricter of alpha (the power tests) and
    1 - confidence (the bootstrap intervals)."""
    log, scores, _ = demo
    with pytest.raises(ValueError, match=re.escape(_floor_message(minimum, level,
                                                                  minimum - 1))):
        meta_evaluate(scores.values, log.satisfaction, resamples=minimum - 1, **options)
    report = meta_evaluate({m: scores.values[m] for m in ("num", "srbp")}, log.satisfaction,
                           methods=("pearson",), resamples=minimum, **options)
    assert report.settings["resamples"] == minimum


@pytest.mark.parametrize("confidence, level, minimum", [(0.95, 0.05, 400), (0.99, 0.01, 2000)])
def test_each_resampling_step_has_the_floor_of_its_own_level(demo, confidence, level, minimum):
    log, scores, _ = demo
    message = re.escape(_floor_message(minimum, level, minimum - 1))
    with pytest.raises(ValueError, match=message):
        correlate_with_satisfaction(scores.values, log.satisfaction, resamples=minimum - 1,
                                    confidence=confidence)
    with pytest.raises(ValueError, match=message):
        compare_correlations(scores.values, log.satisfaction, [("num", "srbp")],
                             resamples=minimum - 1, confidence=confidence)
    with pytest.raises(ValueError, match=message):
        power_over_systems({"a": scores.values, "b": scores.values}, resamples=minimum - 1,
                           alpha=level)
    power_over_systems({"a": scores.values, "b": scores.values}, resamples=minimum,
                       alpha=level, test="t")


def test_cli_refuses_too_few_resamples(tmp_path):
    out = tmp_path / "meta.json"
    result = invoke(["session", str(demo_log_path()), "--meta", "--resamples", "399",
                     "--json", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "resamples must be at least 400 at alpha 0.05 (got 399)" in result.output
    assert not out.exists()
