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

Only a missing or empty file becomes a new cache. An existing file is used only when it is
one rerankit wrote: SQLite's application id says so (caches written since it was set), or,
for the caches written before, the exact two tables every earlier version created. Any
other file (a user's database, a text file) is refused unread and unchanged: rerankit
never adds its tables to a file it did not create.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rerankit.data.atomic import explain
from rerankit.errors import InputFormatError, OutputWriteError

SCHEMA_VERSION = "1"
#: SQLite's application id (header offset 68) of a rerankit score cache: "RRKS"
APPLICATION_ID = int.from_bytes(b"RRKS", "big")
#: the tables of a score cache, as SQLite records them; every version wrote exactly these
TABLES = {
    "meta": "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "scores": "CREATE TABLE scores (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
}
_SQLITE_HEADER = b"SQLite format 3\x00"
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


def check_score_cache(path: str | Path) -> None:
    """Refuse, without changing it, an existing file that is not a rerankit score cache (a
    missing or empty file is fine: it becomes one); the run's check before any work."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    _refuse_non_sqlite(path)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=60)) as db:
            _identify(db, path)
    except sqlite3.DatabaseError as err:
        raise _unopenable(path, err) from None


def _refuse_non_sqlite(path: Path) -> None:
    """A non-empty file without SQLite's header is no cache (refused before SQLite opens
    it, so the reason is this file's, not SQLite's)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as err:
        raise InputFormatError(path, f"cannot read the score cache ({err.strerror})") from None
    if header and header != _SQLITE_HEADER:
        raise _foreign(path, "not an SQLite database")


def _identify(db: sqlite3.Connection, path: Path) -> bool:
    """True for rerankit's own cache, False for an empty database (a new cache); raises
    for anything else. Reads only."""
    (application_id,) = db.execute("PRAGMA application_id").fetchone()
    tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    if application_id == APPLICATION_ID or (application_id == 0 and tables == TABLES):
        return True
    if application_id == 0 and not tables and \
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
        return False
    if application_id:
        found = f"application id {application_id}"
    else:
        found = "tables " + ", ".join(sorted(tables)) if tables else "other schema objects"
    raise _foreign(path, f"an SQLite database with {found}")


def _foreign(path: Path, what: str) -> InputFormatError:
    return InputFormatError(path, f"not a rerankit score cache ({what}); rerankit leaves "
                            "it as it is: give another score-cache file or run without the cache")


def _unopenable(path: Path, err: Exception) -> InputFormatError:
    return InputFormatError(path, f"cannot open the score cache ({err}); give another "
                            "score-cache file or run without the cache")


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
        if self.path.is_file():
            _refuse_non_sqlite(self.path)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
        except sqlite3.DatabaseError as err:
            raise _unopenable(self.path, err) from None
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        """Check the file is rerankit's cache (making an empty one a cache) and its schema."""
        try:
            if not _identify(self._db, self.path):
                self._create()
            self._db.execute("PRAGMA journal_mode=WAL")
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        except sqlite3.DatabaseError as err:
            raise _unopenable(self.path, err) from None
        version = row[0] if row else None
        if version != SCHEMA_VERSION:
            raise InputFormatError(self.path, f"score cache has schema {version}, this "
                                   f"rerankit reads {SCHEMA_VERSION}; give another "
                                   "score-cache file or run without the cache")

    def _create(self) -> None:
        """Make the empty database a cache, in one transaction that first checks again
        that it is empty (another process may have made it one meanwhile)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if _identify(self._db, self.path):
                return
            self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for sql in TABLES.values():
                self._db.execute(sql)
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _unreadable(self, err: Exception) -> InputFormatError:
        """A read or write failing in a file already known to be rerankit's cache (so
        deleting it loses nothing but scores)."""
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
