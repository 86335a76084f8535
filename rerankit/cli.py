"""Command line: ``rerankit eval`` (a drop-in for trec_eval), ``compare``, ``session``,
``run``, ``leaderboard``, ``export`` and ``report``.

Heavy modules are imported inside the commands, so ``rerankit --help`` and
``rerankit eval`` start quickly and never import torch.

No command shows a traceback: :func:`main` turns any failure into one line on stderr,
``rerankit: error: ...``, and exit status 2 (130 when interrupted; a closed output pipe,
as in ``rerankit eval ... | head -1``, ends quietly with status 1). ``--debug`` or
``RERANKIT_DEBUG=1`` prints the traceback too. Usage errors keep typer's message and
status 2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="rerankit",
    help="Retrieval, reranking and trec_eval-exact evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MeasureOpt = Annotated[
    list[str] | None,
    typer.Option("-m", "--measure", help="Measure (trec_eval name such as ndcg_cut.10 or P_5, "
                 "family such as P, nickname 'official'/'all', or alias such as nDCG@10, "
                 "MRR@10). Repeatable.")]


def _fail(message: str) -> None:
    typer.echo(f"rerankit: error: {message}", err=True)
    raise typer.Exit(2)


class Interrupted(Exception):
    """Ctrl-C in a command that has more to say than "interrupted" (exit status 130)."""


_debug = False


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error (also: RERANKIT_DEBUG=1).")] = False
             ) -> None:
    """Retrieval, reranking and trec_eval-exact evaluation."""
    global _debug
    _debug = _debug or debug


@app.command("eval")
def eval_command(
    qrels: Annotated[Path, typer.Argument(help="Qrels file (TREC or BEIR TSV).")],
    run: Annotated[Path, typer.Argument(help="TREC run file.")],
    measure: MeasureOpt = None,
    query: Annotated[bool, typer.Option("-q", "--query-eval", help="Also print a value per "
                                        "query (trec_eval -q).")] = False,
    complete: Annotated[bool, typer.Option(
        "-c", "--complete",
        help="Average over all qrels queries; missing ones count 0 (trec_eval -c).")] = False,
    level: Annotated[int, typer.Option("-l", "--level", help="Minimum grade counted as "
                                       "relevant (trec_eval -l).")] = 1,
    judged_only: Annotated[bool, typer.Option("-J", "--judged-only", help="Drop unjudged "
                                              "documents first (trec_eval -J).")] = False,
    max_docs: Annotated[int | None, typer.Option(
        "-M", "--max-docs",
        help="Evaluate only the top N documents per query (trec_eval -M).")] = None,
    no_summary: Annotated[bool, typer.Option("-n", "--no-summary", help="Omit the 'all' "
                                             "lines (trec_eval -n).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of "
                                          "trec_eval's text.")] = False,
    ignore_identical_ids: Annotated[bool, typer.Option("--ignore-identical-ids", help="Drop "
                                    "documents whose id equals the query id (BEIR).")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Recompute every per-query value "
                                         "with trec_eval's C code (pytrec_eval) and fail on "
                                         "any difference.")] = False,
) -> None:
    """Evaluate a run; output identical to trec_eval's for the same options."""
    from rerankit.errors import RerankitError
    from rerankit.evaluation.evaluator import evaluate
    from rerankit.evaluation.measures import UNSUPPORTED_TREC

    measures = measure or ["official"]
    if "all_trec" in measures:
        typer.echo("rerankit: note: all_trec without " + ", ".join(UNSUPPORTED_TREC) +
                   " (not implemented)", err=True)
    try:
        result = evaluate(qrels, run, measures, relevance_level=level,
                          average_complete=complete, judged_only=judged_only,
                          max_docs=max_docs, ignore_identical_ids=ignore_identical_ids,
                          verify=verify)
    except (RerankitError, ValueError) as err:
        _fail(str(err))
    if as_json:
        typer.echo(result.to_json(per_query=query))
    else:
        sys.stdout.write(result.to_trec_eval(per_query=query, summary=not no_summary))
    _warn_about_coverage(result, complete)


def _warn_about_coverage(result, complete: bool) -> None:
    notes = []
    if result.ignored_run_queries:
        notes.append(f"{len(result.ignored_run_queries)} run queries have no judgements and "
                     f"were ignored (e.g. {', '.join(result.ignored_run_queries[:3])})")
    if result.queries_without_results and not complete:
        notes.append(f"{len(result.queries_without_results)} judged queries have no results "
                     "and are not averaged; use -c to count them as 0")
    for note in notes:
        typer.echo(f"rerankit: note: {note}", err=True)


@app.command("compare")
def compare_command(
    qrels: Annotated[Path, typer.Argument(help="Qrels file.")],
    runs: Annotated[list[Path], typer.Argument(help="Two or more run files; the first is "
                                               "the baseline.")],
    measure: MeasureOpt = None,
    test: Annotated[str, typer.Option("--test", help="t | wilcoxon | randomization")] = "t",
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

    from rerankit.errors import RerankitError
    from rerankit.evaluation.stats import TESTS, compare

    if test not in TESTS:
        _fail(f"unknown test '{test}'; choose one of {', '.join(TESTS)}")
    if len(runs) < 2:
        _fail("compare needs at least two run files")
    try:
        report = compare(qrels, runs, measure or ["ndcg_cut_10", "map", "recall_100",
                                                  "recip_rank_cut_10"],
                         test=test, alpha=alpha, resamples=resamples, seed=seed,
                         relevance_level=level)
    except RerankitError as err:
        _fail(str(err))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console = Console()
    console.print(report.table())
    console.print("* significant after Holm-Bonferroni correction; p-values are the "
                  "corrected ones")


@app.command("session")
def session_command(
    data: Annotated[Path, typer.Argument(help="Sessions: a JSONL file, or a GraphCM export "
                                         "folder (TREC Session 2014).")],
    data_format: Annotated[str, typer.Option("--format", help="jsonl | graphcm (default: "
                                             "graphcm for a folder, else jsonl)")] = "auto",
    metrics: Annotated[str, typer.Option(help="Comma-separated: num, umeasure, sdcg, nsdcg, "
                                         "srbp, ndcg_mean, ndcg_max, ndcg_first, ndcg_last")
                       ] = "num,umeasure,sdcg,nsdcg,srbp",
    per_session: Annotated[Path | None, typer.Option(help="Write 'session<TAB>metric<TAB>"
                                                     "value' lines here (nan: undefined).")
                           ] = None,
    run: Annotated[Path | None, typer.Option(help="Score a system's TREC run instead of the "
                                             "logged lists; query ids '<session>:<n>'.")
                   ] = None,
    labels: Annotated[str, typer.Option(help="clicks | labels | qrels")] = "clicks",
    enhance: Annotated[str, typer.Option(help="Click labels: none | forward | session")
                       ] = "forward",
    length: Annotated[str, typer.Option(help="Reading cost: unit | lengths | dwell")] = "unit",
    depth: Annotated[int, typer.Option(help="Results read per query (k).")] = 10,
    gain_kind: Annotated[str, typer.Option("--gain", help="exp (2^r-1) | linear")] = "exp",
    num_l: Annotated[float, typer.Option("--num-L", help="NUM / U patience L.")] = 20.0,
    num_c: Annotated[float, typer.Option("--num-c", help="Reformulation cost c.")] = 1.0,
    sdcg_b: Annotated[float, typer.Option(help="sDCG rank log base b.")] = 2.0,
    sdcg_bq: Annotated[float, typer.Option(help="sDCG query log base bq.")] = 4.0,
    srbp_p: Annotated[float, typer.Option(help="sRBP persistence p.")] = 0.8,
    srbp_b: Annotated[float, typer.Option(help="sRBP balance b.")] = 0.64,
    meta: Annotated[bool, typer.Option("--meta", help="Also print the Kendall correlation "
                                       "between metrics and with satisfaction.")] = False,
    write_jsonl: Annotated[Path | None, typer.Option(help="Also save the sessions in the "
                                                     "JSONL format (e.g. after GraphCM).")
                           ] = None,
) -> None:
    """Session-level evaluation (NUM, U-measure, sDCG, nsDCG, sRBP) of logs or systems."""
    from rich.console import Console
    from rich.table import Table

    from rerankit.data.atomic import atomic_write
    from rerankit.data.run import Run
    from rerankit.errors import RerankitError
    from rerankit.sessions import (
        SessionParams,
        evaluate_sessions,
        read_graphcm,
        read_jsonl,
    )
    from rerankit.sessions.meta import correlation_matrix, satisfaction_correlation

    chosen = tuple(m.strip() for m in metrics.split(",") if m.strip())
    try:
        params = SessionParams(depth=depth, patience=num_l, reformulation_cost=num_c,
                               gain=gain_kind, sdcg_b=sdcg_b, sdcg_bq=sdcg_bq, srbp_p=srbp_p,
                               srbp_b=srbp_b)
        kind = data_format if data_format != "auto" else ("graphcm" if data.is_dir() else
                                                          "jsonl")
        if kind not in ("jsonl", "graphcm"):
            raise ValueError(f"--format must be jsonl or graphcm, got {kind!r}")
        log = read_graphcm(data) if kind == "graphcm" else read_jsonl(data)
        scores = evaluate_sessions(log, chosen, params, labels=labels, enhance=enhance,
                                   length=length, run=Run.read_trec(run) if run else None)
    except (RerankitError, ValueError) as err:
        _fail(str(err))
    if write_jsonl:
        log.write_jsonl(write_jsonl)
    if per_session:
        with atomic_write(per_session) as handle:
            handle.writelines(scores.to_tsv_lines())
    console = Console()
    table = Table(title=f"{log.num_sessions} sessions, {log.num_interactions} queries "
                        f"({'run ' + run.name if run else 'logged lists'}; labels={labels}"
                        f"{', enhance=' + enhance if labels == 'clicks' else ''})")
    for column in ("metric", "mean", "sessions scored", "undefined"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric in chosen:
        undefined = scores.undefined(metric)
        table.add_row(metric, f"{scores.mean(metric):.4f}", str(log.num_sessions - undefined),
                      str(undefined))
    console.print(table)
    if meta:
        matrix = correlation_matrix(scores.values, "kendall")
        corr = Table(title="Kendall tau between metrics across sessions")
        corr.add_column("")
        for metric in chosen:
            corr.add_column(metric, justify="right")
        for a in chosen:
            corr.add_row(a, *(f"{matrix[a][b]:.3f}" for b in chosen))
        console.print(corr)
        if not np_all_nan(log.satisfaction):
            sat = satisfaction_correlation(scores.values, log.satisfaction)
            for metric, row in sat.items():
                console.print(f"{metric}: correlation with satisfaction (n={int(row['n'])}) "
                              f"pearson {row['pearson']:.3f} spearman {row['spearman']:.3f} "
                              f"kendall {row['kendall']:.3f}")


@app.command("run")
def run_command(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/).")],
    output: Annotated[Path | None, typer.Option(help="Output folder (default "
                                                "runs/<config name>).")] = None,
    force: Annotated[bool, typer.Option(help="Replace a folder holding another run.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Score-cache file (default "
                                               "$RERANKIT_CACHE/scores.sqlite).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the "
                                           "score cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    engine: Annotated[str, typer.Option(help="local (in process) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (e.g. "
                                                "ray://head:10001 or head:6379); default: "
                                                "start a local Ray on 127.0.0.1.")] = None,
    workers: Annotated[int, typer.Option(help="Ray workers (actors).")] = 2,
    cpus_per_worker: Annotated[int, typer.Option(help="CPUs per Ray worker.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray worker.")] = 0.0,
) -> None:
    """Run a pipeline config: retrieve, rerank, evaluate; print the metrics and the cost
    ledger; write run.trec, metrics.json, manifest.json and ledger.json.

    The config, the output folder, the dataset and the cache are checked before any data
    or model is loaded. --force replaces only a result folder written by 'rerankit run';
    a folder holding anything else is never replaced."""
    if engine not in ("local", "ray"):
        _fail(f"unknown engine '{engine}'; choose local or ray")
    if engine == "local" and address is not None:
        _fail("--address needs --engine ray")
    if engine == "ray" and (workers < 1 or cpus_per_worker < 1 or gpus_per_worker < 0):
        _fail("--workers and --cpus-per-worker must be >= 1, --gpus-per-worker >= 0")
    if no_cache and cache is not None:
        _fail("--cache and --no-cache exclude each other")
    from rerankit.config import load_config

    parsed = load_config(config)           # before the heavy imports: a typo fails at once
    folder = output or Path("runs") / parsed.name

    from rich.console import Console
    from rich.table import Table

    from rerankit.runner import run_config

    ray = None
    if engine == "ray":
        from rerankit.distributed import RayOptions

        ray = RayOptions(address, workers, cpus_per_worker, gpus_per_worker)
    try:
        outcome = run_config(parsed, folder, force=force, quiet=quiet or None,
                             cache=False if no_cache else cache, ray=ray)
    except KeyboardInterrupt:
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


@app.command("leaderboard")
def leaderboard_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option(help="Markdown file to (re)generate.")
                      ] = Path("leaderboards/README.md"),
) -> None:
    """Regenerate the leaderboard tables from stored result folders."""
    from rerankit.data.atomic import check_writable
    from rerankit.errors import RerankitError
    from rerankit.leaderboard import write

    try:
        check_writable(output)
        write(sorted(folders), output)
    except RerankitError as err:
        _fail(str(err))
    typer.echo(f"wrote {output}")


@app.command("export")
def export_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="trec (one folder), beir "
                                        "(.md or .csv table) or json.")] = "trec",
    tag: Annotated[str | None, typer.Option(help="Run tag of a TREC export (default: the "
                                            "config name).")] = None,
) -> None:
    """Export results for leaderboard submission; files are validated by reading back."""
    from rerankit import export
    from rerankit.data.atomic import check_writable, is_special
    from rerankit.errors import RerankitError

    try:
        check_writable(output)
        if format == "trec":
            if len(folders) != 1:
                _fail("--format trec exports one result folder")
            export.export_trec(folders[0], output, tag)
        elif format == "beir":
            export.export_beir(folders, output)
        elif format == "json":
            export.export_json(folders, output)
        else:
            _fail(f"unknown format '{format}'; choose trec, beir or json")
    except RerankitError as err:
        _fail(str(err))
    typer.echo(f"wrote {output} (read back and validated)", err=is_special(output))


@app.command("report")
def report_command(
    folders: Annotated[list[Path], typer.Argument(help="Result folders written by "
                                                  "'rerankit run'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for index.html "
                                         "and the PNG plots.")] = Path("report"),
    baseline: Annotated[Path | None, typer.Option(help="Folder the others are compared "
                                                  "with (default: the first per dataset).")
                        ] = None,
    measure: Annotated[str, typer.Option("--measure", "-m")] = "ndcg_cut_10",
    test: Annotated[str, typer.Option(help="t, wilcoxon or randomization.")
                    ] = "randomization",
) -> None:
    """HTML report: effectiveness vs cost, per-query deltas with significance marks."""
    from rerankit.data.atomic import check_writable
    from rerankit.errors import RerankitError
    from rerankit.report import write_report

    try:
        check_writable(output, folder=True)
        _check_report_folder(output)
        page = write_report(folders, output, baseline, measure, test)
    except RerankitError as err:
        _fail(str(err))
    typer.echo(f"wrote {page}")


def _check_report_folder(output: Path) -> None:
    """The report writes index.html and PNG plots into ``output``: refuse a folder whose
    index.html is not an earlier rerankit report (a website's, say)."""
    from rerankit.errors import InputFormatError

    page = output / "index.html"
    if page.exists():
        try:
            ours = "<title>rerankit report</title>" in page.read_text(encoding="utf-8",
                                                                     errors="replace")
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``rerankit`` console script: runs the command, and turns any
    failure into one line on stderr and an exit status (see the module docstring)."""
    global _debug
    _debug = os.environ.get("RERANKIT_DEBUG", "").strip().lower() not in ("", "0", "false",
                                                                           "no")
    try:
        try:
            app(args=None if argv is None else list(argv), prog_name="rerankit")
        except SystemExit as done:
            if done.code == 130:          # typer's exit after a KeyboardInterrupt
                raise Interrupted("interrupted") from None
            if done.code in (0, None):
                _flush_stdout()           # a full disk shows here when output was small
            else:                         # the error is said: say nothing more
                with contextlib.suppress(OSError, ValueError):
                    _flush_stdout()
            raise
    except SystemExit:
        raise
    except Interrupted as err:
        _exit(130, str(err), err)
    except KeyboardInterrupt as err:
        _exit(130, "interrupted", err)
    except OSError as err:
        if err.errno == errno.EPIPE:      # the reader went away (| head): stop quietly
            _silence_stdout()
            sys.exit(1)
        _exit(2, describe(err), err)
    except Exception as err:
        _exit(2, describe(err), err)


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


def _exit(code: int, message: str, err: BaseException) -> None:
    with contextlib.suppress(OSError, ValueError):
        _flush_stdout()
    with contextlib.suppress(OSError, ValueError):
        if _debug:
            traceback.print_exception(err, file=sys.stderr)
        sys.stderr.write(f"rerankit: error: {message}\n")
        sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
