"""``rerankit report``: an HTML report with PNG plots from stored result folders.

* effectiveness vs cost: one point per pipeline (nDCG@10 against seconds per query, log
  scale), one panel per dataset;
* per-query deltas: for every other run on the same dataset, the per-query change of the
  measure against a baseline, sorted, with the paired test's p-value (Holm-corrected across
  the report's comparisons) and a significance mark.

Comparisons use the queries both runs answered, so a pipeline evaluated on a seeded subset
is compared on that subset.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.data.run import Run
from rerankit.errors import MissingDependencyError
from rerankit.leaderboard import read_result


@dataclass
class Entry:
    folder: Path
    dataset: str
    name: str
    metrics: dict
    queries: int
    seconds_per_query: float | None
    config: dict


@dataclass
class Delta:
    run: Entry
    baseline: Entry
    query_ids: list[str]
    delta: np.ndarray
    p_value: float
    p_adjusted: float = 1.0


def load_entries(folders: list[Path]) -> list[Entry]:
    entries = []
    for folder in folders:
        metrics, manifest, ledger = read_result(folder)
        seconds = (sum(t["seconds"] for t in ledger["totals"]) / max(1, manifest["queries"])
                   if ledger else None)
        entries.append(Entry(folder, manifest["dataset"], manifest["config"]["name"], metrics,
                             manifest["queries"], seconds, manifest["config"]))
    return entries


def per_query_deltas(entries: list[Entry], baseline: Path | None, measure: str, test: str,
                     seed: int = 42) -> list[Delta]:
    """Each run against its dataset's baseline (``baseline`` or the first folder given)."""
    from rerankit.config import RunConfig
    from rerankit.evaluation.evaluator import evaluate
    from rerankit.evaluation.stats import holm, paired_p_value
    from rerankit.runner import load_dataset

    deltas: list[Delta] = []
    rng = np.random.default_rng(seed)
    by_dataset: dict[str, list[Entry]] = {}
    for entry in entries:
        by_dataset.setdefault(entry.dataset, []).append(entry)
    for group in by_dataset.values():
        if len(group) < 2:
            continue
        base = next((e for e in group if baseline and e.folder.resolve() == baseline.resolve()),
                    group[0])
        qrels = load_dataset(RunConfig.model_validate(base.config)).qrels
        base_values = _per_query(evaluate(qrels, Run.read_trec(base.folder / "run.trec"),
                                          [measure]), measure)
        for entry in group:
            if entry is base:
                continue
            values = _per_query(evaluate(qrels, Run.read_trec(entry.folder / "run.trec"),
                                         [measure]), measure)
            common = sorted(set(values) & set(base_values))
            diff = np.array([values[q] - base_values[q] for q in common])
            deltas.append(Delta(entry, base, common, diff,
                                paired_p_value(test, diff, rng, 10_000) if common else 1.0))
    adjusted = holm(np.array([d.p_value for d in deltas])) if deltas else []
    for delta, p in zip(deltas, adjusted, strict=True):
        delta.p_adjusted = float(p)
    return deltas


def _per_query(result, measure: str) -> dict[str, float]:
    name = result.measures[0].name
    return dict(zip(result.query_ids, result.values[name].tolist(), strict=True))


def write_report(folders: list[Path], output: Path, baseline: Path | None = None,
                 measure: str = "ndcg_cut_10", test: str = "randomization",
                 alpha: float = 0.05) -> Path:
    """Write ``output/index.html`` and its PNG plots; returns the HTML path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "report", "rerankit report") from None
    entries = load_entries(folders)
    deltas = per_query_deltas(entries, baseline, measure, test)
    output.mkdir(parents=True, exist_ok=True)
    images = [_plot_cost(plt, entries, measure, output / "effectiveness-vs-cost.png")]
    for k, delta in enumerate(deltas, 1):
        images.append(_plot_delta(plt, delta, measure, alpha, output / f"delta-{k}.png"))
    page = _html(entries, deltas, images, measure, test, alpha)
    with atomic_write(output / "index.html") as handle:
        handle.write(page)
    return output / "index.html"


def _plot_cost(plt, entries: list[Entry], measure: str, path: Path) -> str:
    datasets = sorted({e.dataset for e in entries})
    figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2),
                                squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        points = [e for e in entries if e.dataset == dataset and e.seconds_per_query
                  and measure in e.metrics]
        for e in points:
            axis.scatter(e.seconds_per_query * 1000, e.metrics[measure], s=40)
            axis.annotate(e.name, (e.seconds_per_query * 1000, e.metrics[measure]),
                          textcoords="offset points", xytext=(5, 4), fontsize=8)
        axis.set_xscale("log")
        axis.set_xlabel("milliseconds per query (all stages, log scale)")
        axis.set_ylabel(measure)
        axis.set_title(dataset)
        axis.grid(True, alpha=0.3)
        if points:
            low = min(e.metrics[measure] for e in points)
            high = max(e.metrics[measure] for e in points)
            pad = max(0.01, (high - low) * 0.15)
            axis.set_ylim(low - pad, high + pad)
            xs = [e.seconds_per_query * 1000 for e in points]
            axis.set_xlim(min(xs) / 2, max(xs) * 4)
    figure.suptitle("Effectiveness vs cost")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def _plot_delta(plt, delta: Delta, measure: str, alpha: float, path: Path) -> str:
    order = np.argsort(-delta.delta, kind="stable")
    values = delta.delta[order]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    colours = np.where(values > 0, "#2a9d55", np.where(values < 0, "#c0392b", "#999999"))
    axis.bar(np.arange(values.size), values, color=colours, width=1.0)
    axis.axhline(0, color="black", linewidth=0.6)
    mark = " *" if delta.p_adjusted < alpha else ""
    axis.set_title(f"{delta.run.name} vs {delta.baseline.name} on {delta.run.dataset}: "
                   f"mean Δ{measure} {values.mean():+.4f}, p = {delta.p_adjusted:.4f}{mark}",
                   fontsize=9)
    axis.set_xlabel(f"queries ({values.size}), sorted by Δ; "
                    f"{int((values > 0).sum())} better, {int((values < 0).sum())} worse")
    axis.set_ylabel(f"Δ {measure}")
    axis.set_xlim(-1, values.size)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def _html(entries: list[Entry], deltas: list[Delta], images: list[str], measure: str,
          test: str, alpha: float) -> str:
    keys = ["ndcg_cut_10", "recall_100", "map", "recip_rank_cut_10"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in [
            e.dataset, e.name, *[f"{e.metrics[k]:.4f}" if k in e.metrics else "-"
                                 for k in keys], e.queries,
            f"{e.seconds_per_query * 1000:.1f}" if e.seconds_per_query else "-"]) + "</tr>"
        for e in sorted(entries, key=lambda e: (e.dataset, -e.metrics.get(measure, 0.0))))
    comparisons = "".join(
        f"<tr><td>{html.escape(d.run.dataset)}</td><td>{html.escape(d.run.name)}</td>"
        f"<td>{html.escape(d.baseline.name)}</td><td>{len(d.query_ids)}</td>"
        f"<td>{d.delta.mean():+.4f}</td><td>{int((d.delta > 0).sum())}/"
        f"{int((d.delta < 0).sum())}</td><td>{d.p_value:.4f}</td>"
        f"<td>{d.p_adjusted:.4f}{' *' if d.p_adjusted < alpha else ''}</td></tr>"
        for d in deltas)
    figures = "".join(f'<p><img src="{html.escape(i)}" alt="{html.escape(i)}"></p>'
                      for i in images)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>rerankit report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:nth-child(-n+2){{text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>rerankit report</h1>
<h2>Runs</h2>
<table><tr><th>dataset</th><th>run</th><th>nDCG@10</th><th>R@100</th><th>MAP</th>
<th>MRR@10</th><th>queries</th><th>ms/query</th></tr>{rows}</table>
<h2>Comparisons ({html.escape(measure)}, paired {html.escape(test)} test, Holm-corrected;
* = significant at {alpha})</h2>
<table><tr><th>dataset</th><th>run</th><th>baseline</th><th>queries</th><th>mean Δ</th>
<th>better/worse</th><th>p</th><th>p (Holm)</th></tr>{comparisons}</table>
<h2>Plots</h2>{figures}
</body></html>
"""
