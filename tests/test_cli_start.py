"""``rerankit eval`` starts light: no pandas, scipy, torch, rich or pydantic on its path
(issue 18), and the quick parser that spares typer's pydantic validation gives the
command exactly the values typer gives it."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from rerankit.cli import eval_command
from rerankit.quickargs import parse as quick_parse

HEAVY = {"pandas", "scipy", "torch", "rich", "pydantic", "sklearn", "transformers"}
REPO = Path(__file__).resolve().parents[1]


def _imported(args: list[str], stdin: bytes = b"") -> set[str]:
    """Top-level packages a fresh ``python -m rerankit ...`` imports (``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "rerankit", *args],
                          input=stdin, capture_output=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in lines if line.startswith("import time:") and "|" in line}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("start")
    qrels, run, spaced = folder / "qrels", folder / "run", folder / "spaced"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 2\n")
    run.write_text("q1 Q0 d1 1 2.5 tag\nq1 Q0 d2 2 2.5 tag\nq2 Q0 d3 1 1 tag\n")
    spaced.write_text("q1  Q0\td2 1 2.5 tag\r\n# comment\nq2 Q0 d3 1 1.0 tag\n")
    return qrels, run, spaced


@pytest.mark.parametrize("options", [[], ["-q", "-c", "-m", "ndcg_cut.10", "--measure=P_5"],
                                     ["--compat", "9", "-M", "1", "-J", "--json"]])
def test_eval_imports_no_heavy_package(files, options):
    qrels, run, _ = files
    heavy = _imported(["eval", *options, str(qrels), str(run)]) & HEAVY
    assert not heavy, f"rerankit eval imported {sorted(heavy)}"


def test_eval_from_stdin_with_any_whitespace_imports_no_heavy_package(files):
    qrels, _, spaced = files
    heavy = _imported(["eval", "-m", "all", str(qrels), "-"], stdin=spaced.read_bytes()) & HEAVY
    assert not heavy, f"rerankit eval imported {sorted(heavy)}"


def parse(args: list[str]) -> dict | None:
    """The quick path's values for ``rerankit eval ARGS`` (None: left to typer)."""
    from typer.main import get_command

    from rerankit.cli import app

    return quick_parse(get_command(app).commands["eval"], eval_command, args)


def _typer_values(args: list[str]) -> dict:
    """The values typer itself passes to a command declared as ``eval_command`` is, for
    ``rerankit eval ARGS``."""
    declared = inspect.unwrap(eval_command)
    seen: dict = {}

    def record(**values) -> None:
        seen.update(values)

    hints = typing.get_type_hints(declared, include_extras=True)
    signature = inspect.signature(declared)
    record.__signature__ = signature.replace(parameters=[
        p.replace(annotation=hints[p.name]) for p in signature.parameters.values()])
    probe = typer.Typer()
    probe.command()(record)
    probe.command("other")(lambda: None)  # two commands: the first word names the command
    probe(["record", *args], standalone_mode=False)
    return seen


_OPTIONS = [  # (spellings, value strategy or None for a flag)
    (["-m", "--measure"], st.sampled_from(["map", "ndcg_cut.10", "P_5", "nDCG@10", "-"])),
    (["-q", "--query-eval", "--query_eval_wanted"], None),
    (["-c", "--complete"], None),
    (["-l", "--level", "--level_for_rel"], st.integers(-3, 5).map(str)),
    (["-J", "--judged-only"], None),
    (["-M", "--max-docs"], st.integers(0, 1000).map(str)),
    (["-n", "--no-summary"], None),
    (["-N", "--num-docs"], st.sampled_from(["0", "+7", "10"])),
    (["-Z", "--zscores"], st.sampled_from(["z.txt", "some dir/z"])),
    (["-R", "--rel-format"], st.sampled_from(["qrels", "prefs"])),
    (["--compat"], st.sampled_from(["9", "10", "8"])),
    (["--json"], None),
    (["--ignore-identical-ids"], None),
    (["--verify"], None),
]


@st.composite
def command_lines(draw) -> list[str]:
    words: list[str] = []
    for spellings, values in draw(st.lists(st.sampled_from(_OPTIONS), max_size=6)):
        spelling = draw(st.sampled_from(spellings))
        if values is None:
            words.append(spelling)
        elif spelling.startswith("--") and draw(st.booleans()):
            words.append(f"{spelling}={draw(values)}")
        else:
            words += [spelling, draw(values)]
    at = draw(st.integers(0, len(words)))
    positionals = [draw(st.sampled_from(["qrels.txt", "a b/q"])),
                   draw(st.sampled_from(["run.txt", "-"]))]
    if draw(st.booleans()):
        return [*words[:at], *positionals, *words[at:]]
    return [*words, "--", *positionals]


@settings(max_examples=80, deadline=None)
@given(command_lines())
def test_quick_parser_gives_the_values_typer_gives(args):
    quick = parse(args)
    if quick is not None:  # None: typer parses this one itself
        assert quick == _typer_values(args)


@pytest.mark.parametrize("args", [["--help"], ["--meas", "map", "q", "r"],
                                  ["-l", "x", "q", "r"], ["-l", "1.5", "q", "r"], ["q"],
                                  ["q", "r", "extra"], ["--json=1", "q", "r"]])
def test_quick_parser_leaves_anything_unusual_to_typer(args):
    assert parse(args) is None


@pytest.mark.parametrize("args", [["-mmap", "q", "r"], ["-qc", "q", "r"],
                                  ["-m", "-q", "q", "r"], ["-Mn", "q", "r"]])
def test_click_reads_short_option_forms_as_typer_does(args):
    """click's parser splits the words, so typer's own forms parse the same way."""
    quick = parse(args)
    assert quick is None or quick == _typer_values(args)


def test_common_command_lines_take_the_quick_path():
    for args in (["q", "r"], ["-q", "-m", "map", "-m", "P_5", "q", "-"],
                 ["--compat", "9", "-M", "100", "-c", "-J", "--json", "q", "r"]):
        assert parse(args) == _typer_values(args)
