"""Command line: ``rerankit eval`` (a drop-in for trec_eval), ``compare``, ``session``,
``run``, ``train``, ``components``, ``leaderboard``, ``export`` and ``report``.

The standard library's argparse reads the command line: each command is a function whose
arguments a declaring function beside it lists (``_eval_arguments`` for
:func:`eval_command`), and only the parser of the command given is built. Heavy modules
are imported inside the commands, so ``rerankit --help`` and ``rerankit eval`` start
quickly and never import torch.

No command shows a traceback: :func:`main` turns any failure into one line on stderr,
``rerankit: error: ...``, and exit status 2 (130 when interrupted, 143 on SIGTERM, which
unwinds like Ctrl-C so no staging folder is left; a closed output pipe,
as in ``rerankit eval ... | head -1``, ends quietly with status 1). ``--debug`` or
``RERANKIT_DEBUG=1`` prints the traceback too. A usage error (an unknown option, a missing
argument, a bad value or choice) is one line as well, ``rerankit: error: <message> (see
'rerankit <command> --help')``, with status 2; ``--help`` (``-h``) prints the help.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import io
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

PROGRAM = "rerankit"
DESCRIPTION = "Retrieval, reranking and trec_eval-exact evaluation."
PAIRED_TESTS = ("t", "wilcoxon", "randomization")


class UsageError(Exception):
    """A command line that does not fit its command (argparse's refusals, and a command's
    own checks of its options): one line that points to the command's help, status 2."""

    def __init__(self, message: str, prog: str = PROGRAM) -> None:
        super().__init__(f"{message} (see '{prog} --help')")


def _invalid(command: str, name: str, message: str) -> UsageError:
    """A command's refusal of the value of its option or argument ``name``."""
    return UsageError(f"Invalid value for {name}: {message}", f"{PROGRAM} {command}")


def _paragraphs(text: str | None) -> list[str]:
    """The paragraphs of a docstring (none under ``python -OO``: one empty paragraph)."""
    return re.split(r"\n\s*\n", text.strip()) if text else [""]


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with an option's default where it has one worth saying (not None,
    not a flag's False) and the paragraphs of a description kept."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        unsaid = (action.help is None or "%(default)" in action.help or not action.option_strings
                  or default is None or default is False or default is argparse.SUPPRESS)
        return action.help if unsaid else f"{action.help} (default: %(default)s)"

    def _format_action_invocation(self, action: argparse.Action) -> str:
        """``-l, --level, --level_for_rel LEVEL``: the value once, not after each spelling
        (as argparse itself does from Python 3.13)."""
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {value}"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n\n".join(fill(paragraph, width, indent) for paragraph in _paragraphs(text))


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises :class:`UsageError` where argparse prints its usage
    and exits, and takes no abbreviation of a long option (``--meas`` is not
    ``--measure``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(allow_abbrev=False, formatter_class=_HelpFormatter, **options)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


class Command(NamedTuple):
    """A command: the function that runs it, called with one keyword argument per
    destination of its parser, and the function that declares those arguments."""
    run: Callable[..., None]
    arguments: Callable[[argparse.ArgumentParser], None]


#: the commands by name, in the order ``rerankit --help`` lists them
COMMANDS: dict[str, Command] = {}


def command(name: str, arguments: Callable[[argparse.ArgumentParser], None]
            ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated function as the command ``name``; ``arguments`` declares its
    parser's arguments (their destinations are the function's parameters)."""
    def register(function: Callable[..., None]) -> Callable[..., None]:
        COMMANDS[name] = Command(function, arguments)
        return function
    return register


def _top_parser() -> _Parser:
    """``rerankit [--debug] COMMAND``: the global options and the list of commands (each
    command's own arguments are read by :func:`_command_parser`'s parser)."""
    parser = _Parser(prog=PROGRAM, description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true",
                        help="Show the traceback of an error (also: RERANKIT_DEBUG=1).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                     prog=PROGRAM)
    for name, entry in COMMANDS.items():
        summary = " ".join(_paragraphs(entry.run.__doc__)[0].split())
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def _command_parser(name: str) -> _Parser:
    """The parser of ``rerankit NAME``; its help is the command's docstring."""
    entry = COMMANDS[name]
    parser = _Parser(prog=f"{PROGRAM} {name}", description=entry.run.__doc__)
    entry.arguments(parser)
    return parser


class CommandLine(NamedTuple):
    """A command line as read: the command, its function's keyword arguments, --debug."""
    name: str
    values: dict[str, Any]
    debug: bool


def parse(args: Sequence[str]) -> CommandLine:
    """Read ``rerankit ARGS``. The words up to the command name are the global options
    (which take no value); the rest are the command's, read in any order, options before,
    between or after arguments as click allowed (argparse's intermixed parsing, which its
    subcommands lack: hence a parser of its own). ``rerankit`` alone prints the help, then
    fails for the missing command (typer's no_args_is_help did the same); ``--help`` prints
    the help and exits with status 0."""
    words = list(args)
    at = next((i for i, word in enumerate(words) if word == "--" or not word.startswith("-")),
              len(words))
    if words[at:at + 1] == ["--"]:       # the end of the global options: the command follows
        del words[at]
    top = _top_parser()
    if not args:
        top.print_help()
    chosen = top.parse_args(words[:at + 1])   # an unknown option first, then no command
    if chosen.command is None:
        top.error("the following arguments are required: COMMAND")
    values = _command_parser(chosen.command).parse_intermixed_args(words[at + 1:])
    return CommandLine(chosen.command, vars(values), chosen.debug)


def _integer(text: str) -> int:
    """An argparse type: a decimal integer in ASCII digits. Python's ``int`` also reads
    ``1_0`` as 10 and other scripts' digits, where trec_eval's ``atol`` reads 1 and 0:
    such a value is refused, not read as another number."""
    if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text, re.ASCII):
        raise ValueError(text)
    return int(text)


_integer.__name__ = "int"                   # argparse: "invalid int value: '1_0'"


def _bounded(kind: Callable[[str], Any], low: float, high: float | None = None
             ) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, refused outside ``low`` .. ``high``."""
    def convert(text: str) -> Any:
        value = kind(text)                  # ValueError: argparse's "invalid int value: ..."
        if not low <= value or (high is not None and not value <= high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    convert.__name__ = kind.__name__        # argparse names the type in its message
    return convert


def _flag(parser: argparse.ArgumentParser, *flags: str, dest: str, help: str) -> None:
    """An option without a value: True when given."""
    parser.add_argument(*flags, dest=dest, action="store_true", help=help)


def _switch(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    """``--NAME`` and ``--no-NAME`` (the pair typer made of a bool option it named itself);
    the last one given wins, default off."""
    parser.add_argument(f"--{name}", dest=name.replace("-", "_"), default=False,
                        action=argparse.BooleanOptionalAction, help=help)


def _measure_option(parser: argparse.ArgumentParser) -> None:
    """``-m MEASURE``, repeatable (eval and compare)."""
    parser.add_argument("-m", "--measure", dest="measure", action="append",
                        help="Measure (trec_eval name such as ndcg_cut.10 or P_5, family such "
                             "as P, nickname 'official'/'all', or alias such as nDCG@10, "
                             "MRR@10). Repeatable.")


def _echo(text: str, err: bool = False) -> None:
    """One line on stdout (stderr with ``err``), flushed at once."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _note(text: str) -> None:
    """``rerankit: note: ...`` on stderr: what the user should know about a result."""
    _echo(f"rerankit: note: {text}", err=True)


class Interrupted(Exception):
    """Ctrl-C in a command that has more to say than "interrupted" (exit status 130)."""


_debug = False
_reported = False                          # set once the one error line is written
_pending: str | None = None                # that line, from when it is decided


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    """trec_eval's options, each by its letter, a long name and trec_eval's long name."""
    add = parser.add_argument
    add("qrels", type=Path, metavar="QRELS", help="Qrels file (TREC or BEIR TSV; with -R, "
        "trec_eval's prefs/qrels_prefs/qrels_jg formats).")
    add("run", metavar="RUN", help="TREC run file, or '-' to read it from stdin.")
    _measure_option(parser)
    _flag(parser, "-q", "--query-eval", "--query_eval_wanted", dest="query",
          help="Also print a value per query (trec_eval -q).")
    _flag(parser, "-c", "--complete", "--complete_rel_info_wanted", dest="complete",
          help="Average over all qrels queries; one without results is evaluated as an "
               "empty ranking and, with -q, printed (trec_eval -c).")
    add("-l", "--level", "--level_for_rel", dest="level", type=_integer, default=1,
        help="Minimum grade counted as relevant (trec_eval -l).")
    _flag(parser, "-J", "--judged-only", "--Judged_docs_only", dest="judged_only",
          help="Drop unjudged documents first (trec_eval -J).")
    add("-M", "--max-docs", "--Max_retrieved_per_topic", dest="max_docs", type=_integer,
        help="Evaluate only the top N documents per query (trec_eval -M).")
    _flag(parser, "-n", "--no-summary", "--nosummary", dest="no_summary",
          help="Omit the 'all' lines (trec_eval -n).")
    add("-N", "--num-docs", "--Number_docs_in_coll", dest="num_docs", type=_integer, default=0,
        help="Documents in the collection (trec_eval -N).")
    add("-Z", "--zscores", "--Zscore", dest="zscores", type=Path,
        help="Print z-scores against the 'qid measure mean std_dev' lines of this file "
             "(trec_eval -Z).")
    add("-R", "--rel-format", "--Rel_info_format", dest="rel_format", default="qrels",
        choices=("qrels", "prefs", "qrels_prefs", "qrels_jg"),
        help="Format of the qrels file (trec_eval -R).")
    add("-T", "--results-format", "--Results_format", dest="results_format",
        default="trec_results", choices=("trec_results",),
        help="Format of the run file: trec_results, the only one (trec_eval -T).")
    add("--compat", default="10", choices=("10", "9"),
        help="Semantics: 10 (trec_eval 10.0, default) or 9 (trec_eval 9.0.x, as "
             "pytrec_eval: float32 score ties, old truncation, -c without the skipped "
             "queries' lines).")
    _flag(parser, "--json", dest="as_json", help="Print JSON instead of trec_eval's text.")
    _flag(parser, "--ignore-identical-ids", dest="ignore_identical_ids",
          help="Drop documents whose id equals the query id (BEIR).")
    _flag(parser, "--verify", dest="verify",
          help="Recompute every value with trec_eval itself and fail on any difference: the "
               "trec_eval 10.0 binary ($TREC_EVAL or on PATH) for --compat 10, pytrec_eval "
               "for --compat 9.")


@command("eval", _eval_arguments)
def eval_command(qrels: Path, run: str, measure: list[str] | None, query: bool,
                 complete: bool, level: int, judged_only: bool, max_docs: int | None,
                 no_summary: bool, num_docs: int, zscores: Path | None, rel_format: str,
                 results_format: str, compat: str, as_json: bool,
                 ignore_identical_ids: bool, verify: bool) -> None:
    """Evaluate a run; output identical to trec_eval 10.0's for the same options."""
    _one_blas_thread()
    from rerankit.evaluation.evaluator import evaluate
    from rerankit.evaluation.measures import parse_measures

    options = dict(relevance_level=level, average_complete=complete,
                   judged_only=judged_only, max_docs=max_docs, num_docs_in_coll=num_docs,
                   zscores=zscores, compat=compat)
    if rel_format != "qrels":
        result = _evaluate_preferences(qrels, run, measure, rel_format, verify=verify,
                                       **options)
    else:
        measures = measure or ["official"]
        parse_measures(measures)  # an unknown measure fails before any file is read
        result = evaluate(qrels, run, measures, verify=verify,
                          ignore_identical_ids=ignore_identical_ids, **options)
    if as_json:
        _echo(result.to_json(per_query=query))
    else:
        sys.stdout.write(result.to_trec_eval(per_query=query, summary=not no_summary))
    _warn_about_coverage(result, complete)


def _one_blas_thread() -> None:
    """Evaluation does no linear algebra, yet numpy's OpenBLAS starts a thread per core
    when numpy is imported, which spins for a while: 70 of the 150 CPU ms of
    ``import numpy`` on 2 cores, competing with the interpreter and Arrow's reader
    threads. One BLAS thread, unless the environment says otherwise; it only counts
    before numpy is first imported (the console script), so a process that already has
    numpy keeps its setting."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _evaluate_preferences(qrels: Path, run: str, measures: list[str] | None, rel_format: str,
                          **options):
    """``-R prefs | qrels_prefs | qrels_jg``: trec_eval's preference formats (measures None:
    the format's own default set)."""
    try:
        from rerankit.evaluation.prefs import evaluate_preferences
    except ImportError:
        raise ValueError(f"-R {rel_format} is not available in this version of rerankit"
                         ) from None
    return evaluate_preferences(qrels, run, measures, rel_format, **options)


def _warn_about_coverage(result, complete: bool) -> None:
    notes = []
    if result.ignored_run_queries:
        notes.append(f"{len(result.ignored_run_queries)} run queries have no judgements and "
                     f"were ignored (e.g. {', '.join(result.ignored_run_queries[:3])})")
    missing = result.queries_without_results
    if missing and not complete:
        notes.append(f"{len(missing)} judged queries have no results and are not averaged; "
                     "use -c to count them as 0")
    if complete and len(missing) == result.num_queries:
        notes.append("no query of the run has judgements in the qrels, so every value is 0: "
                     "are these the right files?")
    for note in notes:
        _note(note)


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("qrels", type=Path, metavar="QRELS", help="Qrels file.")
    add("runs", type=Path, nargs="+", metavar="RUNS",
        help="Two or more run files; the first is the baseline.")
    _measure_option(parser)
    add("--test", default="t", choices=PAIRED_TESTS, help="Paired test.")
    add("--alpha", type=float, default=0.05,
        help="Significance level (after Holm correction).")
    add("--resamples", type=_integer, default=10_000, help="Randomisation / bootstrap resamples.")
    add("--seed", type=_integer, default=42, help="Random seed (randomisation, bootstrap).")
    add("-l", "--level", dest="level", type=_integer, default=1, help="Minimum relevant grade.")
    _flag(parser, "--json", dest="as_json", help="Print JSON.")


@command("compare", _compare_arguments)
def compare_command(qrels: Path, runs: list[Path], measure: list[str] | None, test: str,
                    alpha: float, resamples: int, seed: int, level: int,
                    as_json: bool) -> None:
    """Compare runs against the first one with significance tests (Holm-corrected)."""
    import json

    from rich.console import Console

    from rerankit.evaluation.measures import HEADLINE
    from rerankit.evaluation.stats import compare

    if len(runs) < 2:
        raise _invalid("compare", "RUNS", "compare needs at least two run files")
    report = compare(qrels, runs, measure or list(HEADLINE),
                     test=test, alpha=alpha, resamples=resamples, seed=seed,
                     relevance_level=level)
    for note in report.notes:
        _note(note)
    if as_json:
        _echo(json.dumps(report.to_dict(), indent=2))
        return
    console = Console()
    console.print(report.table())
    console.print("* significant after Holm-Bonferroni correction; p-values are the "
                  "corrected ones")


def _session_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("data", type=Path, metavar="DATA", help="Sessions: JSONL, TREC Session XML (.xml), "
        "TSV with a header (.tsv), or a GraphCM export folder (TREC Session 2014).")
    add("--format", dest="data_format", default="auto",
        choices=("auto", "jsonl", "graphcm", "trec-xml", "tsv"),
        help="auto: folder graphcm, .xml trec-xml, .tsv tsv, else jsonl.")
    add("--metrics", default="num,umeasure,sdcg,nsdcg,srbp",
        help="Comma-separated: num, umeasure, sdcg, nsdcg, srbp, ndcg_mean, ndcg_max, "
             "ndcg_first, ndcg_last, found")
    add("--per-session", type=Path, help="Write 'session<TAB>metric<TAB>value' lines here "
        "(nan: undefined), with a 'satisfaction' line per session that has one.")
    add("--per-query", type=Path, help="The same per query ('<session>:<n>'), each query "
        "scored as a one-query session.")
    add("--run", type=Path, help="Score a system's TREC run instead of the logged lists; "
        "query ids '<session>:<n>'. Rows are ranked as trec_eval ranks them (score "
        "descending, ties by document id descending), not in file order.")
    add("--labels", default="auto", choices=("auto", "clicks", "labels", "gains", "qrels"),
        help="auto: the first of these the log has; a source the log lacks is an error.")
    add("--enhance", default="forward", choices=("none", "forward", "session"),
        help="Click labels.")
    _flag(parser, "--click-counts", dest="click_counts", help="Clicks are counts (integers "
          ">= 0, used as grades); default: clicks must be 0 or 1.")
    _flag(parser, "--allow-extra", dest="allow_extra",
          help="Ignore unknown JSONL fields instead of failing.")
    add("--qrels", type=Path, help="TREC qrels by topic for --format trec-xml sessions.")
    add("--length", default="unit", choices=("unit", "lengths", "dwell"),
        help="Reading cost.")
    add("--position", default="end", choices=("end", "start"),
        help="U/NUM item position: end (pos = l1+..+lk) or start (l1+..+l(k-1), cwl's "
             "convention).")
    add("--depth", type=_integer, default=10, help="Results read per query (k).")
    add("--gain", dest="gain_kind", default="exp", choices=("exp", "linear"),
        help="exp (2^r-1) or linear.")
    add("--gain-map", help="Grade-to-gain map replacing --gain, e.g. '1=0.2,2=0.4,3=0.6' "
        "(cwl gains).")
    add("--num-L", dest="num_l", metavar="L", type=float, default=20.0, help="NUM / U patience L.")
    add("--num-c", dest="num_c", metavar="C", type=float, default=1.0, help="Reformulation cost c.")
    add("--sdcg-b", type=float, default=2.0, help="sDCG rank log base b.")
    add("--sdcg-bq", type=float, default=4.0, help="sDCG query log base bq.")
    add("--srbp-p", type=float, default=0.8, help="sRBP persistence p.")
    add("--srbp-b", type=float, default=0.64, help="sRBP balance b.")
    _flag(parser, "--meta", dest="meta", help="Meta-evaluation: Pearson, Spearman and "
          "Kendall with satisfaction (session and query level) with bootstrap CIs and "
          "p-values, differences of correlations (bootstrap, Williams' t), agreement "
          "matrices, intuitiveness, and with --systems discriminative power.")
    add("--systems", type=Path, action="append", help="With --meta: runs compared for "
        "discriminative power and intuitiveness, beside the scored lists. Repeatable.")
    add("--compare", help="With --meta: metric pairs whose correlations are compared, e.g. "
        "'num:sdcg,num:srbp' (default: the first metric against each other).")
    add("--gold", help="Gold measure of the intuitiveness test: satisfaction or a metric "
        "(default: satisfaction without --systems, else found).")
    add("--methods", default="pearson,spearman,kendall", help="With --meta: correlations, "
        "comma-separated (Kendall's bootstrap is the slow one on big logs).")
    add("--resamples", type=_bounded(_integer, 1), default=1000,
        help="Bootstrap / randomisation resamples.")
    add("--seed", type=_bounded(_integer, 0, 2**32 - 1), default=42, help="Random seed.")
    add("--test", default="randomization", choices=PAIRED_TESTS,
        help="Discriminative power test.")
    add("--alpha", type=float, default=0.05,
        help="Significance level of discriminative power.")
    add("--json", dest="json_out", metavar="FILE", type=Path,
        help="Write means and the meta-evaluation as JSON here.")
    add("--csv", dest="csv_out", metavar="FILE", type=Path,
        help="Write the meta-evaluation as CSV (one row per number) here.")
    add("--report", dest="report_dir", metavar="DIR", type=Path,
        help="Write the plots (PNG) and meta.json into this folder.")
    add("--write-jsonl", type=Path,
        help="Also save the sessions in the JSONL format (e.g. after GraphCM).")
    _switch(parser, "force", help="Replace existing output files.")


@command("session", _session_arguments)
def session_command(data: Path, data_format: str, metrics: str, per_session: Path | None,
                    per_query: Path | None, run: Path | None, labels: str, enhance: str,
                    click_counts: bool, allow_extra: bool, qrels: Path | None, length: str,
                    position: str, depth: int, gain_kind: str, gain_map: str | None,
                    num_l: float, num_c: float, sdcg_b: float, sdcg_bq: float,
                    srbp_p: float, srbp_b: float, meta: bool, systems: list[Path] | None,
                    compare: str | None, gold: str | None, methods: str, resamples: int,
                    seed: int, test: str, alpha: float, json_out: Path | None,
                    csv_out: Path | None, report_dir: Path | None, write_jsonl: Path | None,
                    force: bool) -> None:
    """Session-level evaluation (NUM, U-measure, sDCG, nsDCG, sRBP) of logs or systems, and
    meta-evaluation of the metrics against satisfaction."""
    from rich.console import Console


    console = Console(width=None if sys.stdout.isatty() else 200)
    if not meta and any((csv_out, report_dir, systems, compare, gold)):
        raise ValueError("--csv, --report, --systems, --compare and --gold need --meta")
    _check_session_settings(alpha, resamples if meta else None)
    _check_session_outputs({"--per-session": per_session, "--per-query": per_query,
                            "--json": json_out, "--csv": csv_out,
                            "--write-jsonl": write_jsonl}, report_dir, force,
                           {"DATA": data, "--run": run, "--qrels": qrels,
                            **{f"--systems {path}": path for path in systems or []}})
    result = _session_evaluate(
        data, data_format, metrics, run, labels, enhance, click_counts,
        allow_extra, qrels, length, position, depth, gain_kind, gain_map,
        num_l, num_c, sdcg_b, sdcg_bq, srbp_p, srbp_b, per_query is not None or meta)
    chosen_methods = tuple(m.strip() for m in methods.split(",") if m.strip())
    report = _session_meta(result, systems or [], compare, gold, chosen_methods,
                           resamples, seed, test, alpha) if meta else None
    _session_write(result, report, per_session, per_query, json_out, csv_out, report_dir,
                   write_jsonl)
    title, table = _session_table(result)
    console.print(title, highlight=False)
    console.print(table)
    for note in result["notes"] + (report.notes if report else []):
        _note(note)
    if report is not None:
        for title, table in report.tables():
            console.print()
            console.print(title, highlight=False)
            console.print(table)


def _check_session_settings(alpha: float, resamples: int | None) -> None:
    """Before any work, the meta-evaluation's own checks, named by their options
    (``resamples`` None: no meta-evaluation, whose resamples are then not checked)."""
    from rerankit.sessions.meta import check_levels, check_meta_resamples

    try:
        check_levels(alpha)
        if resamples is not None:
            check_meta_resamples(resamples, alpha, 0.95)
    except ValueError as err:
        raise ValueError(f"--{err}") from None


def _session_evaluate(data, data_format, metrics, run, labels, enhance, click_counts,
                      allow_extra, qrels, length, position, depth, gain_kind, gain_map, num_l,
                      num_c, sdcg_b, sdcg_bq, srbp_p, srbp_b, queries: bool) -> dict:
    """Read the log, score it (and per query when asked); the notes say what to know."""
    import numpy as np

    from rerankit.data.run import Run
    from rerankit.sessions import SessionParams, evaluate_queries, evaluate_sessions
    from rerankit.sessions.converters import read_sessions
    from rerankit.sessions.labels import resolve_source

    chosen = tuple(m.strip() for m in metrics.split(",") if m.strip())
    if not chosen:
        raise _invalid("session", "--metrics", f"{metrics!r} names no metric")
    params = SessionParams(depth=depth, patience=num_l, reformulation_cost=num_c,
                           gain=gain_kind, sdcg_b=sdcg_b, sdcg_bq=sdcg_bq, srbp_p=srbp_p,
                           srbp_b=srbp_b, position=position,
                           gain_map=_parse_gain_map(gain_map) if gain_map else ())
    log = read_sessions(data, data_format, click_counts, allow_extra, qrels)
    source = resolve_source(log, labels)
    scored_run = Run.read_trec(run) if run else None
    options = {"params": params, "labels": source, "enhance": enhance, "length": length}
    scores = evaluate_sessions(log, chosen, run=scored_run, **options)
    notes = []
    if labels == "auto":
        notes.append(f"labels=auto: scoring with {source}")
    if source == "gains" and (gain_map or gain_kind != "exp"):
        notes.append("labels=gains: the logged gains are used as they are; --gain and "
                     "--gain-map do not apply")
    if not _has_positive(log, source):
        notes.append(f"no session has a positive {source} value: NUM and nsDCG are "
                     "undefined and U, sDCG and sRBP are 0 for every session")
    query_scores = evaluate_queries(log, chosen, run=scored_run, **options) if queries \
        else None
    return {"log": log, "scores": scores, "query_scores": query_scores, "metrics": chosen,
            "source": source, "enhance": enhance, "run": run, "run_obj": scored_run,
            "options": options,
            "notes": notes, "satisfaction": log.satisfaction,
            "has_satisfaction": bool(np.any(~np.isnan(log.satisfaction)))}


def _has_positive(log, source: str) -> bool:
    import numpy as np

    column = {"clicks": log.item_click, "labels": log.item_label, "gains": log.item_gain,
              "qrels": log.qrels_grade}[source]
    return bool(np.any(np.nan_to_num(column) > 0))


def _parse_gain_map(text: str) -> tuple[tuple[float, float], ...]:
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        grade, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            pairs.append((float(grade), float(value)))
        except ValueError:
            raise ValueError(f"--gain-map: expected GRADE=GAIN pairs such as "
                             f"'1=0.2,2=0.4', got {part!r}") from None
    if not pairs:
        raise ValueError("--gain-map is empty")
    return tuple(pairs)


def _session_meta(result: dict, systems: list[Path], compare: str | None, gold: str | None,
                  methods: tuple[str, ...], resamples: int, seed: int, test: str,
                  alpha: float):
    """The meta-evaluation of the scored metrics (and of --systems runs)."""
    from rerankit.data.run import Run
    from rerankit.sessions import evaluate_sessions
    from rerankit.sessions.meta import meta_evaluate

    log, scores, chosen = result["log"], result["scores"], result["metrics"]
    gold = gold or ("satisfaction" if result["has_satisfaction"] and not systems else "found")
    extra = () if gold in chosen or gold == "satisfaction" else (gold,)
    gold_values = None
    if extra:
        gold_values = evaluate_sessions(log, extra, run=result["run_obj"],
                                         **result["options"]).values[gold]
    runs = {}
    if systems:
        base = result["run"].stem if result["run"] else "logged"
        runs[base] = {**scores.values, **({gold: gold_values} if extra else {})}
        for path in systems:
            name = path.stem
            if name in runs:
                raise ValueError(f"--systems: two systems named '{name}'")
            runs[name] = evaluate_sessions(log, (*chosen, *extra), run=Run.read_trec(path),
                                           **result["options"]).values
    pairs = None
    if compare:
        pairs = []
        for part in filter(None, (p.strip() for p in compare.split(","))):
            a, sep, b = part.partition(":")
            if not sep:
                raise ValueError(f"--compare: expected METRIC:METRIC, got {part!r}")
            pairs.append((a.strip(), b.strip()))
    queries = result["query_scores"]
    return meta_evaluate(scores.values, log.satisfaction,
                         queries.values if queries else None, log.inter_satisfaction,
                         runs or None, pairs, gold, gold_values, methods=methods,
                         resamples=resamples, seed=seed, alpha=alpha, test=test)


def _check_session_outputs(files: dict[str, Path | None], report_dir: Path | None,
                           force: bool, inputs: dict[str, Path | None]) -> None:
    """Before any work: every output can be written, none replaces an existing file
    unless --force, and no two of them (nor an output and an input) are one file
    (standard output carries the table, so '-' is no output file here)."""
    from rerankit.data.atomic import check_distinct, check_new_file, check_writable
    from rerankit.sessions.plots import PLOT_FILES

    named = dict(files)
    if report_dir is not None:
        check_writable(report_dir, folder=True)
        named.update({f"--report {report_dir / name}": report_dir / name
                      for name in (*PLOT_FILES, "meta.json")})
    for path in filter(None, named.values()):
        if str(path) == "-":
            raise ValueError("'-' names no file here: standard output carries the table; "
                             "give a file name")
    check_distinct(named, inputs)
    for path in filter(None, named.values()):
        check_writable(path)
        check_new_file(path, force)


def _session_write(result: dict, report, per_session, per_query, json_out, csv_out,
                   report_dir, write_jsonl) -> None:
    """Every requested output file, each written atomically, and all of them only once
    every one is ready (plots drawn, JSON checked), so a failure leaves none half-done."""
    import json

    from rerankit.data.atomic import atomic_write

    log, scores = result["log"], result["scores"]
    pngs = {}
    if report_dir:
        from rerankit.sessions.plots import render_plots

        pngs = render_plots(report, scores.values, log.satisfaction)   # may add notes
    summary = {"sessions": log.num_sessions, "queries": log.num_interactions,
               "labels": result["source"], "lists": str(result["run"] or "logged"),
               "means": {m: _json_number(scores.mean(m)) for m in result["metrics"]},
               "undefined": {m: scores.undefined(m) for m in result["metrics"]},
               "meta": report.to_dict() if report else None}
    texts = {}
    for path, values, satisfaction in ((per_session, scores, log.satisfaction),
                                       (per_query, result["query_scores"],
                                        log.inter_satisfaction)):
        if path:
            texts[path] = "".join(values.to_tsv_lines(satisfaction))
    summary_text = json.dumps(summary, indent=2, allow_nan=False) + "\n"
    if json_out:
        texts[json_out] = summary_text
    if csv_out:
        texts[csv_out] = report.csv_text()
    if report_dir:
        texts[Path(report_dir) / "meta.json"] = summary_text
    if write_jsonl:
        log.write_jsonl(write_jsonl)
    for path, text in texts.items():
        with atomic_write(path) as handle:
            handle.write(text)
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        for name, data in pngs.items():
            with atomic_write(Path(report_dir) / name, "wb") as handle:
                handle.write(data)


def _json_number(x: float) -> float | None:
    return None if x != x else x


def _session_table(result: dict):
    from rich.table import Table

    log, scores, run = result["log"], result["scores"], result["run"]
    enhance = f", enhance={result['enhance']}" if result["source"] == "clicks" else ""
    title = (f"{log.num_sessions} sessions, {log.num_interactions} queries "
             f"({'run ' + run.name if run else 'logged lists'}; labels={result['source']}"
             f"{enhance})")
    table = Table()
    for column in ("metric", "mean", "sessions scored", "undefined"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric in result["metrics"]:
        undefined = scores.undefined(metric)
        table.add_row(metric, f"{scores.mean(metric):.4f}", str(log.num_sessions - undefined),
                      str(undefined))
    return title, table


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("config", type=Path, metavar="CONFIG", help="YAML config (see configs/).")
    add("--output", type=Path, help="Output folder (default runs/<config name>).")
    _switch(parser, "force", help="Replace a folder holding another run.")
    add("--cache", type=Path, help="Score-cache file (default $RERANKIT_SCORE_CACHE, else "
        "scores.sqlite in $RERANKIT_CACHE).")
    _flag(parser, "--no-cache", dest="no_cache", help="Do not read or write the score cache.")
    _flag(parser, "--quiet", "-q", dest="quiet", help="No progress bars.")
    add("--engine", default="local", choices=("local", "ray"),
        help="local (in process) or ray.")
    add("--address", help="Ray cluster address (e.g. ray://head:10001 or head:6379); "
        "default: start a local Ray on 127.0.0.1.")
    add("--workers", type=_bounded(_integer, 1), default=2, help="Ray workers (actors).")
    add("--cpus-per-worker", type=_bounded(_integer, 1), default=1, help="CPUs per Ray worker.")
    add("--gpus-per-worker", type=_bounded(float, 0.0), default=0.0,
        help="GPUs per Ray worker.")


@command("run", _run_arguments)
def run_command(config: Path, output: Path | None, force: bool, cache: Path | None,
                no_cache: bool, quiet: bool, engine: str, address: str | None, workers: int,
                cpus_per_worker: int, gpus_per_worker: float) -> None:
    """Run a pipeline config: retrieve, rerank, evaluate; print the metrics and the cost
    ledger; write run.trec, metrics.json, manifest.json and ledger.json. The component
    types a config can name: 'rerankit components'.

    The config, the output folder, the dataset and the cache are checked before any data
    or model is loaded. --force replaces only a result folder written by 'rerankit run';
    a folder holding anything else is never replaced."""
    if engine == "local" and address is not None:
        raise _invalid("run", "'--address'", "needs --engine ray")
    if no_cache and cache is not None:
        raise _invalid("run", "'--cache'", "--cache and --no-cache exclude each other")
    from rerankit.experiment.config import load_config

    parsed = load_config(config)           # before the heavy imports: a typo fails at once
    folder = output or Path("runs") / parsed.name

    from rich.console import Console
    from rich.table import Table

    from rerankit.experiment.runner import run_config

    runner_engine = None
    if engine == "ray":
        from rerankit.experiment.distributed import RayEngine, RayOptions

        runner_engine = RayEngine(RayOptions(address, workers, cpus_per_worker,
                                             gpus_per_worker))
    try:
        outcome = run_config(parsed, folder, force=force, quiet=quiet or None,
                             cache=False if no_cache else cache, engine=runner_engine)
    except KeyboardInterrupt:
        if not _uses_score_cache(parsed, cache, no_cache):
            raise
        raise Interrupted("interrupted; scores computed so far are in the score cache, and "
                          "running the same command again resumes from them") from None
    table = Table(title=f"{parsed.name} ({outcome.metrics.num_queries} queries)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in outcome.metrics.aggregate.items():
        if name not in ("runid", "num_q"):
            table.add_row(name, f"{value:.4f}")
    missing = outcome.metrics.num_queries - len(outcome.metrics.query_ids)
    if missing:
        table.caption = f"{missing} judged queries without results count 0 (trec_eval -c)"
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(table)
    console.print(outcome.ledger.table())
    console.print(f"wrote {folder}/run.trec, metrics.json, manifest.json, ledger.json")


def _uses_score_cache(parsed, cache: Path | None, no_cache: bool) -> bool:
    """Whether ``rerankit run`` keeps reranker scores in the score cache (what an
    interrupted run can resume from): a config with rerankers and the cache on."""
    return not no_cache and (cache is not None or parsed.cache) and bool(parsed.rerankers)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("output", type=Path, metavar="OUTPUT",
        help="Model folder to write (new, or one written by 'rerankit train').")
    add("--kind", default="bi-encoder", choices=("bi-encoder", "cross-encoder"),
        help="What to train.")
    add("--model", help="Base model folder or hub name (default: the offline "
        "all-MiniLM-L6-v2 for bi-encoders).")
    add("--dataset", default="scifact", help="Embedded dataset name or BEIR folder.")
    add("--split", default="train", help="Training split (never the evaluated one).")
    add("--depth", type=_bounded(_integer, 1), default=30,
        help="BM25 candidates searched for a hard negative.")
    add("--limit", type=_bounded(_integer, 1), help="Seeded subset of the training queries.")
    add("--epochs", type=_bounded(_integer, 1), default=1, help="Training epochs.")
    add("--batch-size", type=_bounded(_integer, 1), default=32,
        help="Examples per batch (in-batch negatives).")
    add("--learning-rate", type=float, default=2e-5, help="Learning rate.")
    add("--max-length", type=_bounded(_integer, 1), default=256, help="Tokens per text.")
    add("--seed", type=_integer, default=42, help="Random seed.")
    _flag(parser, "--quiet", "-q", dest="quiet", help="No progress bars.")


@command("train", _train_arguments)
def train_command(output: Path, kind: str, model: str | None, dataset: str, split: str,
                  depth: int, limit: int | None, epochs: int, batch_size: int,
                  learning_rate: float, max_length: int, seed: int, quiet: bool) -> None:
    """Fine-tune a bi-encoder (in-batch negatives, BM25 hard negatives) or a cross-encoder
    (from a cross-encoder checkpoint) on a dataset's training split; writes a model folder
    that any 'model:' argument accepts, with rerankit-training.json."""
    from rerankit.data.ownership import shown
    from rerankit.experiment import finetune

    extra = finetune.foreign_entries(output) if output.is_dir() else []
    if extra:
        raise _invalid("train", "OUTPUT", f"{output}: folder holds files not written by "
                       f"'rerankit train' ({shown(output, extra)}), which it never deletes; "
                       "move them or choose another output")
    if model is None:
        if kind == "cross-encoder":
            raise _invalid("train", "'--model'", "required for cross-encoders: give a "
                           "cross-encoder checkpoint (the offline MiniLM is a bi-encoder)")
        from rerankit.retrieve.dense import default_model

        model = default_model()
    finetune.check_base(model, kind)
    from rerankit import datasets as embedded
    from rerankit.data.loaders import load_beir

    data = embedded.load(dataset, split) if dataset in embedded.EMBEDDED else \
        load_beir(Path(dataset), split)
    triples = finetune.mine_triples(data, depth, split, limit, seed)
    record = finetune.train_encoder(kind, model, triples, output, split, epochs, batch_size,
                                    learning_rate, seed, max_length, quiet=quiet or None)
    print(f"trained {kind} on {record['examples']} examples from {record['queries']} "
          f"'{split}' queries in {record['seconds']:.1f} s; wrote {output}")


def _components_arguments(parser: argparse.ArgumentParser) -> None:
    _switch(parser, "markdown", help="Print the README's Markdown table.")


@command("components", _components_arguments)
def components_command(markdown: bool) -> None:
    """List the retrievers, rerankers and LLM backends a config can name (the registry)."""
    from rich.console import Console
    from rich.table import Table

    from rerankit import registry

    if markdown:
        _echo(registry.markdown_table())
        return
    table = Table(title="components (config 'type' / 'backend')")
    for column in ("kind", "name", "class", "what it is"):
        table.add_column(column)
    for kind, name, path, summary in registry.rows():
        table.add_row(kind, name, path, summary)
    Console(width=None if sys.stdout.isatty() else 140).print(table)


def _leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("folders", type=Path, nargs="+", metavar="FOLDERS",
        help="Result folders written by 'rerankit run'.")
    add("--output", type=Path, default=Path("leaderboards/README.md"),
        help="Markdown file to (re)generate ('-': standard output); an existing file that "
             "is not a leaderboard is replaced only with --force.")
    _switch(parser, "force", help="Replace an existing file that is not a leaderboard.")


@command("leaderboard", _leaderboard_arguments)
def leaderboard_command(folders: list[Path], output: Path, force: bool) -> None:
    """Regenerate the leaderboard tables from stored result folders."""
    from rerankit.data.atomic import check_new_file, check_writable, is_special, output_name
    from rerankit.reporting.leaderboard import MARK, write

    check_writable(output)
    check_new_file(output, force, mark=MARK)
    write(sorted(folders), output)
    _echo(f"wrote {output_name(output)}", err=is_special(output))


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("folders", type=Path, nargs="+", metavar="FOLDERS",
        help="Result folders written by 'rerankit run'.")
    add("--output", "-o", type=Path, required=True, help="File to write ('-': standard "
        "output, not for trec); an existing file is replaced only with --force.")
    add("--format", "-f", default="trec", choices=("trec", "beir", "json"),
        help="trec (one folder), beir (.md or .csv table) or json.")
    add("--tag", help="Run tag of a TREC export (default: the config name).")
    _switch(parser, "force", help="Replace an existing file.")


@command("export", _export_arguments)
def export_command(folders: list[Path], output: Path, format: str, tag: str | None,
                   force: bool) -> None:
    """Export results for leaderboard submission; files are validated by reading back."""
    from rerankit.data.atomic import check_new_file, check_writable, is_special, output_name
    from rerankit.reporting import export

    check_writable(output)
    check_new_file(output, force)
    if format == "trec":
        if len(folders) != 1:
            raise _invalid("export", "'--format'", "trec exports one result folder")
        export.export_trec(folders[0], output, tag)
    elif format == "beir":
        export.export_beir(folders, output)
    else:
        export.export_json(folders, output)
    checked = "" if is_special(output) else " (read back and validated)"
    _echo(f"wrote {output_name(output)}{checked}", err=is_special(output))


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("folders", type=Path, nargs="+", metavar="FOLDERS",
        help="Result folders written by 'rerankit run'.")
    add("--output", "-o", type=Path, default=Path("report"),
        help="Folder for index.html, one self-contained page (opens offline).")
    add("--baseline", type=Path,
        help="Folder the others are compared with (default: the first per dataset).")
    add("--measure", "-m", default="ndcg_cut_10")
    add("--test", default="randomization", choices=PAIRED_TESTS, help="Paired test.")


@command("report", _report_arguments)
def report_command(folders: list[Path], output: Path, baseline: Path | None, measure: str,
                   test: str) -> None:
    """HTML report for error analysis: runs, comparisons, effectiveness vs cost, per-query
    deltas, judged holes, and a per-query drill-down of two runs' rankings."""
    from rerankit.data.atomic import check_writable
    from rerankit.reporting import write_report

    check_writable(output, folder=True)
    _check_report_folder(output)
    page = write_report(folders, output, baseline, measure, test)
    _echo(f"wrote {page}")


# How a page written by `rerankit report` is recognised: the generator tag of today's
# template, and the title of pages written before it.
REPORT_MARKS = ('<meta name="generator" content="rerankit report">',
                "<title>rerankit report</title>")


def _check_report_folder(output: Path) -> None:
    """The report writes index.html into ``output``: refuse a folder whose
    index.html is not an earlier rerankit report (a website's, say)."""
    from rerankit.errors import InputFormatError

    page = output / "index.html"
    if page.exists():
        try:
            head = page.read_text(encoding="utf-8", errors="replace")[:4096]
            ours = any(mark in head for mark in REPORT_MARKS)
        except OSError:
            ours = False
        if not ours:
            raise InputFormatError(page, "exists and is not a rerankit report; rerankit "
                                   "never overwrites it: choose another --output")


def np_all_nan(values) -> bool:
    """True when an array has no defined value."""
    import numpy as np

    return bool(np.isnan(values).all())


#: errno values of a failed write (to standard output when no file is named)
_WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO)


class Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``): raised where the program is, so that every ``with``
    block unwinds as for Ctrl-C (staging folders and temporary files are removed); exit
    status 143 (128 + SIGTERM)."""


_main_pid = 0                              # the process main() installed the handlers in


def _on_terminate(signum, frame) -> None:
    if os.getpid() != _main_pid:          # a forked worker (a pool's): die as it would have
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated()


def _after_completion(signum, frame) -> NoReturn:
    """A signal that arrives once the command has finished (while the interpreter shuts
    down): nothing is left to clean up; say so in one line and exit at once."""
    name = "interrupted" if signum == signal.SIGINT else "terminated"
    with contextlib.suppress(OSError, ValueError):
        if _reported:                     # the error is said: say nothing more
            os._exit(128 + signum)
        if _pending is not None:          # the error is decided but not yet written
            sys.stderr.write(f"rerankit: error: {_pending}\n")
        else:
            sys.stderr.write(f"rerankit: error: {name} after the command had finished (what "
                             "it wrote is complete)\n")
        sys.stderr.flush()
    os._exit(128 + signum)


def _ignore_late_signals() -> None:
    """The last exit handler: the interpreter's own teardown comes next, during which a
    Python handler cannot run and the default action would kill the process silently."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, signal.SIG_IGN)


_owns_signals = False                      # main() runs as the program (not called by code)


def _install_signal_handlers() -> None:
    """SIGTERM unwinds like Ctrl-C. Only when :func:`main` is the program (the console
    script, ``python -m rerankit``) and in the main thread: code that calls ``main(argv)``
    keeps its own handlers."""
    global _owns_signals, _main_pid
    _owns_signals = threading.current_thread() is threading.main_thread()
    if not _owns_signals:
        return
    _main_pid = os.getpid()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_terminate)
        atexit.register(_ignore_late_signals)   # registered first: runs last


def _finished() -> None:
    """The command is done: a signal from now on is reported as arriving after it."""
    if not _owns_signals:
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) in (signal.default_int_handler, _on_terminate):
            signal.signal(signum, _after_completion)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``rerankit`` console script: runs the command, and turns any
    failure into one line on stderr and an exit status (see the module docstring)."""
    global _debug, _reported, _owns_signals, _pending
    _debug = os.environ.get("RERANKIT_DEBUG", "").strip().lower() not in ("", "0", "false",
                                                                           "no")
    _reported = _owns_signals = False
    _pending = None
    if argv is None:
        _install_signal_handlers()
        _buffer_stdout()
    try:
        try:
            _run_command(sys.argv[1:] if argv is None else argv)
            sys.exit(0)
        except SystemExit as done:
            if done.code in (0, None):
                _flush_stdout()           # a full disk shows here when output was small
            else:                         # the error is said: say nothing more
                with contextlib.suppress(OSError, ValueError):
                    _flush_stdout()
            _finished()
            raise
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt, Terminated) as err:
        _report_failure(err)


def _buffer_stdout() -> None:
    """Give standard output a binary buffer when it has none (``PYTHONUNBUFFERED``,
    ``python -u``). Unbuffered, its text layer ignores a short write: when the reader
    closes the pipe mid-block (``rerankit eval ... | head -1``) the rest of the block is
    dropped without an error, and truncated output would end with status 0. A buffer
    writes every byte or raises (a closed pipe: status 1, as documented); line buffering
    keeps output as prompt as unbuffered for line-oriented text."""
    stream = sys.stdout
    if stream is None or not isinstance(getattr(stream, "buffer", None), io.RawIOBase):
        return
    stream.flush()
    raw = io.FileIO(stream.fileno(), "w", closefd=False)   # sys.__stdout__ keeps fd 1
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=stream.encoding,
                                  errors=stream.errors, line_buffering=True)


def _report_failure(err: BaseException) -> NoReturn:
    """The one error handler: one line on stderr (the traceback too with --debug) and the
    exit status: 130 for an interrupt, 143 for SIGTERM, 1 (silently) for a closed output
    pipe, 2 otherwise."""
    if _reported:                         # said once already (a second signal): just exit
        sys.exit(130 if isinstance(err, (Interrupted, KeyboardInterrupt)) else
                 143 if isinstance(err, Terminated) else 2)
    if isinstance(err, Terminated):
        _exit(143, "terminated", err)
    if isinstance(err, Interrupted):
        _exit(130, str(err), err)
    if isinstance(err, KeyboardInterrupt):
        _exit(130, "interrupted", err)
    if isinstance(err, UsageError):       # unknown option, missing argument, bad value
        _exit(2, str(err), err)
    if isinstance(err, OSError) and err.errno == errno.EPIPE:
        _silence_stdout()                 # the reader went away (| head): stop quietly
        sys.exit(1)
    _exit(2, describe(err), err)


def _run_command(args: Sequence[str]) -> None:
    """Read the command line (:func:`parse`) and run its command."""
    global _debug
    line = parse(args)
    _debug = _debug or line.debug
    COMMANDS[line.name].run(**line.values)


def describe(err: BaseException) -> str:
    """One line saying what went wrong: rerankit's own message, or for an OS error the
    path and the reason."""
    from rerankit.errors import RerankitError

    if isinstance(err, RerankitError):
        text = str(err)
    elif isinstance(err, OSError) and err.filename is not None:
        target = f"{err.filename} -> {err.filename2}" if err.filename2 else str(err.filename)
        text = f"{target}: {err.strerror or err}"
    elif isinstance(err, OSError) and err.errno in _WRITE_ERRNOS:
        text = f"cannot write to standard output{_stdout_target()}: {err.strerror}"
    elif isinstance(err, OSError):
        text = err.strerror or str(err) or type(err).__name__
    elif isinstance(err, MemoryError):
        text = "out of memory"
    elif isinstance(err, ValueError) and str(err):
        text = str(err)
    else:
        text = (f"internal error {type(err).__name__}: {err} (please report it with the "
                "traceback that --debug shows)")
    return " ".join(text.split())


def _stdout_target() -> str:
    try:
        return f" ({os.readlink('/proc/self/fd/1')})"
    except OSError:
        return ""


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()
        raise


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what
    could not be written does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _exit(code: int, message: str, err: BaseException) -> NoReturn:
    global _reported, _pending
    _pending = message                    # a signal while stdout drains still says it
    _finished()
    with contextlib.suppress(OSError, ValueError):
        _flush_stdout()
    with contextlib.suppress(OSError, ValueError):
        if _debug:
            traceback.print_exception(err, file=sys.stderr)
        sys.stderr.write(f"rerankit: error: {message}\n")
        sys.stderr.flush()
    _reported = True
    sys.exit(code)


if __name__ == "__main__":
    main()
