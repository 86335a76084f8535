"""Leaderboard export (read back and validated) and the HTML report, from real result
folders (``rerankit run`` on Cranfield with two BM25 settings); the report's browser test
and its numbers against references are in test_report_browser.py."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.experiment.config import load_config
from rerankit.experiment.runner import run_config
from rerankit.reporting.export import export_beir, export_json, export_trec

from .cli_helpers import invoke

CONFIG = ("name: cranfield-{name}\ndataset: {{name: cranfield, on_empty: skip}}\n"
          "retriever: {{type: bm25, params: {{k1: {k1}, b: 0.75}}}}\ndepth: 100\n")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    folders = []
    for name, k1 in (("bm25", 1.2), ("bm25-k1-0.5", 0.5)):
        path = root / f"{name}.yaml"
        path.write_text(CONFIG.format(name=name, k1=k1))
        run_config(load_config(path), root / name, quiet=True)
        folders.append(root / name)
    return folders


def test_trec_export_has_the_tag_and_the_same_ranking(results, tmp_path):
    out = export_trec(results[0], tmp_path / "sub.trec", tag="myteam-run1")
    lines = out.read_text().splitlines()
    assert all(line.split()[5] == "myteam-run1" for line in lines)
    assert Run.read_trec(out).to_dict() == Run.read_trec(results[0] / "run.trec").to_dict()
    with pytest.raises(InputFormatError, match="without spaces"):
        export_trec(results[0], tmp_path / "bad.trec", tag="my team")


def test_an_empty_tag_given_explicitly_is_refused_not_replaced_by_the_config_name(
        results, tmp_path):
    out = tmp_path / "x.trec"
    done = invoke(["export", str(results[0]), "-f", "trec", "-o", str(out),
                   "--tag", ""])
    assert done.exit_code == 2
    assert done.stderr == "rerankit: error: '': a run tag must be non-empty without spaces\n"
    assert not out.exists()


def test_beir_table_and_json(results, tmp_path):
    rows = list(csv.reader(export_beir(results, tmp_path / "beir.csv").open()))
    assert rows[0] == ["pipeline", "cranfield nDCG@10", "cranfield Recall@100"]
    metrics = json.loads((results[0] / "metrics.json").read_text())
    assert ["bm25", f"{metrics['ndcg_cut_10']:.4f}", f"{metrics['recall_100']:.4f}"] in rows
    markdown = export_beir(results, tmp_path / "beir.md").read_text()
    assert markdown.startswith("| pipeline | cranfield nDCG@10 |")
    entries = json.loads(export_json(results, tmp_path / "all.json").read_text())
    assert [e["config"] for e in entries] == ["cranfield-bm25", "cranfield-bm25-k1-0.5"]
    assert entries[0]["metrics"] == metrics and entries[0]["cost"][0]["queries"] == 225
    with pytest.raises(InputFormatError, match="not a result folder"):
        export_json([tmp_path], tmp_path / "x.json")


def test_report_writes_one_page_with_the_comparison(results, tmp_path):
    """The page (charts inline, no PNGs any more) compares the second run with the first
    on all 225 queries; its mean difference is the stored metrics' difference."""
    pytest.importorskip("jinja2")
    pytest.importorskip("plotly")
    from rerankit.reporting import write_report

    page = write_report(results, tmp_path / "report", test="t")
    assert sorted(p.name for p in page.parent.iterdir()) == ["index.html"]
    text = page.read_text()
    assert "cranfield-bm25-k1-0.5" in text and "p (Holm)" in text
    first = json.loads((results[0] / "metrics.json").read_text())["ndcg_cut_10"]
    second = json.loads((results[1] / "metrics.json").read_text())["ndcg_cut_10"]
    assert f"{second - first:+.4f}" in text
    assert "<td>225</td>" in text


@pytest.mark.parametrize("args", [
    ["export", "{a}", "-f", "trec", "-o", "{out}"],
    ["export", "{a}", "{b}", "-f", "json", "-o", "{out}"],
    ["export", "{a}", "{b}", "-f", "beir", "-o", "{out}"],
    ["leaderboard", "{a}", "{b}", "--output", "{out}"],
])
@pytest.mark.parametrize("name", ["notes.md", "notes.csv", "notes.json", "run.trec"])
def test_an_existing_file_is_replaced_only_with_force(results, tmp_path, args, name):
    """A user's file named by mistake as the output survives, whatever its name; --force
    replaces it (export writes what the format says, and refuses a BEIR table in a file
    named neither .md nor .csv before anything else)."""
    out = tmp_path / name
    out.write_text("my own notes\n")
    filled = [a.format(a=results[0], b=results[1], out=out) for a in args]
    if filled[0] == "export" and "trec" in filled and "{b}" in args:
        return
    refused = invoke(filled)
    assert refused.exit_code == 2, refused.output
    assert "exists" in refused.stderr and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert out.read_text() == "my own notes\n"
    forced = invoke([*filled, "--force"])
    if "beir" in filled and out.suffix not in (".md", ".csv"):
        assert forced.exit_code == 2 and "name the file .md or .csv" in forced.stderr
        assert out.read_text() == "my own notes\n"
    else:
        assert forced.exit_code == 0, forced.output
        assert out.read_text() != "my own notes\n"


def test_the_leaderboard_regenerates_its_own_file_and_names_where_the_folders_are(
        results, tmp_path):
    out = tmp_path / "board" / "README.md"
    for _ in range(2):                              # the second run replaces its own file
        done = invoke(["leaderboard", str(results[0]), str(results[1]),
                       "--output", str(out)])
        assert done.exit_code == 0, done.output
    text = out.read_text()
    assert f"result folders in `{results[0].parent}/`" in text
    assert "`configs/cranfield-bm25.yaml`" not in text and "| cranfield-bm25 |" in text
    twice = invoke(["leaderboard", str(results[0]), str(results[0]),
                    "--output", str(out)])
    assert twice.exit_code == 2 and "given twice" in twice.stderr
    to_stdout = subprocess.run([sys.executable, "-m", "rerankit", "leaderboard",
                                str(results[0]), "--output", "-"], capture_output=True,
                               text=True, check=False)
    assert to_stdout.returncode == 0 and to_stdout.stdout.startswith("# Leaderboards")


def test_dash_is_standard_output_where_a_format_can_go_there(results, tmp_path):
    def export(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rerankit", "export", str(results[0]),
                               *args], capture_output=True, text=True, check=False,
                              cwd=tmp_path)

    exported = export("-f", "json", "-o", "-")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)[0]["config"] == "cranfield-bm25"
    assert exported.stderr == "wrote standard output\n"
    trec = export("-f", "trec", "-o", "-")
    assert trec.returncode == 2 and "regular file" in trec.stderr
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("target", ["-", "/dev/stdout", "/dev/fd/1"])
@pytest.mark.parametrize("args", [["export", "-f", "json", "-o"],
                                  ["export", "-f", "beir", "-o"],
                                  ["leaderboard", "--output"]])
def test_dash_appends_to_a_file_standard_output_is_redirected_to(results, tmp_path, args,
                                                                 target):
    # `rerankit ... -o - >> log.txt`: reopening /dev/stdout with "w" emptied log.txt; so
    # did naming it: `-o /dev/stdout >> log.txt`
    log = tmp_path / "log.txt"
    log.write_text("keep\n")
    with log.open("a") as appended:
        done = subprocess.run([sys.executable, "-m", "rerankit", args[0], str(results[0]),
                               *args[1:], target], stdout=appended, stderr=subprocess.PIPE,
                              text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"wrote {'standard output' if target == '-' else target}\n"
    lines = log.read_text().splitlines()
    assert lines[0] == "keep" and len(lines) > 2
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("target", ["/dev/stderr", "/dev/fd/2"])
def test_standard_errors_file_named_as_output_keeps_what_it_appends_to(results, tmp_path,
                                                                       target):
    # `rerankit export ... -o /dev/stderr 2>> log.txt` emptied log.txt (a tester's find)
    log = tmp_path / "log.txt"
    log.write_text("keep\n")
    with log.open("a") as appended:
        done = subprocess.run([sys.executable, "-m", "rerankit", "export", str(results[0]),
                               "-f", "json", "-o", target], stdout=subprocess.PIPE,
                              stderr=appended, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0
    text = log.read_text()
    assert text.startswith("keep\n") and f"wrote {target}" in text and '"config"' in text


def test_a_metrics_file_with_a_value_that_is_no_number_is_named(results, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(results[0], broken)
    metrics = json.loads((broken / "metrics.json").read_text())
    (broken / "metrics.json").write_text(json.dumps({**metrics, "map": "high"}))
    for args in (["leaderboard", str(broken), "--output", str(tmp_path / "board.md")],
                 ["export", str(broken), "-f", "json", "-o", str(tmp_path / "x.json")]):
        done = invoke(args)
        assert done.exit_code == 2, done.output
        assert "metrics.json" in done.stderr and "'map' is 'high', not a number" in done.stderr


def test_a_folder_named_as_an_output_file_is_refused_before_any_work(results, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for args in (["export", str(results[0]), "-f", "json", "-o", str(folder)],
                 ["leaderboard", str(results[0]), "--output", str(folder)]):
        done = invoke(args)
        assert done.exit_code == 2 and "is a folder, not a file" in done.stderr, done.output


def test_the_report_keeps_a_rounded_parameter_exact():
    from rerankit.reporting.analysis import resolve_measure

    assert resolve_measure("iprec_at_recall.0.501") == "iprec_at_recall_0.501"
    assert resolve_measure("nDCG@10") == "ndcg_cut_10"
