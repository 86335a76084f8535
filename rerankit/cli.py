"""Command line: ``rerankit eval`` (a drop-in for trec_eval) and ``rerankit compare``.

Heavy modules are imported inside the commands, so ``rerankit --help`` and
``rerankit eval`` start quickly and never import torch.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@app.command("eval")
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
    rel_format: Annotated[str, typer.Option(
        "-R", "--rel-format", "--Rel_info_format",
        help="Format of the qrels file: qrels, prefs, qrels_prefs, qrels_jg (trec_eval -R).")
                          ] = "qrels",
    results_format: Annotated[str, typer.Option(
        "-T", "--results-format", "--Results_format",
        help="Format of the run file: trec_results, the only one (trec_eval -T).")
                              ] = "trec_results",
    compat: Annotated[str, typer.Option(
        "--compat", help="Semantics: 10 (trec_eval 10.0, default) or 9 (trec_eval 9.0.x, as "
                         "pytrec_eval: float32 score ties, old truncation, -c without the "
                         "skipped queries' lines).")] = "10",
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
    from rerankit.errors import RerankitError
    from rerankit.evaluation.evaluator import evaluate
    from rerankit.evaluation.measures import parse_measures
    from rerankit.evaluation.ranking import check_compat

    try:
        check_compat(compat)
        if results_format != "trec_results":
            raise ValueError(f"unknown results format '{results_format}' (-T): rerankit, like "
                             "trec_eval, reads 'trec_results' only")
        options = dict(relevance_level=level, average_complete=complete,
                       judged_only=judged_only, max_docs=max_docs, num_docs_in_coll=num_docs,
                       zscores=zscores, compat=compat)
        if rel_format != "qrels":
            result = _evaluate_preferences(qrels, run, measure, rel_format, verify=verify,
                                           **options)
        else:
            measures = measure or ["official"]
            parse_measures(measures)  # an unknown measure fails before any file is read
            with _run_source(run) as run_path:
                result = evaluate(qrels, run_path, measures, verify=verify,
                                  ignore_identical_ids=ignore_identical_ids, **options)
    except (RerankitError, ValueError) as err:
        _fail(str(err).replace("\n", " "))
    if as_json:
        typer.echo(result.to_json(per_query=query))
    else:
        sys.stdout.write(result.to_trec_eval(per_query=query, summary=not no_summary))
    _warn_about_coverage(result, complete)


def _evaluate_preferences(qrels: Path, run: str, measures: list[str] | None, rel_format: str,
                          **options):
    """``-R prefs | qrels_prefs | qrels_jg``: trec_eval's preference formats (measures None:
    the format's own default set)."""
    if rel_format not in ("prefs", "qrels_prefs", "qrels_jg"):
        raise ValueError(f"unknown rel_info format '{rel_format}' (-R): use qrels, prefs, "
                         "qrels_prefs or qrels_jg")
    try:
        from rerankit.evaluation.prefs import evaluate_preferences
    except ImportError:
        raise ValueError(f"-R {rel_format} is not available in this version of rerankit"
                         ) from None
    with _run_source(run) as run_path:
        return evaluate_preferences(qrels, run_path, measures, rel_format, **options)


@contextmanager
def _run_source(run: str) -> Iterator[str]:
    """The run's path; ``-`` (trec_eval's "read the run from stdin") is copied to a temporary
    file first, and errors about it name ``<stdin>``."""
    from rerankit.errors import RerankitError

    if run != "-":
        yield run
        return
    with tempfile.TemporaryDirectory(prefix="rerankit-stdin-") as folder:
        path = Path(folder) / "stdin"
        path.write_bytes(sys.stdin.buffer.read())
        try:
            yield str(path)
        except RerankitError as err:
            err.args = tuple(a.replace(str(path), "<stdin>") if isinstance(a, str) else a
                             for a in err.args)
            raise


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
    ledger; write run.trec, metrics.json, manifest.json and ledger.json."""
    from rich.console import Console
    from rich.table import Table

    from rerankit.config import load_config
    from rerankit.errors import RerankitError
    from rerankit.runner import run_config

    if engine not in ("local", "ray"):
        _fail(f"unknown engine '{engine}'; choose local or ray")
    if engine == "local" and address is not None:
        _fail("--address needs --engine ray")
    try:
        ray = None
        if engine == "ray":
            from rerankit.distributed import RayOptions

            if workers < 1 or cpus_per_worker < 1 or gpus_per_worker < 0:
                _fail("--workers and --cpus-per-worker must be >= 1, --gpus-per-worker >= 0")
            ray = RayOptions(address, workers, cpus_per_worker, gpus_per_worker)
        parsed = load_config(config)
        folder = output or Path("runs") / parsed.name
        outcome = run_config(parsed, folder, force=force, quiet=quiet or None,
                             cache=False if no_cache else cache, ray=ray)
    except (RerankitError, ValueError) as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted; scores computed so far are in the score cache, and running the "
              "same command again resumes from them")
    table = Table(title=f"{parsed.name} ({outcome.metrics.num_queries} queries)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in outcome.metrics.aggregate.items():
        if name != "runid":
            table.add_row(name, f"{value:.4f}")
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
    from rerankit.errors import RerankitError
    from rerankit.leaderboard import write

    try:
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
    from rerankit.errors import RerankitError

    try:
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
    typer.echo(f"wrote {output} (read back and validated)")


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
    from rerankit.errors import RerankitError
    from rerankit.report import write_report

    try:
        page = write_report(folders, output, baseline, measure, test)
    except RerankitError as err:
        _fail(str(err))
    typer.echo(f"wrote {page}")


def np_all_nan(values) -> bool:
    """True when an array has no defined value."""
    import numpy as np

    return bool(np.isnan(values).all())


def main() -> None:
    """Entry point of the ``rerankit`` console script."""
    app()


if __name__ == "__main__":
    main()
