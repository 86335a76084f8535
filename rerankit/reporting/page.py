"""Render the report page (Jinja2 template, styles, script, plotly.js and data inline) and
write it atomically as ``index.html``."""

from __future__ import annotations

from pathlib import Path

from rerankit.data.atomic import atomic_write
from rerankit.errors import InputFormatError, MissingDependencyError
from rerankit.evaluation.stats import TESTS
from rerankit.reporting import charts
from rerankit.reporting.analysis import EMBEDDED_DEPTH, analyse, resolve_measure
from rerankit.reporting.embed import payload
from rerankit.reporting.results import read_results

TEMPLATES = Path(__file__).parent / "templates"


def write_report(folders: list[Path], output: Path, baseline: Path | None = None,
                 measure: str = "ndcg_cut_10", test: str = "randomization",
                 alpha: float = 0.05) -> Path:
    """Write ``output/index.html`` from result folders; returns its path."""
    try:
        import jinja2
    except ImportError:
        raise MissingDependencyError("jinja2", "report", "rerankit report") from None
    if test not in TESTS:
        raise InputFormatError("--test", f"unknown test '{test}'; choose {', '.join(TESTS)}")
    if not folders:
        raise InputFormatError("report", "no result folders given")
    measure = resolve_measure(measure)
    results = read_results(folders)
    chosen = None
    if baseline is not None:
        chosen = next((r for r in results if r.folder.resolve() == baseline.resolve()), None)
        if chosen is None:
            raise InputFormatError(baseline, "--baseline must be one of the result folders "
                                   "given")
    colours = dict(zip([r.name for r in results], charts.palette(len(results)), strict=True))
    groups = analyse(results, colours, chosen, measure, test, alpha)
    figures = {}
    for g, group in enumerate(groups):
        figures[f"cost-{g}"] = charts.cost_figure(group, measure)
        figures[f"holes-{g}"] = charts.holes_figure(group)
        for c, row in enumerate(group.comparisons):
            figures[f"delta-{g}-{c}"] = charts.delta_figure(group, row, measure)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    measures = list(dict.fromkeys(k for r in results for k in r.metrics))
    page = environment.get_template("report.html.j2").render(
        groups=groups, results=results, measure=measure, measures=measures, test=test,
        alpha=alpha, depth=EMBEDDED_DEPTH, figures=figures, colours=colours,
        data=payload(groups, measure), plotly_js=charts.plotly_js(),
        style=(TEMPLATES / "report.css").read_text(),
        script=(TEMPLATES / "report.js").read_text())
    with atomic_write(output / "index.html") as handle:
        handle.write(page)
    return output / "index.html"
