"""trec_eval ``-Z``: per-query values as z-scores against a reference table.

A z-scores file has lines ``qid measure_name mean std_dev`` (whitespace-separated, exactly
four fields, no blank or comment lines), typically the mean and standard deviation of each
measure for each query over a reference set of runs. Every per-query value becomes
``(value - mean) / std_dev``; trec_eval then averages (or sums, or takes the geometric mean
of) the z-scores exactly as it would the raw values. A query or measure missing from the
table, or a zero standard deviation with a value different from the mean, gives trec_eval's
marker value -1000000.

trec_eval reads numbers with ``atof`` (so ``abc`` is silently 0) and lets a repeated
(query, measure) pair pick an arbitrary line; rerankit refuses both with the file, line and
field named, so a typo cannot turn into a number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rerankit.data.source import read_input, text_lines
from rerankit.errors import InputFormatError

MISSING_ZSCORE = -1000000.0
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")   # finite decimals only
_SPACE = " \t\v\f\r"          # C isspace() but newline: what separates fields
_SPLIT = re.compile(f"[{_SPACE}]+")
_FIELDS = ("query id", "measure name", "mean", "standard deviation")


@dataclass(frozen=True)
class ZScores:
    """Reference mean and standard deviation per (query, measure name)."""

    source: str
    table: dict[str, dict[str, tuple[float, float]]]

    @classmethod
    def read(cls, path: str | Path) -> ZScores:
        """Read a z-scores file; :class:`InputFormatError` names the line and field at fault."""
        path = Path(path)
        lines = text_lines(read_input(path, "z-scores file"))
        table: dict[str, dict[str, tuple[float, float]]] = {}
        for number, line in enumerate(lines, start=1):
            stripped = line.strip(_SPACE)
            fields = _SPLIT.split(stripped) if stripped else []
            if len(fields) != 4:
                raise InputFormatError(
                    path, f"expected 4 whitespace-separated fields (qid measure mean std_dev), "
                    f"found {len(fields)}: {line!r}", number)
            qid, measure = fields[0], fields[1]
            mean, std = (_number(fields[k], _FIELDS[k], qid, measure, path, number)
                         for k in (2, 3))
            entries = table.setdefault(qid, {})
            if measure in entries:
                raise InputFormatError(
                    path, f"measure '{measure}' appears twice for query '{qid}'", number)
            entries[measure] = (mean, std)
        return cls(str(path), table)

    def convert(self, query_ids: list[str], name: str, values: np.ndarray) -> np.ndarray:
        """Z-scores of one measure's per-query ``values`` (``query_ids`` parallel to them)."""
        mean = np.full(len(query_ids), np.nan)
        std = np.full(len(query_ids), np.nan)
        for i, qid in enumerate(query_ids):
            entry = self.table.get(qid, {}).get(name)
            if entry is not None:
                mean[i], std[i] = entry
        values = np.asarray(values, dtype=np.float64)
        out = np.full(values.size, MISSING_ZSCORE)
        scaled = ~np.isnan(std) & (std != 0)
        out[scaled] = (values[scaled] - mean[scaled]) / std[scaled]
        out[(std == 0) & (values == mean)] = 0.0
        return out


def _number(text: str, field: str, qid: str, measure: str, path: Path, line: int) -> float:
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
        raise InputFormatError(
            path, f"{field} {text!r} is not a number (query '{qid}', measure '{measure}')", line)
    return float(text)
