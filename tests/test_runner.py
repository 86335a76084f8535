"""Benchmark configs: validation errors, outputs, refusal to overwrite, the leaderboard."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rerankit.config import load_config
from rerankit.data.atomic import atomic_folder
from rerankit.errors import InputFormatError, OutputWriteError
from rerankit.leaderboard import render
from rerankit.runner import run_config

CONFIGS = Path(__file__).parents[1] / "configs"


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_configs_validate():
    names = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert {"scifact-bm25", "scifact-dense", "scifact-hybrid", "cranfield-bm25",
            "vaswani-bm25", "scifact-bm25-minilm"} <= set(names)
    for path in CONFIGS.glob("*.yaml"):
        assert load_config(path).name == path.stem


BASE = "name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\n"


@pytest.mark.parametrize("text, message", [
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm26}\n", "'retriever.type'"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\ncolour: red\n", "'colour'"),
    ("name: x\ndataset: {name: scifact, path: /x}\nretriever: {type: bm25}\n",
     "exactly one of 'name'"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: fusion, retrievers: [{type: bm25}]}\n",
     "at least two"),
    ("name: x\ndataset: {name: scifact}\nretriever: {type: bm25}\ndepth: 0\n", "'depth'"),
    ("name: [unclosed\n", "not valid YAML"),
    (BASE + "rerankers: [{type: colbert}]\n", "'cross-encoder', 'bi-encoder'"),
    (BASE + "rerankers: [{type: bi-encoder, params: {modle: x}}]\n",
     "unknown parameter.*'modle'.*allowed: model, batch_size"),
    (BASE + "rerankers: [{type: listwise}]\n", "needs an 'llm' section"),
    (BASE + "rerankers: [{type: listwise, llm: {backend: llamacpp, model: m, "
            "params: {temperature: 1}}}]\n", "'temperature'.*allowed: n_ctx"),
    (BASE + "depth: 50\nrerankers: [{type: bi-encoder, depth: 100}]\n",
     "depth 100 is larger than the 50 candidates"),
    (BASE + "depth: 50\nrerankers: [{type: bi-encoder, depth: 20, cutoff: 30}]\n",
     "cutoff 30 is larger than the 20 candidates"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(InputFormatError, match=message):
        load_config(write(tmp_path, text))


def test_run_writes_outputs_and_refuses_to_overwrite(tmp_path):
    config = load_config(CONFIGS / "cranfield-bm25.yaml")
    out = tmp_path / "out"
    result = run_config(config, out).metrics
    assert result.num_queries == 225
    assert 0.35 < result["ndcg_cut_10"] < 0.40
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert metrics["ndcg_cut_10"] == result["ndcg_cut_10"]
    assert manifest["config_digest"] == config.digest() and manifest["queries"] == 225
    first = (out / "run.trec").read_bytes()
    run_config(config, out)                       # same config: allowed, same bytes
    assert (out / "run.trec").read_bytes() == first
    other = load_config(write(tmp_path, (CONFIGS / "cranfield-bm25.yaml").read_text()
                              .replace("k1: 1.2", "k1: 0.9")))
    with pytest.raises(InputFormatError, match="already holds another run"):
        run_config(other, out)
    run_config(other, out, force=True)
    assert "cranfield-bm25" in render([out])


def test_bad_retriever_parameter_is_named(tmp_path):
    with pytest.raises(InputFormatError, match=r"unknown parameter.*'k2'.*allowed: engine"):
        load_config(write(tmp_path, "name: x\ndataset: {name: cranfield}\n"
                                    "retriever: {type: bm25, params: {k2: 3}}\n"))


def test_missing_dataset_folder_is_named(tmp_path):
    config = load_config(write(tmp_path, f"name: x\ndataset: {{path: {tmp_path}/nowhere}}\n"
                                         "retriever: {type: bm25}\n"))
    with pytest.raises(InputFormatError, match=r"nowhere.*does not exist"):
        run_config(config, tmp_path / "o")


def _small_file_limit():
    """In the child process: files may not grow past 50 kB, and writing past it fails with
    EFBIG instead of killing the process, the way a full disk fails a write (ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_failed_write_leaves_the_previous_results_and_a_clear_error(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rerankit", "run", str(CONFIGS / "cranfield-bm25.yaml"),
               "--output", str(out), "--no-cache", "-q"]
    subprocess.run(command, check=True, capture_output=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    failed = subprocess.run([*command, "--force"], capture_output=True, text=True,
                            preexec_fn=_small_file_limit)
    assert failed.returncode == 2
    assert failed.stderr.strip() == (f"rerankit: error: could not write {out}: File too large. "
                                     f"Nothing was written: {out} is as it was before")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]      # no temporary folder left


def test_atomic_folder_replaces_only_what_rerankit_wrote_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "index"
    target.mkdir()
    (target / "rerankit.json").write_text("{}")              # a saved index
    with atomic_folder(target) as staging:
        (staging / "rerankit.json").write_text("new")
        assert (target / "rerankit.json").read_text() == "{}"  # untouched until the end
    assert [p.name for p in target.iterdir()] == ["rerankit.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["index"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("draft")
    with pytest.raises(OutputWriteError, match="holds files rerankit did not write"):
        with atomic_folder(mine) as staging:
            (staging / "rerankit.json").write_text("new")
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "mine"]
