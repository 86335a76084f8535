"""``rerankit run`` with a reranker: killed half-way (SIGKILL), it leaves no result folder
and the next run resumes from the score cache; runs are byte-identical with and without
the cache, and across repeats."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

pytest.importorskip("sentence_transformers")


def cached_rows(path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_run_resumes_from_the_cache(tiny_cross_encoder, tmp_path):
    config = tmp_path / "scifact-tiny-ce.yaml"
    config.write_text("name: scifact-tiny-ce\ndataset: {name: scifact}\n"
                      "retriever: {type: bm25}\ndepth: 20\nqueries: {limit: 80, seed: 1}\n"
                      f"rerankers: [{{type: cross-encoder, params: {{model: '{tiny_cross_encoder}'"
                      ", max_length: 128}}]\nbatch_size: 2\n")
    env = {**os.environ, "RERANKIT_CACHE": str(tmp_path / "cache"), "RERANKIT_QUIET": "1"}
    database = tmp_path / "cache" / "scores.sqlite"

    def command(folder, *extra):
        return [sys.executable, "-m", "rerankit", "run", str(config), "--output",
                str(tmp_path / folder), *extra]

    process = subprocess.Popen(command("killed"), env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 300
    while cached_rows(database) == 0 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    done_before_kill = cached_rows(database)
    assert 0 < done_before_kill < 1600, "the run was not killed half-way"
    assert not (tmp_path / "killed").exists()         # nothing half-written looks finished

    resumed = subprocess.run(command("killed"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    ledger = json.loads((tmp_path / "killed" / "ledger.json").read_text())
    assert ledger["totals"][1]["cache_hits"] >= done_before_kill
    assert ledger["totals"][1]["candidates"] == 1600

    fresh = subprocess.run(command("fresh", "--no-cache"), env=env, capture_output=True,
                           text=True)
    assert fresh.returncode == 0, fresh.stderr
    for name in ("run.trec", "metrics.json", "manifest.json"):
        assert (tmp_path / "killed" / name).read_bytes() == \
            (tmp_path / "fresh" / name).read_bytes(), name
    assert "cost ledger" in fresh.stdout and "ndcg_cut_10" in fresh.stdout
