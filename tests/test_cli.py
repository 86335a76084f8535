"""The command line: trec_eval-compatible output, JSON, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rerankit.evaluation.evaluator import evaluate

from .cli_helpers import invoke
from .conftest import AQUAINT

QRELS = str(AQUAINT / "trec_aq_303-689.qrels")
BM25 = str(AQUAINT / "aq_bm25.res")
LMD = str(AQUAINT / "aq_lmd.res")


def test_default_output_is_trec_evals_official_set():
    result = invoke(["eval", QRELS, BM25])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "runid                 \tall\tbm25"
    assert lines[1] == "num_q                 \tall\t50"
    assert lines[2] == "num_ret               \tall\t50000"
    names = [line.split("\t")[0].strip() for line in lines]
    assert names[:8] == ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
                         "Rprec"]
    assert names[-1] == "P_1000" and "iprec_at_recall_0.00" in names


def test_per_query_lines_sorted_and_formatted_like_trec_eval():
    result = invoke(["eval", "-q", "-l2", "-mP.5,10", "-m", "ndcg_cut_10", QRELS,
                     BM25])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    qids = [line.split("\t")[1] for line in lines if line.split("\t")[1] != "all"]
    assert qids == sorted(qids, key=str.encode)
    assert lines[0].split("\t")[0] == "P_5".ljust(22)
    expected = evaluate(QRELS, BM25, ["P.5,10", "ndcg_cut_10"], relevance_level=2)
    assert result.stdout == expected.to_trec_eval(per_query=True)
    value = lines[0].split("\t")[2]
    assert len(value.split(".")[1]) == 4


def test_json_output_and_no_summary():
    result = invoke(["eval", "--json", "-m", "nDCG@10", "-m", "MRR@10", QRELS, LMD])
    payload = json.loads(result.stdout)
    assert set(payload["aggregate"]) == {"ndcg_cut_10", "recip_rank_cut_10"}
    quiet = invoke(["eval", "-q", "-n", "-m", "map", QRELS, LMD])
    assert "\tall\t" not in quiet.stdout and quiet.stdout.count("\n") == 50


def test_errors_are_one_line_messages_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.run"
    bad.write_text("303 Q0 doc 1 0.5 tag\n303 Q0 doc2 2\n")
    result = invoke(["eval", QRELS, str(bad)])
    assert result.exit_code == 2
    assert f"rerankit: error: {bad}, line 2: expected at least 6" in result.stderr
    unknown = invoke(["eval", "-m", "nDCG@ten", QRELS, BM25])
    assert unknown.exit_code == 2 and "bad parameter 'ten'" in unknown.stderr
    other = tmp_path / "other.run"
    other.write_text("999 Q0 doc 1 0.5 tag\n")
    result = invoke(["eval", QRELS, str(other)])
    assert result.exit_code == 2 and "no query of the run has judgements" in result.stderr


def test_compare_prints_a_table_with_significance():
    result = invoke(["compare", QRELS, BM25, LMD, "-m", "map", "--test",
                     "randomization", "--resamples", "2000"])
    assert result.exit_code == 0, result.output
    assert "lmd" in result.stdout and "bm25" in result.stdout and "*" in result.stdout


def test_eval_does_not_import_torch():
    code = ("import sys; from rerankit.cli import main; sys.argv=['rerankit','eval','-m','map',"
            f"{QRELS!r},{BM25!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_partial_overlap_is_reported_on_stderr(tmp_path):
    run = tmp_path / "partial.run"
    lines = [line for line in Path(BM25).read_text().splitlines(True)
             if not line.startswith("303 ")]
    lines.append("999 Q0 doc 1 0.5 bm25\n")
    run.write_text("".join(lines))
    result = invoke(["eval", "-m", "map", QRELS, str(run)])
    assert result.exit_code == 0
    assert "1 run queries have no judgements and were ignored (e.g. 999)" in result.stderr
    assert "1 judged queries have no results" in result.stderr
    assert result.stdout.startswith("map")


def test_all_trec_computes_every_trec_eval_measure():
    result = invoke(["eval", "-m", "all_trec", QRELS, BM25])
    assert result.exit_code == 0
    assert "ndcg_cut_1000" in result.stdout and "success_10" in result.stdout
    assert "set_F" in result.stdout and "unj_20" in result.stdout
    assert "recip_rank_cut" not in result.stdout
    unknown = invoke(["eval", "-m", "set_G", QRELS, BM25])
    assert unknown.exit_code == 2 and "set_G" in unknown.stderr


def test_verify_cross_checks_with_trec_eval_code():
    """--compat 9 checks with pytrec_eval (compat 10 uses the binary: test_trec_eval10.py)."""
    families = ["official", "ndcg", "ndcg_cut", "map_cut", "recall", "success", "MRR@10"]
    args = [a for family in families for a in ("-m", family)]
    result = invoke(["eval", "--verify", "--compat", "9", "-J", "-M", "100", "-l",
                     "2", *args, QRELS, LMD])
    assert result.exit_code == 0, result.stderr
    unchecked = invoke(["eval", "--verify", "--compat", "9", "-m", "set_F", QRELS,
                        LMD])
    assert unchecked.exit_code == 2 and "cannot check set_F" in unchecked.stderr


def test_session_outputs_never_replace_a_users_files(tmp_path):
    """Every session output (files and the --report folder's files) is checked before any
    work: an existing file is replaced only with --force, and '-' (no file) is refused."""
    from rerankit import datasets

    folder = str(datasets.path("trec-session-2014"))
    mine = {name: tmp_path / name for name in ("ps.tsv", "pq.tsv", "my.json", "my.csv",
                                               "my.jsonl", "plots/meta.json")}
    mine["plots/meta.json"].parent.mkdir()
    for path in mine.values():
        path.write_text("mine\n")
    options = {"ps.tsv": "--per-session", "pq.tsv": "--per-query", "my.json": "--json",
               "my.csv": "--csv", "my.jsonl": "--write-jsonl", "plots/meta.json": "--report"}
    for name, option in options.items():
        target = mine[name].parent if option == "--report" else mine[name]
        refused = invoke(["session", folder, "--metrics", "num", "--meta",
                          option, str(target)])
        assert refused.exit_code == 2 and "--force" in refused.stderr, (option, refused.output)
        assert all(path.read_text() == "mine\n" for path in mine.values())
    forced = invoke(["session", folder, "--metrics", "num", "--per-session",
                     str(mine["ps.tsv"]), "--force"])
    assert forced.exit_code == 0 and len(mine["ps.tsv"].read_text().splitlines()) == 1253
    dash = invoke(["session", folder, "--metrics", "num", "--json", "-"])
    assert dash.exit_code == 2 and "standard output carries the table" in dash.stderr


def test_session_command_on_the_real_export(tmp_path):
    from rerankit import datasets

    folder = datasets.path("trec-session-2014")
    per_session = tmp_path / "per-session.tsv"
    jsonl = tmp_path / "sessions.jsonl"
    result = invoke(["session", str(folder), "--metrics", "num,sdcg,srbp",
                     "--per-session", str(per_session), "--write-jsonl", str(jsonl),
                     "--num-L", "20", "--num-c", "1", "--enhance", "forward",
                     "--meta"])
    assert result.exit_code == 0, result.output
    assert "1253 sessions" in result.stdout and "Kendall tau" in result.stdout
    lines = per_session.read_text().splitlines()
    assert len(lines) == 1253 * 3
    assert sum(line.endswith("\tnan") for line in lines if "\tnum\t" in line) == 616
    again = invoke(["session", str(jsonl), "--metrics", "num"])
    assert again.exit_code == 0 and "616" in again.stdout
    bad = invoke(["session", str(jsonl), "--srbp-p", "1.5"])
    assert bad.exit_code == 2 and "p must be in (0, 1)" in bad.stderr


def _only_queries(tmp_path: Path, source: str, keep, name: str) -> Path:
    """The real run ``source`` restricted to the queries ``keep(qid)`` accepts."""
    path = tmp_path / name
    path.write_text("".join(line for line in Path(source).read_text().splitlines(True)
                            if keep(line.split()[0])))
    return path


def test_compare_refuses_a_run_without_judged_queries_as_eval_does():
    """Runs judged by none of the qrels' queries (Cranfield judgements, AQUAINT runs): compare
    refuses them with eval's own message, whatever their position (the Cranfield-run-vs-
    AQUAINT-qrels case in position 2 is in test_report_browser.py)."""
    from rerankit import datasets

    cranfield = str(datasets.path("cranfield") / "qrels" / "test.tsv")
    evaluated = invoke(["eval", "-m", "map", cranfield, BM25])
    assert evaluated.exit_code == 2
    for runs in ([BM25, LMD], [BM25, BM25]):
        result = invoke(["compare", cranfield, *runs, "-m", "map"])
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr == evaluated.stderr
        assert f"no query of the run has judgements in {cranfield} " in result.stderr


def test_compare_counts_missing_queries_as_zero_and_says_so(tmp_path, trec_eval):
    """A run lacking judged queries is compared over all qrels queries, a missing one counting
    0 (trec_eval -c: the means equal the binary's), with one note on stderr per comparison."""
    qids = sorted({line.split()[0] for line in Path(BM25).read_text().splitlines()})
    for kept in (qids[:1], qids[::2]):          # one query (a "head" run), every other one
        partial = _only_queries(tmp_path, LMD, set(kept).__contains__, "partial.run")
        result = invoke(["compare", "--json", QRELS, BM25, str(partial), "-m",
                         "map", "-m", "P_10"])
        assert result.exit_code == 0, result.output
        lacking = len(qids) - len(kept)
        note = (f"rerankit: note: judged queries without results count 0 (trec_eval -c): lmd "
                f"lacks {lacking} of the {len(qids)}; every run answered {len(kept)} of them\n")
        assert result.stderr == note
        payload = json.loads(result.stdout)
        assert payload["notes"] == [note.removeprefix("rerankit: note: ").strip()]
        theirs = subprocess.run([str(trec_eval), "-c", "-m", "map", "-m", "P.10", QRELS,
                                 str(partial)], capture_output=True, text=True, check=True)
        expected = {line.split()[0]: float(line.split()[2])
                    for line in theirs.stdout.splitlines()}
        assert round(payload["means"]["lmd"]["map"], 4) == expected["map"]
        assert round(payload["means"]["lmd"]["P_10"], 4) == expected["P_10"]
    complete = invoke(["compare", QRELS, BM25, LMD, "-m", "map"])
    assert complete.exit_code == 0 and complete.stderr == ""


def test_compare_refuses_runs_without_a_common_judged_query(tmp_path):
    qids = sorted({line.split()[0] for line in Path(BM25).read_text().splitlines()})
    first = set(qids[:20])
    a = _only_queries(tmp_path, BM25, first.__contains__, "a.run")
    b = _only_queries(tmp_path, LMD, lambda q: q not in first, "b.run")
    result = invoke(["compare", QRELS, str(a), str(b), "-m", "map"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"rerankit: error: {a}: the runs bm25, lmd have no judged query "
                             f"in common in trec_aq_303-689.qrels (bm25 20, lmd 30 of 50 judged "
                             "queries answered): a paired comparison needs queries that every "
                             "run answered\n")
    three = invoke(["compare", QRELS, BM25, str(a), str(b), "-m", "map"])
    assert three.exit_code == 2 and "no judged query in common" in three.stderr


#: The measures a paired test cannot compare (rerankit.evaluation.measures.incomparable):
#: text, summary-only counts and geometric means; preference measures are refused as well.
INCOMPARABLE = {"runid", "num_q", "gm_map", "gm_bpref", "relstring"}


def test_compare_all_trec_equals_trec_evals_per_query_means_and_names_what_it_skips(
        trec_eval):
    """Every comparable measure of all_trec is compared, its mean equal to the mean of
    trec_eval's own per-query values (-q -c); the others are named in one note."""
    result = invoke(["compare", "--json", QRELS, BM25, LMD, "-m", "all_trec"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    theirs = subprocess.run([str(trec_eval), "-q", "-c", "-m", "all_trec", QRELS, LMD],
                            capture_output=True, text=True, check=True)
    per_query: dict[str, list[float]] = {}
    printed = set()
    for line in theirs.stdout.splitlines():
        name, qid, value = line.split()
        printed.add(name)
        if qid != "all" and name != "relstring":
            per_query.setdefault(name, []).append(float(value))
    means = payload["means"]["lmd"]
    assert set(means) == printed - INCOMPARABLE
    for name, values in per_query.items():
        assert len(values) == 50
        assert abs(means[name] - sum(values) / 50) < 1e-4, name
    note = ("rerankit: note: not compared: runid (it is the run's name, not a number); num_q "
            "(it counts the queries of the whole run and has no per-query value); gm_map, "
            "gm_bpref (its summary is a geometric mean, which a paired test of mean "
            "differences does not compare); relstring (its per-query values are text)\n")
    assert result.stderr == note
    everything = invoke(["compare", QRELS, BM25, LMD, "-m", "all"])
    assert everything.exit_code == 0 and everything.stderr == note
    assert "yaap" in everything.stdout and "ideal_dcg" in everything.stdout


@pytest.mark.parametrize("measure, reason", [
    ("relstring", "its per-query values are text"),
    ("relstring.5", "its per-query values are text"),
    ("runid", "it is the run's name, not a number"),
    ("num_q", "it counts the queries of the whole run"),
    ("gm_map", "its summary is a geometric mean, which a paired test of mean differences does "
               "not compare (compare map, its arithmetic mean)"),
    ("gm_bpref", "its summary is a geometric mean"),
    ("prefs_simp", "it needs preference judgements"),
])
def test_compare_refuses_a_named_measure_it_cannot_compare(measure, reason):
    """Named explicitly, alone or beside a comparable one, it is refused (never dropped)."""
    name = measure.replace(".", "_")
    for extra in ([], ["-m", "map"]):
        result = invoke(["compare", QRELS, BM25, LMD, "-m", measure, *extra])
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(f"rerankit: error: --measure: cannot compare {name}: "
                                         f"{reason}")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_compare_refuses_a_nickname_with_nothing_comparable():
    result = invoke(["compare", QRELS, BM25, LMD, "-m", "prefs"])
    assert result.exit_code == 2
    assert result.stderr == ("rerankit: error: --measure: prefs names no measure that a "
                             "paired test can compare\n")


def test_the_comparability_rule_covers_every_family():
    from rerankit.evaluation.measures import FAMILIES, PREFS_FAMILIES, incomparable

    refused = {family for family in FAMILIES if incomparable(family) is not None}
    assert refused == INCOMPARABLE | PREFS_FAMILIES
