"""Loader for the TREC Session Track 2014 export preprocessed by GraphCM.

Files (tab-separated, Python-literal lists): ``{train,valid,test}_per_query_quid.txt`` with
``sid qid [10 uids] [10 vtypes] [10 clicks]`` per query impression (a session's lines are
consecutive), ``human_label_for_GraphCM_per_query_quid.txt`` with the same columns plus
``[10 graded TREC labels]`` for 856 impressions, and ``query_qid.dict`` / ``url_uid.dict``
mapping query strings and ClueWeb12 ids to the integer ids.
"""

from __future__ import annotations

import ast
from pathlib import Path

from rerankit.errors import InputFormatError
from rerankit.sessions.model import SessionLog, build_log

SPLITS = ("train", "valid", "test")
LABELS_FILE = "human_label_for_GraphCM_per_query_quid.txt"


def read_graphcm(folder: str | Path) -> SessionLog:
    """All sessions of the three splits (in file order), with the human labels attached to
    the impressions they belong to, documents and queries under their original ids."""
    folder = Path(folder)
    queries = {v: k for k, v in _literal(folder / "query_qid.dict").items()}
    urls = {v: k for k, v in _literal(folder / "url_uid.dict").items()}
    labels = {}
    for _, fields in _lines(folder / LABELS_FILE, 6):
        labels[(fields[0], fields[1], tuple(fields[2]))] = fields[5]
    sessions: dict[str, tuple[tuple[str, int], dict]] = {}
    for split in SPLITS:
        path = folder / f"{split}_per_query_quid.txt"
        for number, (sid, qid, uids, _vtypes, clicks) in _lines(path, 5):
            if len(uids) != len(clicks):
                raise InputFormatError(path, "results and clicks differ in length", number)
            try:
                results = [urls[u] for u in uids]
                query = queries[qid]
            except KeyError as err:
                raise InputFormatError(path, f"unknown id {err.args[0]}", number) from None
            interaction = {"query_id": str(qid), "query": query, "results": results,
                           "clicks": clicks}
            label = labels.get((sid, qid, tuple(uids)))
            if label is not None:
                interaction["labels"] = label
            first = sessions.setdefault(str(sid), ((str(path), number),
                                                   {"session_id": str(sid), "interactions": []}))
            first[1]["interactions"].append(interaction)
    return build_log(sessions.values(), str(folder))


def _literal(path: Path) -> dict:
    if not path.is_file():
        raise InputFormatError(path, "file not found")
    try:
        return ast.literal_eval(path.read_text(encoding="utf-8"))
    except (ValueError, SyntaxError) as err:
        raise InputFormatError(path, f"not a Python dict literal ({err})") from None
    except RecursionError:
        raise InputFormatError(path, "not a Python dict literal (nested too deeply)") from None


def _lines(path: Path, columns: int):
    if not path.is_file():
        raise InputFormatError(path, "file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != columns:
                raise InputFormatError(path, f"expected {columns} tab-separated columns, found "
                                       f"{len(parts)}", number)
            try:
                fields = [int(parts[0]), int(parts[1])] + [ast.literal_eval(p)
                                                           for p in parts[2:]]
            except (ValueError, SyntaxError, RecursionError):
                raise InputFormatError(path, "malformed field", number) from None
            yield number, fields
