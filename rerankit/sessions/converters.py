"""Readers for public session-log formats, each converting into :class:`SessionLog` through
the same validation as the JSONL reader, with errors naming the file, line, session and field.

TREC Session track XML (2011-2014; :func:`read_trec_session_xml`)::

    <session num="S">                      -> session_id S
      <topic num="T"/>                     -> session qrels = qrels of topic T (``qrels=``)
      <interaction num="n">                -> interaction n (in document order)
        <query>text</query>                -> query (query_id "S:n")
        <results><result rank="r">         -> results, ordered by rank
            <clueweb12id>ID</clueweb12id>  -> document id (else clueweb09id, docno, url)
        <clicked><click starttime="a" endtime="b"><rank>r</rank>...
                                           -> clicks[r] = 1, dwell[r] += b - a
      <currentquery>                       -> skipped (it has no logged results)

TSV, one row per shown result, TianGong-ST style (:func:`read_session_tsv`): a header line
naming the columns (any order, case-insensitive), tab-separated values, empty cell = none:

    ``session_id``            required
    ``doc_id``, ``rank``      required; an empty doc_id row is a query with no results
    ``interaction``           1-based query position in the session (else consecutive rows
                              with the same query_id form one query)
    ``query_id``, ``query``   the query's id and text
    ``click``                 0/1 (counts with ``click_counts=True``)
    ``dwell``, ``length``, ``label``, ``gain``
                              aligned per-result fields (``dwell``, ``lengths``, ``labels``,
                              ``gains`` of the JSONL format)
    ``query_satisfaction``    the query's satisfaction (same on all its rows)
    ``session_satisfaction``  the session's satisfaction (same on all its rows)
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.parsers import expat

from rerankit.errors import InputFormatError
from rerankit.sessions.model import RowLines, SessionLog, build_log

FORMATS = ("jsonl", "graphcm", "trec-xml", "tsv")


def read_sessions(path: str | Path, data_format: str = "auto", click_counts: bool = False,
                  allow_extra: bool = False, qrels: str | Path | None = None) -> SessionLog:
    """Read a session log in any supported format (``auto``: a folder is a GraphCM export,
    ``.xml`` TREC Session XML, ``.tsv`` the TSV, ``.txt`` the TSV unless its first
    character is ``{`` (JSONL), anything else JSONL)."""
    from rerankit.sessions.graphcm import read_graphcm
    from rerankit.sessions.model import read_jsonl

    path = Path(path)
    kind = data_format
    if kind == "auto":
        suffix = path.suffix.lower()
        kind = "graphcm" if path.is_dir() else "trec-xml" if suffix == ".xml" else \
            "tsv" if suffix == ".tsv" or (suffix == ".txt" and not _starts_json(path)) \
            else "jsonl"
    if kind not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {kind!r}")
    if qrels is not None and kind != "trec-xml":
        raise ValueError("--qrels (topic qrels) applies to --format trec-xml only; other "
                         "formats carry session qrels or labels themselves")
    if kind == "graphcm":
        return read_graphcm(path)
    if kind == "trec-xml":
        return read_trec_session_xml(path, qrels, click_counts)
    if kind == "tsv":
        return read_session_tsv(path, click_counts)
    return read_jsonl(path, click_counts, allow_extra)


# ---------------------------------------------------------------------- TREC Session XML
_DOC_TAGS = ("clueweb12id", "clueweb09id", "docno", "url")


def read_trec_session_xml(path: str | Path, qrels: str | Path | None = None,
                          click_counts: bool = False) -> SessionLog:
    """TREC Session track XML (see the module docstring for the field mapping). ``qrels``: a
    TREC qrels file keyed by topic number, attached to every session of that topic."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "sessions file not found")
    topic_qrels: dict[str, dict[str, int]] = {}
    if qrels is not None:
        from rerankit.data.qrels import read_qrels

        topic_qrels = read_qrels(qrels).to_dict()
    sessions = _TrecXml(path, click_counts).parse()
    for _, record in sessions:
        topic = record.pop("topic", None)
        if topic is not None and topic in topic_qrels:
            record["qrels"] = topic_qrels[topic]
    return build_log(iter(sessions), str(path), click_counts)


class _TrecXml:
    """An expat pass that keeps line numbers, building one JSONL-like dict per session."""

    def __init__(self, path: Path, click_counts: bool) -> None:
        self.path = path
        self.click_counts = click_counts   # else a result clicked twice is clicked (1)
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.stack: list[str] = []
        self.sessions: list[tuple[int, dict]] = []
        self.session: dict | None = None
        self.interaction: dict | None = None
        self.result: dict | None = None
        self.click: dict | None = None
        self.buffer: list[str] = []

    def fail(self, message: str) -> None:
        raise InputFormatError(self.path, message, self.parser.CurrentLineNumber)

    def parse(self) -> list[tuple[int, dict]]:
        with open(self.path, "rb") as handle:
            try:
                self.parser.ParseFile(handle)
            except expat.ExpatError as err:
                raise InputFormatError(self.path, f"invalid XML: {expat.ErrorString(err.code)}",
                                       err.lineno) from None
        if not self.sessions:
            raise InputFormatError(self.path, "no <session> element")
        return self.sessions

    def where(self) -> str:
        sid = self.session["session_id"] if self.session else "?"
        if self.interaction is None:
            return f"session '{sid}'"
        return f"session '{sid}', interaction {len(self.session['interactions']) + 1}"

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.stack.append(tag)
        self.buffer = []
        line = self.parser.CurrentLineNumber
        if tag == "session":
            if "num" not in attrs:
                self.fail("<session> without attribute 'num'")
            self.session = {"session_id": attrs["num"], "interactions": []}
            self.sessions.append((line, self.session))
        elif self.session is None:
            return
        elif tag == "topic" and len(self.stack) >= 2 and self.stack[-2] == "session":
            if "num" in attrs:
                self.session["topic"] = attrs["num"]
        elif tag == "interaction":
            self.interaction = {"results": {}, "clicks": {}, "dwell": {}}
        elif tag == "result" and self.interaction is not None:
            rank = self.integer(attrs.get("rank"), "<result> attribute 'rank'")
            if rank in self.interaction["results"]:
                self.fail(f"{self.where()}: two results at rank {rank}")
            self.result = {"rank": rank}
        elif tag == "click" and self.interaction is not None:
            self.click = {"start": attrs.get("starttime"), "end": attrs.get("endtime")}

    def text(self, data: str) -> None:
        self.buffer.append(data)

    def end(self, tag: str) -> None:
        value = "".join(self.buffer).strip()
        self.buffer = []
        self.stack.pop()
        if self.session is None:
            return
        parent = self.stack[-1] if self.stack else ""
        if tag == "query" and parent == "interaction" and self.interaction is not None:
            self.interaction["query"] = value
        elif tag in _DOC_TAGS and self.result is not None and tag not in self.result:
            self.result[tag] = value
        elif tag == "result" and self.result is not None:
            docid = next((self.result[t] for t in _DOC_TAGS if self.result.get(t)), None)
            if docid is None:
                self.fail(f"{self.where()}: result at rank {self.result['rank']} has no "
                          f"document id ({', '.join(_DOC_TAGS)})")
            self.interaction["results"][self.result["rank"]] = docid
            self.result = None
        elif tag == "rank" and self.click is not None:
            self.click["rank"] = self.integer(value, "<click> <rank>")
        elif tag == "click" and self.click is not None:
            self.add_click(self.click)
            self.click = None
        elif tag == "interaction" and self.interaction is not None:
            self.close_interaction()
        elif tag == "session":
            self.session = None

    def add_click(self, click: dict) -> None:
        rank = click.get("rank")
        if rank is None:
            self.fail(f"{self.where()}: <click> without <rank>")
        it = self.interaction
        clicks = it["clicks"].get(rank, 0) + 1
        it["clicks"][rank] = clicks if self.click_counts else 1
        if click["start"] is not None and click["end"] is not None:
            start = self.real(click["start"], "<click> attribute 'starttime'")
            end = self.real(click["end"], "<click> attribute 'endtime'")
            it["dwell"][rank] = it["dwell"].get(rank, 0.0) + max(0.0, end - start)

    def close_interaction(self) -> None:
        it = self.interaction
        ranks = sorted(it["results"])
        unknown = [r for r in it["clicks"] if r not in it["results"]]
        if unknown:
            self.fail(f"{self.where()}: click on rank {unknown[0]}, which no result has")
        n = len(self.session["interactions"]) + 1
        entry: dict[str, Any] = {"query_id": f"{self.session['session_id']}:{n}",
                                 "query": it.get("query", ""),
                                 "results": [it["results"][r] for r in ranks],
                                 "clicks": [it["clicks"].get(r, 0) for r in ranks]}
        if it["dwell"]:
            entry["dwell"] = [it["dwell"].get(r, 0.0) for r in ranks]
        self.session["interactions"].append(entry)
        self.interaction = None

    def integer(self, value: str | None, what: str) -> int:
        try:
            return int(str(value).strip())
        except ValueError:
            self.fail(f"{self.where()}: {what} must be an integer, got {value!r}")

    def real(self, value: str, what: str) -> float:
        try:
            x = float(value)
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            self.fail(f"{self.where()}: {what} must be a number, got {value!r}")
        return x


# ---------------------------------------------------------------------- TSV
_TSV_REQUIRED = ("session_id", "doc_id", "rank")
_TSV_ALIGNED = {"click": "clicks", "dwell": "dwell", "length": "lengths", "label": "labels",
                "gain": "gains"}
_TSV_COLUMNS = frozenset({*_TSV_REQUIRED, *_TSV_ALIGNED, "interaction", "query_id", "query",
                          "query_satisfaction", "session_satisfaction"})


def read_session_tsv(path: str | Path, click_counts: bool = False) -> SessionLog:
    """One row per shown result with a header (see the module docstring for the columns)."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, "sessions file not found")
    sessions = _tsv_sessions(path)
    return build_log(((line, record) for line, record in sessions), str(path), click_counts)


def _starts_json(path: Path) -> bool:
    """True when the file's first non-blank character (after a byte-order mark) is '{'."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False   # the reader names the problem
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def _tsv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:   # Excel writes a BOM
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise InputFormatError(path, "empty file (expected a header line)") from None
        except UnicodeDecodeError as err:
            raise InputFormatError(path, f"not UTF-8 text ({err.reason})", 1) from None
        missing = [c for c in _TSV_REQUIRED if c not in header]
        unknown = [c for c in header if c not in _TSV_COLUMNS]
        if missing or unknown:
            problem = f"missing column {missing[0]!r}" if missing else \
                f"unknown column {unknown[0]!r}"
            raise InputFormatError(path, f"header: {problem} (columns: "
                                   f"{', '.join(sorted(_TSV_COLUMNS))})", 1)
        if len(set(header)) != len(header):
            raise InputFormatError(path, "header: a column is named twice", 1)
        if "query_id" not in header and "interaction" not in header:
            raise InputFormatError(path, "header: needs a 'query_id' or an 'interaction' "
                                   "column to tell a session's queries apart", 1)
        try:
            for row in reader:
                number = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise InputFormatError(path, f"expected {len(header)} tab-separated "
                                           f"fields, found {len(row)}", number)
                yield number, {h: c.strip() for h, c in zip(header, row, strict=True)}
        except UnicodeDecodeError as err:
            raise InputFormatError(path, f"not UTF-8 text ({err.reason})",
                                   reader.line_num + 1) from None


def _tsv_sessions(path: Path) -> list[tuple[int, dict]]:
    sessions: dict[str, tuple[int, dict]] = {}
    current: dict[str, Any] = {}      # session id -> key of its last query block
    for number, row in _tsv_rows(path):
        sid = row["session_id"]
        if not sid:
            raise InputFormatError(path, "field 'session_id' is empty", number)
        where = f"session '{sid}'"
        first_line, record = sessions.setdefault(sid, (number, {"session_id": sid,
                                                                "interactions": [],
                                                                "_blocks": {}}))
        if row.get("interaction"):
            key: Any = ("n", _tsv_number(row["interaction"], path, number, where, "interaction",
                                         integer=True))
        else:
            count = len(record["interactions"])
            same = count and current.get(sid) == row.get("query_id", "")
            key = ("q", count - 1 if same else count)
        current[sid] = row.get("query_id", "")
        block = record["_blocks"].get(key)
        if block is None:
            block = {"key": key, "line": number, "query_id": row.get("query_id") or None,
                     "query": row.get("query") or None, "rows": []}
            record["_blocks"][key] = block
            record["interactions"].append(block)
        satisfaction = row.get("session_satisfaction")
        if satisfaction:
            value = _tsv_number(satisfaction, path, number, where, "session_satisfaction")
            if record.setdefault("satisfaction", value) != value:
                raise InputFormatError(path, f"{where}: field 'session_satisfaction' differs "
                                       "between rows of the session", number)
        satisfaction = row.get("query_satisfaction")
        if satisfaction:
            value = _tsv_number(satisfaction, path, number, where, "query_satisfaction")
            if block.setdefault("satisfaction", value) != value:
                raise InputFormatError(path, f"{where}: field 'query_satisfaction' differs "
                                       "between rows of one query", number)
        if row["doc_id"]:
            rank = _tsv_number(row["rank"], path, number, where, "rank", integer=True)
            values = {name: _tsv_number(row[col], path, number, where, col)
                      for col, name in _TSV_ALIGNED.items() if row.get(col)}
            block["rows"].append((rank, row["doc_id"], values, number))
    out = []
    for first_line, record in sessions.values():
        blocks = record.pop("_blocks")
        if any(k[0] == "n" for k in blocks):
            record["interactions"].sort(key=lambda b: b["key"][1])
        lines = RowLines(first_line, tuple(tuple(r[3] for r in sorted(b["rows"],
                                                                      key=lambda r: r[0]))
                                           or (b["line"],) for b in record["interactions"]))
        record["interactions"] = [_tsv_interaction(b, path, record["session_id"])
                                  for b in record["interactions"]]
        out.append((lines, record))
    return out


def _tsv_interaction(block: dict, path: Path, sid: str) -> dict:
    rows = sorted(block["rows"], key=lambda r: r[0])
    for before, row in itertools.pairwise(rows):
        if row[0] == before[0]:
            raise InputFormatError(path, f"session '{sid}': two results at rank {row[0]} of "
                                   f"one query (the other on line {before[3]})", row[3])
    entry: dict[str, Any] = {"results": [r[1] for r in rows]}
    for key in ("query_id", "query", "satisfaction"):
        if block.get(key) is not None:
            entry[key] = block[key]
    for name in _TSV_ALIGNED.values():
        given = [name in r[2] for r in rows]
        if any(given) and not all(given):
            line = rows[given.index(False)][3]
            raise InputFormatError(path, f"session '{sid}': field '{name}' is empty on this "
                                   "row but given on other rows of the query", line)
        if rows and all(given):
            entry[name] = [r[2][name] for r in rows]
    return entry


def _tsv_number(text: str, path: Path, number: int, where: str, column: str,
                integer: bool = False) -> float | int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and not value.is_integer()):
        kind = "an integer" if integer else "a number"
        raise InputFormatError(path, f"{where}: field '{column}' must be {kind}, got {text!r}",
                               number)
    return int(value) if integer or value.is_integer() else value
