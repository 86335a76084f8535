"""Every command, given broken inputs, run as a real process: exit status 2, exactly one
line on stderr (``rerankit: error: ...``) naming what is wrong, never a traceback, and
nothing of the user's deleted. The ``run`` cases fail before any data or model is loaded
(their configs name a model folder that does not exist: loading it would fail otherwise).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rerankit import datasets

from .processes import REPO, start_paused

AQUAINT = datasets.path("aquaint")
QRELS = str(AQUAINT / "trec_aq_303-689.qrels")
RUN = str(AQUAINT / "aq_bm25.res")
RESULT = str(REPO / "leaderboards" / "results" / "cranfield-bm25")
DEMO = str(REPO / "rerankit" / "sessions" / "demo" / "satisfaction.jsonl")   # read only
BM25 = (REPO / "configs" / "cranfield-bm25.yaml").read_text()
# a reranker whose model does not exist: a run that got as far as loading it fails there
RERANK = ("name: {name}\ndataset: {{name: cranfield, on_empty: skip}}\n"
          "retriever: {{type: bm25}}\ndepth: 10\n"
          "rerankers: [{{type: cross-encoder, params: {{model: /nonexistent/model}}}}]\n")


def rerankit(*args: str, env: dict | None = None, stdout=subprocess.DEVNULL,
             prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment.update({"PYTHONPATH": str(REPO), "RERANKIT_QUIET": "1", **(env or {})})
    return subprocess.run([*prefix, sys.executable, "-m", "rerankit", *args], env=environment,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rerankit: error: "), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    assert result.returncode == 2, result.stderr
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A regular file, a folder, a user's folder with a draft, a result folder copy, and
    configs (good and broken)."""
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "thesis.tex").write_text("draft\n")
    shutil.copytree(RESULT, tmp_path / "result")
    (tmp_path / "rerank.yaml").write_text(RERANK.format(name="rerank"))
    (tmp_path / "cranfield.yaml").write_text(BM25)
    (tmp_path / "nan.yaml").write_text(BM25.replace("k1: 1.2", "k1: .nan"))
    (tmp_path / "klingon.yaml").write_text(BM25.replace("b: 0.75", "b: 0.75, stemmer: klingon"))
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html>my website</html>\n")
    with contextlib.closing(sqlite3.connect(tmp_path / "users.db")) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{}")
    (tmp_path / "broken" / "manifest.json").write_text('{"config": {"name": "x"}}')
    return tmp_path


# (id, arguments with {t} for the temporary folder, environment, texts the line must hold)
CASES = [
    ("eval-qrels-is-a-folder", ["eval", "{t}/folder", RUN], {}, ["{t}/folder", "directory"]),
    ("eval-run-missing", ["eval", QRELS, "{t}/missing.run"], {}, ["missing.run"]),
    ("eval-unknown-measure", ["eval", "-m", "nDCG@x", QRELS, RUN], {}, ["'x'"]),
    ("compare-run-is-a-folder", ["compare", QRELS, RUN, "{t}/folder"], {}, ["{t}/folder"]),
    ("compare-qrels-missing", ["compare", "{t}/none.qrels", RUN, RUN], {}, ["none.qrels"]),
    ("session-missing-data", ["session", "{t}/none.jsonl"], {}, ["none.jsonl"]),
    ("session-folder-as-jsonl", ["session", "--format", "jsonl", "{t}/folder"], {},
     ["{t}/folder"]),
    ("run-config-is-a-folder", ["run", "{t}/folder"], {}, ["{t}/folder", "folder"]),
    ("run-config-missing", ["run", "{t}/none.yaml"], {}, ["none.yaml", "not found"]),
    ("run-cache-is-a-file", ["run", "{t}/rerank.yaml", "--output", "{t}/out"],
     {"RERANKIT_CACHE": "{t}/file"}, ["RERANKIT_CACHE", "{t}/file"]),
    ("run-cache-option-is-a-folder", ["run", "{t}/rerank.yaml", "--output", "{t}/out",
                                      "--cache", "{t}/folder"], {}, ["--cache", "{t}/folder"]),
    ("run-cache-is-a-users-database", ["run", "{t}/rerank.yaml", "--output", "{t}/out",
                                       "--cache", "{t}/users.db"], {},
     ["{t}/users.db", "not a rerankit score cache", "tables users"]),
    ("run-cache-is-a-text-file", ["run", "{t}/rerank.yaml", "--output", "{t}/out",
                                  "--cache", "{t}/file"], {},
     ["{t}/file", "not a rerankit score cache", "not an SQLite database"]),
    ("run-cache-env-is-a-users-database", ["run", "{t}/rerank.yaml", "--output", "{t}/out"],
     {"RERANKIT_SCORE_CACHE": "{t}/users.db"}, ["{t}/users.db", "not a rerankit score cache"]),
    ("run-output-under-a-file", ["run", "{t}/rerank.yaml", "--output", "{t}/file/out"], {},
     ["{t}/file is a file, not a folder"]),
    ("run-output-is-a-file", ["run", "{t}/rerank.yaml", "--output", "{t}/file"], {},
     ["{t}/file is a file, not a folder"]),
    ("run-output-holds-user-files", ["run", "{t}/rerank.yaml", "--output", "{t}/thesis",
                                     "--force"], {}, ["{t}/thesis", "never replaces"]),
    ("run-result-with-user-file", ["run", "{t}/rerank.yaml", "--output", "{t}/result",
                                   "--force"], {}, ["notes.txt", "never deletes"]),
    ("run-engine", ["run", "{t}/rerank.yaml", "--engine", "spark"], {}, ["spark"]),
    ("run-bm25-k1-nan", ["run", "{t}/nan.yaml", "--output", "{t}/out"], {},
     ["{t}/nan.yaml: 'retriever.params.k1': BM25 k1 must be a finite number >= 0, got nan"]),
    ("run-bm25-unknown-stemmer", ["run", "{t}/klingon.yaml", "--output", "{t}/out"], {},
     ["{t}/klingon.yaml: 'retriever.params.stemmer': unknown stemmer 'klingon'"]),
    ("run-address-without-ray", ["run", "{t}/rerank.yaml", "--address", "h:1"], {},
     ["'--address'", "needs --engine ray"]),
    ("compare-one-resample", ["compare", QRELS, RUN, RUN, "-m", "map", "--resamples", "1",
                              "--json"], {}, ["resamples must be at least 400 at alpha 0.05"]),
    ("compare-test", ["compare", QRELS, RUN, RUN, "--test", "z"], {},
     ["argument --test", "invalid choice: 'z' (choose from 't', 'wilcoxon', 'randomization')"]),
    ("eval-rel-format", ["eval", "-R", "prefz", QRELS, RUN], {}, ["-R/--rel-format", "'prefz'"]),
    ("session-labels", ["session", "{t}/none.jsonl", "--labels", "clicked"], {},
     ["argument --labels", "'clicked'"]),
    ("session-infinite-cost", ["session", DEMO, "--num-c", "inf"], {},
     ["c (reformulation cost) must be a finite number >= 0, got inf"]),
    ("session-infinite-sdcg-base", ["session", DEMO, "--sdcg-b", "inf"], {},
     ["sDCG b must be a finite number > 1, got inf"]),
    ("run-workers", ["run", "{t}/rerank.yaml", "--engine", "ray", "--workers", "0"], {},
     ["argument --workers", "must be at least 1, got 0"]),
    ("leaderboard-not-a-result", ["leaderboard", "{t}/folder", "--output", "{t}/lb.md"], {},
     ["{t}/folder", "not a result folder"]),
    ("leaderboard-output-under-a-file", ["leaderboard", RESULT, "--output", "{t}/file/lb.md"],
     {}, ["{t}/file is a file, not a folder"]),
    ("export-output-is-a-folder", ["export", RESULT, "-f", "json", "-o", "{t}/folder"], {},
     ["{t}/folder is a folder, not a file"]),
    ("export-missing-folder", ["export", "{t}/none", "-f", "beir", "-o", "{t}/b.md"], {},
     ["{t}/none", "result folder does not exist"]),
    ("export-trec-missing-folder", ["export", "{t}/none", "-o", "{t}/b.trec"], {},
     ["{t}/none", "result folder does not exist"]),
    ("leaderboard-missing-folder", ["leaderboard", RESULT, "{t}/none", "--output",
                                    "{t}/lb.md"], {}, ["{t}/none", "does not exist"]),
    ("report-missing-folder", ["report", "{t}/none", "-o", "{t}/report"], {},
     ["{t}/none", "result folder does not exist"]),
    ("report-file-as-folder", ["report", "{t}/file", "-o", "{t}/report"], {},
     ["{t}/file", "is a file, not a result folder"]),
    ("export-format", ["export", RESULT, "-f", "xml", "-o", "{t}/x"], {}, ["'xml'"]),
    ("report-not-a-result", ["report", "{t}/folder", "-o", "{t}/report"], {},
     ["{t}/folder", "not a result folder"]),
    ("report-output-under-a-file", ["report", RESULT, "-o", "{t}/file/report"], {},
     ["{t}/file is a file, not a folder"]),
    ("report-over-a-website", ["report", RESULT, "-o", "{t}/site"], {},
     ["{t}/site/index.html", "never overwrites"]),
    ("leaderboard-broken-manifest", ["leaderboard", "{t}/broken", "--output", "{t}/lb.md"], {},
     ["{t}/broken/manifest.json", "missing dataset"]),
]


@pytest.mark.parametrize("args, env, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_broken_input_is_one_line_and_status_2(files, args, env, expected):
    (files / "result" / "notes.txt").write_text("mine\n")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    fill = {"t": files}
    result = rerankit(*[a.format(**fill) for a in args],
                      env={k: v.format(**fill) for k, v in env.items()})
    line = assert_one_line_error(result, *[e.format(**fill) for e in expected])
    assert "--force" not in line or "another run" in line
    assert "delete it" not in line            # never of a file rerankit did not create
    assert {p: p.read_bytes() for p in files.rglob("*") if p.is_file()} == before
    assert not (files / "out").exists()


BAD_CONFIGS = [
    ("depth-true", "depth: true\n", "'depth': Input should be a valid integer (got true)"),
    ("unknown-measure", "measures: [ndcg_cut_10, nDCG@1O]\n", "bad parameter '1O'"),
    ("cache-number", "cache: 1\n", "'cache': Input should be a valid boolean (got 1)"),
]


@pytest.mark.parametrize("extra, expected", [c[1:] for c in BAD_CONFIGS],
                         ids=[c[0] for c in BAD_CONFIGS])
def test_config_mistakes_are_reported_before_anything_is_loaded(tmp_path, extra, expected):
    # the dataset folder is missing too: the config is checked first, and at once
    config = tmp_path / "c.yaml"
    config.write_text(f"name: c\ndataset: {{path: {tmp_path}/nowhere}}\n"
                      f"retriever: {{type: bm25}}\n{extra}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = rerankit("run", str(config), "--output", str(tmp_path / "out"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert_one_line_error(result, str(config), expected)
    # about half a second of CPU here; loading data or a model would take many seconds
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 3.0
    bad_name = tmp_path / "n.yaml"
    bad_name.write_text(RERANK.format(name="'my run'"))
    assert_one_line_error(rerankit("run", str(bad_name)), "'name'", "'my run'")


def test_a_bi_encoder_named_as_a_cross_encoder_is_one_line(tmp_path):
    """The offline all-MiniLM-L6-v2 bi-encoder as a cross-encoder would score with a random
    head: refused in one line naming it (no library table of missing weights before it),
    with no result folder and no score cache written."""
    from rerankit.retrieve.dense import default_model

    config = tmp_path / "ce.yaml"
    config.write_text(RERANK.format(name="ce").replace("/nonexistent/model", default_model()))
    result = rerankit("run", str(config), "--output", str(tmp_path / "out"), "--cache",
                      str(tmp_path / "scores.sqlite"), env={"RERANKIT_CACHE": str(tmp_path)})
    assert_one_line_error(result, f"{default_model()}: not a cross-encoder: it has no "
                          "trained classification head")
    assert not (tmp_path / "out").exists() and not (tmp_path / "scores.sqlite").exists()


def test_force_never_deletes_a_users_files(files):
    """The audit's repro: ``--output`` naming a folder with a draft in it, with --force."""
    result = rerankit("run", str(files / "cranfield.yaml"), "--output", str(files / "thesis"),
                      "--force", "-q")
    line = assert_one_line_error(result, str(files / "thesis"))
    assert "--force" not in line
    assert [p.name for p in (files / "thesis").iterdir()] == ["thesis.tex"]
    assert (files / "thesis" / "thesis.tex").read_text() == "draft\n"


@pytest.mark.parametrize("entry, force", [("run.trec", True), ("ledger.json", False)])
def test_a_users_folder_with_a_result_files_name_is_never_deleted(files, entry, force):
    """The tester's repro: a result folder whose run.trec (or ledger.json) is a folder
    holding the user's draft; the name is rerankit's, the folder is not, with or without
    --force (the config is the result's own, so nothing else refuses it)."""
    result = files / "result"
    (result / entry).unlink(missing_ok=True)          # stored results hold no run.trec
    (result / entry).mkdir()
    (result / entry / "thesis.tex").write_text("draft\n")
    refused = rerankit("run", str(files / "cranfield.yaml"), "--output", str(result), "-q",
                       *(["--force"] if force else []))
    assert_one_line_error(refused, str(result), f"{entry} (a folder)", "never deletes")
    assert (result / entry / "thesis.tex").read_text() == "draft\n"


FULL = "/dev/full"


@pytest.mark.skipif(not Path(FULL).is_char_device(), reason="needs the /dev/full device")
@pytest.mark.parametrize("args", [["-m", "map"], ["-q"], ["--json", "-q"]],
                         ids=["small", "large", "json"])
def test_full_disk_on_stdout_is_one_line(args):
    with open(FULL, "w") as full:
        result = rerankit("eval", *args, QRELS, RUN, stdout=full)
    assert_one_line_error(result, "standard output", "No space left on device")


@pytest.mark.skipif(not Path(FULL).is_char_device(), reason="needs the /dev/full device")
@pytest.mark.parametrize("args", [["leaderboard", RESULT, "--output", FULL],
                                  ["export", RESULT, "-f", "beir", "-o", FULL]],
                         ids=["leaderboard", "export"])
def test_full_disk_on_an_output_file_is_one_line_and_the_device_stays(args):
    assert_one_line_error(rerankit(*args), FULL, "No space left on device")
    assert Path(FULL).is_char_device()           # written through, never renamed over


def test_closed_stdout_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)                      # the reader is gone before anything is written
    try:
        result = rerankit("eval", "-q", QRELS, RUN, stdout=write)
    finally:
        os.close(write)
    assert result.returncode == 1 and result.stderr == ""


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "PYTHONUNBUFFERED"])
def test_a_pipe_closed_mid_output_is_status_1_not_success(unbuffered):
    # `rerankit eval -q -m all ... | head -1`: ~170 KB, more than a pipe holds, so the
    # reader leaves while rerankit is still writing; with PYTHONUNBUFFERED the text layer
    # dropped the rest of a short write and the truncated output ended with status 0
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("RERANKIT_DEBUG", "PYTHONUNBUFFERED")}
    environment.update({"PYTHONPATH": str(REPO), "RERANKIT_QUIET": "1"})
    if unbuffered:
        environment["PYTHONUNBUFFERED"] = unbuffered
    process = subprocess.Popen([sys.executable, "-m", "rerankit", "eval", "-q", "-m", "all",
                                QRELS, RUN], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"num_ret")
    process.stdout.close()
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 1 and stderr == b""


def test_a_refused_report_exits_2_every_time(tmp_path):
    # reported: 'report OUT OUT' sometimes aborted at exit (134, "terminate called without
    # an active exception") after its error line; 20 runs, four at a time, of a folder
    # whose run the report reads (with Arrow's threads) before it meets the second name
    folder = tmp_path / "result"
    shutil.copytree(RESULT, folder)
    shutil.copy(RUN, folder / "run.trec")
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment.update({"PYTHONPATH": str(REPO), "RERANKIT_QUIET": "1"})
    for _ in range(5):
        processes = [subprocess.Popen([sys.executable, "-m", "rerankit", "report", folder,
                                       folder, "-o", tmp_path / "report"],
                                      env=environment,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True) for _ in range(4)]
        for process in processes:
            stderr = process.communicate(timeout=60)[1]
            assert (process.returncode, stderr.splitlines()) == (
                2, [f"rerankit: error: {folder}: result folder given twice"]), stderr
    assert not (tmp_path / "report").exists()


def _read_only(folder: Path) -> tuple[str, ...]:
    """Make ``folder`` read-only; the command prefix that makes that binding for root."""
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("root writes into read-only folders and setpriv is not there to drop "
                    "that capability")
    return ("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
            "--")


def test_read_only_output_folder_is_named(files):
    prefix = _read_only(files / "folder")
    try:
        for args in (["run", str(files / "rerank.yaml"), "--output", str(files / "folder/o")],
                     ["export", RESULT, "-f", "json", "-o", str(files / "folder/x.json")]):
            result = rerankit(*args, prefix=prefix)
            assert_one_line_error(result, str(files / "folder"), "Permission denied")
    finally:
        (files / "folder").chmod(0o755)
    assert list((files / "folder").iterdir()) == []


def test_debug_shows_the_traceback(tmp_path):
    shown = rerankit("--debug", "eval", str(tmp_path), RUN)
    assert shown.returncode == 2 and "Traceback" in shown.stderr
    assert shown.stderr.splitlines()[-1].startswith("rerankit: error: ")
    by_environment = rerankit("eval", str(tmp_path), RUN, env={"RERANKIT_DEBUG": "1"})
    assert by_environment.returncode == 2 and "Traceback" in by_environment.stderr


def test_usage_errors_keep_status_2():
    result = rerankit("eval", QRELS)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the following arguments are required: RUN" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_interrupt_is_one_line_and_status_130(tmp_path):
    fifo = tmp_path / "qrels"
    os.mkfifo(fifo)
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen([sys.executable, "-m", "rerankit", "eval", str(fifo), RUN],
                               env=environment, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while True:                          # wait until rerankit opened the pipe to read it
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.time() < deadline and process.poll() is None
            time.sleep(0.05)
    try:
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(writer)
    assert process.returncode == 130
    assert stderr.splitlines() == ["rerankit: error: interrupted"]


# A `rerankit run` that stops while its result is half written into the staging folder
# (after ledger.json, before the rename): it writes the staging folder's path into the file
# named first, then waits for a signal.
PAUSED_RUN = """
import sys, time
from pathlib import Path
from rerankit.cli import main
from rerankit.pipeline.ledger import Ledger
ready = Path(sys.argv.pop(1))
original = Ledger.write
def write(self, path):
    original(self, path)
    ready.write_text(str(Path(path).parent))
    time.sleep(120)
Ledger.write = write
main()
"""


def paused_run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """A real ``rerankit run`` process paused inside its staging folder, and that folder."""
    ready = tmp_path / "ready"
    process = start_paused(PAUSED_RUN, ready, ["run", *args], timeout=240)
    return process, Path(ready.read_text())


@pytest.mark.parametrize("signum, status, line", [
    (signal.SIGTERM, 143, "rerankit: error: terminated"),
    # a BM25-only run has no score cache to resume from: the line does not mention one
    (signal.SIGINT, 130, "rerankit: error: interrupted"),
], ids=["sigterm", "sigint"])
def test_a_signal_while_writing_is_one_line_and_leaves_no_staging_folder(tmp_path, signum,
                                                                         status, line):
    config = tmp_path / "cranfield.yaml"
    config.write_text(BM25)
    out = tmp_path / "runs" / "out"
    process, staging = paused_run(tmp_path, str(config), "--output", str(out))
    assert staging.parent == out.parent and (staging / "ledger.json").is_file()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert stderr.splitlines() == [line]
    assert list((tmp_path / "runs").iterdir()) == []     # no output, no staging folder


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run_and_nothing_else(tmp_path):
    config = tmp_path / "cranfield.yaml"
    config.write_text(BM25)
    runs = tmp_path / "runs"
    process, staging = paused_run(tmp_path, str(config), "--output", str(runs / "out"))
    process.kill()                                       # no chance to clean up
    process.communicate(timeout=60)
    assert staging.is_dir() and (staging / "run.trec").is_file()
    # look-alikes that are not a dead rerankit process's staging folder: kept
    (runs / ".out.mine").mkdir()                         # the user's, no mark
    (runs / ".out.mine" / "notes.txt").write_text("mine\n")
    live = runs / ".out.live"                            # a live process's (this one's)
    live.mkdir()
    (live / ".rerankit-staging").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    elsewhere = runs / ".out.remote"                     # another host's: pid means nothing
    elsewhere.mkdir()
    (elsewhere / ".rerankit-staging").write_text(f"{2 ** 22 + 7} another-host.example\n")
    other = runs / ".other.abcd"                         # beside another output
    shutil.copytree(staging, other)
    result = rerankit("run", str(config), "--output", str(runs / "out"), "-q")
    assert result.returncode == 0, result.stderr
    assert not staging.exists()
    assert sorted(p.name for p in runs.iterdir()) == [".other.abcd", ".out.live", ".out.mine",
                                                       ".out.remote", "out"]
    assert (runs / ".out.mine" / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (runs / "out").iterdir()) == sorted(
        ["run.trec", "metrics.json", "manifest.json", "ledger.json"])


def test_a_second_interrupt_after_the_message_adds_nothing(tmp_path):
    config = tmp_path / "cranfield.yaml"
    config.write_text(BM25)
    process, _ = paused_run(tmp_path, str(config), "--output", str(tmp_path / "out"))
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.splitlines() == ["rerankit: error: interrupted"]


# The command has finished; an exit handler (as libraries register) then receives a signal.
LATE_SIGNAL = """
import atexit, os, signal, sys, time
from rerankit import cli
install = cli._install_signal_handlers
signum = getattr(signal, sys.argv.pop(1))
def late():
    os.kill(os.getpid(), signum)
    time.sleep(30)
def installing():
    install()
    atexit.register(late)
cli._install_signal_handlers = installing
cli.main()
"""


@pytest.mark.parametrize("name, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_after_the_command_finished_is_one_line(name, status):
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-c", LATE_SIGNAL, name, "components"],
                            env=environment, capture_output=True, text=True, timeout=120)
    assert "retriever" in result.stdout
    assert result.returncode == status
    word = "interrupted" if name == "SIGINT" else "terminated"
    assert result.stderr.splitlines() == [f"rerankit: error: {word} after the command had "
                                          "finished (what it wrote is complete)"]


def test_the_interrupt_line_names_the_score_cache_only_when_the_run_has_one(tmp_path):
    from rerankit.cli import _uses_score_cache
    from rerankit.experiment.config import load_config

    def parsed(text: str):
        (tmp_path / "c.yaml").write_text(text)
        return load_config(tmp_path / "c.yaml")

    bm25, rerank = parsed(BM25), parsed(RERANK.format(name="r"))
    uncached = parsed(RERANK.format(name="r") + "cache: false\n")
    assert not _uses_score_cache(bm25, None, False)            # nothing is scored
    assert not _uses_score_cache(bm25, tmp_path / "s.sqlite", False)
    assert _uses_score_cache(rerank, None, False)
    assert not _uses_score_cache(rerank, None, True)           # --no-cache
    assert not _uses_score_cache(uncached, None, False)
    assert _uses_score_cache(uncached, tmp_path / "s.sqlite", False)   # --cache FILE


def test_output_dot_in_an_empty_folder_fills_it_and_the_current_folder_is_never_swapped(
        tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    config = tmp_path / "cranfield.yaml"
    config.write_text(BM25)
    environment = {k: v for k, v in os.environ.items() if k != "RERANKIT_DEBUG"}
    environment.update({"PYTHONPATH": str(REPO), "RERANKIT_QUIET": "1"})
    inode = here.stat().st_ino

    def run(output: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rerankit", "run", str(config),
                               "--output", output], cwd=here, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=300)

    result = run(".")
    assert result.returncode == 0, result.stderr
    files = sorted(["run.trec", "metrics.json", "manifest.json", "ledger.json"])
    assert sorted(p.name for p in here.iterdir()) == files       # no staging folder left
    assert here.stat().st_ino == inode                            # the same folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cranfield.yaml", "here"]
    before = {p.name: p.read_bytes() for p in here.iterdir()}
    for output in (".", str(here)):        # replacing it would rename it from under the shell
        assert_one_line_error(run(output), str(here), "current folder")
    assert {p.name: p.read_bytes() for p in here.iterdir()} == before
    assert here.stat().st_ino == inode


def test_a_forked_worker_still_dies_of_sigterm_quietly():
    """The SIGTERM handler unwinds rerankit's own process only: a forked pool worker that
    gets SIGTERM (Pool.terminate) dies of it as before, without a traceback."""
    code = ("import multiprocessing, time\nfrom rerankit import cli\n"
            "cli._install_signal_handlers()\n"
            "worker = multiprocessing.get_context('fork').Process(target=time.sleep, "
            "args=(60,))\nworker.start()\ntime.sleep(0.5)\nworker.terminate()\nworker.join()\n"
            "print(worker.exitcode)\n")
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == str(-signal.SIGTERM), result.stderr
    assert "Traceback" not in result.stderr
