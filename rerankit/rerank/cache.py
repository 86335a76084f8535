"""Content-addressed score cache in SQLite.

A key is the SHA-256 of everything that determines a score: the reranker's fingerprint
(class, model content hash or hub name, prompt template text, window/step, seed, ...), the
query text and the document text -- or, for rerankers whose scores depend on the whole
candidate list (listwise, pairwise), every text of the list in order. Changing any of them
changes the key, so exactly the affected entries miss.

Writes are SQLite transactions (write-ahead log), committed after every scored batch: a run
killed half-way keeps what it finished and the next run resumes from it. A file that is not
a readable cache, a folder where the file should be, or a file where its folder should be
is a clear error naming it, never silently ignored or overwritten.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rerankit.data.atomic import explain
from rerankit.errors import InputFormatError, OutputWriteError

SCHEMA_VERSION = "1"
_CHUNK = 500   # SQLite's default limit on host parameters is 999


def fingerprint_digest(fingerprint: dict) -> bytes:
    """A stable hash of a reranker fingerprint (canonical JSON)."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def document_key(stage: bytes, query: str, text: str) -> bytes:
    """Key of one (query, document) score of a pointwise reranker."""
    return _key(stage, b"doc", query, [text])


def list_key(stage: bytes, query: str, texts: Sequence[str]) -> bytes:
    """Key of a whole candidate list's scores (listwise and pairwise rerankers)."""
    return _key(stage, b"list", query, texts)


def _key(stage: bytes, kind: bytes, query: str, texts: Iterable[str]) -> bytes:
    digest = hashlib.sha256(stage + kind)
    for part in (query, *texts):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))   # length-prefixed: no ambiguity
        digest.update(data)
    return digest.digest()


class ScoreCache:
    """Scores (float64 arrays) by key, in one SQLite file."""

    def __init__(self, path: str | Path, defer_writes: bool = False) -> None:
        #: with ``defer_writes`` new scores collect in :attr:`pending` for another process
        #: (the Ray engine's driver, the single writer) to store
        self.defer_writes, self.pending = defer_writes, []
        self.path = Path(path)
        if self.path.is_dir():
            raise InputFormatError(self.path, "is a folder; the score cache is a file (give "
                                   "a file name, or set RERANKIT_CACHE to a folder)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputWriteError(self.path, explain(self.path, err)) from None
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                             "value TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS scores (key BLOB PRIMARY KEY, "
                             "value BLOB NOT NULL) WITHOUT ROWID")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                             (SCHEMA_VERSION,))
            self._db.commit()
            (version,) = self._db.execute(
                "SELECT value FROM meta WHERE name = 'schema'").fetchone()
        except sqlite3.DatabaseError as err:
            raise self._unreadable(err) from None
        if version != SCHEMA_VERSION:
            raise InputFormatError(self.path, f"score cache has schema {version}, this "
                                   f"rerankit writes {SCHEMA_VERSION}; delete the file")

    def _unreadable(self, err: Exception) -> InputFormatError:
        return InputFormatError(self.path, f"not a readable score cache ({err}); delete it "
                                "(scores are recomputed) or run without the cache")

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached scores among ``keys``."""
        found: dict[bytes, np.ndarray] = {}
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start:start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(
                        f"SELECT key, value FROM scores WHERE key IN ({marks})", chunk):
                    found[bytes(key)] = np.frombuffer(value, dtype="<f8").copy()
        except sqlite3.DatabaseError as err:
            raise self._unreadable(err) from None
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        """Store scores in one transaction (all or nothing)."""
        rows = [(key, np.ascontiguousarray(value, dtype="<f8").tobytes())
                for key, value in items]
        if self.defer_writes:
            self.pending.extend(rows)
        else:
            self.put_raw(rows)

    def take_pending(self) -> list[tuple[bytes, bytes]]:
        """The deferred writes so far (and forget them)."""
        rows, self.pending = self.pending, []
        return rows

    def put_raw(self, rows: list[tuple[bytes, bytes]]) -> None:
        """Store rows taken from another cache's :meth:`take_pending`, in one transaction."""
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", rows)
        except sqlite3.DatabaseError as err:
            raise self._unreadable(err) from None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        self._db.close()
