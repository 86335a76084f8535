"""The HTML report as its users see it: rendered in headless Chromium (Debian's chromium and
chromium-driver through Selenium), its numbers checked against the run and qrels files and
against pytrec_eval / scipy, and its bad-input cases (different datasets and query sets, no
document texts, runs deeper than the embedded 100 rows).

Result folders are real ``rerankit run`` outputs: BM25 variants on seeded Cranfield subsets
(a few seconds each, no neural model). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
import yaml
from scipy import stats

from rerankit import datasets
from rerankit.experiment.config import load_config
from rerankit.experiment.runner import run_config

from .cli_helpers import invoke

pytest.importorskip("jinja2")
pytest.importorskip("plotly")

from rerankit.reporting import write_report

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CRANFIELD = datasets.path("cranfield")


def make_result(root: Path, name: str, dataset: dict, k1: float = 1.2, b: float = 0.75,
                limit: int | None = 60, seed: int = 0, depth: int = 100) -> Path:
    config = {"name": name, "dataset": {**dataset, "on_empty": "skip"},
              "retriever": {"type": "bm25", "params": {"k1": k1, "b": b}}, "depth": depth,
              "queries": {"limit": limit, "seed": seed}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    run_config(load_config(path), root / name, quiet=True)
    return root / name


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[Path]:
    """Three runs on the same 60 Cranfield queries."""
    root = tmp_path_factory.mktemp("report-results")
    embedded = {"name": "cranfield"}
    return [make_result(root, "bm25", embedded),
            make_result(root, "bm25-k1-0.5", embedded, k1=0.5),
            make_result(root, "bm25-k1-2-b-0.9", embedded, k1=2.0, b=0.9)]


@pytest.fixture(scope="module")
def report(results, tmp_path_factory) -> Path:
    return write_report(results, tmp_path_factory.mktemp("report") / "out", test="t")


def read_run(folder: Path) -> dict[str, list[str]]:
    """Document ids per query in trec_eval's order (score desc as float32, docid desc),
    read from run.trec with the csv module only."""
    rows: dict[str, list[tuple[str, float]]] = {}
    for qid, _, docid, _, score, _ in csv.reader((folder / "run.trec").open(), delimiter=" "):
        rows.setdefault(qid, []).append((docid, float(np.float32(score))))
    ranked = {}
    for qid, docs in rows.items():
        docs.sort(key=lambda d: d[0], reverse=True)
        docs.sort(key=lambda d: d[1], reverse=True)
        ranked[qid] = [d for d, _ in docs]
    return ranked


def run_dict(folder: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for qid, _, docid, _, score, _ in csv.reader((folder / "run.trec").open(), delimiter=" "):
        out.setdefault(qid, {})[docid] = float(score)
    return out


def read_qrels(path: Path = CRANFIELD / "qrels" / "test.tsv") -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            out.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return out


def ndcg10(qrels: dict, run: dict) -> dict[str, float]:
    """pytrec_eval's nDCG@10 per query."""
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    return {q: v["ndcg_cut_10"] for q, v in evaluator.evaluate(run).items()}


def page_data(page: Path) -> dict:
    """The data the page's script reads (its embedded JSON)."""
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                      page.read_text(), re.S)
    assert match, "the page embeds its data"
    return json.loads(match.group(1))


# ------------------------------------------------------------------ numbers, no browser
def test_page_numbers_equal_pytrec_eval_and_scipy(results, report):
    data = page_data(report)
    (group,) = data["groups"]
    qrels = read_qrels()
    runs = [run_dict(f) for f in results]
    assert set(group["queries"]) == set(runs[0]) & set(qrels)
    judged_qrels = {q: qrels[q] for q in group["queries"]}
    for folder, run, embedded in zip(results, runs, group["runs"], strict=True):
        standard = ndcg10(judged_qrels, run)
        assert embedded["values"] == pytest.approx([standard[q] for q in group["queries"]],
                                                   abs=1e-12)
        # trec_eval -J: the run without its unjudged documents
        judged_run = {q: {d: s for d, s in docs.items() if qrels.get(q, {}).get(d, -1) >= 0}
                      for q, docs in run.items()}
        condensed = ndcg10(judged_qrels, judged_run)
        assert embedded["condensed"] == pytest.approx(
            [condensed.get(q, 0.0) for q in group["queries"]], abs=1e-12)
        ranked = read_run(folder)
        for i, qid in enumerate(group["queries"]):
            top10 = ranked[qid][:10]
            holes = sum(qrels[qid].get(d, -1) < 0 for d in top10) / len(top10)
            assert embedded["unjudged"][i] == pytest.approx(holes)
            start, end = embedded["offsets"][i], embedded["offsets"][i + 1]
            assert [group["docs"]["ids"][d] for d in embedded["doc"][start:end]] == \
                ranked[qid][:100]
    text = report.read_text()
    base = np.array(group["runs"][0]["values"])
    p_values = []
    for other in group["runs"][1:]:
        values = np.array(other["values"])
        p_values.append(stats.ttest_rel(values, base).pvalue)
        assert f"{values.mean() - base.mean():+.4f}" in text
    low, high = sorted(p_values)                 # Holm over the two comparisons
    holm = {low: min(1.0, 2 * low), high: min(1.0, max(2 * low, high))}
    for p in p_values:
        assert f"<td data-value=\"{holm[p]}\">{holm[p]:.4f}" in text


def test_page_is_self_contained(report):
    text = report.read_text()
    assert sorted(p.name for p in report.parent.iterdir()) == ["index.html"]
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="', text)
    assert "Plotly.newPlot" in text and len(text) < 12_000_000


@pytest.fixture(scope="module")
def mixed(results, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A BEIR copy of Cranfield without corpus.jsonl, two runs on different seeded subsets,
    one 150 deep, reported beside an embedded-Cranfield run: (page, run a, run b)."""
    root = tmp_path_factory.mktemp("mixed")
    copy = root / "cranfield-copy"
    shutil.copytree(CRANFIELD, copy)
    subset = make_result(root, "copy-a", {"path": str(copy)}, limit=50, seed=1)
    deep = make_result(root, "copy-b", {"path": str(copy)}, limit=40, seed=2, depth=150)
    (copy / "corpus.jsonl").unlink()
    return write_report([results[0], subset, deep], root / "report"), subset, deep


def test_different_datasets_query_sets_no_texts_and_deep_runs(mixed):
    page, subset, deep = mixed
    data = page_data(page)
    assert [g["name"] for g in data["groups"]] == ["cranfield", "cranfield-copy"]
    copied = data["groups"][1]
    common = set(read_run(subset)) & set(read_run(deep))
    assert set(copied["queries"]) == common and common
    assert copied["docs"]["snippets"] is None and data["groups"][0]["docs"]["snippets"]
    deep_run = copied["runs"][1]
    assert max(np.diff(deep_run["offsets"])) == 100
    text = " ".join(page.read_text().split())
    assert f"on the {len(common)} queries every run answered" in text
    assert "copy-a 50" in text and "copy-b 40" in text
    assert "documents are shown by id only" in text
    assert "copy-b holds up to 150 documents per query; the drill-down embeds the top 100" \
        in text


def test_stage_scores_are_shown_where_the_folder_has_them(results, tmp_path):
    """stages/<n>-<label>.trec files (one run per pipeline stage) join the drill-down."""
    folder = tmp_path / "staged"
    shutil.copytree(results[1], folder)
    (folder / "stages").mkdir()
    shutil.copy(results[0] / "run.trec", folder / "stages" / "1-first.trec")
    data = page_data(write_report([results[0], folder], tmp_path / "report"))
    (group,) = data["groups"]
    staged = group["runs"][1]
    (stage,) = staged["stages"]
    assert stage["label"] == "1-first"
    first = run_dict(results[0])
    ranked_first = read_run(results[0])
    for i, qid in enumerate(group["queries"][:5]):
        for r in range(staged["offsets"][i], staged["offsets"][i + 1]):
            docid = group["docs"]["ids"][staged["doc"][r]]
            if docid in first[qid]:
                assert stage["score"][r] == pytest.approx(first[qid][docid])
                assert stage["rank"][r] == ranked_first[qid].index(docid) + 1
            else:                                 # the stage did not score it
                assert stage["score"][r] is None and stage["rank"][r] == 0


def test_bad_input_is_one_line_error(results, tmp_path):
    bad = invoke(["report", str(results[0]), str(tmp_path), "-o",
                  str(tmp_path / "r")])
    assert bad.exit_code == 2 and "not a result folder" in bad.stderr
    assert "Traceback" not in bad.output
    base = invoke(["report", str(results[0]), "--baseline", str(tmp_path),
                   "-o", str(tmp_path / "r")])
    assert base.exit_code == 2 and "--baseline must be one of" in base.stderr
    twice = invoke(["report", str(results[0]), str(results[0]), "-o",
                    str(tmp_path / "r")])
    assert twice.exit_code == 2 and "given twice" in twice.stderr
    assert not (tmp_path / "r").exists()


def _keep_queries(folder: Path, copy: Path, keep) -> Path:
    """A copy of a result folder whose run.trec keeps the queries ``keep(qid)`` accepts."""
    shutil.copytree(folder, copy)
    run = copy / "run.trec"
    run.write_text("".join(line for line in run.read_text().splitlines(True)
                           if keep(line.split()[0])))
    return copy


def test_compare_and_report_refuse_runs_that_cannot_be_compared(results, tmp_path):
    """One check (rerankit.evaluation.coverage) for compare and report: a run of another
    collection is refused with eval's message, runs sharing no judged query are refused, and
    a partial run is compared on the queries every run answered (report) with a note."""
    aquaint = datasets.path("aquaint")
    qrels, bm25 = str(aquaint / "trec_aq_303-689.qrels"), str(aquaint / "aq_bm25.res")
    cranfield_run = str(results[0] / "run.trec")
    evaluated = invoke(["eval", qrels, cranfield_run])
    compared = invoke(["compare", qrels, bm25, cranfield_run])
    assert evaluated.exit_code == compared.exit_code == 2 and compared.stdout == ""
    assert compared.stderr == evaluated.stderr
    assert f"{cranfield_run}: no query of the run has judgements" in compared.stderr

    qids = list(read_run(results[0]))
    first = set(qids[:25])
    a = _keep_queries(results[0], tmp_path / "a", first.__contains__)
    b = _keep_queries(results[1], tmp_path / "b", lambda q: q not in first)
    refused = invoke(["report", str(a), str(b), "-o", str(tmp_path / "r")])
    assert refused.exit_code == 2 and not (tmp_path / "r").exists()
    assert refused.stderr == (f"rerankit: error: {a / 'run.trec'}: the runs bm25, bm25-k1-0.5 "
                              "have no judged query in common in test.tsv (bm25 25, bm25-k1-0.5 "
                              "35 of 225 judged queries answered): a paired comparison needs "
                              "queries that every run answered\n")
    page = write_report([a, results[1]], tmp_path / "partial")
    text = " ".join(page.read_text().split())
    assert ("The runs answered different query sets (bm25 25, bm25-k1-0.5 60 judged queries): "
            "all numbers of this dataset but the stored metrics are on the 25 queries every "
            "run answered.") in text


@pytest.mark.parametrize("measure, message", [
    ("relstring", "cannot compare relstring: its per-query values are text"),
    ("gm_map", "cannot compare gm_map: its summary is a geometric mean"),
    ("runid", "cannot compare runid: it is the run's name"),
    ("num_q", "cannot compare num_q: it counts the queries"),
    ("all", "'all' names 103 measures; the report shows one"),
    ("P", "'P' names 9 measures; the report shows one"),
])
def test_report_refuses_a_measure_it_cannot_show_as_compare_does(results, tmp_path, measure,
                                                                  message):
    result = invoke(["report", str(results[0]), str(results[1]), "-m",
                     measure, "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and not (tmp_path / "r").exists()
    assert result.stderr.startswith(f"rerankit: error: --measure: {message}")
    assert result.stderr.count("\n") == 1


def test_report_refuses_dataset_files_changed_since_the_run(results, tmp_path):
    """manifest.json's sha256 per dataset file is checked against the files the report
    reads: an edited grade (or any other changed file) refuses the folder, naming the file
    and the result folder; an unchanged copy, or a manifest without checksums, is reported."""
    copy = tmp_path / "cranfield-copy"
    shutil.copytree(CRANFIELD, copy)
    folder = make_result(tmp_path, "copy", {"path": str(copy)}, limit=20)
    ok = invoke(["report", str(folder), "-o", str(tmp_path / "ok")])
    assert ok.exit_code == 0 and ok.stderr == ""
    for changed, edit in (
            ("qrels/test.tsv", lambda text: text.replace("\t3\n", "\t1\n", 1)),  # one grade
            ("queries.jsonl", lambda text: text + "\n")):
        path = copy / changed
        original = path.read_text()
        path.write_text(edit(original))
        result = invoke(["report", str(results[0]), str(folder), "-o",
                         str(tmp_path / "r")])
        assert result.exit_code == 2 and not (tmp_path / "r").exists()
        assert result.stderr == (
            f"rerankit: error: {path}: changed since the result folder {folder} was written "
            f"(its sha256 differs from the one in {folder / 'manifest.json'}): its run and "
            "stored metrics come from the old file; re-run 'rerankit run' to report on this "
            "one\n")
        path.write_text(original)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["dataset_files"]                   # a folder written before checksums
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (copy / "qrels" / "test.tsv").write_text(
        (copy / "qrels" / "test.tsv").read_text().replace("\t3\n", "\t1\n", 1))
    assert invoke(["report", str(folder), "-o", str(tmp_path / "old")]).exit_code == 0


# ------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium", reason="selenium is not installed (pip install "
                        "'rerankit[test]')")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (binary and driver_path):
        pytest.skip("no headless Chromium: install Debian's chromium and chromium-driver "
                    "(scripts/test.sh does when apt-get is available)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    except WebDriverException as err:
        pytest.skip(f"headless Chromium does not start here: {err.msg}")
    yield driver
    driver.quit()


def column(driver, table: str, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    return [cell.text for cell in driver.find_elements(
        By.CSS_SELECTOR, f"#{table} tbody tr:not([hidden]) td:nth-child({index})")]


def screenshot(driver, name: str, width: int) -> Path:
    """A full-page screenshot at ``width`` pixels, once the charts fit the window."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(width, 900)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('div.plot .main-svg')).every("
        "s => s.getBoundingClientRect().right <= window.innerWidth)"))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height, 12000))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def test_report_in_headless_chromium(browser, results, report):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.set_window_size(1280, 900)
    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#dd-queries tbody tr"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "div.plot.js-plotly-plot")) == 4

    # sorting the runs table by nDCG@10 reorders its rows
    metrics = {f.name: json.loads((f / "metrics.json").read_text())["ndcg_cut_10"]
               for f in results}
    header = browser.find_element(By.XPATH, "//table[@id='runs-table']//th[.='ndcg_cut_10']")
    header.click()
    expected = sorted(metrics, key=metrics.get, reverse=True)
    assert column(browser, "runs-table", 2) == expected
    header.click()
    assert column(browser, "runs-table", 2) == expected[::-1]

    # pick runs A and B, show the hurt queries: exactly those pytrec_eval says got worse
    qrels = read_qrels()
    a, b = run_dict(results[0]), run_dict(results[2])
    na, nb = ndcg10(qrels, a), ndcg10(qrels, b)
    Select(browser.find_element(By.ID, "dd-a")).select_by_visible_text(results[0].name)
    Select(browser.find_element(By.ID, "dd-b")).select_by_visible_text(results[2].name)
    Select(browser.find_element(By.ID, "dd-filter")).select_by_value("hurt")
    hurt = {q for q in na if nb[q] < na[q]}
    assert set(column(browser, "dd-queries", 1)) == hurt and hurt
    browser.find_element(By.XPATH, "//table[@id='dd-queries']//th[.='Δ']").click()
    deltas = [float(x) for x in column(browser, "dd-queries", 5)]
    assert deltas == sorted(deltas, reverse=True) and max(deltas) < 0

    # choosing the most hurt query shows both top 10s, grades and rank movement
    worst = min(hurt, key=lambda q: nb[q] - na[q])
    row = browser.find_element(By.CSS_SELECTOR, f'#dd-queries tr[data-qid="{worst}"]')
    browser.execute_script("arguments[0].scrollIntoView()", row)
    row.click()
    assert f"Query {worst}:" in browser.find_element(By.ID, "dd-title").text
    ranked_a, ranked_b = read_run(results[0])[worst], read_run(results[2])[worst]
    for side, ranked, other in (("dd-side-a", ranked_a, ranked_b),
                                ("dd-side-b", ranked_b, ranked_a)):
        rows = browser.find_elements(By.CSS_SELECTOR, f"#{side} table.ranking tbody tr")
        assert [r.get_attribute("data-doc") for r in rows] == ranked[:10]
        grades = [r.find_element(By.CSS_SELECTOR, "td.grade").text for r in rows]
        assert grades == [str(qrels[worst][d]) if d in qrels[worst] else "unjudged"
                          for d in ranked[:10]]
        moves = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
        for rank, (docid, move) in enumerate(zip(ranked[:10], moves, strict=True), 1):
            there = other.index(docid) + 1 if docid in other[:100] else None
            if side == "dd-side-a":
                assert move == (str(there) if there else "–")
            elif there is None:
                assert move == "new"
            else:
                shift = there - rank
                assert move == ("=" if shift == 0 else ("▲" if shift > 0 else "▼") +
                                str(abs(shift)))
    Select(browser.find_element(By.ID, "dd-k")).select_by_visible_text("20")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dd-side-b table.ranking tbody tr")) \
        == min(20, len(ranked_b))

    # hovering a per-query delta bar names the query
    bars = browser.find_elements(By.CSS_SELECTOR, "#deltas div.plot .bars path")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", bars[0])
    ActionChains(browser).move_to_element(bars[0]).perform()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#deltas .hoverlayer .hovertext"))
    hover = browser.find_element(By.CSS_SELECTOR, "#deltas .hoverlayer").text
    assert "query" in hover
    assert f"{results[0].name}:" in hover and f"{results[1].name}:" in hover   # both runs
    # ... and clicking it opens that query (the largest gain of run 2 over run 1) below
    n1 = ndcg10(qrels, run_dict(results[1]))
    best = max(n1[q] - na[q] for q in na)
    ActionChains(browser).move_to_element(bars[0]).click().perform()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(
        By.ID, "dd-b").get_attribute("value") == "1")
    title = browser.find_element(By.ID, "dd-title").text
    assert any(title.startswith(f"Query {q}:") for q in na if n1[q] - na[q] == best)

    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    wide = screenshot(browser, "report-1280.png", 1280)
    narrow = screenshot(browser, "report-390.png", 390)
    assert wide.stat().st_size > 50_000 and narrow.stat().st_size > 20_000
    # a phone-width window scrolls tables inside their boxes, not the whole page
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400


def test_mixed_report_in_headless_chromium(browser, mixed):
    """Two datasets, different query sets, no document texts: the page says so and the
    drill-down switches datasets."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    page, subset, deep = mixed
    browser.set_window_size(1280, 900)
    browser.get(page.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#dd-queries tbody tr"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    Select(browser.find_element(By.ID, "dd-group")).select_by_visible_text("cranfield-copy")
    assert "ids only" in browser.find_element(By.ID, "dd-count").text
    common = sorted(set(read_run(subset)) & set(read_run(deep)))
    assert sorted(column(browser, "dd-queries", 1)) == common
    browser.find_element(By.CSS_SELECTOR, f'#dd-queries tr[data-qid="{common[0]}"]').click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#dd-side-b table.ranking tbody tr")
    assert [r.get_attribute("data-doc") for r in rows] == read_run(deep)[common[0]][:10]
    assert not browser.find_elements(By.CSS_SELECTOR, "#dd-side-b .snippet")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
