"""Search sessions as columns: sessions -> interactions (queries) -> shown results.

JSONL format (one session per line; only ``session_id`` and ``interactions`` required)::

    {"session_id": "460",
     "satisfaction": 3.5,                                   # optional, for meta-evaluation
     "qrels": {"doc-7": 2, "doc-9": 0},                     # optional session judgements
     "interactions": [
       {"query_id": "798", "query": "bollywood growth",     # id and/or text
        "results": ["doc-1", "doc-2", "doc-3"],             # ranked list shown (required)
        "clicks": [0, 1, 0],                                # optional, aligned 0/1 flags
        "clicked": ["doc-2"],                               # optional, instead of "clicks"
        "dwell": [0, 35.5, 0],                              # optional seconds, aligned
        "lengths": [120, 80, 95],                           # optional cost of reading each
        "labels": [1, 2, 0],                                # optional integer grades
        "gains": [0.2, 0.6, 0],                             # optional real gains >= 0
        "satisfaction": 4,                                  # optional, this query's
        "index": 1}]}                                       # optional, order in session

Aligned lists must have the results' length. Clicks are 0 or 1 (``true``/``false`` too);
click counts (integers >= 0, used as graded labels) are accepted only with
``click_counts=True``. Keys other than these are an error unless ``allow_extra=True`` (a
misspelt ``"satisfation"`` must not silently drop the labels). A document may appear twice
in one list (real logs do this): each occurrence is an item the user reads. An interaction
may have no results (``"results": []``; the user still reformulated). Interactions are in
list order, or ordered by ``index`` (integers, unique in the session) when every one has it.
Columns make a million sessions a handful of numpy arrays, which is what the vectorised
metrics in :mod:`rerankit.sessions.metrics` need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rerankit.data.atomic import atomic_write
from rerankit.data.jsonl import json_value, refuse_lone_surrogates
from rerankit.errors import InputFormatError

_ALIGNED = ("clicks", "dwell", "lengths", "labels", "gains")
#: Characters a session id may not hold: the TSV outputs (``--per-session``) separate
#: columns by tabs and rows by line breaks (any of those ``str.splitlines`` splits on).
_LINE_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
SESSION_KEYS = frozenset({"session_id", "interactions", "satisfaction", "qrels"})
INTERACTION_KEYS = frozenset({"index", "query_id", "query", "results", "clicks", "clicked",
                              *_ALIGNED, "satisfaction"})


@dataclass(frozen=True)
class SessionLog:
    """Sessions in columns. Items (shown results) are sorted by interaction then rank;
    interactions by session then order. Missing optional values are NaN (a click column
    that is NaN everywhere means the log has no clicks, which is not the same as a log
    where nobody clicked)."""

    session_ids: list[str]
    satisfaction: np.ndarray        # float per session (NaN: none)
    inter_session: np.ndarray       # int64 per interaction: session index
    query_ids: list[str]            # per interaction
    query_texts: list[str]          # per interaction
    item_inter: np.ndarray          # int64 per item: interaction index
    item_rank: np.ndarray           # int64 per item: 1-based rank in its list
    item_doc: np.ndarray            # int64 per item: index into doc_ids
    item_click: np.ndarray          # float per item (0: not clicked, NaN: no click data)
    item_label: np.ndarray          # float per item (NaN: no label)
    item_length: np.ndarray         # float per item (NaN: not given)
    item_dwell: np.ndarray          # float per item (NaN: not given)
    doc_ids: list[str]
    qrels_session: np.ndarray       # int64 per session judgement
    qrels_doc: np.ndarray           # int64 per session judgement: index into doc_ids
    qrels_grade: np.ndarray         # float per session judgement
    item_gain: np.ndarray | None = None          # float per item (NaN: none); None: none
    inter_satisfaction: np.ndarray | None = None  # float per interaction (NaN: none)
    source: str = field(default="sessions", compare=False)

    def __post_init__(self) -> None:
        if self.item_gain is None:
            object.__setattr__(self, "item_gain", np.full(self.item_doc.size, np.nan))
        if self.inter_satisfaction is None:
            object.__setattr__(self, "inter_satisfaction",
                               np.full(self.inter_session.size, np.nan))

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

    def holds(self) -> dict[str, bool]:
        """Which label sources and satisfaction levels the log has values for."""
        defined = lambda v: bool(v.size and not np.isnan(v).all())  # noqa: E731
        return {"clicks": defined(self.item_click), "labels": defined(self.item_label),
                "gains": defined(self.item_gain), "qrels": bool(self.qrels_session.size),
                "satisfaction": defined(self.satisfaction),
                "query_satisfaction": defined(self.inter_satisfaction)}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], source: str = "sessions",
                     click_counts: bool = False, allow_extra: bool = False) -> SessionLog:
        """Build from session dicts (the JSONL objects), validating every field; the
        ``source`` and 1-based record number name the place of any error.

        What :func:`read_jsonl` refuses in a line is refused here too, by the same check
        (:func:`rerankit.data.jsonl.refuse_lone_surrogates`): a key or string anywhere in a
        record holding a lone surrogate (``"\\ud800"``: not Unicode, so the log could not
        be written as UTF-8, nor an error naming it printed), named by the session id and
        the field's path (``"interactions[0].results[1]"``). A NUL character is kept, as
        the reader keeps a ``\\u0000`` escape."""
        def checked() -> Iterator[tuple[int, Any]]:
            for number, record in enumerate(records, 1):
                try:
                    if not _unicode(record):
                        refuse_lone_surrogates(source, record, number, held="")
                except InputFormatError as err:
                    sid = record.get("session_id") if isinstance(record, Mapping) else None
                    if isinstance(sid, bool) or not isinstance(sid, (str, int)):
                        raise
                    sid = str(sid).encode("utf-8", "backslashreplace").decode("utf-8")
                    raise InputFormatError(source, f"session '{sid}': {err.reason}",
                                           number) from None
                yield number, record

        return build_log(checked(), source, click_counts, allow_extra)

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
                                                     self.item_doc[lo:hi].tolist()]}
                for name, column in (("clicks", self.item_click), ("dwell", self.item_dwell),
                                     ("lengths", self.item_length),
                                     ("labels", self.item_label), ("gains", self.item_gain)):
                    values = column[lo:hi]
                    if values.size and not np.isnan(values).all():
                        entry[name] = [_number(v) for v in values.tolist()]
                if not math.isnan(self.inter_satisfaction[i]):
                    entry["satisfaction"] = _number(self.inter_satisfaction[i])
                interactions.append(entry)
            record: dict[str, Any] = {"session_id": sid, "interactions": interactions}
            if not math.isnan(self.satisfaction[s]):
                record["satisfaction"] = _number(self.satisfaction[s])
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


def read_jsonl(path: str | Path, click_counts: bool = False, allow_extra: bool = False
               ) -> SessionLog:
    """Read sessions from the JSONL format; errors name the file, line, session and field.
    Lines are parsed as the corpus and queries readers parse theirs
    (:func:`rerankit.data.jsonl.json_value`): a key given twice in an object and a lone
    surrogate escape anywhere are refused, never resolved to one value or kept as text
    that cannot be written as UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "sessions file not found")

    def records() -> Iterator[tuple[int, Any]]:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise InputFormatError(path, f"not UTF-8 text ({err.reason})",
                                           number) from None
                if not line.strip():
                    continue
                yield number, json_value(str(path), line, number, parse_int=_parse_int)

    return build_log(records(), str(path), click_counts, allow_extra)


def build_log(numbered: Iterable[tuple[Any, Any]], source: str, click_counts: bool = False,
              allow_extra: bool = False) -> SessionLog:
    """Build a log from (line number, session dict) pairs: the converters of other formats
    give the line where each session starts, so errors point into the original file. A
    number may be a (file, line) pair when sessions come from several files, or
    :class:`RowLines` when every result has its own row (errors about a value name it)."""
    builder = _Builder(source, click_counts, allow_extra)
    for number, record in numbered:
        builder.add(record, number)
    return builder.build()


def _unicode(record: Any) -> bool:
    """Whether every key and string of ``record`` is certainly valid Unicode, checked at C
    speed (the record as JSON text, encoded as UTF-8), so that only a record this cannot
    vouch for (a lone surrogate, or what JSON cannot write) is walked in Python."""
    try:
        json.dumps(record, ensure_ascii=False, skipkeys=True, default=str).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return False
    return True


class _HugeInteger(str):
    """A JSON integer too long to be any float (more than 308 digits): kept as its text, so
    that it is no number to the checks below, which then name the field that holds it (an
    id may still be one: integer ids are read as their text anyway)."""

    def __repr__(self) -> str:
        return f"{self[:12]}... ({len(self.lstrip('-'))} digits)"


def _parse_int(text: str) -> int | _HugeInteger:
    """JSON integers as ints, but none past float range: Python's int-to-string limit
    (4,300 digits) and float conversion would otherwise fail far from the field."""
    return _HugeInteger(text) if len(text.lstrip("-")) > 308 else int(text)


@dataclass(frozen=True)
class RowLines:
    """Where a session read from a file with one row per shown result starts, and the line
    of every result (per interaction, in list order; an interaction without results has its
    own row), so that an error about one value names the row that holds it."""

    first: int
    rows: tuple[tuple[int, ...], ...]

    def line(self, position: int, item: int | None = None) -> int:
        """The line of result ``item`` (0-based) of interaction ``position`` (1-based), or
        of the interaction's first row."""
        lines = self.rows[position - 1] if 0 < position <= len(self.rows) else ()
        if not lines:
            return self.first
        return lines[item] if item is not None and 0 <= item < len(lines) else lines[0]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _real(value: Any) -> float:
    """A JSON number as a finite float, else NaN (bools and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        x = float(value)
    except OverflowError:               # an int past float range, given through the API
        return math.nan
    return x if math.isfinite(x) else math.nan


class _Builder:
    """Accumulates validated sessions into column lists."""

    def __init__(self, source: str, click_counts: bool = False, allow_extra: bool = False
                 ) -> None:
        self.source = source
        self.click_counts = click_counts
        self.allow_extra = allow_extra
        self.session_ids: list[str] = []
        self.seen_sessions: set[str] = set()
        self.satisfaction: list[float] = []
        self.inter_satisfaction: list[float] = []
        self.inter_session: list[int] = []
        self.query_ids: list[str] = []
        self.query_texts: list[str] = []
        self.item_inter: list[int] = []
        self.item_rank: list[int] = []
        self.item_doc: list[int] = []
        self.columns: dict[str, list[float]] = {name: [] for name in _ALIGNED}
        self.doc_index: dict[str, int] = {}
        self.qrels: tuple[list[int], list[int], list[float]] = ([], [], [])

    def fail(self, where: str, message: str, number: int | tuple[str, int] | RowLines,
             at: tuple[int, int | None] | None = None) -> None:
        """Raise the error at ``number``; ``at`` (interaction position, result index) names
        the row of a file with one row per result."""
        if isinstance(number, RowLines):
            number = number.line(*at) if at is not None else number.first
        source, line = number if isinstance(number, tuple) else (self.source, number)
        raise InputFormatError(source, f"{where}: {message}", line)

    def doc(self, docid: str) -> int:
        if docid not in self.doc_index:
            self.doc_index[docid] = len(self.doc_index)
        return self.doc_index[docid]

    def check_keys(self, obj: Mapping[str, Any], allowed: frozenset[str], where: str,
                   number: int) -> None:
        if self.allow_extra:
            return
        extra = sorted(map(str, set(obj) - allowed))
        if extra:
            self.fail(where, f"unknown field{'s' if len(extra) > 1 else ''} "
                      f"{', '.join(repr(k) for k in extra)} (known: "
                      f"{', '.join(sorted(allowed))}; use --allow-extra / allow_extra=True "
                      "to ignore)", number)

    def add(self, record: Any, number: int) -> None:
        if not isinstance(record, Mapping):
            self.fail("session", f"expected a JSON object, got {type(record).__name__}",
                      number)
        sid = record.get("session_id")
        if sid is None or isinstance(sid, bool) or not isinstance(sid, (str, int)):
            self.fail("session", "field 'session_id' is missing or not a string/integer",
                      number)
        sid = str(sid)
        if any(c in _LINE_BREAKS for c in sid):
            self.fail("session", f"field 'session_id' must hold no tab or line break, got "
                      f"{sid!r} (session ids are columns of the tab-separated outputs)",
                      number)
        where = f"session '{sid}'"
        interactions = record.get("interactions")
        if not isinstance(interactions, list):
            self.fail(where, "field 'interactions' is missing or not a list", number)
        if sid in self.seen_sessions:
            self.fail(where, "field 'session_id': duplicate session id", number)
        if not interactions:
            self.fail(where, "field 'interactions': has no queries", number)
        self.check_keys(record, SESSION_KEYS, where, number)
        self.seen_sessions.add(sid)
        s = len(self.session_ids)
        self.session_ids.append(sid)
        self.satisfaction.append(self.score(record.get("satisfaction"), where, number))
        for ordinal, (position, interaction) in enumerate(
                self.ordered(interactions, where, number), 1):
            self.add_interaction(sid, s, position, ordinal, interaction, number)
        qrels = record.get("qrels")
        if qrels is not None and not isinstance(qrels, Mapping):
            self.fail(where, "field 'qrels' must be an object {document id: grade}, got "
                      f"{type(qrels).__name__}", number)
        for docid, grade in (qrels or {}).items():
            self.qrels[0].append(s)
            self.qrels[1].append(self.doc(str(docid)))
            self.qrels[2].append(self.grade(grade, f"{where}, field 'qrels' of '{docid}'",
                                            number))

    def ordered(self, interactions: list, where: str, number: int) -> list[tuple[int, Any]]:
        """The interactions with their 1-based positions in the list, in session order:
        by ``index`` where every interaction has one (integers, unique: logs that record a
        query's sequence number, as the TSV's ``interaction`` column), else list order."""
        numbered = list(enumerate(interactions, 1))
        if not all(isinstance(it, Mapping) for it in interactions):
            return numbered                   # add_interaction names the one that is not
        given = ["index" in it for it in interactions]
        if not any(given):
            return numbered
        if not all(given):
            self.fail(f"{where}, interaction {given.index(False) + 1}", "field 'index' is "
                      "missing (give it on every interaction of the session or on none)",
                      number)
        seen: dict[int, int] = {}
        for position, it in numbered:
            value = it["index"]
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"{where}, interaction {position}", "field 'index' must be an "
                          f"integer, got {value!r}", number)
            if value in seen:
                self.fail(f"{where}, interaction {position}", f"field 'index': {value} is "
                          f"also the index of interaction {seen[value]}", number)
            seen[value] = position
        return sorted(numbered, key=lambda pair: pair[1]["index"])

    def score(self, value: Any, where: str, number: int,
              at: tuple[int, int | None] | None = None) -> float:
        """A satisfaction label: a finite number, or absent."""
        if value is None:
            return math.nan
        x = _real(value)
        if math.isnan(x):
            self.fail(where, f"field 'satisfaction' must be a number, got {value!r}", number,
                      at)
        return x

    def grade(self, value: Any, where: str, number: int,
              at: tuple[int, int | None] | None = None) -> float:
        grade = _real(value)
        if math.isnan(grade) or not grade.is_integer() or grade < -2:
            self.fail(where, f"must be an integer >= -2, got {value!r} (real-valued gains go "
                      "in 'gains', or map grades to gains with a gain map)", number, at)
        return grade

    def add_interaction(self, sid: str, s: int, position: int, ordinal: int, it: Any,
                        number: int) -> None:
        """One interaction: ``position`` is its place in the record's list (what errors
        name), ``ordinal`` its place in the session (what default query ids name)."""
        where = f"session '{sid}', interaction {position}"
        if not isinstance(it, Mapping):
            self.fail(where, f"expected an object, got {type(it).__name__}", number)
        self.check_keys(it, INTERACTION_KEYS, where, number)
        if "results" not in it:
            self.fail(where, "field 'results' is missing (give [] for a query with no "
                      "results)", number)
        raw = it["results"]
        if not isinstance(raw, list):
            self.fail(where, f"field 'results' must be a list, got {type(raw).__name__}",
                      number)
        bad = [d for d in raw if isinstance(d, bool) or not isinstance(d, (str, int))]
        if bad:
            self.fail(where, f"field 'results': document ids are strings, got {bad[0]!r}",
                      number)
        results = [str(d) for d in raw]
        i = len(self.query_ids)
        self.inter_session.append(s)
        qid = it.get("query_id")
        text = it.get("query")
        self.query_ids.append(str(qid) if qid is not None else f"{sid}:{ordinal}")
        self.query_texts.append(str(text) if text is not None else "")
        self.inter_satisfaction.append(self.score(it.get("satisfaction"), where, number,
                                                  (position, None)))
        aligned = {name: it.get(name) for name in _ALIGNED}
        if it.get("clicked") is not None:
            if aligned["clicks"] is not None:
                self.fail(where, "give either field 'clicks' or 'clicked', not both", number)
            if not isinstance(it["clicked"], list):
                self.fail(where, "field 'clicked' must be a list of document ids", number)
            unknown = [d for d in map(str, it["clicked"]) if d not in results]
            if unknown:
                self.fail(where, f"field 'clicked': click on document '{unknown[0]}' that "
                          "was not shown", number)
            clicked = set(map(str, it["clicked"]))
            aligned["clicks"] = [1 if d in clicked else 0 for d in results]
        for name, values in aligned.items():
            if values is not None and (not isinstance(values, list) or
                                       len(values) != len(results)):
                count = f"{len(values)} values" if isinstance(values, list) else "no list"
                self.fail(where, f"field '{name}' has {count} for {len(results)} results",
                          number)
        for rank, docid in enumerate(results, 1):
            self.item_inter.append(i)
            self.item_rank.append(rank)
            self.item_doc.append(self.doc(docid))
        n = len(results)
        self.columns["clicks"].extend(self.clicks(aligned["clicks"], n, where, number,
                                                  position))
        for name in ("dwell", "lengths", "gains"):
            self.columns[name].extend(self.non_negative(aligned[name], n, where, name, number,
                                                        position))
        labels = aligned["labels"]
        self.columns["labels"].extend(
            [math.nan] * n if labels is None else
            [self.grade(v, f"{where}, field 'labels'", number, (position, k))
             for k, v in enumerate(labels)])

    def clicks(self, values: list | None, n: int, where: str, number: int,
               position: int) -> list[float]:
        if values is None:
            return [math.nan] * n
        out = []
        for k, value in enumerate(values):
            x = 1.0 if value is True else 0.0 if value is False else _real(value)
            if self.click_counts:
                if math.isnan(x) or x < 0 or not x.is_integer():
                    self.fail(where, f"field 'clicks': click counts must be integers >= 0, "
                              f"got {value!r}", number, (position, k))
            elif x not in (0.0, 1.0):
                self.fail(where, f"field 'clicks' must be 0 or 1, got {value!r} (counts: "
                          "--click-counts / click_counts=True; grades: 'labels'; real "
                          "gains: 'gains')", number, (position, k))
            out.append(x)
        return out

    def non_negative(self, values: list | None, n: int, where: str, name: str,
                     number: int, position: int) -> list[float]:
        if values is None:
            return [math.nan] * n
        out = []
        for k, value in enumerate(values):
            x = _real(value)
            if math.isnan(x) or x < 0:
                self.fail(where, f"field '{name}' must be numbers >= 0, got {value!r}", number,
                          (position, k))
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
            as_int(self.qrels[1]), as_float(self.qrels[2]),
            item_gain=as_float(self.columns["gains"]),
            inter_satisfaction=as_float(self.inter_satisfaction), source=self.source)
