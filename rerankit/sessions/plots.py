"""Plots of a session meta-evaluation, written as PNG files into a folder (matplotlib, the
``report`` extra): each metric against satisfaction with its least-squares line, the
agreement matrices as heatmaps, each metric's correlation with satisfaction with its CI, and
the ASL curves of discriminative power."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.sessions.meta import MetaReport


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        from rerankit.errors import MissingDependencyError

        raise MissingDependencyError("matplotlib", "report", "session --report") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Every file write_plots may write (which of them depends on the report's data).
PLOT_FILES = ("satisfaction_scatter.png", "satisfaction_ci.png", "agreement_heatmap.png",
              "asl_curves.png")


def write_plots(report: MetaReport, values: Mapping[str, np.ndarray],
                satisfaction: np.ndarray | None, folder: str | Path) -> list[Path]:
    """Write every plot the report has data for; returns the files written. Every plot is
    drawn before the first is written, so a failure leaves the folder as it was."""
    pngs = render_plots(report, values, satisfaction)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in pngs.items():
        with atomic_write(folder / name, "wb") as handle:
            handle.write(data)
        written.append(folder / name)
    return written


def render_plots(report: MetaReport, values: Mapping[str, np.ndarray],
                 satisfaction: np.ndarray | None) -> dict[str, bytes]:
    """Every plot the report has data for, as PNG bytes by file name (one of
    :data:`PLOT_FILES`). A metric that no session has both a value and satisfaction for
    (NUM when nothing was clicked) gets no scatter panel, and ``report.notes`` says so."""
    plt = _pyplot()
    pngs: dict[str, bytes] = {}

    def save(fig, name: str) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        pngs[name] = buffer.getvalue()

    if satisfaction is not None and np.any(~np.isnan(satisfaction)):
        drawable = {m: v for m, v in values.items()
                    if np.any(~(np.isnan(v) | np.isnan(satisfaction)))}
        for metric in (m for m in values if m not in drawable):
            report.notes.append(f"satisfaction_scatter.png: no session has both a {metric} "
                                "value and satisfaction; its panel is left out")
        if drawable:
            save(_scatter(plt, report, drawable, satisfaction), "satisfaction_scatter.png")
    if report.correlations:
        save(_ci_bars(plt, report), "satisfaction_ci.png")
    if report.agreement:
        save(_heatmaps(plt, report), "agreement_heatmap.png")
    if report.power:
        save(_asl(plt, report), "asl_curves.png")
    return pngs


def _grid(plt, count: int, width: float = 3.6, height: float = 3.2):
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _scatter(plt, report: MetaReport, values: Mapping[str, np.ndarray],
             satisfaction: np.ndarray):
    fig, axes = _grid(plt, len(values))
    rng = np.random.default_rng(0)          # jitter only, so equal labels do not overlap
    pearson = {c.metric: c for c in report.correlations
               if c.level == "session" and c.method == "pearson"}
    for ax, (metric, v) in zip(axes, values.items(), strict=False):
        keep = ~(np.isnan(v) | np.isnan(satisfaction))
        x, y = v[keep], satisfaction[keep]
        jitter = rng.uniform(-0.08, 0.08, y.size) * (np.ptp(y) or 1) / 4
        ax.scatter(x, y + jitter, s=10, alpha=0.5)
        if x.size >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            grid = np.linspace(x.min(), x.max(), 50)
            ax.plot(grid, slope * grid + intercept, color="C3")
        c = pearson.get(metric)
        label = f"r={c.r:.2f} [{c.ci_low:.2f}, {c.ci_high:.2f}], n={c.n}" if c else ""
        ax.set_title(f"{metric}\n{label}", fontsize=9)
        ax.set_xlabel(metric)
        ax.set_ylabel("satisfaction")
    fig.tight_layout()
    return fig


def _ci_bars(plt, report: MetaReport):
    levels = sorted({c.level for c in report.correlations}, key=["session", "query"].index)
    fig, axes = _grid(plt, len(levels), width=5.5, height=3.6)
    methods = list(dict.fromkeys(c.method for c in report.correlations))
    for ax, level in zip(axes, levels, strict=False):
        rows = [c for c in report.correlations if c.level == level]
        metrics = list(dict.fromkeys(c.metric for c in rows))
        width = 0.8 / len(methods)
        for k, method in enumerate(methods):
            found = {c.metric: c for c in rows if c.method == method}
            r = np.array([found[m].r for m in metrics])
            low = np.array([found[m].ci_low for m in metrics])
            high = np.array([found[m].ci_high for m in metrics])
            position = np.arange(len(metrics)) + (k - (len(methods) - 1) / 2) * width
            ax.bar(position, r, width, label=method,
                   yerr=np.vstack([r - low, high - r]), capsize=3)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(np.arange(len(metrics)), metrics, rotation=30)
        ax.set_ylabel("correlation with satisfaction")
        ax.set_title(f"{level} level ({report.settings['confidence']:.0%} bootstrap CI)",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _heatmaps(plt, report: MetaReport):
    fig, axes = _grid(plt, len(report.agreement), width=4.2, height=3.8)
    for ax, (method, matrix) in zip(axes, report.agreement.items(), strict=False):
        names = list(matrix)
        data = np.array([[matrix[a][b] for b in names] for a in names], dtype=float)
        image = ax.imshow(data, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i in range(len(names)):
            for j in range(len(names)):
                text = "n/a" if np.isnan(data[i, j]) else f"{data[i, j]:.2f}"
                dark = not np.isnan(data[i, j]) and abs(data[i, j]) > 0.6
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        ax.set_title(f"agreement ({method})", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def _asl(plt, report: MetaReport):
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for p in report.power:
        ax.plot(np.arange(1, len(p.asl) + 1), p.asl, marker="o", markersize=3,
                label=f"{p.metric} ({p.power:.0%})")
    ax.axhline(report.power[0].alpha, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("system pairs, sorted by ASL")
    ax.set_yscale("log")
    ax.set_ylabel("achieved significance level (log)")
    ax.set_title(f"ASL curves ({report.power[0].test} test)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
