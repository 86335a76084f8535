"""Reading a saved index (``BM25.save``, ``Dense.save``, ``Splade.save``) back, for every
kind alike: a folder that is not an index, is another kind's, or has a missing, truncated or
damaged file is refused with one :class:`InputFormatError` naming the folder and the file,
never a bare ``KeyError``, ``JSONDecodeError`` or a FAISS C++ trace from deep inside."""

from __future__ import annotations

import contextlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from rerankit.data.atomic import INDEX_RECORD
from rerankit.data.ownership import FILES_KEY
from rerankit.errors import InputFormatError, RerankitError

#: an entry that only one kind of index writes into its folder, and the class that saves it
_KIND_OF_ENTRY = {"bm25s": "BM25", "rank_bm25.pkl": "BM25", "faiss.index": "Dense",
                  "data.npy": "Splade"}
#: what reading a damaged file raises (json, numpy, pickle, FAISS, a missing file)
_READ_ERRORS = (OSError, ValueError, RuntimeError, EOFError, KeyError, TypeError,
                AttributeError, IndexError, pickle.UnpicklingError)


@contextlib.contextmanager
def index_part(folder: Path, name: str) -> Iterator[None]:
    """Read the file ``name`` of the saved index in ``folder`` inside this block: a failure
    (missing, truncated, not the expected content) becomes one error naming both."""
    try:
        yield
    except RerankitError:
        raise
    except FileNotFoundError:
        raise InputFormatError(folder, f"{name} is missing; rebuild the index") from None
    except _READ_ERRORS as err:
        raise InputFormatError(folder, f"{name} is truncated or damaged ({_reason(err)}); "
                               "rebuild the index") from None


def _reason(err: Exception) -> str:
    """A one-line cause: the field a ``KeyError`` names, FAISS's own words without its C++
    location, else the first line of the message."""
    if isinstance(err, KeyError):
        return f"no field {err.args[0]!r}"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text.rsplit("Error: ", 1)[-1]


def read_index_meta(folder: str | Path, kind: str, expected_format: int
                    ) -> tuple[dict, pa.Array]:
    """The record and document ids of an index saved in ``folder`` by the class named
    ``kind`` (``BM25``, ``Dense``, ``Splade``), after
    checking that it is one (not another kind's), written by a compatible version, with
    every file it lists present and every ``.npy`` array whole."""
    folder = Path(folder)
    if not (folder / INDEX_RECORD).is_file():
        raise InputFormatError(folder, f"not a rerankit {kind} index (no {INDEX_RECORD})")
    meta = _read_json(folder, INDEX_RECORD)
    if not isinstance(meta, dict):
        raise InputFormatError(folder, f"{INDEX_RECORD} is not a JSON object")
    if meta.get("format") != expected_format:
        raise InputFormatError(folder, f"index format {meta.get('format')} is not supported "
                               f"by this rerankit (expects {expected_format}); rebuild it")
    saved_by = sorted({_KIND_OF_ENTRY[entry.name] for entry in folder.iterdir()
                       if entry.name in _KIND_OF_ENTRY})
    if saved_by and kind not in saved_by:
        raise InputFormatError(folder, f"not a {kind} index: it was saved by {saved_by[0]}")
    for key, kind_of_value in (("params", dict), ("num_docs", int)):
        if not isinstance(meta.get(key), kind_of_value):
            raise InputFormatError(folder, f"{INDEX_RECORD} has no valid {key!r}")
    listed = meta.get(FILES_KEY, [])
    for name in listed:
        if not (folder / name).is_file():
            raise InputFormatError(folder, f"{name} is missing; rebuild the index")
    for name in listed:
        if name.endswith(".npy"):
            with index_part(folder, name):
                np.load(folder / name, mmap_mode="r")
    doc_ids = _doc_ids(folder)
    if len(doc_ids) != meta["num_docs"]:
        raise InputFormatError(folder, "document ids do not match the index")
    return meta, doc_ids


def _doc_ids(folder: Path) -> pa.Array:
    """``doc_ids.json``, a JSON list of strings, as an Arrow string array."""
    ids = _read_json(folder, "doc_ids.json")
    try:
        doc_ids = pa.array(ids, type=pa.string()) if isinstance(ids, list) else None
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        doc_ids = None
    if doc_ids is None or doc_ids.null_count:
        raise InputFormatError(folder, "doc_ids.json is not a list of document ids")
    return doc_ids


def _read_json(folder: Path, name: str) -> object:
    """The content of the JSON file ``name`` of a saved index, refused when missing or not
    valid JSON."""
    with index_part(folder, name):
        text = (folder / name).read_bytes()
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputFormatError(folder, f"{name} is not valid JSON ({err}); rebuild the "
                               "index") from None
