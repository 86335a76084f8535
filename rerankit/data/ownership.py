"""Which entries of an existing output folder rerankit wrote: the one rule by which every
command decides whether it may replace that folder.

Replacing an output folder deletes everything in it, so a folder is replaced only when it
holds nothing but what the command itself writes (README: "no command deletes anything it
did not create"). A name alone does not make an entry rerankit's: a folder, or a symbolic
link, where rerankit writes a file holds something rerankit never wrote, and so does a file
where it writes a folder.

A command checks an existing folder against the files it writes (``rerankit run``: its four
result files).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath


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
