"""Which entries of an existing output folder rerankit wrote: the one rule by which every
command decides whether it may replace that folder.

Replacing an output folder deletes everything in it, so a folder is replaced only when it
holds nothing but what the command itself writes (README: "no command deletes anything it
did not create"). A name alone does not make an entry rerankit's: a folder, or a symbolic
link, where rerankit writes a file holds something rerankit never wrote, and so does a file
where it writes a folder.

A command with fixed file names checks an existing folder against them (``rerankit run``:
its four result files, a saved LTR model's two); one whose files a library names
(``rerankit train``: the model files sentence-transformers saves; a saved index) lists
what it wrote in its record file (:data:`FILES_KEY`) and checks against that list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

#: the key under which a record file (``rerankit.json``, ``rerankit-training.json``) lists
#: the files written with it, as paths relative to the folder
FILES_KEY = "files"


def foreign_entries(folder: Path, written: Iterable[str]) -> list[str]:
    """The entries under ``folder`` (sorted relative paths) that a writer of the files
    ``written`` (relative POSIX paths) did not write: other names, symbolic links, a folder
    where it writes a file, a file where it writes a folder, and anything inside a folder
    it writes that it did not put there. Empty for an empty folder."""
    files = {PurePosixPath(name) for name in written}
    folders = {parent for name in files for parent in name.parents} - {PurePosixPath(".")}
    return _foreign(folder, PurePosixPath(), files, folders)


def _foreign(folder: Path, prefix: PurePosixPath, files: set[PurePosixPath],
             folders: set[PurePosixPath]) -> list[str]:
    found: list[str] = []
    for entry in sorted(folder.iterdir()):
        relative = prefix / entry.name
        if entry.is_symlink():
            found.append(str(relative))
        elif relative in files and entry.is_file():
            continue
        elif relative in folders and entry.is_dir():
            found += _foreign(entry, relative, files, folders)
        else:
            found.append(str(relative))
    return found


def unlisted_entries(folder: Path, record: str) -> list[str]:
    """The entries under ``folder`` that the writer of its ``record`` file did not write:
    every entry when ``record`` is missing, not a regular file or not a JSON object with
    a :data:`FILES_KEY` list of paths; otherwise the entries other than ``record`` and
    the files it lists."""
    return foreign_entries(folder, [record, *recorded_files(folder / record)])


def recorded_files(record: Path) -> list[str]:
    """The files ``record`` lists under :data:`FILES_KEY` ([] when it lists none or is
    not a regular file holding a JSON object)."""
    if record.is_symlink() or not record.is_file():
        return []
    try:
        content = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    listed = content.get(FILES_KEY) if isinstance(content, dict) else None
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        return []
    return [name for name in listed if _inside(name)]


def _inside(name: str) -> bool:
    """A relative path that stays inside the folder (no '..', not absolute)."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts


def shown(folder: Path, entries: list[str], limit: int = 5) -> str:
    """The first ``limit`` of ``folder``'s ``entries`` for a one-line message, each folder
    or symbolic link said to be one, with how many more there are."""
    def kind(name: str) -> str:
        entry = folder / name
        return " (a symbolic link)" if entry.is_symlink() else \
            " (a folder)" if entry.is_dir() else ""

    more = len(entries) - limit
    return ", ".join(name + kind(name) for name in entries[:limit]) + \
        (f" and {more} more" if more > 0 else "")
