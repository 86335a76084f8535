"""The score cache opens only files rerankit wrote: a user's database or text file named as
the cache is refused, named, and left byte for byte as it was; a new or empty file becomes a
cache, and caches written by earlier versions (before the application id) still open."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rerankit.errors import InputFormatError
from rerankit.pipeline import Pipeline, ScoreCache, Stage
from rerankit.rerank.cache import APPLICATION_ID, check_score_cache
from rerankit.retrieve.bm25 import BM25


def through_pipeline(path: Path) -> None:
    """The Python API's way in: a pipeline given the cache file."""
    Pipeline([Stage(BM25(quiet=True))], cache=path).score_cache()


def user_database(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
        db.commit()
    return path


def earlier_cache(path: Path, scores: dict[bytes, float]) -> Path:
    """A cache as every version before the application id wrote it (the statements of
    ScoreCache.__init__ from its first commit, e2c26b5, to 95cf8e9)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                   "value TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS scores (key BLOB PRIMARY KEY, "
                   "value BLOB NOT NULL) WITHOUT ROWID")
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", ("1",))
        db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)",
                       [(k, np.array([v], dtype="<f8").tobytes()) for k, v in scores.items()])
        db.commit()
    return path


@pytest.mark.parametrize("kind", ["database", "text", "other-app-id"])
@pytest.mark.parametrize("open_cache", [ScoreCache, check_score_cache, through_pipeline],
                         ids=["ScoreCache", "check", "pipeline"])
def test_a_file_rerankit_did_not_write_is_refused_and_left_unchanged(tmp_path, kind,
                                                                      open_cache):
    path = tmp_path / "my.db"
    if kind == "database":
        user_database(path)
    elif kind == "text":
        path.write_text("notes: call Ada\n")
    else:                                  # another application's empty database
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA application_id = 42")
    before = path.read_bytes()
    with pytest.raises(InputFormatError) as raised:
        open_cache(path)
    message = str(raised.value)
    assert re.match(rf"{re.escape(str(path))}: not a rerankit score cache \(", message)
    assert "delete" not in message and "\n" not in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["my.db"]     # no journal, WAL or shm


def test_a_new_or_empty_file_becomes_a_cache_marked_as_rerankits(tmp_path):
    for path in (tmp_path / "sub" / "new.sqlite", tmp_path / "empty.sqlite"):
        if path.name == "empty.sqlite":
            path.touch()
        check_score_cache(path)
        cache = ScoreCache(path)
        cache.put_many([(b"k", np.array([0.25, 0.5]))])
        cache.close()
        with contextlib.closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        check_score_cache(path)
        again = ScoreCache(path)
        assert again.get_many([b"k"])[b"k"].tolist() == [0.25, 0.5]
        again.close()


def test_a_cache_written_before_the_application_id_still_opens(tmp_path):
    path = earlier_cache(tmp_path / "scores.sqlite", {b"a": 1.5, b"b": -2.0})
    check_score_cache(path)
    cache = ScoreCache(path)
    assert {k: v.tolist() for k, v in cache.get_many([b"a", b"b", b"c"]).items()} == \
        {b"a": [1.5], b"b": [-2.0]}
    cache.put_many([(b"c", np.array([3.0]))])
    assert len(cache) == 3
    cache.close()


def test_a_table_added_to_an_earlier_cache_makes_it_someone_elses(tmp_path):
    path = earlier_cache(tmp_path / "scores.sqlite", {})
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
    with pytest.raises(InputFormatError, match=r"not a rerankit score cache .*meta, notes"):
        ScoreCache(path)


def test_processes_creating_one_new_cache_together_all_open_it(tmp_path):
    path = tmp_path / "scores.sqlite"

    def open_and_write(i: int) -> None:
        cache = ScoreCache(path)
        cache.put_many([(bytes([i]), np.array([float(i)]))])
        cache.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(open_and_write, range(8)))
    cache = ScoreCache(path)
    assert len(cache) == 8
    cache.close()


def test_another_schema_of_rerankits_cache_is_named(tmp_path):
    path = tmp_path / "scores.sqlite"
    ScoreCache(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE meta SET value = '2' WHERE name = 'schema'")
        db.commit()
    with pytest.raises(InputFormatError, match="score cache has schema 2, this rerankit "
                                               "reads 1"):
        ScoreCache(path)
