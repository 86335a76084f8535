"""Leaderboard export (read back and validated) and the HTML report, from real result
folders (``rerankit run`` on Cranfield with two BM25 settings); the report's browser test
and its numbers against references are in test_report_browser.py."""

from __future__ import annotations

import csv
import json

import pytest

from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.experiment.config import load_config
from rerankit.experiment.runner import run_config
from rerankit.reporting.export import export_beir, export_json, export_trec

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
