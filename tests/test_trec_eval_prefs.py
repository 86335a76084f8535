"""Preference and judgment-group evaluation (``-R prefs``, ``qrels_prefs``, ``qrels_jg``)
against trec_eval 10.0 itself: the quicktest's five commands byte for byte (expected files
and the binary), per-query values, generated inputs compared with the binary, and the
inputs on which trec_eval stops.

The binary is built once per session from ``../shared/tools/trec_eval-10.0``; without that
folder (or a C compiler and make) these tests skip.
"""

from __future__ import annotations

import dataclasses
import re
import resource
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rerankit import datasets
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, UnknownMeasureError, VerificationError
from rerankit.evaluation.prefs import evaluate_preferences, parse_group_measures
from rerankit.evaluation.prefs_files import read_group_judgements
from rerankit.evaluation.prefs_verify import verify_with_trec_eval

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SOURCE = SHARED / "tools" / "trec_eval-10.0"
TEST = SOURCE / "test"

# The quicktest's preference commands: (-m, -R, judgements, run, expected output).
QUICKTEST = [
    ("all_prefs", "prefs", "prefs.test", "prefs.results.test", "out.test.prefs"),
    ("all_prefs", "prefs", "prefs.comment.test", "prefs.results.test", "out.test.prefs"),
    ("all_prefs", "qrels_prefs", "qrels.test", "results.test", "out.test.qrels_prefs"),
    ("qrels_jg", "qrels_jg", "qrels.123", "results.test", "out.test.qrels_jg"),
    ("qrels_jg", "qrels_jg", "qrels.comments.123", "results.test", "out.test.qrels_jg"),
]


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _binary(trec_eval: Path, args: list[str], cwd: Path | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run([str(trec_eval), *args], capture_output=True, check=False, cwd=cwd,
                          preexec_fn=_no_core_dump)


@cache
def _test_run(name: str) -> Run:
    """A run of trec_eval's test folder, split on whitespace as trec_eval reads it (its
    files pad fields with a tab and spaces; the run reader's handling of those is tested
    with the reader)."""
    rows = [line.split() for line in (TEST / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return Run.from_arrays([r[0] for r in rows], [r[2] for r in rows],
                           [float(r[4]) for r in rows], name=rows[-1][5])


@cache
def _quicktest_result(case: tuple[str, ...]):
    measure, rel_format, judgements, run, _ = case
    return evaluate_preferences(TEST / judgements, _test_run(run), [measure], rel_format)


def _parse_output(text: str) -> dict[tuple[str, str], str]:
    out = {}
    for line in text.splitlines():
        name, qid, value = line.split("\t")
        out[(name.strip(), qid)] = value
    return out


# ------------------------------------------------------------------ trec_eval's own tests
@pytest.mark.parametrize("case", QUICKTEST, ids=lambda c: f"{c[1]}-{c[2]}")
def test_quicktest_output_equals_the_expected_file_and_the_binary(case, trec_eval):
    measure, rel_format, judgements, run, expected = case
    ours = _quicktest_result(case).to_trec_eval(per_query=True)
    assert ours == (TEST / expected).read_text()
    theirs = _binary(trec_eval, ["-m", measure, "-q", "-R", rel_format, str(TEST / judgements),
                                 str(TEST / run)])
    assert theirs.returncode == 0, theirs.stderr.decode()
    assert ours == theirs.stdout.decode()


@pytest.mark.parametrize("case", QUICKTEST[::2], ids=lambda c: f"{c[1]}-{c[2]}")
def test_quicktest_per_query_values_match_the_binary(case, trec_eval):
    measure, rel_format, judgements, run, _ = case
    result = _quicktest_result(case)
    theirs = _binary(trec_eval, ["-m", measure, "-q", "-R", rel_format, str(TEST / judgements),
                                 str(TEST / run)])
    printed = _parse_output(theirs.stdout.decode())
    assert result.num_queries == int(printed[("num_q", "all")])
    assert result["runid"] == printed[("runid", "all")]
    checked = 0
    for qid, values in result.per_query.items():
        for name, value in values.items():
            text = printed[(name, qid)]
            if "." in text:
                assert abs(value - float(text)) <= 0.00005 + 1e-12, (qid, name)
            else:
                assert value == int(text), (qid, name)
            checked += 1
    assert checked == sum(1 for _, qid in printed if qid != "all")


def test_run_file_path_and_summary_only_output(trec_eval):
    args = ["-m", "prefs", "-R", "prefs", str(TEST / "prefs.test"),
            str(TEST / "prefs.results.test")]
    ours = evaluate_preferences(TEST / "prefs.test", TEST / "prefs.results.test", "prefs")
    assert ours.to_trec_eval() == _binary(trec_eval, args).stdout.decode()
    assert ours.to_trec_eval(per_query=True, summary=False) == _binary(
        trec_eval, ["-q", "-n", *args]).stdout.decode()


@pytest.mark.parametrize(("measure", "rel_format"), [("all_prefs", "qrels_prefs"),
                                                    ("qrels_jg", "qrels_jg")])
def test_real_collection_matches_the_binary(measure, rel_format, trec_eval):
    """AQUAINT's graded qrels (50 topics, up to 1,390 judged documents each) and a BM25 run."""
    folder = datasets.path("aquaint")
    args = [str(folder / "trec_aq_303-689.qrels"), str(folder / "aq_bm25.res")]
    theirs = _binary(trec_eval, ["-q", "-m", measure, "-R", rel_format, *args])
    ours = evaluate_preferences(*args, measure, rel_format)
    assert ours.num_queries == 50
    assert ours.to_trec_eval(per_query=True) == theirs.stdout.decode()


# ------------------------------------------------------------------ generated inputs
QIDS = ["1", "2", "10", "q7"]
DOCS = ["d1", "d2", "d3", "d10", "D1", "a", "z-9", "é"]
LEVELS = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]
SCORES = [0.0, -0.0, 1.0, 1.5, 2.0, -1.0, 1e-9, 1.0000000000000002]


@st.composite
def runs(draw, judged: list[str], complete: bool) -> list[str]:
    """Run lines for the judged queries (every one retrieves something unless ``complete``)
    and maybe an unjudged query; scores tie often."""
    lines = []
    for q in [*judged, "99"]:
        least = 0 if complete or q == "99" else 1
        docs = draw(st.dictionaries(st.sampled_from(DOCS), st.sampled_from(SCORES),
                                    min_size=least, max_size=6))
        lines += [f"{q} Q0 {d} 0 {s!r} run{len(lines) % 3}" for d, s in docs.items()]
    return lines or ["99 Q0 d1 0 1.0 run0"]


@st.composite
def options(draw) -> dict:
    return {"average_complete": draw(st.booleans()),
            "max_docs": draw(st.one_of(st.none(), st.integers(0, 5)))}


@st.composite
def prefs_files(draw) -> list[str]:
    """Consistent preferences: each judgment group has a level per document, and each of
    its sub-groups lists some of those documents (sometimes a line twice)."""
    lines = []
    for q in draw(st.lists(st.sampled_from(QIDS), min_size=1, max_size=3, unique=True)):
        for jg in draw(st.lists(st.sampled_from(["u1", "u2", "U1"]), min_size=1, max_size=3,
                                unique=True)):
            truth = draw(st.dictionaries(st.sampled_from(DOCS), st.sampled_from(LEVELS),
                                         min_size=1, max_size=6))
            for sub in range(draw(st.integers(1, 3))):
                docs = draw(st.lists(st.sampled_from(sorted(truth)), min_size=1, unique=True))
                docs += draw(st.lists(st.sampled_from(docs), max_size=1))
                lines += [f"{q} {jg} s{sub} {d} {truth[d]:g}" for d in docs]
    return draw(st.permutations(lines))


@st.composite
def qrels_files(draw, grades: list[int]) -> list[str]:
    """Lines ``qid group docno grade``, each document once per (query, group)."""
    lines = []
    for q in draw(st.lists(st.sampled_from(QIDS), min_size=1, max_size=3, unique=True)):
        for group in draw(st.lists(st.sampled_from(["0", "1", "b"]), min_size=1, max_size=2,
                                   unique=True)):
            judged = draw(st.dictionaries(st.sampled_from(DOCS), st.sampled_from(grades),
                                          min_size=1, max_size=7))
            lines += [f"{q} {group} {d} {g}" for d, g in judged.items()]
    return draw(st.permutations(lines))


def _compare(trec_eval: Path, rel_format: str, judgement_lines: list[str], run_lines: list[str],
             measures: list[str], opts: dict, flags: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rel, run = Path(tmp) / "judgements", Path(tmp) / "run"
        rel.write_text("\n".join(judgement_lines) + "\n")
        run.write_text("\n".join(run_lines) + "\n")
        args = ["-q", *flags, "-R", rel_format]
        if opts.get("average_complete"):
            args.append("-c")
        if opts.get("max_docs") is not None:
            args += ["-M", str(opts["max_docs"])]
        for m in measures:
            args += ["-m", m]
        try:
            ours = evaluate_preferences(rel, run, measures, rel_format, **opts)
        except InputFormatError as err:  # trec_eval's result is undefined there
            assume("reads past its data" not in str(err))
            raise
        theirs = _binary(trec_eval, [*args, str(rel), str(run)])
        assert theirs.returncode == 0, theirs.stderr.decode()
        assert ours.to_trec_eval(per_query=True) == theirs.stdout.decode()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_prefs_match_the_binary(data, trec_eval):
    lines = data.draw(prefs_files())
    opts = data.draw(options())
    judged = sorted({line.split()[0] for line in lines})
    run_lines = data.draw(runs(judged, opts["average_complete"]))
    flags = data.draw(st.sampled_from([[], ["-J"], ["-l", "2"]]))  # no effect on prefs
    opts.update(judged_only="-J" in flags, relevance_level=2 if "-l" in flags else 1)
    _compare(trec_eval, "prefs", lines, run_lines, ["all_prefs"], opts, flags)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_qrels_prefs_match_the_binary(data, trec_eval):
    lines = data.draw(qrels_files([0, 1, 2, 3]))
    opts = data.draw(options())
    judged = sorted({line.split()[0] for line in lines})
    run_lines = data.draw(runs(judged, opts["average_complete"]))
    _compare(trec_eval, "qrels_prefs", lines, run_lines, ["all_prefs"], opts, [])


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_qrels_jg_match_the_binary(data, trec_eval):
    lines = data.draw(qrels_files([-1, 0, 1, 2, 3]))
    opts = data.draw(options())
    level = data.draw(st.sampled_from([0, 1, 2]))
    judged_only = data.draw(st.booleans())
    opts.update(relevance_level=level, judged_only=judged_only)
    flags = ["-l", str(level)] + (["-J"] if judged_only else [])
    judged = sorted({line.split()[0] for line in lines})
    run_lines = data.draw(runs(judged, opts["average_complete"]))
    measures = data.draw(st.sampled_from([["qrels_jg"], ["P_avgjg.1,2,3", "map_avgjg"],
                                          ["Rprec_mult_avgjg.0.5,1.0,1.5,3", "num_q"]]))
    _compare(trec_eval, "qrels_jg", lines, run_lines, measures, opts, flags)


def test_zscores_match_the_binary(trec_eval, tmp_path):
    # trec_eval's binary searches read one entry past the table for a query or measure name
    # above all of the table's: every listed query has the last measure name, and the last
    # query is listed.
    zscores = tmp_path / "zscores"
    zscores.write_text("1.EC.AB prefs_simp 0.5 0.25\n1.EC.AB prefs_num_prefs_poss 1 2\n"
                       "21.EC.cb prefs_avgjg 0.1 0\n21.EC.cb prefs_simp 0.3 0.1\n"
                       "7.EC.no prefs_simp 0 1\n")
    args = [str(TEST / "prefs.test"), str(TEST / "prefs.results.test")]
    theirs = _binary(trec_eval, ["-q", "-Z", str(zscores), "-m", "prefs", "-R", "prefs", *args])
    ours = evaluate_preferences(*args, "prefs", "prefs", zscores=zscores)
    assert ours.to_trec_eval(per_query=True) == theirs.stdout.decode()


# ------------------------------------------------------------------ where trec_eval stops
STOPS = {
    "two levels in one sub-group": ("prefs", "q u s d1 1\nq u s d2 0\nq u s d1 2\n",
                                    "two different levels"),
    "0 and relevant in one group": ("prefs", "q u s d1 1\nq u s d2 0\nq u t d2 1\n"
                                    "q u t d3 0\n", "non-relevant (level 0) and relevant"),
    "contradictory sub-groups": ("prefs", "q u s d1 2\nq u s d2 1\nq u t d2 2\nq u t d3 1\n"
                                 "q u v d3 2\nq u v d1 1\n", "prefers"),
    "judged twice in a group": ("qrels_jg", "q 0 d1 1\nq 0 d2 0\nq 0 d1 0\n",
                                "judged twice"),
    "a field missing": ("prefs", "q u s d1 1\nq u d2 0\n", "line 2: expected 5"),
}


@pytest.mark.parametrize("case", STOPS, ids=list(STOPS))
def test_rerankit_raises_where_trec_eval_stops(case, trec_eval, tmp_path):
    rel_format, text, message = STOPS[case]
    rel, run = tmp_path / "judgements", tmp_path / "run"
    rel.write_text(text)
    run.write_text("q Q0 d1 1 3 r\nq Q0 d2 2 2 r\nq Q0 d3 3 1 r\n")
    measure = "qrels_jg" if rel_format == "qrels_jg" else "all_prefs"
    theirs = _binary(trec_eval, ["-m", measure, "-R", rel_format, str(rel), str(run)],
                     cwd=tmp_path)
    assert theirs.returncode != 0
    with pytest.raises(InputFormatError, match=re.escape(message)) as caught:
        evaluate_preferences(rel, run, [measure], rel_format)
    assert str(caught.value).startswith(f"{rel}, line ")


@pytest.mark.parametrize(("text", "message"), [
    ("q u s d1 high\n", ", line 1: field rel_level must be a number, got 'high'"),
    ("# note\n\nq u s d1 1 extra\n", ", line 3: expected 5 whitespace-separated "
                                     "fields"),
    ("# only a comment\n", ": file has no data lines"),
    ("q u s d\xe9 1\n".encode("latin-1"), ", line 1: not valid UTF-8"),
])
def test_bad_judgement_lines_are_named(text, message, tmp_path):
    rel = tmp_path / "judgements"
    rel.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputFormatError) as caught:
        evaluate_preferences(rel, {"q": {"d1": 1.0}}, "all_prefs", "prefs")
    assert str(caught.value).startswith(f"{rel}{message}")


def test_qrels_jg_grade_must_be_an_integer(tmp_path):
    rel = tmp_path / "qrels"
    rel.write_text("q 0 d1 1\nq 0 d2 1.5\n")
    with pytest.raises(InputFormatError, match="line 2: field rel must be an integer"):
        evaluate_preferences(rel, {"q": {"d1": 1.0}}, "qrels_jg", "qrels_jg")


def test_measures_must_fit_the_judgement_format():
    with pytest.raises(UnknownMeasureError, match="cannot be computed from 'prefs'"):
        parse_group_measures(["map_avgjg"], "prefs")
    with pytest.raises(UnknownMeasureError, match="'official' needs ordinary qrels"):
        parse_group_measures(["official"], "qrels_jg")
    with pytest.raises(UnknownMeasureError, match="'prefs_smip' is not a trec_eval measure"):
        parse_group_measures(["prefs_smip"], "prefs")
    with pytest.raises(UnknownMeasureError, match="duplicate"):
        parse_group_measures(["P_avgjg.5,5"], "qrels_jg")
    names = [m.name for m in parse_group_measures(
        ["Rprec_mult_avgjg.1,0.5", "P_avgjg_10", "num_q", "runid"], "qrels_jg")]
    assert names == ["runid", "num_q", "P_avgjg_10", "Rprec_mult_avgjg_0.50",
                     "Rprec_mult_avgjg_1.00"]
    with pytest.raises(ValueError, match="rel_format must be one of"):
        evaluate_preferences("x", {"q": {"d": 1.0}}, None, "qrels")


def test_a_judged_query_without_results_is_left_out_and_listed(trec_eval, tmp_path):
    """trec_eval 10.0 stops on it ("result qid not found", exit 4); rerankit evaluates the
    others, as it does for ordinary qrels, and -c agrees with the binary again."""
    rel, run = tmp_path / "prefs", tmp_path / "run"
    rel.write_text("q1 u s d1 2\nq1 u s d2 1\nq2 u s d1 1\nq2 u s d3 0\n")
    run.write_text("q1 Q0 d1 1 0.5 r\nq1 Q0 d2 2 0.7 r\nq3 Q0 d2 1 0.7 r\n")
    args = ["-q", "-m", "all_prefs", "-R", "prefs", str(rel), str(run)]
    assert _binary(trec_eval, args).returncode == 4
    result = evaluate_preferences(rel, run, "all_prefs", "prefs")
    assert result.query_ids == ["q1"] and result.queries_without_results == ["q2"]
    assert result.ignored_run_queries == ["q3"]
    complete = evaluate_preferences(rel, run, "all_prefs", "prefs", average_complete=True)
    assert complete.to_trec_eval(per_query=True) == _binary(
        trec_eval, ["-c", *args]).stdout.decode()


def test_layout_variants_read_as_trec_eval_reads_them(trec_eval, tmp_path):
    """CRLF line ends, tabs and padding, a '#' inside a document id, no final newline."""
    rel, run = tmp_path / "prefs", tmp_path / "run"
    rel.write_bytes(b"# users' preferences\r\nq1\tu  s d#1 2\r\n  q1 u s d2\t1 \r\n"
                    b"# second query\r\nq2 u s d1 1\r\nq2 u s d3 0")
    run.write_text("q1 Q0 d2 1 0.5 r\nq1 Q0 d#1 2 0.7 r\nq2 Q0 d3 1 0.7 r\nq2 Q0 d1 2 0.6 r\n")
    theirs = _binary(trec_eval, ["-q", "-m", "all_prefs", "-R", "prefs", str(rel), str(run)])
    assert theirs.returncode == 0, theirs.stderr.decode()
    ours = evaluate_preferences(rel, run, "all_prefs", "prefs")
    assert ours.to_trec_eval(per_query=True) == theirs.stdout.decode()


def test_verify_runs_the_binary_and_catches_a_difference(trec_eval, monkeypatch, tmp_path):
    monkeypatch.setenv("TREC_EVAL", str(trec_eval))
    rel, run = tmp_path / "prefs", tmp_path / "run"
    rel.write_text("q1 u s d1 2\nq1 u s d2 1\nq1 v s d2 1\nq1 v t d3 0\nq2 u s d1 1\n")
    run.write_text("q1 Q0 d1 1 0.5 my-run\nq1 Q0 d2 2 0.7 my-run\nq3 Q0 d2 1 1 my-run\n")
    for rel_format, measures in (("prefs", "all_prefs"), ("qrels_jg", "qrels_jg")):
        if rel_format == "qrels_jg":
            rel.write_text("q1 u d1 2\nq1 u d2 1\nq1 v d2 0\nq2 u d1 1\n")
        result = evaluate_preferences(rel, run, measures, rel_format, max_docs=5,
                                      verify=True)  # q2 has no results: left out, as here
        assert result.queries_without_results == ["q2"]
        judgements = read_group_judgements(rel, rel_format)
        wrong = dataclasses.replace(result, values={
            k: v + (k == result.measures[2].name) for k, v in result.values.items()})
        with pytest.raises(VerificationError, match=result.measures[2].name):
            verify_with_trec_eval(wrong, judgements, Run.read_trec(run), [], None)


def test_qrels_jg_judgement_beyond_int64_is_refused(tmp_path):
    """A judgement too large for an exact 64-bit integer is an error naming its line, not a
    wrapped-around level."""
    path = tmp_path / "qrels_jg"
    path.write_text("1 0 d1 1\n1 0 d2 99999999999999999999\n")
    with pytest.raises(InputFormatError, match=r"line 2: field rel is too large"):
        read_group_judgements(path, "qrels_jg")
