"""What a report reads: result folders (as ``rerankit run`` writes them) and the collection
each one's manifest names.

A result folder holds ``run.trec``, ``metrics.json``, ``manifest.json`` and (usually)
``ledger.json``; optionally ``stages/<n>-<label>.trec``, one TREC run per pipeline stage,
whose scores the drill-down shows beside the final ranking. The collection is loaded through
:mod:`rerankit.datasets` (embedded by name) or :mod:`rerankit.data` (a BEIR folder by path):
judgements are required, query and document texts are shown when they are available.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rerankit import datasets
from rerankit.data.corpus import Corpus, open_corpus
from rerankit.data.loaders import read_queries
from rerankit.data.qrels import Qrels
from rerankit.data.queries import Queries
from rerankit.data.run import Run
from rerankit.errors import InputFormatError, UnknownMeasureError
from rerankit.evaluation.measures import parse_measures
from rerankit.identity import file_digest
from rerankit.reporting.leaderboard import read_result


@dataclass
class Result:
    """One result folder: its run, stored metrics, manifest and cost ledger."""

    folder: Path
    name: str
    dataset: str
    metrics: dict[str, float]
    manifest: dict
    ledger: dict | None
    run: Run
    stages: list[tuple[str, Run]] = field(default_factory=list)

    @property
    def queries(self) -> int:
        return int(self.manifest.get("queries", len(self.run.query_ids)))

    @property
    def dataset_spec(self) -> dict:
        """The manifest's dataset section (``name`` or ``path``, ``split``)."""
        return dict(self.manifest.get("config", {}).get("dataset") or {})

    @property
    def group(self) -> str:
        """Runs in one group share judgements and are compared with each other."""
        split = self.dataset_spec.get("split", "test")
        return self.dataset if split == "test" else f"{self.dataset} ({split})"

    def cost(self) -> dict[str, float] | None:
        """Ledger totals over stages: query seconds, setup seconds, model calls, tokens."""
        if not self.ledger:
            return None
        totals = self.ledger.get("totals", [])
        out = {key: float(sum(t.get(key, 0.0) for t in totals))
               for key in ("seconds", "setup_seconds", "model_calls", "tokens_in",
                           "tokens_out")}
        out["ms_per_query"] = 1000.0 * out["seconds"] / max(1, self.queries)
        return out


def read_results(folders: list[Path]) -> list[Result]:
    """Every folder as a :class:`Result`; a missing or malformed file is a named error."""
    results = []
    seen: set[Path] = set()
    for folder in folders:
        if folder.resolve() in seen:
            raise InputFormatError(folder, "result folder given twice")
        seen.add(folder.resolve())
        metrics, manifest, ledger = read_result(folder)
        if not (folder / "run.trec").is_file():
            raise InputFormatError(folder, "result folder has no run.trec (the report needs "
                                   "the ranking, not only the metrics)")
        try:
            name = str(manifest["config"]["name"])
            dataset = str(manifest["dataset"])
        except (KeyError, TypeError):
            raise InputFormatError(folder / "manifest.json", "needs 'dataset' and "
                                   "'config.name' (as written by 'rerankit run')") from None
        stages = [(path.stem, Run.read_trec(path))
                  for path in sorted((folder / "stages").glob("*.trec"))]
        results.append(Result(folder, name, dataset,
                              _measure_values(metrics),
                              manifest, ledger, Run.read_trec(folder / "run.trec", name=name),
                              stages))
    _unique_names(results)
    return results


def _measure_values(metrics: dict) -> dict[str, float]:
    """The measure values of a metrics.json, without what it says about the evaluation
    (``num_q``, ``num_q_with_results``, ``average_complete``, ``semantics``, ``compat``):
    the page shows query counts in a column of their own."""
    values = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or key == "num_q":
            continue
        try:
            parse_measures([key])
        except UnknownMeasureError:
            continue
        values[key] = float(value)
    return values


def _unique_names(results: list[Result]) -> None:
    """Folders of the same config get their folder name added (then a number), so the page
    can tell them apart."""
    for attempt in range(2):
        counts: dict[str, int] = {}
        for r in results:
            counts[r.name] = counts.get(r.name, 0) + 1
        seen: dict[str, int] = {}
        for r in results:
            if counts[r.name] > 1:
                seen[r.name] = seen.get(r.name, 0) + 1
                suffix = f" ({r.folder.name})" if attempt == 0 else f" #{seen[r.name]}"
                r.name = f"{r.name}{suffix}"


@dataclass
class Collection:
    """Judgements (required), and query and document texts where available."""

    qrels: Qrels
    queries: Queries | None
    corpus: Corpus | None
    notes: list[str] = field(default_factory=list)


def dataset_folder(result: Result) -> Path:
    """The folder of the dataset a result folder's manifest names (embedded or a path)."""
    spec = result.dataset_spec
    where = result.folder / "manifest.json"
    if spec.get("name"):
        try:
            return datasets.path(spec["name"])
        except KeyError as err:
            raise InputFormatError(where, f"dataset: {err.args[0]}") from None
    if not spec.get("path"):
        raise InputFormatError(where, "config.dataset names neither 'name' nor 'path'")
    return Path(spec["path"])


def check_dataset_files(result: Result) -> None:
    """Refuse a result folder whose dataset files changed since ``rerankit run`` wrote it:
    its manifest's ``dataset_files`` holds the sha256 of each, and a page would show the
    stored metrics beside numbers recomputed from other judgements. A file that is gone is
    left to the loader (judgements are required; texts only cost the page its snippets);
    a manifest without checksums (written before they were stored) is not checked."""
    stored = result.manifest.get("dataset_files")
    if not isinstance(stored, dict):
        return
    folder = dataset_folder(result)
    for relative, digest in sorted(stored.items()):
        path = folder / relative
        if path.is_file() and file_digest(path) != digest:
            raise InputFormatError(path, f"changed since the result folder {result.folder} "
                                   "was written (its sha256 differs from the one in "
                                   f"{result.folder / 'manifest.json'}): its run and stored "
                                   "metrics come from the old file; re-run 'rerankit run' "
                                   "to report on this one")


def load_collection(result: Result) -> Collection:
    """The collection a result folder's manifest names."""
    split = result.dataset_spec.get("split", "test")
    folder = dataset_folder(result)
    if result.dataset_spec.get("name"):
        try:
            data = datasets.load(result.dataset_spec["name"], split)
        except KeyError as err:
            raise InputFormatError(result.folder / "manifest.json",
                                   f"dataset: {err.args[0]}") from None
        return Collection(data.qrels, data.queries, data.corpus,
                          [] if data.corpus is not None else [_no_texts(folder)])
    return _beir_folder(folder, split, result.folder / "manifest.json")


def _beir_folder(folder: Path, split: str, where: Path) -> Collection:
    """A BEIR-layout folder whose qrels must exist; a missing corpus or queries file only
    costs the page its texts."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InputFormatError(where, f"dataset.path: no judgements at {qrels_path} (the "
                               "report needs the qrels the run was evaluated with)")
    notes = []
    queries = None
    if (folder / "queries.jsonl").is_file():
        queries = read_queries(folder / "queries.jsonl")
    else:
        notes.append(f"{folder / 'queries.jsonl'} is missing: queries are shown by id only.")
    corpus = None
    if (folder / "corpus.jsonl").is_file():
        corpus = open_corpus(folder / "corpus.jsonl")
    else:
        notes.append(_no_texts(folder))
    return Collection(Qrels.read(qrels_path), queries, corpus, notes)


def _no_texts(folder: Path) -> str:
    return (f"No document texts are available for {folder} (no corpus file): documents "
            "are shown by id only.")

