"""Command line: ``rerankit eval`` (a drop-in for trec_eval) and ``rerankit compare``.

Heavy modules are imported inside the commands, so ``rerankit --help`` and
``rerankit eval`` start quickly and never import torch.
"""

from __future__ import annotations

import sys
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


def main() -> None:
    """Entry point of the ``rerankit`` console script."""
    app()


if __name__ == "__main__":
    main()
