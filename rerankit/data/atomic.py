"""Atomic file writes: write to a temporary file in the same folder, then rename.

Every OS error on the way (the folder cannot be created because a file is in the way, no
permission, a read-only file system, a full disk) becomes :class:`OutputWriteError` naming
the target and the reason, and leaves the target as it was. A folder is replaced only
when it holds nothing but what the caller writes (``foreign``, by the rule of
:mod:`rerankit.data.ownership`), so an output path given by mistake never deletes a user's
files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TextIO

from rerankit.data.ownership import shown, unlisted_entries
from rerankit.errors import OutputWriteError


def explain(target: Path, err: OSError) -> OSError:
    """``err`` with a reason that names the path at fault (the file in the way, the folder
    that is not writable), for :class:`OutputWriteError`."""
    if isinstance(err, OutputWriteError):
        return err
    existing = nearest_existing(target)
    if err.errno in (errno.ENOTDIR, errno.EEXIST) and existing.exists() and \
            not existing.is_dir():
        reason = f"{existing} is a file, not a folder"
    elif err.errno in (errno.EACCES, errno.EPERM):
        folder = existing if existing.is_dir() else existing.parent
        reason = f"Permission denied (cannot write in {folder})"
    elif err.errno == errno.EROFS:
        reason = f"Read-only file system (cannot write in {existing})"
    elif err.errno == errno.EISDIR:
        reason = f"{err.filename or target} is a folder, not a file"
    else:
        return err
    return OSError(err.errno, reason)


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (as a file or a folder)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(target: str | Path, folder: bool = False) -> None:
    """Fail early, before any work, when ``target`` cannot be written: a file is where a
    folder must be created, the folder to create it in is not writable, or the target's
    kind is wrong (a folder where a file goes, or the reverse)."""
    target = Path(target)
    if not folder and is_stdout(target):     # already open: nothing to check
        return
    if not folder and target.is_dir():       # before the shortcut: is_special counts folders
        raise OutputWriteError(target, OSError(errno.EISDIR, f"{target} is a folder, not a file"))
    if not folder and is_special(target):    # written through when the time comes
        return
    if target.is_symlink():
        target = target.resolve()
    existing = nearest_existing(target)
    if existing == Path(os.path.abspath(target)):
        if folder and not target.is_dir():
            raise OutputWriteError(target, OSError(errno.ENOTDIR,
                                                   f"{target} is a file, not a folder"))
        if not folder and target.is_dir():
            raise OutputWriteError(target, OSError(errno.EISDIR,
                                                   f"{target} is a folder, not a file"))
        existing = existing.parent
    if not existing.is_dir():
        raise OutputWriteError(target, OSError(errno.ENOTDIR,
                                               f"{existing} is a file, not a folder"))
    if not os.access(existing, os.W_OK | os.X_OK):
        code = errno.EROFS if _read_only_mount(existing) else errno.EACCES
        raise OutputWriteError(target, explain(target, OSError(code, "")))


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputWriteError(path, explain(path, err)) from err


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                 check: Callable[[Path], None] | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path``; on success rename it over ``path``.

    If the body raises (or the process dies), ``path`` is left untouched and the
    temporary file is removed, so a half-written file never looks like a finished one.
    ``check``, when given, is called with the finished temporary file before the rename
    (a writer's read-back validation); if it raises, ``path`` is likewise untouched. It is
    not called for standard output, devices and pipes, which cannot be read back.
    An OS error while writing (disk full, file too large, no permission) becomes
    :class:`OutputWriteError` naming ``path``. A symbolic link stays and its target is
    replaced; a device or named pipe (``/dev/stdout``) is written through, not replaced.
    ``-`` writes to the already-open standard output (``sys.stdout``), which opening
    ``/dev/stdout`` again would truncate when it is a file (``>> log.txt``); so does a
    device path that is standard output's open file (``/dev/stdout``, ``/dev/fd/1``, see
    :func:`open_standard_stream`), and one that is standard error's is written through
    ``sys.stderr``. Its errors (a closed pipe, a full disk) stay plain OS errors,
    for the CLI's standard-output messages.
    """
    path = Path(path)
    standard = sys.stdout if is_stdout(path) else open_standard_stream(path)
    if standard is not None:
        stream = standard if "b" not in mode else standard.buffer
        yield stream
        stream.flush()
        return
    if path.is_dir():
        raise OutputWriteError(path, OSError(errno.EISDIR, f"{path} is a folder, not a file"))
    if is_special(path):                  # a device or a pipe: write through it
        with _stream(path, mode, encoding) as handle:
            yield handle
        return
    if path.is_symlink():                 # replace the file the link names, keep the link
        path = path.resolve()
    _make_parent(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, _permissions(path, 0o666))   # mkstemp's 0600 would hide the file
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputWriteError(path, explain(path, err)) from err
        raise


def _permissions(path: Path, default: int) -> int:
    """The mode a replacement for ``path`` gets: the existing file's or folder's, else what
    ``open``/``mkdir`` would give (``default`` less the process's umask)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    mask = os.umask(0)
    os.umask(mask)
    return default & ~mask


def is_stdout(path: str | Path) -> bool:
    """``-``, a command's name for standard output as its output file."""
    return str(path) == "-"


def open_standard_stream(path: Path) -> TextIO | None:
    """``sys.stdout`` (``sys.stderr``) when ``path`` is a device or /dev, /proc name
    (``/dev/stdout``, ``/dev/fd/2``, ``/proc/self/fd/1``) of the file standard output
    (standard error) has open, compared by device and inode, else None: opening it again
    with "w" would truncate a file the stream appends to (``>> log.txt``, ``2>> log.txt``)
    and write over it from the start. A regular file's own name is not (it is replaced
    atomically, as ``--force`` asked)."""
    if not is_special(path):
        return None
    try:
        named = os.stat(path)
    except OSError:                 # a name that resolves to nothing
        return None
    for descriptor, stream in ((1, sys.stdout), (2, sys.stderr)):
        try:
            opened = os.fstat(descriptor)
        except OSError:             # that descriptor is closed
            continue
        if (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
            return stream
    return None


def is_special(path: Path) -> bool:
    """Standard output (``-``), a device, a named pipe or a file under /dev or /proc
    (``/dev/stdout``): written through, never replaced or read back."""
    return is_stdout(path) or str(Path(os.path.abspath(path))).startswith(("/dev/", "/proc/")) \
        or (path.exists() and not path.is_file())


@contextlib.contextmanager
def _stream(path: Path, mode: str, encoding: str | None) -> Iterator[IO]:
    """Write straight into a device or a named pipe (never rename over it: renaming over
    ``/dev/full`` or a FIFO would replace it with a regular file)."""
    try:
        with open(path, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
    except OSError as err:
        raise OutputWriteError(path, explain(path, err)) from err


def is_empty_folder(folder: Path) -> bool:
    """True for a folder without entries."""
    return folder.is_dir() and next(folder.iterdir(), None) is None


#: the record of a saved index (``BM25.save``, ``Dense.save``, ``Splade.save``), which
#: lists the index's files
INDEX_RECORD = "rerankit.json"


def index_foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that no index save wrote: all but its ``rerankit.json``
    and the files that lists (:func:`staged_files`, recorded by the save)."""
    return unlisted_entries(folder, INDEX_RECORD)


def staged_files(staging: Path) -> list[str]:
    """The files written so far into a staging folder of :func:`atomic_folder` (relative
    POSIX paths, sorted, its staging mark left out): what a record lists as written."""
    return sorted(path.relative_to(staging).as_posix() for path in staging.rglob("*")
                  if path.is_file() and path != staging / STAGING_MARK)


#: the file that marks a folder as one of rerankit's staging folders: the pid, host, pid
#: namespace, boot id and start time of the process filling it (:func:`_process_mark`);
#: a later write removes a marked folder whose process is gone
STAGING_MARK = ".rerankit-staging"
#: the name prefix of a staging folder made inside the (empty) folder it fills
IN_PLACE_STAGING = ".rerankit-staging"


@contextlib.contextmanager
def atomic_folder(path: str | Path,
                  foreign: Callable[[Path], list[str]] = index_foreign_entries
                  ) -> Iterator[Path]:
    """A temporary sibling folder to fill; on success it replaces ``path`` in one rename.

    An existing ``path`` is replaced only when ``foreign(path)``, the entries in it that
    the caller does not write (default: those no saved index lists), is empty; otherwise
    nothing is written and :class:`OutputWriteError` names the first of them. An existing
    empty folder (``--output .`` in a new folder) is kept and filled: the staging folder is
    made inside it and its entries are renamed into it at the end, so the folder (a shell's
    current one, say) stays the same folder. An interrupted or failed write leaves ``path`` as
    it was (and removes the temporary folder), so a half-built index or result folder never
    looks finished; a staging folder left by a killed process is removed by the next write to
    the same ``path`` (:func:`remove_stale_staging`). An OS error while writing becomes
    :class:`OutputWriteError` naming ``path``.
    """
    path = Path(os.path.abspath(path))    # '.' has no name to make a sibling of
    if path.is_symlink():                 # replace the folder the link names, keep the link
        path = path.resolve()
    _make_parent(path)
    remove_stale_staging(path)
    _check_replaceable(path, foreign)
    in_place = is_empty_folder(path)
    if not in_place:
        check_not_current(path)
    tmp = None
    try:
        if in_place:
            tmp = Path(tempfile.mkdtemp(prefix=f"{IN_PLACE_STAGING}.", dir=path))
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        _mark_staging(tmp)
        tmp.chmod(_permissions(path, 0o777))         # mkdtemp's 0700 would hide the folder
        yield tmp
        (tmp / STAGING_MARK).unlink()
        if in_place:
            _fill_in_place(tmp, path)
        else:
            _check_replaceable(path, foreign)    # nothing new appeared meanwhile
            _swap_in(tmp, path)
    except BaseException as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise OutputWriteError(path, explain(path, err)) from err
        raise


def _fill_in_place(tmp: Path, path: Path) -> None:
    """Move the entries of staging folder ``tmp`` into the empty folder ``path`` that holds
    it. Signals wait until the moves are done, and if a move fails, the entries already
    moved are taken out again (the folder was empty: they are all ours), so ``path`` is
    never left half-filled."""
    if [p.name for p in path.iterdir()] != [tmp.name]:
        raise OutputWriteError(path, OSError(errno.ENOTEMPTY, "files appeared in the folder "
                                             "while rerankit wrote it"))
    moved: list[Path] = []
    with signals_deferred():
        try:
            for entry in sorted(tmp.iterdir()):
                os.replace(entry, path / entry.name)
                moved.append(path / entry.name)
            tmp.rmdir()
        except BaseException:
            for entry in moved:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done (a few renames that must not be split),
    then deliver them to the handlers that were in place. Only the main thread can change
    signal handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous = {signum: handler for signum, handler in previous.items()
                if handler is not None}    # None: a handler not set from Python, left alone
    for signum in previous:
        signal.signal(signum, lambda received, frame: caught.append(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)


#: the largest pid any system gives (Linux: 2**22; a mark with a larger one is not ours)
_PID_MAX = 2 ** 31 - 1


def _mark_staging(folder: Path) -> None:
    (folder / STAGING_MARK).write_text(" ".join(_process_mark(os.getpid())) + "\n",
                                       encoding="utf-8")


def _process_mark(pid: int) -> tuple[str, ...]:
    """What names process ``pid`` beyond its number: (pid, host, pid namespace, boot id,
    start time). A pid means something only on the same host, in the same pid namespace
    (containers sharing a hostname and a folder can each have a process 12), during the
    same boot, and while the process that has it started when the mark says (pids are
    reused); "-" where this system cannot tell (no /proc)."""
    def read(path: str, link: bool = False) -> str:
        try:
            return os.readlink(path) if link else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    # stat's field 22, counted from field 3, after the command name's ")" (names hold spaces)
    start = read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()[19:20]
    return tuple("".join(value.split()) or "-" for value in (
        str(pid), socket.gethostname(), read("/proc/self/ns/pid", link=True),
        read("/proc/sys/kernel/random/boot_id"), "".join(start)))


def _owner_gone(folder: Path) -> bool:
    """True when ``folder`` holds rerankit's staging mark and the process that wrote it is
    certainly gone: same host, pid namespace and boot, and no such pid or a pid now held
    by a process that started at another time. Another boot id may be an earlier boot or
    another machine with the same name (every host's first pid namespace has the same
    id), so such a folder is kept. Marks of an older rerankit ("<pid> <host>") are judged
    by host and pid alone."""
    mark = folder / STAGING_MARK
    if folder.is_symlink() or not folder.is_dir() or mark.is_symlink() or not mark.is_file():
        return False
    try:
        fields = mark.read_text(encoding="utf-8").split()
        pid = int(fields[0])
    except (OSError, ValueError, UnicodeDecodeError, IndexError):
        return False
    if not 0 < pid <= _PID_MAX or pid == os.getpid():
        return False
    if len(fields) == 2:                  # an older rerankit's mark: host and pid alone
        return fields[1] == socket.gethostname() and not _alive(pid)
    if len(fields) != 5:
        return False
    here = _process_mark(pid)
    if fields[1:4] != list(here[1:4]):
        return False                      # another host, pid namespace or boot
    if not _alive(pid):
        return True
    return "-" not in (fields[4], here[4]) and fields[4] != here[4]   # the pid was reused


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                       # exists, owned by someone else
        return True
    return True


def remove_stale_staging(path: Path) -> list[Path]:
    """Remove the staging folders of ``path`` (``.<name>.*`` beside it,
    ``.rerankit-staging.*`` inside it) that rerankit marked and whose process is gone (a
    ``kill -9``, a power cut); never anything without the mark, nor a live process's, nor
    another host's.
    Returns the folders removed."""
    path = Path(os.path.abspath(path))
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        candidates += [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    if path.is_dir() and not path.is_symlink():
        with contextlib.suppress(OSError):
            candidates += [p for p in path.iterdir()
                           if p.name.startswith(f"{IN_PLACE_STAGING}.")]
    removed = []
    for folder in candidates:
        if _owner_gone(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def check_not_current(path: str | Path) -> None:
    """A folder that holds something is replaced by renaming it aside: refuse that for the
    current folder (or one holding it), which would leave the shell in a deleted folder.
    (An empty current folder is filled in place.)"""
    path = Path(path).resolve()           # the real folder, as os.getcwd() names it
    if not path.is_dir() or is_empty_folder(path):
        return
    cwd = Path(os.getcwd()).resolve()
    if cwd == path or path in cwd.parents:
        raise OutputWriteError(path, OSError(errno.EBUSY, f"{path} is the current folder "
                                             "(or holds it), which rerankit cannot replace; "
                                             "run from another folder or choose another "
                                             "output"))


def _check_replaceable(path: Path, foreign: Callable[[Path], list[str]]) -> None:
    if path.exists() and not path.is_dir():
        raise OutputWriteError(path, OSError(errno.ENOTDIR, f"{path} is not a folder"))
    extra = foreign(path) if path.exists() else []
    if extra:
        raise OutputWriteError(path, OSError(errno.ENOTEMPTY, "the folder holds files "
                                             f"rerankit did not write ({shown(path, extra)}), "
                                             "which it never replaces"))


def _swap_in(new: Path, path: Path) -> None:
    """Put folder ``new`` at ``path`` with renames only: an existing ``path`` is moved
    aside first and deleted only once ``new`` is in place (moved back if that fails)."""
    if not path.exists():
        os.replace(new, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
    try:
        with signals_deferred():          # Ctrl-C or SIGTERM cannot split the two renames
            os.replace(path, old / path.name)
            try:
                os.replace(new, path)
            except BaseException:
                os.replace(old / path.name, path)
                shutil.rmtree(old, ignore_errors=True)
                raise
            # Marked only now: a process killed between the renames leaves the previous
            # output unmarked in ``old``, where no later write removes it.
            _mark_staging(old)
    finally:                              # also when a held signal is delivered on exit
        if (old / STAGING_MARK).is_file():
            shutil.rmtree(old, ignore_errors=True)


def check_new_file(path: Path, force: bool = False, mark: str | None = None) -> None:
    """Refuse, before any work, to replace an existing file a command's ``--output`` names
    unless ``force``, or unless its first 4 KB hold ``mark``, the text by which that
    command recognises its own earlier output (the leaderboard's "Generated by" line).
    Devices and pipes (``/dev/stdout``) are written through, so they are always fine."""
    if force or is_special(path) or not path.exists() or path.is_dir():
        return                          # a folder where a file goes: check_writable's error
    if mark is not None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                if mark in handle.read(4096):
                    return
        except OSError:
            pass
    raise OutputWriteError(path, OSError(errno.EEXIST, "the file exists and rerankit "
                                         "replaces a file only when --force says so"))


def check_distinct(outputs: Mapping[str, Path | None],
                   inputs: Mapping[str, Path | None] | None = None) -> None:
    """Refuse, before any work, two outputs of one command that name the same file, or an
    output that names one of its inputs: the later write would silently replace the
    earlier one (or the data being read). Names are compared after resolving symlinks and
    ``..``, and existing files by device and inode (hard links); devices such as
    ``/dev/null`` are written through and may be named twice. Keys are the option names
    the message uses, e.g. ``{"--per-session": Path("x")}``."""
    seen: dict[tuple, str] = {}
    for kind, named in (("output", outputs), ("input", inputs or {})):
        for option, path in named.items():
            if path is None or is_special(Path(path)):
                continue
            keys = _file_identity(Path(path))
            first = next((seen[key] for key in keys if key in seen), None)
            if first is not None:
                what = "read from and written to" if kind == "input" else "written twice"
                raise ValueError(f"{first} and {option} name the same file ({path}): it would "
                                 f"be {what}; give different files")
            if kind == "output":
                seen.update(dict.fromkeys(keys, option))


def _file_identity(path: Path) -> set[tuple]:
    """Every key under which two names are one file: the name with ``..`` collapsed and
    symlinks followed (a link to a file yet to be written is that file, and ``y/..`` is
    created as a folder before the write), and the device and inode of an existing file
    (hard links)."""
    normal = Path(os.path.abspath(path)).resolve()
    keys: set[tuple] = {("path", str(normal))}
    for name in (path, normal):
        with contextlib.suppress(OSError):
            info = name.stat()
            keys.add(("inode", info.st_dev, info.st_ino))
    return keys


def output_name(path: Path) -> str:
    """How messages name an output file: ``standard output`` for ``-``."""
    return "standard output" if is_stdout(path) else str(path)
