"""Search sessions as columns: sessions -> interactions (queries) -> shown results.

JSONL format (one session per line; only ``session_id`` and ``interactions`` required)::

    {"session_id": "460",
     "satisfaction": 3.5,                                   # optional, for meta-evaluation
     "qrels": {"doc-7": 2, "doc-9": 0},                     # optional session judgements
     "interactions": [
       {"query_id": "798", "query": "bollywood growth",     # id and/or text
        "results": ["doc-1", "doc-2", "doc-3"],             # ranked list shown
        "clicks": [0, 1, 0],                                # optional, aligned flags/grades
        "clicked": ["doc-2"],                               # optional, instead of "clicks"
        "dwell": [0, 35.5, 0],                              # optional seconds, aligned
        "lengths": [120, 80, 95],                           # optional cost of reading each
        "labels": [1, 2, 0]}]}                              # optional graded labels, aligned

Aligned lists must have the results' length. A document may appear twice in one list
(real logs do this): each occurrence is an item the user reads. An interaction may have no
results (the user still reformulated). Columns make a million sessions a handful of numpy
arrays, which is what the vectorised metrics in :mod:`rerankit.sessions.metrics` need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.errors import InputFormatError

_ALIGNED = ("clicks", "dwell", "lengths", "labels")


@dataclass(frozen=True)
class SessionLog:
    """Sessions in columns. Items (shown results) are sorted by interaction then rank;
    interactions by session then order. Missing optional values are NaN."""

    session_ids: list[str]
    satisfaction: np.ndarray        # float per session (NaN: none)
    inter_session: np.ndarray       # int64 per interaction: session index
    query_ids: list[str]            # per interaction
    query_texts: list[str]          # per interaction
    item_inter: np.ndarray          # int64 per item: interaction index
    item_rank: np.ndarray           # int64 per item: 1-based rank in its list
    item_doc: np.ndarray            # int64 per item: index into doc_ids
    item_click: np.ndarray          # float per item (0: not clicked)
    item_label: np.ndarray          # float per item (NaN: no label)
    item_length: np.ndarray         # float per item (NaN: not given)
    item_dwell: np.ndarray          # float per item (NaN: not given)
    doc_ids: list[str]
    qrels_session: np.ndarray       # int64 per session judgement
    qrels_doc: np.ndarray           # int64 per session judgement: index into doc_ids
    qrels_grade: np.ndarray         # float per session judgement

    @property
    def num_sessions(self) -> int:
        return len(self.session_ids)

    @property
    def num_interactions(self) -> int:
        return len(self.query_ids)

    @property
    def item_session(self) -> np.ndarray:
        return self.inter_session[self.item_inter]

    def interaction_ordinal(self) -> np.ndarray:
        """1-based position of every interaction within its session."""
        from rerankit.data.columns import ranks_within_groups

        return ranks_within_groups(self.inter_session)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], source: str = "sessions"
                     ) -> SessionLog:
        """Build from session dicts (the JSONL objects), validating every field."""
        builder = _Builder(source)
        for number, record in enumerate(records, 1):
            builder.add(record, number)
        return builder.build()

    def to_records(self) -> Iterator[dict]:
        """The sessions as JSONL-ready dicts (inverse of :meth:`from_records`)."""
        inter_start = np.searchsorted(self.inter_session, np.arange(self.num_sessions + 1))
        item_start = np.searchsorted(self.item_inter, np.arange(self.num_interactions + 1))
        judged = {}
        for s, d, g in zip(self.qrels_session.tolist(), self.qrels_doc.tolist(),
                           self.qrels_grade.tolist(), strict=True):
            judged.setdefault(s, {})[self.doc_ids[d]] = _number(g)
        for s, sid in enumerate(self.session_ids):
            interactions = []
            for i in range(inter_start[s], inter_start[s + 1]):
                lo, hi = item_start[i], item_start[i + 1]
                entry: dict[str, Any] = {"query_id": self.query_ids[i],
                                         "query": self.query_texts[i],
                                         "results": [self.doc_ids[d] for d in
                                                     self.item_doc[lo:hi].tolist()],
                                         "clicks": [_number(c) for c in
                                                    self.item_click[lo:hi].tolist()]}
                for name, column in (("dwell", self.item_dwell), ("lengths", self.item_length),
                                     ("labels", self.item_label)):
                    values = column[lo:hi]
                    if values.size and not np.isnan(values).all():
                        entry[name] = [_number(v) for v in values.tolist()]
                interactions.append(entry)
            record: dict[str, Any] = {"session_id": sid, "interactions": interactions}
            if not math.isnan(self.satisfaction[s]):
                record["satisfaction"] = float(self.satisfaction[s])
            if s in judged:
                record["qrels"] = judged[s]
            yield record

    def write_jsonl(self, path: str | Path) -> Path:
        """Write the JSONL format atomically."""
        path = Path(path)
        with atomic_write(path) as handle:
            for record in self.to_records():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path


def read_jsonl(path: str | Path) -> SessionLog:
    """Read sessions from the JSONL format; errors name the file, line and session."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "sessions file not found")

    def records() -> Iterator[Mapping[str, Any]]:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputFormatError(path, f"invalid JSON: {err.msg}", number) from None

    return SessionLog.from_records(records(), str(path))


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


class _Builder:
    """Accumulates validated sessions into column lists."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.session_ids: list[str] = []
        self.seen_sessions: set[str] = set()
        self.satisfaction: list[float] = []
        self.inter_session: list[int] = []
        self.query_ids: list[str] = []
        self.query_texts: list[str] = []
        self.item_inter: list[int] = []
        self.item_rank: list[int] = []
        self.item_doc: list[int] = []
        self.columns: dict[str, list[float]] = {name: [] for name in _ALIGNED}
        self.doc_index: dict[str, int] = {}
        self.qrels: tuple[list[int], list[int], list[float]] = ([], [], [])

    def fail(self, message: str, number: int) -> None:
        raise InputFormatError(self.source, message, number)

    def doc(self, docid: Any) -> int:
        key = str(docid)
        if key not in self.doc_index:
            self.doc_index[key] = len(self.doc_index)
        return self.doc_index[key]

    def add(self, record: Mapping[str, Any], number: int) -> None:
        sid = record.get("session_id")
        if sid is None or not isinstance(record.get("interactions"), list):
            self.fail("a session needs 'session_id' and a list 'interactions'", number)
        sid = str(sid)
        if sid in self.seen_sessions:
            self.fail(f"duplicate session id '{sid}'", number)
        if not record["interactions"]:
            self.fail(f"session '{sid}' has no queries", number)
        self.seen_sessions.add(sid)
        s = len(self.session_ids)
        self.session_ids.append(sid)
        satisfaction = record.get("satisfaction")
        self.satisfaction.append(float("nan") if satisfaction is None else float(satisfaction))
        indices = [it.get("index") for it in record["interactions"] if isinstance(it, Mapping)]
        if any(i is not None for i in indices) and len(set(indices)) != len(indices):
            self.fail(f"session '{sid}' has duplicate interaction indices", number)
        for position, interaction in enumerate(record["interactions"], 1):
            self.add_interaction(sid, s, position, interaction, number)
        for docid, grade in (record.get("qrels") or {}).items():
            self.qrels[0].append(s)
            self.qrels[1].append(self.doc(docid))
            self.qrels[2].append(self.grade(grade, sid, f"qrels of '{docid}'", number))

    def grade(self, value: Any, sid: str, what: str, number: int) -> float:
        try:
            grade = float(value)
        except (TypeError, ValueError):
            grade = float("nan")
        if math.isnan(grade) or not grade.is_integer() or grade < -2:
            self.fail(f"session '{sid}': {what} must be an integer >= -2, got {value!r}",
                      number)
        return grade

    def add_interaction(self, sid: str, s: int, position: int, it: Any, number: int) -> None:
        where = f"session '{sid}', interaction {position}"
        if not isinstance(it, Mapping) or not isinstance(it.get("results", []), list):
            self.fail(f"{where}: expected an object with a list 'results'", number)
        results = [str(d) for d in it.get("results", [])]
        i = len(self.query_ids)
        self.inter_session.append(s)
        qid = it.get("query_id")
        text = it.get("query")
        self.query_ids.append(str(qid) if qid is not None else f"{sid}:{position}")
        self.query_texts.append(str(text) if text is not None else "")
        aligned = {name: it.get(name) for name in _ALIGNED}
        if it.get("clicked") is not None:
            if aligned["clicks"] is not None:
                self.fail(f"{where}: give either 'clicks' or 'clicked', not both", number)
            unknown = [d for d in map(str, it["clicked"]) if d not in results]
            if unknown:
                self.fail(f"{where}: click on document '{unknown[0]}' that was not shown",
                          number)
            clicked = set(map(str, it["clicked"]))
            aligned["clicks"] = [1 if d in clicked else 0 for d in results]
        for name, values in aligned.items():
            if values is not None and (not isinstance(values, list) or
                                       len(values) != len(results)):
                count = len(values) if isinstance(values, list) else "no"
                self.fail(f"{where}: '{name}' has {count} values for {len(results)} results",
                          number)
        for rank, docid in enumerate(results, 1):
            self.item_inter.append(i)
            self.item_rank.append(rank)
            self.item_doc.append(self.doc(docid))
        self.columns["clicks"].extend(self.non_negative(aligned["clicks"], len(results), where,
                                                        "clicks", number, default=0.0))
        self.columns["dwell"].extend(self.non_negative(aligned["dwell"], len(results), where,
                                                       "dwell", number))
        self.columns["lengths"].extend(self.non_negative(aligned["lengths"], len(results), where,
                                                         "lengths", number))
        labels = aligned["labels"]
        self.columns["labels"].extend(
            [float("nan")] * len(results) if labels is None else
            [self.grade(v, sid, f"interaction {position} label", number) for v in labels])

    def non_negative(self, values: list | None, n: int, where: str, name: str, number: int,
                     default: float = float("nan")) -> list[float]:
        if values is None:
            return [default] * n
        out = []
        for value in values:
            try:
                x = float(value)
            except (TypeError, ValueError):
                x = float("nan")
            if math.isnan(x) or x < 0:
                self.fail(f"{where}: {name} must be numbers >= 0, got {value!r}", number)
            out.append(x)
        return out

    def build(self) -> SessionLog:
        if not self.session_ids:
            raise InputFormatError(self.source, "no sessions")
        doc_ids = [""] * len(self.doc_index)
        for docid, code in self.doc_index.items():
            doc_ids[code] = docid
        as_int = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        as_float = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        return SessionLog(
            self.session_ids, as_float(self.satisfaction), as_int(self.inter_session),
            self.query_ids, self.query_texts, as_int(self.item_inter), as_int(self.item_rank),
            as_int(self.item_doc), as_float(self.columns["clicks"]),
            as_float(self.columns["labels"]), as_float(self.columns["lengths"]),
            as_float(self.columns["dwell"]), doc_ids, as_int(self.qrels[0]),
            as_int(self.qrels[1]), as_float(self.qrels[2]))
