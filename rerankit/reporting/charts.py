"""The report's interactive charts as Plotly figures (JSON the page draws with the
plotly.js bundle it inlines): effectiveness vs cost, per-query deltas, judged holes.

Every run keeps one colour across charts, tables and the drill-down. Titles are the page's
headings (they wrap on a phone; a chart's title does not).
"""

from __future__ import annotations

import json

import numpy as np

from rerankit.errors import MissingDependencyError
from rerankit.reporting.analysis import ComparisonRow, Group

_LAYOUT = {"autosize": True, "height": 360, "margin": {"l": 60, "r": 20, "t": 30, "b": 60},
           "hovermode": "closest", "legend": {"orientation": "h", "y": -0.25},
           "font": {"family": "system-ui, sans-serif", "size": 12}}


def _plotly():
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise MissingDependencyError("plotly", "report", "rerankit report") from None
    return go


def palette(n: int) -> list[str]:
    """``n`` distinct colours (Plotly's qualitative palettes, colour-blind safe first)."""
    from plotly.colors import qualitative

    colours = [*qualitative.Safe, *qualitative.Plotly, *qualitative.Dark24]
    return [colours[i % len(colours)] for i in range(n)]


def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (inlined: the page works
    offline)."""
    _plotly()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _figure(fig) -> dict:
    return json.loads(fig.to_json())


def cost_figure(group: Group, measure: str) -> dict | None:
    """One point per run: the measure (mean over the compared queries) against
    milliseconds per query from the ledger, log scale."""
    go = _plotly()
    fig = go.Figure()
    for view in group.runs:
        cost = view.result.cost()
        if cost is None or cost["ms_per_query"] <= 0:
            continue
        fig.add_trace(go.Scatter(
            x=[cost["ms_per_query"]], y=[float(view.values.mean())], name=view.result.name,
            mode="markers+text", text=[view.result.name], textposition="top center",
            cliponaxis=False,
            marker={"size": 13, "color": view.colour}, meta=[measure],
            hovertemplate="<b>%{text}</b><br>%{x:.1f} ms/query<br>%{meta[0]} %{y:.4f}"
                          "<extra></extra>"))
    if not fig.data:
        return None
    fig.update_layout(**_LAYOUT,
                      xaxis={"type": "log", "title": "milliseconds per query (all stages)"},
                      yaxis={"title": f"{measure} ({len(group.query_ids)} queries)"},
                      showlegend=False)
    return _figure(fig)


def delta_figure(group: Group, row: ComparisonRow, measure: str) -> dict:
    """Per-query change of the measure against the baseline, sorted; hover shows the
    query and both values, a click opens the query in the drill-down."""
    go = _plotly()
    diff = row.run.values - row.baseline.values
    order = np.argsort(-diff, kind="stable")
    ids = [group.query_ids[i] for i in order]
    texts = _query_texts(group, ids)
    fig = go.Figure(go.Bar(
        x=list(range(1, len(ids) + 1)), y=diff[order], marker={"color": row.run.colour},
        customdata=np.array([ids, texts, row.baseline.values[order].round(4),
                             row.run.values[order].round(4)], dtype=object).T,
        meta=[row.baseline.result.name, row.run.result.name],
        hovertemplate=("query %{customdata[0]}<br>%{customdata[1]}<br>"
                       "%{meta[0]}: %{customdata[2]}<br>%{meta[1]}: %{customdata[3]}<br>"
                       "Δ %{y:+.4f}<extra></extra>")))
    fig.update_layout(**_LAYOUT, showlegend=False,
                      xaxis={"title": f"queries sorted by Δ ({len(ids)}); click a bar to "
                                      "inspect it"},
                      yaxis={"title": f"Δ {measure}", "zeroline": True})
    return _figure(fig)


def holes_figure(group: Group) -> dict:
    """Per run: nDCG@10 beside nDCG@10 over judged documents only, and the share of the
    top 10 that is unjudged."""
    go = _plotly()
    names = [v.result.name for v in group.runs]
    colours = [v.colour for v in group.runs]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[float(v.ndcg.mean()) for v in group.runs],
                         name="nDCG@10", marker={"color": colours},
                         hovertemplate="%{x}<br>nDCG@10 %{y:.4f}<extra></extra>"))
    fig.add_trace(go.Bar(x=names, y=[float(v.condensed.mean()) for v in group.runs],
                         name="nDCG@10, judged only (-J)",
                         marker={"color": colours, "pattern": {"shape": "/"}},
                         hovertemplate="%{x}<br>judged only %{y:.4f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=[v.unjudged_overall for v in group.runs],
                             name="unjudged share of the top 10", yaxis="y2",
                             mode="markers", marker={"symbol": "diamond", "size": 12,
                                                     "color": "#444"},
                             hovertemplate="%{x}<br>unjudged@10 %{y:.1%}<extra></extra>"))
    fig.update_layout(**_LAYOUT, barmode="group",
                      yaxis={"title": "nDCG@10", "range": [0, 1.05], "dtick": 0.25},
                      yaxis2={"title": "unjudged@10", "overlaying": "y", "side": "right",
                              "tickformat": ".0%", "range": [0, 1.05], "dtick": 0.25,
                              "showgrid": False})
    return _figure(fig)


def _query_texts(group: Group, ids: list[str]) -> list[str]:
    queries = group.collection.queries
    if queries is None:
        return [""] * len(ids)
    return [_clip(queries.get(q, "")) for q in ids]


def _clip(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
