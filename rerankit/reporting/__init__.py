"""``rerankit report``: one self-contained HTML page for error analysis of stored result
folders (runs, comparisons with the baseline, effectiveness vs cost, per-query deltas,
judged holes and a per-query drill-down), read from the folders alone.

The modules each do one job: :mod:`~rerankit.reporting.results` reads folders and the
collection their manifest names, :mod:`~rerankit.reporting.analysis` computes the numbers,
:mod:`~rerankit.reporting.charts` builds the Plotly figures,
:mod:`~rerankit.reporting.embed` lays out the drill-down's data and
:mod:`~rerankit.reporting.page` renders the Jinja template.
"""

from __future__ import annotations

from rerankit.reporting.page import write_report

__all__ = ["write_report"]
