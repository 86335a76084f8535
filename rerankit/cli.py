"""Command line: ``rerankit eval`` (a drop-in for trec_eval), ``compare``, ``session``,
``run``, ``train``, ``components``, ``leaderboard``, ``export`` and ``report``.

Heavy modules are imported inside the commands, so ``rerankit --help`` and
``rerankit eval`` start quickly and never import torch.

No command shows a traceback: :func:`main` turns any failure into one line on stderr,
``rerankit: error: ...``, and exit status 2 (130 when interrupted, 143 on SIGTERM, which
unwinds like Ctrl-C so no staging folder is left; a closed output pipe,
as in ``rerankit eval ... | head -1``, ends quietly with status 1). ``--debug`` or
``RERANKIT_DEBUG=1`` prints the traceback too. Usage errors keep typer's message and
status 2.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer.exceptions import TyperException

app = typer.Typer(
    name="rerankit",
    help="Retrieval, reranking and trec_eval-exact evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

class Choice(str, Enum):
    """A choice-valued option: typer lists the values in --help and refuses any other with
    one line naming the option and the choices."""


class RelFormat(Choice):
    qrels = "qrels"
    prefs = "prefs"
    qrels_prefs = "qrels_prefs"
    qrels_jg = "qrels_jg"


class ResultsFormat(Choice):
    trec_results = "trec_results"


class Compat(Choice):
    v10 = "10"
    v9 = "9"


class Test(Choice):
    t = "t"
    wilcoxon = "wilcoxon"
    randomization = "randomization"


class SessionFormat(Choice):
    auto = "auto"
    jsonl = "jsonl"
    graphcm = "graphcm"
    trec_xml = "trec-xml"
    tsv = "tsv"


class Labels(Choice):
    auto = "auto"
    clicks = "clicks"
    labels = "labels"
    gains = "gains"
    qrels = "qrels"


class Enhance(Choice):
    none = "none"
    forward = "forward"
    session = "session"


class Length(Choice):
    unit = "unit"
    lengths = "lengths"
    dwell = "dwell"


class Position(Choice):
    end = "end"
    start = "start"


class Gain(Choice):
    exp = "exp"
    linear = "linear"


class Engine(Choice):
    local = "local"
    ray = "ray"


class EncoderKind(Choice):
    bi_encoder = "bi-encoder"
    cross_encoder = "cross-encoder"


class ExportFormat(Choice):
    trec = "trec"
    beir = "beir"
    json = "json"


MeasureOpt = Annotated[
    list[str] | None,
    typer.Option("-m", "--measure", help="Measure (trec_eval name such as ndcg_cut.10 or P_5, "
                 "family such as P, nickname 'official'/'all', or alias such as nDCG@10, "
                 "MRR@10). Repeatable.")]


def command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@app.command(name)`` whose failures go through :func:`_report_failure`, so every
    command reports errors the same way, also when typer's test runner calls it directly."""
    def register(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def run(*args, **kwargs) -> None:
            try:
                function(*args, **kwargs)
            except (typer.Exit, TyperException):
                raise
            except Exception as err:
                _report_failure(err)
        return app.command(name)(run)
    return register


class Interrupted(Exception):
    """Ctrl-C in a command that has more to say than "interrupted" (exit status 130)."""


_debug = False
_reported = False                          # set once the one error line is written
_pending: str | None = None                # that line, from when it is decided


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error (also: RERANKIT_DEBUG=1).")] = False
             ) -> None:
    """Retrieval, reranking and trec_eval-exact evaluation."""
    global _debug, _reported, _pending
    _debug = _debug or debug
    _reported, _pending = False, None     # a new command (typer's test runner reuses us)


@command("eval")
def eval_command(
    qrels: Annotated[Path, typer.Argument(help="Qrels file (TREC or BEIR TSV; with -R, "
                                          "trec_eval's prefs/qrels_prefs/qrels_jg formats).")],
    run: Annotated[str, typer.Argument(help="TREC run file, or '-' to read it from stdin.")],
    measure: MeasureOpt = None,
    query: Annotated[bool, typer.Option("-q", "--query-eval", "--query_eval_wanted",
                                        help="Also print a value per query (trec_eval -q).")
                     ] = False,
    complete: Annotated[bool, typer.Option(
        "-c", "--complete", "--complete_rel_info_wanted",
        help="Average over all qrels queries; one without results is evaluated as an empty "
             "ranking and, with -q, printed (trec_eval -c).")] = False,
    level: Annotated[int, typer.Option("-l", "--level", "--level_for_rel",
                                       help="Minimum grade counted as relevant (trec_eval -l)."
                                       )] = 1,
    judged_only: Annotated[bool, typer.Option("-J", "--judged-only", "--Judged_docs_only",
                                              help="Drop unjudged documents first "
                                              "(trec_eval -J).")] = False,
    max_docs: Annotated[int | None, typer.Option(
        "-M", "--max-docs", "--Max_retrieved_per_topic",
        help="Evaluate only the top N documents per query (trec_eval -M).")] = None,
    no_summary: Annotated[bool, typer.Option("-n", "--no-summary", "--nosummary",
                                             help="Omit the 'all' lines (trec_eval -n).")
                          ] = False,
    num_docs: Annotated[int, typer.Option("-N", "--num-docs", "--Number_docs_in_coll",
                                          help="Documents in the collection (trec_eval -N).")
                        ] = 0,
    zscores: Annotated[Path | None, typer.Option(
        "-Z", "--zscores", "--Zscore",
        help="Print z-scores against the 'qid measure mean std_dev' lines of this file "
             "(trec_eval -Z).")] = None,
    rel_format: Annotated[RelFormat, typer.Option(
        "-R", "--rel-format", "--Rel_info_format",
        help="Format of the qrels file (trec_eval -R).")] = RelFormat.qrels,
    results_format: Annotated[ResultsFormat, typer.Option(
        "-T", "--results-format", "--Results_format",
        help="Format of the run file: trec_results, the only one (trec_eval -T).")
                              ] = ResultsFormat.trec_results,
    compat: Annotated[Compat, typer.Option(
        "--compat", help="Semantics: 10 (trec_eval 10.0, default) or 9 (trec_eval 9.0.x, as "
                         "pytrec_eval: float32 score ties, old truncation, -c without the "
                         "skipped queries' lines).")] = Compat.v10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of "
                                          "trec_eval's text.")] = False,
    ignore_identical_ids: Annotated[bool, typer.Option("--ignore-identical-ids", help="Drop "
                                    "documents whose id equals the query id (BEIR).")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Recompute every value with trec_eval "
                                         "itself and fail on any difference: the trec_eval 10.0 "
                                         "binary ($TREC_EVAL or on PATH) for --compat 10, "
                                         "pytrec_eval for --compat 9.")] = False,
) -> None:
    """Evaluate a run; output identical to trec_eval 10.0's for the same options."""
    from rerankit.evaluation.evaluator import evaluate
    from rerankit.evaluation.measures import parse_measures

    options = dict(relevance_level=level, average_complete=complete,
                   judged_only=judged_only, max_docs=max_docs, num_docs_in_coll=num_docs,
                   zscores=zscores, compat=compat.value)
    if rel_format is not RelFormat.qrels:
        result = _evaluate_preferences(qrels, run, measure, rel_format.value, verify=verify,
                                       **options)
    else:
        measures = measure or ["official"]
        parse_measures(measures)  # an unknown measure fails before any file is read
        result = evaluate(qrels, run, measures, verify=verify,
                          ignore_identical_ids=ignore_identical_ids, **options)
    if as_json:
        typer.echo(result.to_json(per_query=query))
    else:
        sys.stdout.write(result.to_trec_eval(per_query=query, summary=not no_summary))
    _warn_about_coverage(result, complete)


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
        typer.echo(f"rerankit: note: {note}", err=True)


@command("compare")
def compare_command(
    qrels: Annotated[Path, typer.Argument(help="Qrels file.")],
    runs: Annotated[list[Path], typer.Argument(help="Two or more run files; the first is "
                                               "the baseline.")],
    measure: MeasureOpt = None,
    test: Annotated[Test, typer.Option("--test", help="Paired test.")] = Test.t,
    alpha: Annotated[float, typer.Option(help="Significance level (after Holm "
                                         "correction).")] = 0.05,
    resamples: Annotated[int, typer.Option(help="Randomisation / bootstrap "
                                           "resamples.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (randomisation, bootstrap).")] = 42,
    level: Annotated[int, typer.Option("-l", "--level", help="Minimum relevant grade.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare runs against the first one with significance tests (Holm-corrected)."""
    import json

    from rich.console import Console

    from rerankit.evaluation.measures import HEADLINE
    from rerankit.evaluation.stats import compare

    if len(runs) < 2:
        raise typer.BadParameter("compare needs at least two run files", param_hint="RUNS")
    report = compare(qrels, runs, measure or list(HEADLINE),
                     test=test.value, alpha=alpha, resamples=resamples, seed=seed,
                     relevance_level=level)
    for note in report.notes:
        typer.echo(f"rerankit: note: {note}", err=True)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console = Console()
    console.print(report.table())
    console.print("* significant after Holm-Bonferroni correction; p-values are the "
                  "corrected ones")


@command("session")
def session_command(
    data: Annotated[Path, typer.Argument(help="Sessions: JSONL, TREC Session XML (.xml), "
                                         "TSV with a header (.tsv), or a GraphCM export "
                                         "folder (TREC Session 2014).")],
    data_format: Annotated[SessionFormat, typer.Option("--format", help="auto: folder "
                                                       "graphcm, .xml trec-xml, .tsv tsv, "
                                                       "else jsonl.")] = SessionFormat.auto,
    metrics: Annotated[str, typer.Option(help="Comma-separated: num, umeasure, sdcg, nsdcg, "
                                         "srbp, ndcg_mean, ndcg_max, ndcg_first, ndcg_last, "
                                         "found")] = "num,umeasure,sdcg,nsdcg,srbp",
    per_session: Annotated[Path | None, typer.Option(help="Write 'session<TAB>metric<TAB>"
                                                     "value' lines here (nan: undefined), "
                                                     "with a 'satisfaction' line per session "
                                                     "that has one.")] = None,
    per_query: Annotated[Path | None, typer.Option(help="The same per query "
                                                   "('<session>:<n>'), each query scored "
                                                   "as a one-query session.")] = None,
    run: Annotated[Path | None, typer.Option(help="Score a system's TREC run instead of the "
                                             "logged lists; query ids '<session>:<n>'. Rows "
                                             "are ranked as trec_eval ranks them (score "
                                             "descending, ties by document id descending), "
                                             "not in file order.")] = None,
    labels: Annotated[Labels, typer.Option(help="auto: the first of these the log has; a "
                                           "source the log lacks is an error.")
                      ] = Labels.auto,
    enhance: Annotated[Enhance, typer.Option(help="Click labels.")] = Enhance.forward,
    click_counts: Annotated[bool, typer.Option("--click-counts", help="Clicks are counts "
                                               "(integers >= 0, used as grades); default: "
                                               "clicks must be 0 or 1.")] = False,
    allow_extra: Annotated[bool, typer.Option("--allow-extra", help="Ignore unknown JSONL "
                                              "fields instead of failing.")] = False,
    qrels: Annotated[Path | None, typer.Option(help="TREC qrels by topic for --format "
                                               "trec-xml sessions.")] = None,
    length: Annotated[Length, typer.Option(help="Reading cost.")] = Length.unit,
    position: Annotated[Position, typer.Option(help="U/NUM item position: end (pos = "
                                               "l1+..+lk) or start (l1+..+l(k-1), cwl's "
                                               "convention).")] = Position.end,
    depth: Annotated[int, typer.Option(help="Results read per query (k).")] = 10,
    gain_kind: Annotated[Gain, typer.Option("--gain", help="exp (2^r-1) or linear.")
                         ] = Gain.exp,
    gain_map: Annotated[str | None, typer.Option(help="Grade-to-gain map replacing --gain, "
                                                 "e.g. '1=0.2,2=0.4,3=0.6' (cwl gains).")
                        ] = None,
    num_l: Annotated[float, typer.Option("--num-L", help="NUM / U patience L.")] = 20.0,
    num_c: Annotated[float, typer.Option("--num-c", help="Reformulation cost c.")] = 1.0,
    sdcg_b: Annotated[float, typer.Option(help="sDCG rank log base b.")] = 2.0,
    sdcg_bq: Annotated[float, typer.Option(help="sDCG query log base bq.")] = 4.0,
    srbp_p: Annotated[float, typer.Option(help="sRBP persistence p.")] = 0.8,
    srbp_b: Annotated[float, typer.Option(help="sRBP balance b.")] = 0.64,
    meta: Annotated[bool, typer.Option("--meta", help="Meta-evaluation: Pearson, Spearman "
                                       "and Kendall with satisfaction (session and query "
                                       "level) with bootstrap CIs and p-values, differences "
                                       "of correlations (bootstrap, Williams' t), agreement "
                                       "matrices, intuitiveness, and with --systems "
                                       "discriminative power.")] = False,
    systems: Annotated[list[Path] | None, typer.Option("--systems", help="With --meta: runs "
                                                       "compared for discriminative power "
                                                       "and intuitiveness, beside the "
                                                       "scored lists. Repeatable.")] = None,
    compare: Annotated[str | None, typer.Option(help="With --meta: metric pairs whose "
                                                "correlations are compared, e.g. "
                                                "'num:sdcg,num:srbp' (default: the first "
                                                "metric against each other).")] = None,
    gold: Annotated[str | None, typer.Option(help="Gold measure of the intuitiveness test: "
                                             "satisfaction or a metric (default: "
                                             "satisfaction without --systems, else found).")
                    ] = None,
    methods: Annotated[str, typer.Option(help="With --meta: correlations, comma-separated "
                                         "(Kendall's bootstrap is the slow one on big logs).")
                       ] = "pearson,spearman,kendall",
    resamples: Annotated[int, typer.Option(min=1, help="Bootstrap / randomisation "
                                           "resamples.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed.")] = 42,
    test: Annotated[Test, typer.Option(help="Discriminative power test.")
                    ] = Test.randomization,
    alpha: Annotated[float, typer.Option(help="Significance level of discriminative power.")
                     ] = 0.05,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write means and the "
                                                  "meta-evaluation as JSON here.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write the meta-evaluation "
                                                 "as CSV (one row per number) here.")] = None,
    report_dir: Annotated[Path | None, typer.Option("--report", help="Write the plots (PNG) "
                                                    "and meta.json into this folder.")] = None,
    write_jsonl: Annotated[Path | None, typer.Option(help="Also save the sessions in the "
                                                     "JSONL format (e.g. after GraphCM).")
                           ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Session-level evaluation (NUM, U-measure, sDCG, nsDCG, sRBP) of logs or systems, and
    meta-evaluation of the metrics against satisfaction."""
    from rich.console import Console


    console = Console(width=None if sys.stdout.isatty() else 200)
    if not meta and any((csv_out, report_dir, systems, compare, gold)):
        raise ValueError("--csv, --report, --systems, --compare and --gold need --meta")
    _check_session_settings(alpha)
    _check_session_outputs({"--per-session": per_session, "--per-query": per_query,
                            "--json": json_out, "--csv": csv_out,
                            "--write-jsonl": write_jsonl}, report_dir, force,
                           {"DATA": data, "--run": run, "--qrels": qrels,
                            **{f"--systems {path}": path for path in systems or []}})
    result = _session_evaluate(
        data, data_format.value, metrics, run, labels.value, enhance.value, click_counts,
        allow_extra, qrels, length.value, position.value, depth, gain_kind.value, gain_map,
        num_l, num_c, sdcg_b, sdcg_bq, srbp_p, srbp_b, per_query is not None or meta)
    chosen_methods = tuple(m.strip() for m in methods.split(",") if m.strip())
    report = _session_meta(result, systems or [], compare, gold, chosen_methods,
                           resamples, seed, test.value, alpha) if meta else None
    _session_write(result, report, per_session, per_query, json_out, csv_out, report_dir,
                   write_jsonl)
    title, table = _session_table(result)
    console.print(title, highlight=False)
    console.print(table)
    for note in result["notes"] + (report.notes if report else []):
        typer.echo(f"rerankit: note: {note}", err=True)
    if report is not None:
        for title, table in report.tables():
            console.print()
            console.print(title, highlight=False)
            console.print(table)


def _check_session_settings(alpha: float) -> None:
    """Before any work, the meta-evaluation's own checks, named by their options."""
    from rerankit.sessions.meta import check_levels

    try:
        check_levels(alpha)
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
        raise typer.BadParameter(f"{metrics!r} names no metric", param_hint="--metrics")
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


@command("run")
def run_command(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/).")],
    output: Annotated[Path | None, typer.Option(help="Output folder (default "
                                                "runs/<config name>).")] = None,
    force: Annotated[bool, typer.Option(help="Replace a folder holding another run.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Score-cache file (default "
                                               "$RERANKIT_SCORE_CACHE, else scores.sqlite "
                                               "in $RERANKIT_CACHE).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the "
                                           "score cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    engine: Annotated[Engine, typer.Option(help="local (in process) or ray.")
                      ] = Engine.local,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (e.g. "
                                                "ray://head:10001 or head:6379); default: "
                                                "start a local Ray on 127.0.0.1.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Ray workers (actors).")] = 2,
    cpus_per_worker: Annotated[int, typer.Option(min=1, help="CPUs per Ray worker.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(min=0.0, help="GPUs per Ray worker.")
                               ] = 0.0,
) -> None:
    """Run a pipeline config: retrieve, rerank, evaluate; print the metrics and the cost
    ledger; write run.trec, metrics.json, manifest.json and ledger.json. The component
    types a config can name: 'rerankit components'.

    The config, the output folder, the dataset and the cache are checked before any data
    or model is loaded. --force replaces only a result folder written by 'rerankit run';
    a folder holding anything else is never replaced."""
    if engine is Engine.local and address is not None:
        raise typer.BadParameter("needs --engine ray", param_hint="'--address'")
    if no_cache and cache is not None:
        raise typer.BadParameter("--cache and --no-cache exclude each other",
                                 param_hint="'--cache'")
    from rerankit.experiment.config import load_config

    parsed = load_config(config)           # before the heavy imports: a typo fails at once
    folder = output or Path("runs") / parsed.name

    from rich.console import Console
    from rich.table import Table

    from rerankit.experiment.runner import run_config

    runner_engine = None
    if engine is Engine.ray:
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


@command("train")
def train_command(
    output: Annotated[Path, typer.Argument(help="Model folder to write (new, or one "
                                           "written by 'rerankit train').")],
    kind: Annotated[EncoderKind, typer.Option(help="What to train.")] = EncoderKind.bi_encoder,
    model: Annotated[str | None, typer.Option(help="Base model folder or hub name (default: "
                                              "the offline all-MiniLM-L6-v2 for "
                                              "bi-encoders).")] = None,
    dataset: Annotated[str, typer.Option(help="Embedded dataset name or BEIR folder.")
                       ] = "scifact",
    split: Annotated[str, typer.Option(help="Training split (never the evaluated one).")
                     ] = "train",
    depth: Annotated[int, typer.Option(min=1, help="BM25 candidates searched for a hard "
                                       "negative.")] = 30,
    limit: Annotated[int | None, typer.Option(min=1, help="Seeded subset of the training "
                                              "queries.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Examples per batch (in-batch "
                                            "negatives).")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 2e-5,
    max_length: Annotated[int, typer.Option(min=1, help="Tokens per text.")] = 256,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Fine-tune a bi-encoder (in-batch negatives, BM25 hard negatives) or a cross-encoder
    (from a cross-encoder checkpoint) on a dataset's training split; writes a model folder
    that any 'model:' argument accepts, with rerankit-training.json."""
    from rerankit.data.ownership import shown
    from rerankit.experiment import finetune

    kind = kind.value
    extra = finetune.foreign_entries(output) if output.is_dir() else []
    if extra:
        raise typer.BadParameter(f"{output}: folder holds files not written by 'rerankit "
                                 f"train' ({shown(output, extra)}), which it never deletes; "
                                 "move them or choose another output", param_hint="OUTPUT")
    if model is None:
        if kind == "cross-encoder":
            raise typer.BadParameter("required for cross-encoders: give a cross-encoder "
                                     "checkpoint (the offline MiniLM is a bi-encoder)",
                                     param_hint="'--model'")
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


@command("components")
def components_command(
    markdown: Annotated[bool, typer.Option(help="Print the README's Markdown table.")] = False,
) -> None:
    """List the retrievers, rerankers and LLM backends a config can name (the registry)."""
    from rich.console import Console
    from rich.table import Table

    from rerankit import registry

    if markdown:
        typer.echo(registry.markdown_table())
        return
    table = Table(title="components (config 'type' / 'backend')")
    for column in ("kind", "name", "class", "what it is"):
        table.add_column(column)
    for kind, name, path, summary in registry.rows():
        table.add_row(kind, name, path, summary)
    Console(width=None if sys.stdout.isatty() else 140).print(table)


@command("leaderboard")
def leaderboard_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option(help="Markdown file to (re)generate ('-': standard "
                                         "output); an existing file that is not a "
                                         "leaderboard is replaced only with --force.")
                      ] = Path("leaderboards/README.md"),
    force: Annotated[bool, typer.Option(help="Replace an existing file that is not a "
                                        "leaderboard.")] = False,
) -> None:
    """Regenerate the leaderboard tables from stored result folders."""
    from rerankit.data.atomic import check_new_file, check_writable, is_special, output_name
    from rerankit.reporting.leaderboard import MARK, write

    check_writable(output)
    check_new_file(output, force, mark=MARK)
    write(sorted(folders), output)
    typer.echo(f"wrote {output_name(output)}", err=is_special(output))


@command("export")
def export_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write ('-': "
                                         "standard output, not for trec); an existing "
                                         "file is replaced only with --force.")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="trec (one "
                                                 "folder), beir (.md or .csv table) or "
                                                 "json.")] = ExportFormat.trec,
    tag: Annotated[str | None, typer.Option(help="Run tag of a TREC export (default: the "
                                            "config name).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Export results for leaderboard submission; files are validated by reading back."""
    from rerankit.data.atomic import check_new_file, check_writable, is_special, output_name
    from rerankit.reporting import export

    check_writable(output)
    check_new_file(output, force)
    if format is ExportFormat.trec:
        if len(folders) != 1:
            raise typer.BadParameter("trec exports one result folder", param_hint="'--format'")
        export.export_trec(folders[0], output, tag)
    elif format is ExportFormat.beir:
        export.export_beir(folders, output)
    else:
        export.export_json(folders, output)
    checked = "" if is_special(output) else " (read back and validated)"
    typer.echo(f"wrote {output_name(output)}{checked}", err=is_special(output))


@command("report")
def report_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for index.html, "
                                         "one self-contained page (opens offline).")
                      ] = Path("report"),
    baseline: Annotated[Path | None, typer.Option(help="Folder the others are compared "
                                                  "with (default: the first per dataset).")
                        ] = None,
    measure: Annotated[str, typer.Option("--measure", "-m")] = "ndcg_cut_10",
    test: Annotated[Test, typer.Option(help="Paired test.")] = Test.randomization,
) -> None:
    """HTML report for error analysis: runs, comparisons, effectiveness vs cost, per-query
    deltas, judged holes, and a per-query drill-down of two runs' rankings."""
    from rerankit.data.atomic import check_writable
    from rerankit.reporting import write_report

    check_writable(output, folder=True)
    _check_report_folder(output)
    page = write_report(folders, output, baseline, measure, test.value)
    typer.echo(f"wrote {page}")


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
            code = _run_app(argv)
            sys.exit(code)
        except SystemExit as done:
            if done.code == 130 and not _reported:   # typer's exit after a KeyboardInterrupt
                raise Interrupted("interrupted") from None
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
    if isinstance(err, (KeyboardInterrupt, typer.Abort)):
        _exit(130, "interrupted", err)
    if isinstance(err, TyperException):   # unknown option, missing argument, bad value
        context = getattr(err, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        _exit(getattr(err, "exit_code", 2), f"{err.format_message()}{hint}", err)
    if isinstance(err, OSError) and err.errno == errno.EPIPE:
        _silence_stdout()                 # the reader went away (| head): stop quietly
        sys.exit(1)
    _exit(2, describe(err), err)


def _run_app(argv: Sequence[str] | None) -> int:
    """Run the typer app outside click's standalone mode: usage errors come back as
    exceptions (which :func:`main` prints as one line, not click's boxed usage text) and
    exit statuses as values. A plain ``rerankit eval`` command line skips typer's
    parameter validation (pydantic, half of the start-up time; see
    :mod:`rerankit.quickargs`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["eval"]:
        from typer.main import get_command_from_info

        from rerankit.quickargs import parse

        # typer's click command for eval alone (get_command_from_info, checked with typer
        # 0.29): building the whole group builds all nine commands' parameters
        info = next(info for info in app.registered_commands if info.name == "eval")
        command = get_command_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short,
                                        rich_markup_mode=app.rich_markup_mode)
        values = parse(command, eval_command, args[1:])
        if values is not None:
            try:
                eval_command(**values)
            except typer.Exit as done:
                return done.exit_code
            return 0
    code = app(args=args, prog_name="rerankit", standalone_mode=False)
    return code if isinstance(code, int) else 0


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
