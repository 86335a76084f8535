"""The command line as argparse reads it. Every command gets the values typer 0.29 gave it
(``DEFAULTS`` and ``CASES`` were recorded from typer before the move to argparse), in every
spelling: aliases, trec_eval's attached values (``-mmap``, ``-M1000``) and combined flags
(``-qc``), options before, between or after the arguments, ``--``. A command line that does
not fit is one line on stderr and exit status 2; ``--help`` (``-h``) prints the help."""

from __future__ import annotations

import inspect
from pathlib import Path as P

import pytest

from rerankit import cli

from .cli_helpers import invoke

#: what typer passed to each command for the shortest command line of ``CASES``
DEFAULTS = {
    "eval": {"qrels": P("q"), "run": "r", "measure": None, "query": False, "complete": False,
        "level": 1, "judged_only": False, "max_docs": None, "no_summary": False, "num_docs": 0,
        "zscores": None, "rel_format": "qrels", "results_format": "trec_results", "compat": "10",
        "as_json": False, "ignore_identical_ids": False, "verify": False},
    "compare": {"qrels": P("q"), "runs": [P("a"), P("b")], "measure": None, "test": "t",
        "alpha": 0.05, "resamples": 10000, "seed": 42, "level": 1, "as_json": False},
    "session": {"data": P("d"), "data_format": "auto", "metrics": "num,umeasure,sdcg,nsdcg,srbp",
        "per_session": None, "per_query": None, "run": None, "labels": "auto",
        "enhance": "forward", "click_counts": False, "allow_extra": False, "qrels": None,
        "length": "unit", "position": "end", "depth": 10, "gain_kind": "exp", "gain_map": None,
        "num_l": 20.0, "num_c": 1.0, "sdcg_b": 2.0, "sdcg_bq": 4.0, "srbp_p": 0.8, "srbp_b": 0.64,
        "meta": False, "systems": None, "compare": None, "gold": None,
        "methods": "pearson,spearman,kendall", "resamples": 1000, "seed": 42,
        "test": "randomization", "alpha": 0.05, "json_out": None, "csv_out": None,
        "report_dir": None, "write_jsonl": None, "force": False},
    "run": {"config": P("c"), "output": None, "force": False, "cache": None, "no_cache": False,
        "quiet": False, "engine": "local", "address": None, "workers": 2, "cpus_per_worker": 1,
        "gpus_per_worker": 0.0},
    "train": {"output": P("o"), "kind": "bi-encoder", "model": None, "dataset": "scifact",
        "split": "train", "depth": 30, "limit": None, "epochs": 1, "batch_size": 32,
        "learning_rate": 2e-05, "max_length": 256, "seed": 42, "quiet": False},
    "components": {"markdown": False},
    "leaderboard": {"folders": [P("a"), P("b")], "output": P("leaderboards/README.md"),
        "force": False},
    "export": {"folders": [P("a")], "output": P("x"), "format": "trec", "tag": None,
        "force": False},
    "report": {"folders": [P("a")], "output": P("report"), "baseline": None,
        "measure": "ndcg_cut_10", "test": "randomization"},
}

#: (command line, the values typer passed that differ from DEFAULTS)
CASES = [
    (["eval", "q", "r"],
     {}),
    (["eval", "-mmap", "-qc", "q", "r"],
     {"measure": ["map"], "query": True, "complete": True}),
    (["eval", "q", "r", "-m", "P_5", "-M1000", "-mndcg_cut.10"],
     {"measure": ["P_5", "ndcg_cut.10"], "max_docs": 1000}),
    (["eval", "--measure=P_5", "--max-docs=10", "-l", "-3", "-N", "+7", "--", "q", "-"],
     {"run": "-", "measure": ["P_5"], "level": -3, "max_docs": 10, "num_docs": 7}),
    (["eval", "-qcJn", "--compat", "9", "-R", "prefs", "-T", "trec_results", "-Z", "z", "--json",
      "--verify", "--ignore-identical-ids", "q", "r"],
     {"query": True, "complete": True, "judged_only": True, "no_summary": True, "zscores": P("z"),
      "rel_format": "prefs", "compat": "9", "as_json": True, "ignore_identical_ids": True,
      "verify": True}),
    (["eval", "--query_eval_wanted", "--complete_rel_info_wanted", "--level_for_rel", "2",
      "--Judged_docs_only", "--Max_retrieved_per_topic", "5", "--nosummary",
      "--Number_docs_in_coll", "9", "--Zscore", "z", "--Rel_info_format", "qrels_jg",
      "--Results_format", "trec_results", "q", "r"],
     {"query": True, "complete": True, "level": 2, "judged_only": True, "max_docs": 5,
      "no_summary": True, "num_docs": 9, "zscores": P("z"), "rel_format": "qrels_jg"}),
    (["compare", "q", "a", "b"],
     {}),
    (["compare", "q", "a", "-m", "map", "b", "--test", "wilcoxon", "--alpha", "0.1", "--resamples",
      "5", "--seed", "1", "-l", "2", "--json", "c"],
     {"runs": [P("a"), P("b"), P("c")], "measure": ["map"], "test": "wilcoxon", "alpha": 0.1,
      "resamples": 5, "seed": 1, "level": 2, "as_json": True}),
    (["session", "d"],
     {}),
    (["session", "d", "--format", "trec-xml", "--systems", "a", "--systems", "b", "--force",
      "--no-force", "--meta", "--num-L", "3", "--gain", "linear", "--seed", "0", "--per-session",
      "ps", "--json", "j"],
     {"data_format": "trec-xml", "per_session": P("ps"), "gain_kind": "linear", "num_l": 3.0,
      "meta": True, "systems": [P("a"), P("b")], "seed": 0, "json_out": P("j")}),
    (["run", "c"],
     {}),
    (["run", "c", "--force", "--no-cache", "-q", "--engine", "ray", "--workers", "3",
      "--gpus-per-worker", "0.5", "--output", "o", "--address", "a"],
     {"output": P("o"), "force": True, "no_cache": True, "quiet": True, "engine": "ray",
      "address": "a", "workers": 3, "gpus_per_worker": 0.5}),
    (["train", "o"],
     {}),
    (["train", "o", "--kind", "cross-encoder", "--limit", "3", "--learning-rate", "1e-4", "-q"],
     {"kind": "cross-encoder", "limit": 3, "learning_rate": 0.0001, "quiet": True}),
    (["components"],
     {}),
    (["components", "--markdown"],
     {"markdown": True}),
    (["components", "--markdown", "--no-markdown"],
     {}),
    (["leaderboard", "a", "b"],
     {}),
    (["leaderboard", "a", "--output", "-", "--force"],
     {"folders": [P("a")], "output": P("-"), "force": True}),
    (["export", "a", "-o", "x"],
     {}),
    (["export", "a", "b", "--output", "x", "-f", "json", "--tag", "t", "--force"],
     {"folders": [P("a"), P("b")], "format": "json", "tag": "t", "force": True}),
    (["report", "a"],
     {}),
    (["report", "a", "b", "-o", "o", "--baseline", "b", "-m", "map", "--test", "t"],
     {"folders": [P("a"), P("b")], "output": P("o"), "baseline": P("b"), "measure": "map",
      "test": "t"}),
]


@pytest.mark.parametrize("args, changed", CASES, ids=[" ".join(args) for args, _ in CASES])
def test_every_command_gets_the_values_typer_gave_it(args, changed):
    line = cli.parse(args)
    expected = {**DEFAULTS[args[0]], **changed}
    assert (line.name, line.values, line.debug) == (args[0], expected, False)
    assert {name: type(value) for name, value in line.values.items()} == \
        {name: type(value) for name, value in expected.items()}      # 1 == 1.0 == True


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_the_parser_gives_each_parameter_of_the_command(name):
    assert list(inspect.signature(cli.COMMANDS[name].run).parameters) == list(DEFAULTS[name])


def test_global_options_come_before_the_command():
    assert cli.parse(["--debug", "eval", "q", "r"]).debug
    assert cli.parse(["--", "eval", "q", "r"]).name == "eval"


#: (command line, what its one error line says besides where to find the help)
USAGE_ERRORS = [
    (["eval", "--bogus", "q", "r"], "unrecognized arguments: --bogus"),
    (["eval", "--meas", "map", "q", "r"], "unrecognized arguments: --meas"),   # no abbreviation
    (["eval", "--compat", "8", "q", "r"],
     "argument --compat: invalid choice: '8' (choose from '10', '9')"),
    (["eval", "-R", "prefz", "q", "r"], "argument -R/--rel-format/--Rel_info_format: invalid "
                                       "choice: 'prefz'"),
    (["eval", "q"], "the following arguments are required: RUN"),
    (["eval"], "the following arguments are required: QRELS, RUN"),
    (["eval", "-l", "x", "q", "r"], "argument -l/--level/--level_for_rel: invalid int value: 'x'"),
    # Python's int reads these as 10; trec_eval's atol as 1 and 0: refused, not misread
    (["eval", "-M", "1_0", "q", "r"],
     "argument -M/--max-docs/--Max_retrieved_per_topic: invalid int value: '1_0'"),
    (["eval", "-l", "\u0661\u0660", "q", "r"],
     "argument -l/--level/--level_for_rel: invalid int value: '\u0661\u0660'"),
    (["eval", "-Mn", "q", "r"], "argument -M/--max-docs/--Max_retrieved_per_topic: invalid int "
                                "value: 'n'"),
    (["eval", "-M"], "argument -M/--max-docs/--Max_retrieved_per_topic: expected one argument"),
    (["eval", "-m", "-q", "q", "r"], "argument -m/--measure: expected one argument"),
    (["eval", "--json=1", "q", "r"], "argument --json: ignored explicit argument '1'"),
    (["eval", "q", "r", "extra"], "unrecognized arguments: extra"),
    (["compare", "q"], "the following arguments are required: RUNS"),
    (["compare", "q", "a", "b", "--alpha", "x"], "argument --alpha: invalid float value: 'x'"),
    (["session", "d", "--seed", "-1"], "argument --seed: must be from 0 to 4294967295, got -1"),
    (["session", "d", "--resamples", "0"], "argument --resamples: must be at least 1, got 0"),
    (["run", "c", "--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["run", "c", "--gpus-per-worker", "nan"],
     "argument --gpus-per-worker: must be at least 0.0, got nan"),
    (["train", "o", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["export", "a"], "the following arguments are required: --output/-o"),
    (["report", "a", "--test", "q"], "argument --test: invalid choice: 'q'"),
    (["components", "extra"], "unrecognized arguments: extra"),
    (["nosuch"], "argument COMMAND: invalid choice: 'nosuch' (choose from 'eval', 'compare'"),
    (["--bogus", "eval"], "unrecognized arguments: --bogus"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--debug"], "the following arguments are required: COMMAND"),
    (["eval", "--debug", "q", "r"], "unrecognized arguments: --debug"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS,
                         ids=[" ".join(args) for args, _ in USAGE_ERRORS])
def test_a_usage_error_is_one_line_naming_the_help_and_status_2(args, message):
    result = invoke(args)
    command = args[0] if args[0] in cli.COMMANDS else None
    see = f"(see 'rerankit{' ' + command if command else ''} --help')"
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"rerankit: error: {message}"), result.stderr
    assert result.stderr.endswith(f" {see}\n"), result.stderr


def test_rerankit_alone_prints_the_help_and_fails_for_the_missing_command():
    """What typer's no_args_is_help did: the help, then an error (its line had no text)."""
    result = invoke([])
    assert result.exit_code == 2
    assert result.stdout.startswith("usage: rerankit [-h] [--debug] COMMAND ...")
    assert all(f"\n    {name}" in result.stdout for name in cli.COMMANDS)
    assert result.stderr == ("rerankit: error: the following arguments are required: COMMAND "
                             "(see 'rerankit --help')\n")


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", [[], *([name] for name in cli.COMMANDS)],
                         ids=["rerankit", *cli.COMMANDS])
def test_help_is_printed_with_status_0(command, flag):
    result = invoke([*command, flag])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {' '.join(['rerankit', *command])} ")
    assert "show this help message and exit" in result.stdout


def test_eval_help_names_every_spelling_of_every_option():
    text = invoke(["eval", "--help"]).stdout
    for spelling in ("-m, --measure MEASURE", "-q, --query-eval, --query_eval_wanted",
                     "-c, --complete, --complete_rel_info_wanted",
                     "-l, --level, --level_for_rel LEVEL",
                     "-J, --judged-only, --Judged_docs_only",
                     "-M, --max-docs, --Max_retrieved_per_topic MAX_DOCS",
                     "-n, --no-summary, --nosummary", "-N, --num-docs, --Number_docs_in_coll",
                     "-Z, --zscores, --Zscore ZSCORES",
                     "-R, --rel-format, --Rel_info_format {qrels,prefs,qrels_prefs,qrels_jg}",
                     "-T, --results-format, --Results_format {trec_results}",
                     "--compat {10,9}", "--json", "--ignore-identical-ids", "--verify"):
        assert spelling in text, spelling
    assert "Minimum grade counted as relevant (trec_eval -l). (default: 1)" in " ".join(
        text.split())
