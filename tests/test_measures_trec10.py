"""Every trec_eval 10.0 measure family and parameter form against trec_eval 10.0 itself.

Per-query values from rerankit's kernels are compared with the binary's ``-q`` output at
its printed precision (``%6.4f``, counts as integers, text as is) on trec_eval's own test
files, on the AQUAINT qrels with a real run, on graded qrels at ``-l 2``, and on random
inputs; unrounded values are checked to 1e-12 on hand-worked rankings and, for
``compat="9"``, against pytrec_eval (trec_eval 9.0.x's C code). Measure names and their
order are compared with the binary's output. The binary is built from
``../shared/tools/trec_eval-10.0``; without it these tests skip.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerankit import datasets
from rerankit.data.qrels import Qrels
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, UnknownMeasureError
from rerankit.evaluation.kernels import KERNELS, RankingStats
from rerankit.evaluation.measures import (
    FAMILIES,
    NICKNAMES,
    parse_measures,
    printed_per_query,
    summary_rule,
    value_kind,
)
from rerankit.evaluation.ranking import judge_ranking

from .cli_helpers import invoke

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SOURCE = SHARED / "tools" / "trec_eval-10.0"
TEST = SOURCE / "test"
AQUAINT = datasets.path("aquaint")
MEAS_PARAMS = ["iprec_at_recall..10,.20,.25,.75,.50", "P.5,7,3", "recall.20,2000",
               "Rprec_mult.5.0,0.2,0.35", "utility.2,-1,0,0", "11pt_avg..25,.5,.75",
               "ndcg.1=3,2=9,4=4.5", "ndcg_cut.10,20,23.4", "success.2,5,20"]
MORE_PARAMS = ["relstring.20", "set_F.0.5", "rbp_resid.p=0.7", "unj.1,3,50",
               "relative_P.2,50", "Rprec_mult.0.1,3", "utility.1,-1,0.5,0.25",
               "11pt_avg.0.2,0.5,0.8", "iprec_at_recall.0.33,0.66", "map_cut.7,77",
               "success.1,3", "yaap", "dcg", "ideal_dcg"]
# trec_eval shares one parameter list between dcg, ideal_dcg and ndcg and crashes (double
# free) when two of them are requested and one has parameters: never combined here.
GAIN_PARAMS = ["ndcg.0=1,3=9", "G.1=1.7,3=0.3", "ndcg_rel.1=2,2=0.5,0=0.3",
               "Rndcg.1=2,2=0.5", "rbp_resid"]


@pytest.fixture(scope="session")
def files(tmp_path_factory, trec_eval) -> dict[str, Path]:
    """trec_eval's test files as they are, and 8 queries of AQUAINT with the BM25 run."""
    folder = tmp_path_factory.mktemp("measure_inputs")

    def subset(source: Path, keep: set[str]) -> Path:
        lines = [line for line in source.read_text().splitlines()
                 if line.strip() and line.split()[0] in keep]
        target = folder / source.name
        target.write_text("\n".join(lines) + "\n")
        return target

    run = (AQUAINT / "aq_bm25.res").read_text().split("\n")
    queries = list(dict.fromkeys(line.split()[0] for line in run if line))[:8]
    return {
        "results": TEST / "results.test",
        "qrels": TEST / "qrels.test",
        "rel_level": TEST / "qrels.rel_level",
        "aq_qrels": subset(AQUAINT / "trec_aq_303-689.qrels", set(queries)),
        "aq_run": subset(AQUAINT / "aq_bm25.res", set(queries)),
    }


def _binary(trec_eval: Path, qrels: Path, run: Path, specs: list[str],
            options: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    args = [str(trec_eval), "-q", *options]
    for spec in specs:
        args += ["-m", spec]
    out = subprocess.run([*args, str(qrels), str(run)], capture_output=True, text=True,
                         check=True).stdout
    return [tuple(field.strip() for field in line.split("\t")) for line in out.splitlines()]


def _printed(family: str, value) -> str:
    """A value as trec_eval prints it (C's %6.4f writes NaN as "nan" or "-nan")."""
    kind = value_kind(family)
    if kind == "text":
        return value
    if kind == "count":
        return str(int(value))
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:6.4f}"


def _ours(qrels: Path, run: Path, specs: list[str], level: int = 1,
          judged_only: bool = False) -> dict[tuple[str, str], str]:
    jr = judge_ranking(Qrels.read(qrels), Run.read_trec(run), level, judged_only=judged_only)
    stats = RankingStats(jr)
    out = {}
    for m in parse_measures(specs):
        if not printed_per_query(m.family):
            continue
        values = KERNELS[m.family](stats, m.param)
        for i, qid in enumerate(jr.query_ids):
            if jr.has_results[i]:
                out[(m.name, qid)] = _printed(m.family, values[i])
    return out


def _compare(trec_eval, qrels, run, specs, level=1, judged_only=False):
    """Assert that every per-query value printed by the binary equals ours.

    rbp rescales gains to [0, 1], and trec_eval 10.0 reads two uninitialised variables
    there (m_rbp.c: min, max), so its rbp values depend on which measures ran before it:
    they are compared only where rbp is the one measure requested (the intended values;
    inputs with other measures give the binary's leftovers)."""
    measures = parse_measures(specs)
    skip = {m.name for m in measures if m.family == "rbp"} if len(measures) > 1 else set()
    options = ("-l", str(level)) + (("-J",) if judged_only else ())
    lines = _binary(trec_eval, qrels, run, specs, options)
    theirs = {(name, qid): value for name, qid, value in lines
              if qid != "all" and name not in skip}
    ours = {k: v for k, v in _ours(qrels, run, specs, level, judged_only).items()
            if k[0] not in skip}
    assert set(ours) == set(theirs)
    different = {k: (ours[k], theirs[k]) for k in theirs if ours[k] != theirs[k]}
    assert not different, f"{len(different)} of {len(theirs)} values differ: " \
                          f"{dict(list(different.items())[:5])}"
    return len(theirs)


@pytest.mark.parametrize(("qrels", "run", "level", "specs"), [
    ("qrels", "results", 1, ["all_trec"]),
    ("qrels", "results", 1, MEAS_PARAMS),
    ("qrels", "results", 1, MORE_PARAMS),
    ("qrels", "results", 0, ["all_trec"]),
    ("qrels", "results", 1, ["rbp.p=0.5"]),
    ("rel_level", "results", 2, ["all_trec", "relstring.20"]),
    ("rel_level", "results", 1, ["all_trec", "yaap"]),
    ("rel_level", "results", 1, GAIN_PARAMS),
    # gains less than 1 apart: trec_eval's comparator truncates their difference to 0
    ("rel_level", "results", 2, ["ndcg.3=2.6,2=3.4,1=2.9"]),
    ("rel_level", "results", 1, ["Rndcg.3=2.5,1=3,2=2.9"]),
    ("aq_qrels", "aq_run", 1, ["G.2=1.5,1=2", "ndcg_rel.2=1.5,1=2"]),
    ("rel_level", "results", 2, ["dcg.2=4"]),
    ("rel_level", "results", 1, ["ideal_dcg.1=0.5,3=2"]),
    ("rel_level", "results", 3, MEAS_PARAMS),
    ("rel_level", "results", 2, ["rbp"]),
    ("rel_level", "results", 1, ["rbp.p=0.8,1=2,3=0.5"]),
    ("aq_qrels", "aq_run", 1, ["all_trec", "yaap", "relstring.30"]),
    ("aq_qrels", "aq_run", 2, ["all_trec", "dcg", "ideal_dcg"]),
    ("aq_qrels", "aq_run", 1, [*GAIN_PARAMS, "yaap"]),
    ("aq_qrels", "aq_run", 2, MEAS_PARAMS),
    ("aq_qrels", "aq_run", 1, ["rbp"]),
    ("aq_qrels", "aq_run", 2, ["rbp.p=0.95"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_per_query_values_equal_trec_eval(trec_eval, files, qrels, run, level, specs):
    assert _compare(trec_eval, files[qrels], files[run], specs, level) > 0


def test_judged_only_including_nothing_retrieved(trec_eval, files):
    """-J leaves a query of qrels.rel_level at -l 4 nearly empty; trec_eval prints -nan
    for 0/0 (iprec_at_recall at 0, 11pt_avg of a query with nothing retrieved)."""
    for level in (1, 4):
        _compare(trec_eval, files["rel_level"], files["results"],
                 ["all_trec", "yaap"], level, judged_only=True)


def test_names_and_order_equal_trec_eval(trec_eval, files):
    for specs in (["all_trec"], MEAS_PARAMS, MORE_PARAMS, GAIN_PARAMS,
                  ["P.5", "P.10"],                  # first parameter list wins
                  ["P", "P.7"], ["P.7", "P"], ["official", "P.2", "set"],
                  ["ndcg_cut.3.9,1", "recall", "all_trec", "relstring.3"]):
        lines = _binary(trec_eval, files["qrels"], files["results"], specs)
        first_query = lines[0][1]
        measures = parse_measures(specs)
        assert [m.name for m in measures if printed_per_query(m.family)] == [
            name for name, qid, _ in lines if qid == first_query], specs
        assert [m.name for m in measures if summary_rule(m.family) != "none"] == [
            name for name, qid, _ in lines if qid == "all"], specs


def test_how_each_family_is_printed_and_summarised(trec_eval, files):
    """value_kind / summary_rule / printed_per_query agree with what the binary prints:
    per-query lines, an "all" line, integers or %6.4f or text."""
    specs = ["all_trec", "yaap", "dcg", "ideal_dcg"]
    lines = _binary(trec_eval, files["qrels"], files["results"], specs)
    for m in parse_measures(specs):
        mine = [(qid, value) for name, qid, value in lines if name == m.name]
        per_query = [v for q, v in mine if q != "all"]
        summary = [v for q, v in mine if q == "all"]
        assert bool(per_query) == printed_per_query(m.family), m.name
        assert bool(summary) == (summary_rule(m.family) != "none"), m.name
        sample = (per_query or summary)[0]
        kind = value_kind(m.family)
        if kind == "count":
            assert sample.isdigit(), m.name
        elif kind == "float":
            assert len(sample.split(".")[-1]) == 4, m.name
        else:
            assert not sample.replace(".", "").isdigit(), m.name


def test_all_trec_is_trec_eval_list():
    expected = ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
                "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P", "relstring",
                "recall", "unj", "rbp", "rbp_resid", "infAP", "gm_bpref", "utility",
                "11pt_avg", "ndcg", "relative_P", "Rprec_mult", "success", "map_cut",
                "ndcg_cut", "ndcg_rel", "Rndcg", "binG", "G", "set_P", "set_recall",
                "set_relative_P", "set_map", "set_F", "num_nonrel_judged_ret"]
    assert NICKNAMES["all_trec"] == expected
    assert set(NICKNAMES["all"]) >= set(expected) | {"dcg", "ideal_dcg", "yaap"}


# ------------------------------------------------------------- hand-worked, unrounded
# ranking of query "q": rank 1 a (grade 2), 2 x (not in the qrels), 3 b (0),
# 4 c (-1: pooled, unjudged), 5 d (1), 6 e (3); also judged, not retrieved: f (1), g (0)
HAND_QRELS = {"q": {"a": 2, "b": 0, "c": -1, "d": 1, "e": 3, "f": 1, "g": 0}}
HAND_RUN = {"q": {"a": 6.0, "x": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0}}
EPS = 0.00001


def _hand(spec: str, compat: str = "10", docs_in_coll: int = 0):
    jr = judge_ranking(Qrels.from_dict(HAND_QRELS), Run.from_dict(HAND_RUN), 1,
                       compat=compat, num_docs_in_coll=docs_in_coll)
    (m,) = parse_measures([spec])
    return KERNELS[m.family](RankingStats(jr), m.param)[0]


def _hand_dcg() -> tuple[float, float]:
    dcg = 2 / math.log2(2) + 1 / math.log2(6) + 3 / math.log2(7)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)
    return dcg, ideal


def _hand_infap() -> float:
    at_d = 1 / 5 + (4 / 5) * ((1 + 1 + 1) / 4) * ((1 + EPS) / (2 + 2 * EPS))
    at_e = 1 / 6 + (5 / 6) * ((2 + 1 + 1) / 5) * ((2 + EPS) / (3 + 2 * EPS))
    return (1.0 + at_d + at_e) / 4


def _hand_ndcg_rel() -> float:
    dcg, ideal = _hand_dcg()
    return (2 / 3 + (2 + 1 / math.log2(6)) / ideal + dcg / ideal + 1 * dcg / ideal) / 4


def _hand_rndcg() -> float:
    dcg, ideal = _hand_dcg()
    # the ideal gain changes after 1 (3 -> 2), 2 (2 -> 1) and 4 documents (the end),
    # plus the final point at num_ret
    return (2 / 3 + 2 / (3 + 2 / math.log2(3)) + 2 / ideal + dcg / ideal) / 4


HAND_CASES = {
    "P.5": 2 / 5,
    "relative_P.5": 2 / 4,
    "Rprec_mult.0.5": 1 / 2,                                # (long)(0.5 * 4 + 0.9) = 2
    "infAP": _hand_infap(),
    "binG": (1 + 1 / math.log2(5) + 1 / math.log2(5)) / 4,
    "yaap": math.log((1 + 1.9) / (1 + 4 - 1.9)),
    "set_F.0.5": 1.5 * (3 / 6) * (3 / 4) / (0.5 * (3 / 6) + 3 / 4),
    "set_relative_P": 3 / 4,
    "set_map": 9 / 24,
    "utility": 3 - 3,
    "num_nonrel_judged_ret": 1,
    "unj.5": 2 / 5,
    "rbp.p=0.8": 0.2 * (2 / 3 + (1 / 3) * 0.8 ** 4 + 0.8 ** 5),     # gains / 3
    "rbp_resid.p=0.8": 0.8 ** 6 + 0.2 * (0.8 + 0.8 ** 3),
    "ndcg": _hand_dcg()[0] / _hand_dcg()[1],
    "dcg": _hand_dcg()[0],
    "ideal_dcg": _hand_dcg()[1],
    "ndcg_rel": _hand_ndcg_rel(),
    "Rndcg": _hand_rndcg(),
    # interpolated precision at 1, 2, 3 relevant: 1, 0.5, 0.5; 4 relevant never reached
    "iprec_at_recall.0.5": 0.5,
    "iprec_at_recall.0.1": 1.0,                             # lround(0.4) = 0: the last
    "11pt_avg": 6.5 / 11,        # cuts 0 0 1 1 2 2 2 3 3 4 4 (lround(level * 4))
    "relstring.10": "'2-0.13'",
}


@pytest.mark.parametrize(("spec", "expected"), list(HAND_CASES.items()))
def test_hand_worked_values_to_1e12(spec, expected):
    value = _hand(spec)
    if isinstance(expected, str):
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_hand_worked_compat_9_and_collection_size():
    # trec_eval 9.0.x: cut = (long)(level * 4 + 0.9): 0 1 1 2 2 2 3 3 4 4 4
    assert _hand("11pt_avg", compat="9") == pytest.approx(5.5 / 11, abs=1e-12)
    assert _hand("iprec_at_recall.0.2", compat="9") == 1.0
    assert _hand("iprec_at_recall.0.2") == 1.0
    assert _hand("iprec_at_recall.0.4", compat="9") == 0.5
    value = _hand("utility.2,-1,-0.5,0.01", docs_in_coll=100)
    assert value == pytest.approx(2 * 3 - 3 - 0.5 + 0.01 * (100 + 3 - 6 - 4), abs=1e-12)


PYTREC = ["11pt_avg", "G", "P", "Rndcg", "Rprec", "Rprec_mult", "binG", "bpref", "infAP",
          "iprec_at_recall", "map", "map_cut", "ndcg", "ndcg_cut", "ndcg_rel",
          "num_nonrel_judged_ret", "num_rel", "num_rel_ret", "num_ret", "recall",
          "recip_rank", "relative_P", "set_F", "set_P", "set_map", "set_recall",
          "set_relative_P", "success", "utility"]


@pytest.mark.skipif(importlib.util.find_spec("pytrec_eval") is None,
                    reason="pytrec_eval (trec_eval 9.0.x's C code) is not installed")
@pytest.mark.parametrize(("qrels", "level"), [("qrels", 1), ("rel_level", 2),
                                              ("aq_qrels", 1)])
def test_compat_9_equals_pytrec_eval_unrounded(files, qrels, level):
    import pytrec_eval

    run_file = files["aq_run" if qrels == "aq_qrels" else "results"]
    q, run = Qrels.read(files[qrels]), Run.read_trec(run_file)
    reference = pytrec_eval.RelevanceEvaluator(q.to_dict(), set(PYTREC),
                                               relevance_level=level).evaluate(run.to_dict())
    jr = judge_ranking(q, run, level, compat="9")
    stats = RankingStats(jr)
    checked = 0
    for m in parse_measures(PYTREC):
        values = KERNELS[m.family](stats, m.param)
        for i, qid in enumerate(jr.query_ids):
            if jr.has_results[i]:
                assert values[i] == pytest.approx(reference[qid][m.name], abs=1e-12), \
                    (m.name, qid)
                checked += 1
    assert checked > 100


# ------------------------------------------------------------------ random inputs
DOCS = ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12"]
RANDOM_SPECS = [["all_trec"], ["yaap", "dcg", "ideal_dcg", "relstring.4"],
                ["ndcg.0=0.5,2=3.5", "G.1=2.5,2=1", "ndcg_rel.3=1,1=3", "Rndcg.2=2"],
                ["ideal_dcg.7=2,1=0.25", "G.1=-1", "ndcg_rel.0=2,1=0", "Rndcg.3=0.5,1=4"],
                ["rbp.p=0.7,2=0.5"], ["rbp"],
                ["Rprec_mult.0.3,1.5", "11pt_avg.0.9,0.1,0.5", "iprec_at_recall.0.25,0.75",
                 "utility.1.5,-0.5,-1,0.1", "set_F.2", "unj.2,4", "relative_P.3,6"]]


@st.composite
def random_inputs(draw):
    qrels, run = {}, {}
    for q in draw(st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3,
                           unique=True)):
        grades = draw(st.dictionaries(st.sampled_from(DOCS), st.integers(-1, 4),
                                      min_size=1, max_size=10))
        if max(grades.values()) < 0:
            grades[DOCS[0]] = 0
        qrels[q] = grades
        run[q] = draw(st.dictionaries(st.sampled_from(DOCS),
                                      st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.5, 7.0]),
                                      min_size=1, max_size=12))
    return (qrels, run, draw(st.integers(0, 3)), draw(st.sampled_from(RANDOM_SPECS)),
            draw(st.booleans()))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=random_inputs())
def test_random_rankings_equal_trec_eval(case, trec_eval, tmp_path):
    qrels, run, level, specs, judged_only = case
    _compare(trec_eval, *_write_case(tmp_path, qrels, run), specs, level, judged_only)


def _write_case(tmp_path, qrels: dict, run: dict) -> tuple:
    """A drawn case as a qrels file and a run file (rank column 0: trec_eval ignores it)."""
    qrels_path, run_path = tmp_path / "qrels", tmp_path / "run"
    qrels_path.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in qrels.items()
                                  for d, g in docs.items()))
    run_path.write_text("".join(f"{q} Q0 {d} 0 {s} tag\n" for q, docs in run.items()
                                for d, s in docs.items()))
    return qrels_path, run_path


GAIN_FAMILIES_WITH_MAPS = ["ndcg", "dcg", "ideal_dcg", "ndcg_rel", "Rndcg", "G"]


@st.composite
def random_gain_maps(draw):
    """Gain maps whose gains are often less than 1 apart, where trec_eval's truncating
    comparator is not transitive and its order is glibc's merge sort's."""
    levels = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True))
    gains = [draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0, 1.5, 2.0, 2.6, 3.5, -1.0]))
             for _ in levels]
    family = draw(st.sampled_from(GAIN_FAMILIES_WITH_MAPS))
    return [f"{family}." + ",".join(f"{lv}={g:g}" for lv, g in zip(levels, gains, strict=True))]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=random_inputs(), specs=random_gain_maps())
def test_random_fractional_gain_maps_equal_trec_eval(case, specs, trec_eval, tmp_path):
    """Per-query gain lists (levels up to each query's highest grade), sorted in glibc's
    order, and an ideal walk that never starts when the last entry's gain is <= 0."""
    qrels, run, level, _, judged_only = case
    _compare(trec_eval, *_write_case(tmp_path, qrels, run), specs, level, judged_only)


@pytest.mark.parametrize(("spec", "qrels", "run", "expected"), [
    # one document of grade 1 given gain 0.5: level 0 (gain 0) stays last in the sorted
    # list (0.5 - 0 truncates to 0), so trec_eval's ideal walk never starts
    ("ndcg.1=0.5", "1 0 a 1\n", "1 Q0 a 1 1 t\n", "0.0000"),
    ("ideal_dcg.0=1.5,2=1,3=0.25", "1 0 a 0\n1 0 b 1\n1 0 c 3\n",
     "1 Q0 a 1 3 t\n1 Q0 b 2 2 t\n1 Q0 c 3 1 t\n", "2.0714"),
])
def test_fractional_gain_examples_found_by_a_tester(tmp_path, trec_eval, spec, qrels, run,
                                                    expected):
    (tmp_path / "q").write_text(qrels)
    (tmp_path / "r").write_text(run)
    args = ["-m", spec, str(tmp_path / "q"), str(tmp_path / "r")]
    theirs = subprocess.run([str(trec_eval), *args], capture_output=True, text=True)
    ours = invoke(["eval", *args])
    assert ours.exit_code == 0 and ours.stdout == theirs.stdout
    assert ours.stdout.split()[-1] == expected

# ------------------------------------------------------------------ names and errors
def test_aliases_still_resolve():
    names = [m.name for m in parse_measures(["nDCG@10", "MRR@10", "R@100", "P@5", "MAP@100",
                                             "recip_rank_cut.3", "Success@1", "MRR"])]
    assert names == ["recip_rank", "P_5", "recall_100", "ndcg_cut_10", "map_cut_100",
                     "success_1", "recip_rank_cut_3", "recip_rank_cut_10"]
    assert [m.name for m in parse_measures(["P.5", "P_10", "iprec_at_recall_0.10"])] == [
        "iprec_at_recall_0.10", "P_5", "P_10"]


@pytest.mark.parametrize("spec", [
    "nonsense", "P.0", "P.5,5", "P.x", "P.", "P.5x", "set_P.3", "official.5",
    "utility.1,2", "ndcg.a=3", "ndcg.1=2,1=3", "ndcg.-1=2", "ndcg.1", "rbp.q=0.5",
    "iprec_at_recall.0.1,0.1", "Rprec_mult.x", "nDCG@0", "nDCG@x", "",
])
def test_bad_measures_are_one_line_errors(spec):
    with pytest.raises(UnknownMeasureError) as info:
        parse_measures([spec])
    message = str(info.value)
    assert "\n" not in message and message
    assert spec.split(".")[0].split("@")[0] in message


def test_every_family_has_a_kernel_or_belongs_to_prefs():
    for family, spec in FAMILIES.items():
        assert family in KERNELS or family.startswith("prefs_") or family.endswith("_avgjg") \
            or family in ("runid", "num_q"), family
        assert spec.kind in ("count", "float", "text")
        assert spec.summary in ("sum", "mean", "gmean", "none", "runid", "num_q")


def test_absurd_grade_is_an_error_for_gain_measures_not_a_hang():
    from rerankit import evaluate

    with pytest.raises(InputFormatError, match=r"relevance grade 3000000000 \(query 'q', "
                       r"document 'd'\) is too large"):
        evaluate({"q": {"d": 3_000_000_000}}, {"q": {"d": 1.0}}, ["ndcg"])
