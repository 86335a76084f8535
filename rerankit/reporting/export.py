"""Leaderboard submission export from stored result folders (written by ``rerankit run``):

* ``trec``: the run file with a run tag, as TREC submission systems take it;
* ``beir``: the BEIR leaderboard's table -- nDCG@10 and Recall@100 per dataset, one row per
  pipeline -- as Markdown or CSV (by the output's extension);
* ``json``: every folder's dataset, config, metrics, evaluation record (how the values were
  averaged; None for folders written before rerankit recorded it) and cost.

Every exported file is read back and checked against what was meant to be written before
it is reported written (standard output, ``-``, a device or a pipe is written through).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rerankit.data.atomic import atomic_write, is_special
from rerankit.data.run import Run
from rerankit.errors import InputFormatError
from rerankit.reporting.leaderboard import read_result
from rerankit.reporting.markdown import markdown_table, read_markdown_table

BEIR_COLUMNS = (("nDCG@10", "ndcg_cut_10"), ("Recall@100", "recall_100"))


def pipeline_name(config_name: str, dataset: str) -> str:
    """A config's name without its leading ``<dataset>-`` (so rows line up across datasets)."""
    prefix = f"{dataset}-"
    return config_name[len(prefix):] if config_name.startswith(prefix) else config_name


def export_trec(folder: Path, output: Path, tag: str | None = None) -> Path:
    """The folder's run as a TREC file with run tag ``tag`` (default, when None: the config
    name; an empty tag given explicitly is refused like one with spaces)."""
    _, manifest, _ = read_result(folder)
    source = folder / "run.trec"
    if not source.is_file():
        raise InputFormatError(folder, "has no run.trec to export")
    if is_special(output):
        raise InputFormatError(output, "a TREC export goes to a regular file (it is read back "
                               "and validated)")
    tag = tag if tag is not None else manifest["config"]["name"]
    if not tag or any(c.isspace() for c in tag):
        raise InputFormatError(repr(tag), "a run tag must be non-empty without spaces")
    run = Run.read_trec(source)
    run.write_trec(output, tag=tag)                 # write_run reads the file back and checks
    if Run.read_trec(output).to_dict() != run.to_dict():
        raise InputFormatError(output, "exported run differs from the source when read back")
    return output


def beir_table(folders: list[Path]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: pipeline, then nDCG@10 and Recall@100 for each dataset."""
    cells: dict[str, dict[str, dict]] = {}
    datasets: list[str] = []
    for folder in folders:
        metrics, manifest, _ = read_result(folder)
        dataset = manifest["dataset"]
        datasets.append(dataset)
        name = pipeline_name(manifest["config"]["name"], dataset)
        if dataset in cells.setdefault(name, {}):
            raise InputFormatError(folder, f"a second result for pipeline '{name}' on "
                                   f"'{dataset}'")
        cells[name][dataset] = metrics
    datasets = sorted(set(datasets))
    header = ["pipeline"] + [f"{d} {title}" for d in datasets for title, _ in BEIR_COLUMNS]
    rows = []
    for name in sorted(cells):
        row = [name]
        for dataset in datasets:
            metrics = cells[name].get(dataset, {})
            row += [f"{metrics[key]:.4f}" if key in metrics else "" for _, key in BEIR_COLUMNS]
        rows.append(row)
    return header, rows


def export_beir(folders: list[Path], output: Path) -> Path:
    """The BEIR-style table as CSV (``.csv``) or Markdown (``.md``, or standard output)."""
    if output.suffix not in (".csv", ".md", ".markdown") and not is_special(output):
        raise InputFormatError(output, "a BEIR table is written as Markdown or CSV: name the "
                               "file .md or .csv")
    header, rows = beir_table(folders)
    if output.suffix == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        text = buffer.getvalue()
        parse = _read_csv
    else:
        text = markdown_table(header, [[cell or "-" for cell in row] for row in rows]) + "\n"
        parse = read_markdown_table
    _write_checked(output, text, lambda read: parse(read) == [header, *[
        [c or ("-" if parse is read_markdown_table else "") for c in r] for r in rows]])
    return output


def export_json(folders: list[Path], output: Path) -> Path:
    """Every folder's dataset, config name and hash, metrics and total cost, as JSON."""
    entries = []
    for folder in folders:
        metrics, manifest, ledger = read_result(folder)
        entries.append({"folder": folder.name, "dataset": manifest["dataset"],
                        "config": manifest["config"]["name"],
                        "config_digest": manifest["config_digest"],
                        "queries": manifest["queries"], "metrics": metrics,
                        "evaluation": manifest.get("evaluation"),
                        "cost": ledger["totals"] if ledger else None})
    text = json.dumps(entries, indent=2) + "\n"
    _write_checked(output, text, lambda read: json.loads(read) == entries)
    return output


def _write_checked(output: Path, text: str, matches) -> None:
    with atomic_write(output) as handle:
        handle.write(text)
    if is_special(output):            # standard output, a pipe: nothing to read back
        return
    if not matches(output.read_text(encoding="utf-8")):
        raise InputFormatError(output, "exported file differs from its content when read back")


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))
