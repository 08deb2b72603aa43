"""Output directories the tool owns: checked before the work, swapped in whole, locked.

Every directory ``edge-coverage`` writes (a plan's ``--out``, a batch's ``--out`` and each
batch scenario) follows the same rules:

* **Only its own.** The target must be absent, empty, or a directory this tool wrote: one
  that holds the marker file :data:`MARKER` (tool, kind, version, the files it wrote) and
  nothing else than the files the marker lists. Anything else (a folder holding the inputs,
  the working directory, ``""``, a file, a path under a file, a dangling link) is refused
  before any work, naming the path. A plan directory written before the marker existed is
  recognised by its file names (every entry an output name, ``summary.json`` with a
  ``version``) and adopted.
* **Old or new, never a mix.** A new plan is written into a sibling staging directory
  (``.NAME.edge-coverage-tmp-*`` next to ``NAME``), every file and the directory are
  fsync'ed, then the staging directory is exchanged with the target in one
  ``renameat2(RENAME_EXCHANGE)`` call, so a reader sees the old complete directory or the
  new complete one. Where the exchange is not supported (non-Linux, some file systems) two
  renames are used, and a run killed between them is repaired by the next run (the
  complete new directory is put in place).
* **One writer.** An exclusive ``flock`` on ``.NAME.edge-coverage.lock`` next to the target
  is held from the checks to the swap: a second run on the same target is refused at once
  (it names the process that holds it). Staging and old directories left by killed runs
  are removed by the next run; only directories holding this tool's marker are removed.

The lock and staging names sit next to the target because the target itself is replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import json
import logging
import os
import re
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputValidationError, OutputWriteError

logger = logging.getLogger(__name__)

__all__ = ["MARKER", "ForeignFilesError", "OutputDir", "busy_problems", "check_output_dir",
           "edited_entries", "file_mode", "file_stats", "foreign_entries", "record_pending",
           "record_stats", "remove_old_dir", "umask",
           "fsync_tree", "own_temporary", "read_marker", "swap_dir", "write_atomic",
           "write_error_message"]

REPORT_OPTION = "plan directory"
"""How messages name the directory of ``edge-coverage report`` (an existing plan's): its
fixes do not offer "another directory"."""

MARKER = ".edge-coverage.json"
"""Name of the marker file in every directory the tool wrote."""

_STAGING_MARKER = ".edge-coverage-staging"

#: Bytes the marker's room takes in a staging directory from its start (a marker lists a
#: plan's files: 1-2 KiB).
MARKER_RESERVE_BYTES = 8 * 1024
_TOOL = "edge-coverage"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

# Files of a plan directory written before the marker existed (adopted as the tool's own).
LEGACY_PLAN_FILES = frozenset((
    "summary.json", "sites.csv", "sites.geojson", "assignment.csv", "assignment.parquet",
    "failures.csv", "proposed_sites.csv", "map.html", "sweep.csv", "report.html",
    "plan.gpkg", "demand.parquet", "sites.parquet"))
LEGACY_BATCH_FILES = frozenset(("scenarios", "scenarios.csv", "scenarios.parquet", "sweep.png"))
# hidden per-file temporaries of the writer before whole-directory swaps (".NAME.xxxx.tmp.EXT")
_LEGACY_TMP = re.compile(
    r"^\.(" + "|".join(re.escape(n) for n in sorted(LEGACY_PLAN_FILES))
    + r")\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?(-wal|-shm|-journal)?$")


# what a sweep writes under OUT/scenarios: one directory per scenario (the first 16 hex
# digits of its key), its staging directories and the old ones a swap moves aside
SCENARIO_DIR = re.compile(r"^[0-9a-f]{16}$")
SCENARIO_TEMPORARY = re.compile(
    r"^(\.tmp-[0-9a-f]{16}-[0-9a-f]{8}|\.[0-9a-f]{16}\.edge-coverage-(old|tmp)-[0-9]+-[0-9a-f]{8})$")


def _legacy_batch(p: Path) -> bool:
    """``p`` is a sweep directory from before the marker: ``scenarios/`` is a directory
    holding only scenario directories and their temporaries, at least one of them with the
    ``done.json`` or ``failed.json`` of its key (an empty one is a run killed before it
    wrote either), and a ``scenarios.csv`` there starts with the table's first columns."""
    scen = p / "scenarios"
    if scen.is_symlink() or not scen.is_dir():
        return False
    try:
        entries = list(os.scandir(scen))
        marked = 0
        for e in entries:
            if e.is_symlink() or not e.is_dir():
                return False
            if SCENARIO_TEMPORARY.match(e.name):
                continue
            if not SCENARIO_DIR.match(e.name):
                return False
            found = [f for f in ("done.json", "failed.json") if (Path(e.path) / f).is_file()]
            if not found:
                if os.listdir(e.path):
                    return False
                continue
            doc = json.loads((Path(e.path) / found[0]).read_text(encoding="utf-8"))
            if not (isinstance(doc, dict) and str(doc.get("key", "")).startswith(e.name)):
                return False
            marked += 1
        if not marked:
            return False
        table = p / "scenarios.csv"
        if table.exists():
            with open(table, encoding="utf-8") as fh:
                if not fh.readline().startswith("scenario,key,"):
                    return False
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return True


#: An output directory's staging and moved-aside directories (``.NAME.edge-coverage-tmp-``
#: or ``-old-`` ``PID-HEX``; group 1 is NAME): what ``OutputDir._recover`` takes for a
#: killed run's leftovers, refused as an ``--out`` of their own.
_LEFTOVER_NAME = re.compile(r"^\.(.+)\.edge-coverage-(tmp|old)-\d+-[0-9a-f]+$")


def _describe(names: Iterable[str], limit: int = 6) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_marker(directory: Path) -> dict[str, Any] | None:
    """The marker of ``directory`` as a dict, or ``None`` when there is none (or it is not
    this tool's)."""
    try:
        doc = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("tool") != _TOOL:
        return None
    return doc


def _damaged_marker(path: Path) -> bool:
    """Whether the file ``path``, named like the marker, looks like a marker of this tool
    that was damaged (it names the tool but is not valid JSON): not a user's own file
    that happens to share the name."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return _TOOL.encode() in head or head.lstrip().startswith(b"{")


@dataclass
class TargetCheck:
    """Result of :func:`check_output_dir`.

    Attributes
    ----------
    path : pathlib.Path
        The absolute target (a symbolic link to a directory is followed).
    state : str
        ``"absent"``, ``"empty"``, ``"ours"`` (holds this tool's marker) or ``"legacy"``
        (an older plan directory recognised by its file names).
    problems : list of str
        Why the target is refused (empty when it is accepted).
    files : set of str
        Names of the entries the tool owns in the target now.
    """

    path: Path
    state: str = "absent"
    problems: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


def _mountinfo_path(field: str) -> str:
    """A mount point as ``/proc/self/mountinfo`` writes it, unescaped (``\\040`` is a
    space, ``\\011`` a tab, ``\\012`` a newline, ``\\134`` a backslash)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def is_mount_point(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a mount point, bind mounts included.

    :func:`os.path.ismount` misses a bind mount of a directory of the same file system
    (same device, and its ``..`` is another inode), the usual ``docker -v $PWD/out:/out``:
    its atomic swap then failed with "Device or resource busy" after the whole plan. On
    Linux the mount table (``/proc/self/mountinfo``) is read too; elsewhere only
    :func:`os.path.ismount` and a change of device from the parent count.

    Parameters
    ----------
    path : str or os.PathLike
        An existing directory.

    Returns
    -------
    bool
    """
    p = Path(os.path.realpath(path))
    try:
        if os.path.ismount(p) or p.stat().st_dev != p.parent.stat().st_dev:
            return True
    except OSError:
        return False
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            table = f.read()
    except OSError:
        return False
    target = os.fspath(p)
    for line in table.splitlines():
        fields = line.split(" ")
        if len(fields) > 4 and _mountinfo_path(fields[4]) == target:
            return True
    return False


def absolute_path(text: str | os.PathLike[str]) -> Path:
    """``text`` as an absolute path, where the kernel finds it.

    :func:`os.path.abspath` (which keeps the user's spelling of the directories), except
    when a component is ``..``: the kernel takes ``link/..`` as the parent of the link's
    target, abspath as the link's own directory, so ``--out a/link/../x`` was written to
    ``a/x`` while the user's shell finds ``a/link/../x`` elsewhere (tester 193). Then the
    part before the last component is resolved physically (:func:`os.path.realpath`), or
    the whole path when the last component is itself ``..`` or ``.``.

    Parameters
    ----------
    text : str or path-like
        The path as given (``~`` not expanded).

    Returns
    -------
    pathlib.Path
    """
    text = os.fspath(text)
    if ".." not in Path(text).parts:
        return Path(os.path.abspath(text))
    joined = os.path.join(os.getcwd(), text)
    head, tail = os.path.split(joined.rstrip(os.sep) or os.sep)
    if tail in ("..", ".", ""):
        return Path(os.path.realpath(joined))
    return Path(os.path.realpath(head)) / tail


def lock_path(target: Path) -> Path:
    """The lock file of output directory ``target``: ``.NAME.edge-coverage.lock`` beside it
    (the target itself is replaced)."""
    return target.with_name(f".{target.name}.edge-coverage.lock")


#: What a lock file this tool wrote holds (empty between its truncation and its write).
_LOCK_TEXT = re.compile(r"^(pid [0-9]+ since [0-9]{2}:[0-9]{2}:[0-9]{2})?$")


def _foreign_lock_text(fd: int) -> bool:
    """Whether the open file ``fd`` holds anything but a lock this tool wrote (its exact
    text, or nothing), or has another name (a hard link: a file this tool never made)."""
    try:
        if os.fstat(fd).st_nlink > 1:
            return True
        head = os.pread(fd, 200, 0)
    except OSError:  # not a file that can be read at an offset (a FIFO put there)
        return True
    return len(head) >= 200 or not _LOCK_TEXT.match(head.decode("utf-8", "replace"))


def _foreign_lock(lock: Path, what: str = "directory") -> str | None:
    """Why the lock file path ``lock`` is not this tool's to take (one sentence with the
    fix), or ``None``: absent, or a regular file holding a lock this tool wrote (a killed
    run's). A link there was followed and the file it named overwritten, then removed."""
    try:
        st = os.lstat(lock)
    except (FileNotFoundError, NotADirectoryError):
        return None  # (a parent that is a file: the directory's own check says so)
    except OSError as exc:
        return f"cannot check its lock file {lock} ({exc.strerror})"
    fix = (f"Fix: move {lock} away (edge-coverage keeps its lock there while it writes), "
           f"or choose another output {what}")
    if stat.S_ISLNK(st.st_mode):
        return (f"its lock file {lock} is a symbolic link, which edge-coverage would write "
                f"through and then remove; it is left alone. {fix}")
    if not stat.S_ISREG(st.st_mode):
        return f"its lock file {lock} is not a regular file. {fix}"
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO: no wait
    except OSError:
        return None  # gone, or unreadable: the lock itself says
    try:
        if _foreign_lock_text(fd):
            return (f"{lock}, where edge-coverage keeps its lock while it writes, is a file "
                    f"it did not write; it is left alone. {fix}")
    finally:
        os.close(fd)
    return None


def take_lock(target: Path, option: str = "--out", requested: Any = None, *,
              what: str = "directory") -> tuple[int, Path]:
    """Take the lock of output ``target`` (a directory, or a single file such as
    ``calibrate --out``): ``.NAME.edge-coverage.lock`` beside it, created, flocked and
    holding this process's id.

    Parameters
    ----------
    target : pathlib.Path
        What the run writes.
    option : str, default "--out"
        Option name for messages.
    requested : object, optional
        The target as the user gave it, for messages (default ``target``).
    what : str, default "directory"
        What the target is, for the messages' fixes (``"file"`` for a model file).

    Returns
    -------
    (int, pathlib.Path)
        The lock's open descriptor and its path, for :func:`drop_lock`.

    Raises
    ------
    InputValidationError
        Another run holds the lock, or the lock's name holds a file this tool did not write.
    OutputWriteError
        The lock file cannot be created.
    """
    requested = target if requested is None else requested
    lock = lock_path(target)
    for _attempt in range(50):
        problem = _foreign_lock(lock, what)
        if problem:
            raise InputValidationError(f"{option} {requested}: {problem}")
        try:  # never through a link: the lock is written, then removed
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                continue  # a link made since the check above: said by it next time
            raise OutputWriteError(f"cannot create the lock file {lock} ({exc.strerror})"
                                   ) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode) or _foreign_lock_text(fd):
            os.close(fd)  # replaced since the check: said by it next time
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            raise InputValidationError(_busy_message(option, requested, holder, what)
                                       ) from None
        # the file may have been removed by the previous holder after we opened it
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}".encode(), 0)
            with contextlib.suppress(OSError):  # (read by a batch's workers on other
                # hosts: run_scenario(run_lock=...), review 141)
                os.fsync(fd)
            return fd, lock
        os.close(fd)
    raise OutputWriteError(f"cannot take the lock {lock}: it keeps being replaced")


def drop_lock(fd: int, lock: Path | None) -> None:
    """Release a lock of :func:`take_lock`: remove its file (only the one this run holds,
    not one put in its place) and close it."""
    if lock is not None:
        try:
            if os.lstat(lock).st_ino == os.fstat(fd).st_ino:
                lock.unlink()
        except OSError:  # gone, or not removable (an append-only directory): the lock is
            # released with its descriptor; an error here would replace the one being
            # raised (review 139)
            pass
    os.close(fd)


def _busy_message(option: str, requested: Any, holder: str, what: str = "directory") -> str:
    """The message for an output directory another run holds, its fix worded for the
    command: ``edge-coverage report`` and ``write_report`` (one message for both) read the
    directory the other run writes (another directory is no fix), a method of the Python
    API has no option to give another."""
    if option == REPORT_OPTION:
        fix = ("wait for it to finish, then make the report again (`edge-coverage report "
               "DIR`, or write_report in Python): it reads the tables that run writes")
    elif option.startswith("--"):
        fix = f"wait for it to finish, or give {option} another {what}"
    else:
        fix = f"wait for it to finish, or write to another {what}"
    return (f"{option} {requested}: another edge-coverage run is writing it "
            f"({holder or 'a running process'}). Fix: {fix}")


def busy_problems(path: str | os.PathLike[str], *, option: str = "--out") -> list[str]:
    """Whether another run holds the lock of output directory ``path``, without taking it.

    The check before the work (the inputs may take minutes to read): the lock itself is
    taken by :class:`OutputDir`, which refuses the run again if it was taken meanwhile.
    Call it only where this process does not hold that lock.

    Parameters
    ----------
    path : str or os.PathLike
        The requested output directory.
    option : str, default "--out"
        Name of the option in messages.

    Returns
    -------
    list of str
        One sentence naming the running holder and the fix, or nothing.
    """
    text = os.fspath(path)
    if not text.strip() or "\x00" in str(text):  # said by check_output_dir
        return []
    p = absolute_path(os.path.expanduser(text))
    try:
        if p.is_symlink():  # locked where OutputDir locks it: next to the link's target
            p = Path(os.path.realpath(p))
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return []  # a name or path too long: said by check_output_dir, with the fix
        raise
    if p.parent == p:
        return []  # the root: refused by check_output_dir
    lock = lock_path(p)
    if len(os.fsencode(lock.name)) > _NAME_MAX:
        return []  # no lock can be there: check_output_dir names the longest --out
    problem = _foreign_lock(lock)
    if problem:
        return [f"{option} {text}: {problem}"]
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []  # no lock file: nobody holds it (a holder removes it when done)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            return [_busy_message(option, text, holder)]
        except OSError:
            return []
        fcntl.flock(fd, fcntl.LOCK_UN)
        return []
    finally:
        os.close(fd)


def _long_name(option: str, text: str, name: str, target: Path | None = None) -> str:
    """The message for an output directory name too long for the names written beside it
    (``target``: the directory a symbolic link ``text`` leads to, whose name it is)."""
    via = f" (a symbolic link to {target})" if target is not None else ""
    fix = (f"give {option} a name of at most {MAX_NAME_BYTES} bytes" if target is None else
           f"give {option} a directory (or a link to one) whose name has at most "
           f"{MAX_NAME_BYTES} bytes")
    return (f"{option} {text:.300}{'...' if len(text) > 300 else ''}{via}: the directory "
            f"name is {len(os.fsencode(name)):,} bytes long; edge-coverage writes beside it "
            f"under longer names (.NAME.edge-coverage-tmp-..., {_NAME_OVERHEAD} bytes more), "
            f"which must fit the file system's {_NAME_MAX}. Fix: {fix}")


def check_output_dir(path: str | os.PathLike[str], kind: str = "plan", *,
                     option: str = "--out", must_exist: bool = False) -> TargetCheck:
    """Check that ``path`` may be used as an output directory of ``kind``, without writing.

    Parameters
    ----------
    path : str or os.PathLike
        The requested directory.
    kind : {"plan", "batch"}
        What will be written there; a directory of the other kind is refused.
    option : str, default "--out"
        Name of the option in messages.
    must_exist : bool, default False
        Refuse an absent or empty target (``edge-coverage report DIR``).

    Returns
    -------
    TargetCheck
        ``problems`` lists every reason to refuse; empty when the target is accepted.
    """
    text = os.fspath(path) if not isinstance(path, str) else path
    chk = TargetCheck(path=absolute_path(text or "."))
    fix = (f"Fix: give {option} a new or empty directory, or one an earlier edge-coverage "
           f"{kind} run wrote; edge-coverage never writes into a directory it does not own"
           if option != REPORT_OPTION else  # `report DIR`, `plan_dir=`: an existing plan
           f"Fix: give a directory an edge-coverage {kind} run wrote (edge-coverage never "
           "writes into a directory it does not own)")
    if not text.strip():
        chk.problems.append(f"{option} is empty. {fix}")
        return chk
    if "\x00" in text:  # no file system takes one; os calls raise ValueError
        chk.problems.append(f"{option} {text!r} holds a NUL character, which no path may "
                            "hold. Fix: give a path without it")
        return chk
    p = absolute_path(os.path.expanduser(text))
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # Path.exists() and is_dir() raise it
            if (len(os.fsencode(p)) < _PATH_MAX and len(os.fsencode(p.name)) > MAX_NAME_BYTES
                    and all(len(os.fsencode(part)) <= _NAME_MAX for part in p.parts[:-1])):
                # the name, too long for the names written beside it (a file system with
                # a shorter limit, where every part fits 255 bytes: the path's message)
                chk.problems.append(_long_name(option, text, p.name))
            else:
                chk.problems.append(f"{option} {text:.200}...: the path is too long "
                                    f"({exc.strerror}: a name in it may have at most 255 "
                                    "bytes, the whole path 4,096). Fix: give a shorter path")
            return chk
        if exc.errno == errno.ELOOP:
            chk.problems.append(f"{option} {text}: a loop of symbolic links (it never reaches "
                                f"a directory). {fix}")
            return chk
    linked = False
    if p.is_symlink():
        target = Path(os.path.realpath(p))
        if not target.exists():
            chk.problems.append(f"{option} {text}: a symbolic link to {target}, which does not "
                                f"exist. {fix}")
            return chk
        p, linked = target, True
    chk.path = p
    if p.parent == p:
        chk.problems.append(f"{option} {text} is the root of the file system. {fix}")
        return chk
    leftover = _LEFTOVER_NAME.match(p.name)
    if leftover:
        # a run into NAME takes these for its own leftovers: renamed into NAME or removed
        # (tester 193: two plans written under such names were lost by a plan into NAME)
        chk.problems.append(
            f"{option} {text}: the name has the form edge-coverage gives its own temporary "
            f"directories (.NAME.edge-coverage-tmp-... and -old-...), which a run into "
            f"{leftover.group(1)} takes for its leftovers and removes or renames. Fix: "
            "choose another name")
        return chk
    if len(os.fsencode(p.name)) > MAX_NAME_BYTES:
        chk.problems.append(_long_name(option, text, p.name, p if linked else None))
        return chk
    if len(os.fsencode(p)) > MAX_PATH_BYTES:
        # every part fits, but the paths written beside and under it would not: refused
        # here, not after the work (a tester's find: the plan computed, then exit 6)
        chk.problems.append(
            f"{option} {text:.200}...{f' (a symbolic link to {p})' if linked else ''}: the "
            f"path is {len(os.fsencode(p)):,} bytes long; edge-coverage writes beside and "
            f"under it paths up to {MAX_PATH_BYTES_OVER} bytes longer, which must fit "
            f"Linux's {_PATH_MAX - 1:,}. Fix: give {option} a path of at most "
            f"{MAX_PATH_BYTES:,} bytes")
        return chk
    cwd = Path.cwd().resolve()
    if p.exists() and (p.resolve() == cwd or p.resolve() in cwd.parents):
        chk.problems.append(f"{option} {text} is the current directory or holds it. {fix}")
        return chk
    if p.exists() and not p.is_dir():
        chk.problems.append(f"{option} {text} is a file, not a directory. {fix}")
        return chk
    if p.exists() and is_mount_point(p):
        # a sweep is written in place, not swapped (tester 191: it was refused with the
        # plan's reason); its lock and leftovers sit beside it, on the other file system
        why = ("a sweep is written inside it, but keeps its lock beside it, outside the "
               "mounted file system, where a run or a Dask worker on another machine that "
               "mounts the same file system does not see the lock (two runs could write the "
               "same sweep; such a worker writes no scenario)" if kind == "batch" else
               "the tool replaces the whole directory, and a mount point cannot be replaced "
               "(nor can a directory cross file systems)")
        chk.problems.append(
            f"{option} {text} is a mount point: {why}. Fix: give {option} a directory "
            f"inside it, e.g. {option} {p / ('sweep' if kind == 'batch' else 'plan')}")
        return chk
    # the nearest existing ancestor must be a writable directory (not a file)
    anc = p.parent
    while not anc.exists():
        if anc.is_symlink():
            chk.problems.append(f"{option} {text}: {anc} is a dangling symbolic link. {fix}")
            return chk
        anc = anc.parent
    if not anc.is_dir():
        chk.problems.append(f"{option} {text} is under {anc}, which is a file. {fix}")
        return chk
    probe_problem = _probe_writable(anc)
    if probe_problem:
        chk.problems.append(f"{option} {text}: cannot write in {anc} ({probe_problem}). "
                            "Fix: choose a directory you can write to")
        return chk
    owner = next(((a, m) for a in p.parents if (m := read_marker(a)) is not None), None)
    if owner is not None and read_marker(p) is None and (p.exists() or not must_exist):
        # a new directory inside one this tool wrote would be a file it does not own there
        # (its next run refuses it, or a swap of it takes this one along)
        chk.problems.append(
            f"{option} {text} is inside {owner[0]}, an edge-coverage {owner[1].get('kind')} "
            f"directory that the tool replaces as a whole. Fix: give {option} a directory "
            "outside it")
        return chk
    if not p.exists():
        if must_exist:
            chk.problems.append(f"{option} {text} does not exist")
        return chk
    try:
        entries = set(os.listdir(p))
    except OSError as exc:
        chk.problems.append(f"{option} {text}: cannot list it ({exc.strerror}). {fix}")
        return chk
    if kind == "batch" and not must_exist:  # a sweep writes in place, not beside it
        for d in (p, p / "scenarios"):
            why = _probe_writable(d) if d.is_dir() and not d.is_symlink() else None
            if why:
                chk.problems.append(f"{option} {text}: cannot write in {d} ({why}). Fix: "
                                    "make it writable, or choose a directory you can write "
                                    "to")
                return chk
    if kind == "plan" and not must_exist:  # replaced by a swap: it must be renamable
        blocked = rename_blocked(p)
        if blocked:
            chk.problems.append(f"{option} {text}: cannot be replaced: {blocked}. Fix: "
                                "choose another directory (e.g. a new name beside it)")
            return chk
    # an empty directory too: the swap would replace one its owner made read-only through
    # its writable parent (tester 159)
    if not must_exist and not os.access(p, os.W_OK | os.X_OK):
        chk.problems.append(f"{option} {text}: not writable. Fix: choose a directory you can "
                            "write to")
        return chk
    if not entries:
        chk.state = "empty"
        if must_exist:
            chk.problems.append(f"{option} {text} is empty")
        return chk
    if not os.access(p, os.W_OK | os.X_OK):
        chk.problems.append(f"{option} {text}: not writable. Fix: choose a directory you can "
                            "write to")
        return chk
    marker = read_marker(p)
    if marker is None and MARKER in entries and _damaged_marker(p / MARKER):
        chk.problems.append(
            f"{option} {text}: its marker {MARKER} is damaged (not the JSON edge-coverage "
            "writes: cut short, or edited), so which files are the tool's cannot be told "
            "and nothing there is replaced. Fix: "
            + (f"give {option} another directory, or move the files you want to keep out "
               "of it and delete it" if option != REPORT_OPTION else
               "write the plan again into a new directory"))
        return chk
    if marker is not None:
        if marker.get("kind") != kind:
            chk.problems.append(
                f"{option} {text} is an edge-coverage {marker.get('kind')} directory, not a "
                f"{kind} directory. {fix}")
            return chk
        foreign = foreign_entries(p)
        if foreign:
            chk.problems.append(_foreign_problem(
                option, text, _describe(_with_kind(p, e) for e in foreign), kind))
            return chk
        edited = [] if must_exist else edited_entries(p, marker)
        if edited:  # a run would replace the user's edits (the report keeps them)
            other = f", or give {option} another directory" if option != REPORT_OPTION else ""
            how = ("a batch run writes them again" if kind == "batch" else
                   "the whole directory is replaced when it is written")
            chk.problems.append(
                f"{option} {text}: {_describe(edited)} changed since edge-coverage wrote "
                f"them (edited by hand?); {how}, so the edits would be lost. Fix: move the "
                f"edited files out of {text} (or delete them if the edits may go){other}")
            return chk
        chk.state, chk.files = "ours", entries
        return chk
    legacy = LEGACY_PLAN_FILES if kind == "plan" else LEGACY_BATCH_FILES
    known = {e for e in entries
             if e in legacy or (_LEGACY_TMP.match(e) and _regular_file(p / e))}
    if kind == "plan" and entries == known:
        # a plan's file names without the marker: the user's copies of a plan (every
        # plan directory since the first release carries the marker): never replaced
        chk.problems.append(
            f"{option} {text} holds a plan's file names ({_describe(entries)}) but no "
            f"{MARKER}: copies of a plan's files (edge-coverage writes the marker in every "
            f"plan directory), which a plan would replace. {fix}")
        return chk
    if entries == known and kind == "batch" and _legacy_batch(p):
        # a symbolic link named like an output is the user's, as in a marked directory
        # (the tool writes none): refused here, not adopted and refused by the next run
        links = sorted(e for e in entries if os.path.islink(p / e))
        if links:
            chk.problems.append(_foreign_problem(option, text,
                                                 f"{_describe(links)} (symbolic links)",
                                                 kind))
            return chk
        chk.state, chk.files = "legacy", entries
        return chk
    chk.problems.append(
        f"{option} {text} is not empty and was not written by edge-coverage (it holds "
        f"{_describe(entries)}). {fix}")
    return chk


def _foreign_problem(option: str, text: str, held: str, kind: str = "plan") -> str:
    """The message for a directory of the tool's that holds ``held`` (entries it did not
    write), with the fix (a batch directory is written in place, not replaced)."""
    why = ("a batch run writes its tables and scenario folders there, and the user's "
           "files must not be mixed with them" if kind == "batch"
           else "the whole directory is replaced when it is written")
    return (f"{option} {text} holds files edge-coverage did not write: {held}. Fix: move "
            "them out" + (f", or give {option} another directory" if option != REPORT_OPTION
                          else "") + f" ({why})")


#: Files up to this size also get their SHA-256 in the marker's record: a copy (``cp -r``,
#: an unpacked archive), whose times are new, is then not taken for an edit.
HASHED_MAX_BYTES = 1 << 30
#: Files up to this size with a recorded hash are hashed again even with the recorded size
#: and time: an edit that kept both (``touch -r``) was not seen (tester 144). Above, the
#: same size and time read as the file the tool wrote (hashing every large output on every
#: run would cost about a second per GiB).
REHASHED_MAX_BYTES = 64 << 20


def _sha256(path: Path) -> str | None:
    """:func:`coverage.inputs.tables.sha256_file`, or None when the file cannot be read."""
    from ..inputs.tables import sha256_file

    try:
        return sha256_file(path)
    except OSError:
        return None


def file_stats(directory: Path, names: Iterable[str], *,
                hashes: bool = True,
                hash_max_bytes: int = HASHED_MAX_BYTES) -> dict[str, list[Any]]:
    """``{name: [size, mtime_ns, sha256]}`` of the regular files among ``names`` (the
    hash only for files up to ``hash_max_bytes``, and with ``hashes``)."""
    out: dict[str, list[Any]] = {}
    for name in names:
        try:
            st = os.lstat(directory / name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out[name] = [int(st.st_size), int(st.st_mtime_ns)]
            if hashes and st.st_size <= hash_max_bytes:
                digest = _sha256(directory / name)
                if digest is not None:
                    out[name].append(digest)
    return out


def edited_entries(directory: Path, marker: dict[str, Any] | None = None) -> list[str]:
    """The files of a plan directory that are not what the marker recorded when the tool
    wrote them: edited by hand since. Another size is an edit; the same size is an edit
    only when the content differs from the recorded hash (files up to
    :data:`REHASHED_MAX_BYTES` always; larger ones only with another time), or, with
    another time, when no hash was recorded (a file above :data:`HASHED_MAX_BYTES`). A
    marker without the record (from before it): none."""
    marker = read_marker(directory) if marker is None else marker
    recorded = (marker or {}).get("stats")
    if not isinstance(recorded, dict):
        return []
    now = file_stats(directory, recorded, hashes=False)
    edited = []
    for name, was in recorded.items():
        if name not in now or not isinstance(was, list) or len(was) < 2:
            continue
        size, mtime = now[name]
        digest = functools.cache(lambda n=name: _sha256(directory / n))  # at most once
        pending = was[3] if len(was) > 3 else None  # what the tool was about to write
        if (isinstance(pending, list) and len(pending) == 2 and size == pending[0]
                and digest() == pending[1]):
            continue  # written, and the run killed before it recorded it: the tool's
        if was[0] is None:  # not recorded before it was pending: as without a record
            continue
        hashed = len(was) > 2 and isinstance(was[2], str)
        if size != was[0]:
            edited.append(name)
        elif mtime != was[1] or (hashed and size <= REHASHED_MAX_BYTES):
            if not (hashed and digest() == was[2]):
                edited.append(name)
    return sorted(edited)


def _with_kind(directory: Path, name: str) -> str:
    """``name`` with what it is when not a regular file (``"sites.csv (a FIFO)"``)."""
    try:
        mode = os.lstat(directory / name).st_mode
    except OSError:
        return name
    kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
             (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    what = next((w for test, w in kinds if test(mode)), None)
    return f"{name} ({what})" if what else name


def _tool_kind(path: Path, is_own_dir: bool) -> bool:
    """``path`` (not followed) is of a kind the tool writes at its name: a regular file, or
    a directory where it wrote one (``is_own_dir``). A symbolic link, a FIFO, a socket or a
    device is never the tool's (a FIFO at a table's name was deleted by the next run,
    where a link there was refused; a tester's find). A name gone meanwhile is not
    the user's."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and is_own_dir)


def foreign_entries(directory: Path) -> list[str]:
    """Entries of ``directory`` this tool did not write (by its marker, or for a directory
    from before the marker, by the old output names)."""
    try:
        entries = set(os.listdir(directory))
    except FileNotFoundError:
        return []
    marker = read_marker(directory)
    if marker is not None:
        owned = set(marker.get("files") or ()) | {MARKER}
        dirs = marker.get("dirs")
        # an owned name that is no longer what the tool wrote there (a directory where it
        # wrote a file; a symbolic link, a FIFO, a socket or a device: it writes none)
        # holds the user's entries now
        own_dirs = (set(dirs) if isinstance(dirs, list)
                    else {"scenarios"} if marker.get("kind") == "batch" else set())
        changed = {e for e in entries & owned - {MARKER}
                   if not _tool_kind(directory / e, e in own_dirs)}
        return sorted(changed | {e for e in entries - owned
                                 if not own_temporary(e, owned, directory)})
    legacy = LEGACY_PLAN_FILES | LEGACY_BATCH_FILES
    return sorted(e for e in entries if e not in legacy
                  and not (_LEGACY_TMP.match(e) and _regular_file(directory / e)))


def own_temporary(name: str, owned: Collection[str], directory: Path | None = None) -> bool:
    """A hidden temporary of :func:`write_atomic` (``.NAME.xxxxxxxx.tmp``) of an owned file.

    Parameters
    ----------
    name : str
        A directory entry.
    owned : collection of str
        The names of the files the tool owns there.
    directory : pathlib.Path, optional
        The directory holding ``name``: given, the entry must also be a regular file
        (:func:`write_atomic` makes no directory or link: a directory of the user's under
        such a name was removed with the plan it sat in; tester 193).

    Returns
    -------
    bool
        Whether ``name`` is such a temporary of one of ``owned``.
    """
    m = _TEMP_OF.match(name)
    return (bool(m) and m.group(1) in owned
            and (directory is None or _regular_file(directory / name)))


def _regular_file(path: Path) -> bool:
    """``path`` (not followed) is a regular file, or gone meanwhile (not the user's)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


_TEMP_OF = re.compile(r"^\.(.+)\.[0-9a-f]{8}\.tmp$")


def _probe_writable(directory: Path) -> str | None:
    """Create and remove a directory in ``directory``; the reason when either fails (an
    append-only directory, ``chattr +a``, takes new entries but removes and renames none:
    its swap failed after the work, review 139; the probe is then left there, named)."""
    probe = directory / f".edge-coverage-probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        probe.rmdir()
    except OSError as exc:
        return (f"entries can be made there but not removed or renamed: "
                f"{exc.strerror or exc}; the empty directory {probe.name} it made to find "
                "out is left there")
    return None


#: Linux's ``FS_IOC_GETFLAGS`` and its immutable and append-only flags (``chattr +i``/``+a``).
_FS_IOC_GETFLAGS = 0x80086601
_FS_FIXED_FL = 0x00000010 | 0x00000020
#: ``CAP_FOWNER``, the capability to rename another user's entry of a sticky directory.
_CAP_FOWNER = 3


def _may_override_sticky() -> bool:
    """Whether this process may rename another user's entry of a sticky directory (root
    with ``CAP_FOWNER``, read from ``/proc``; elsewhere: root)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_FOWNER & 1)
    except (OSError, ValueError, IndexError):
        pass
    return hasattr(os, "geteuid") and os.geteuid() == 0


def rename_blocked(path: Path) -> str | None:
    """Why the existing directory ``path`` cannot be renamed (to swap a new directory in),
    or ``None``: another user's entry of a sticky directory neither of which is this
    process's, or a directory made immutable or append-only (``chattr``). Checked before
    the work: the swap failed after it, with the plan computed (tester 144)."""
    try:
        st, parent = os.lstat(path), os.stat(path.parent)
    except OSError:
        return None
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if (parent.st_mode & stat.S_ISVTX and uid is not None
            and uid not in (st.st_uid, parent.st_uid) and not _may_override_sticky()):
        return (f"it belongs to another user (uid {st.st_uid}) in {path.parent}, a shared "
                "directory with the sticky bit, where only its owner may rename or remove it")
    if sys.platform.startswith("linux") and stat.S_ISDIR(st.st_mode):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return None
        try:
            flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)[:4],
                                   sys.byteorder)
        except OSError:
            return None
        finally:
            os.close(fd)
        if flags & _FS_FIXED_FL:
            return "it is immutable or append-only (chattr +i / +a), so it cannot be renamed"
    return None


# --------------------------------------------------------------------------- fsync and swap


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems refuse fsync of a directory
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file below ``root``, then every directory (deepest first)."""
    dirs: list[Path] = []
    for here, _subdirs, files in os.walk(root):
        dirs.append(Path(here))
        for f in files:
            _fsync_path(Path(here) / f)
    for d in reversed(dirs):
        _fsync_path(d, directory=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths; ``False`` when the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


#: Bytes the longest name written beside an output directory adds to its name:
#: ``.NAME.edge-coverage-tmp-PID-8HEX`` (a PID of up to 7 digits, Linux's 2**22).
_NAME_OVERHEAD = len(".") + len(".edge-coverage-tmp-") + 7 + len("-") + 8
#: The longest file name (bytes) of the file systems Linux runs on.
_NAME_MAX = 255
#: The longest output directory name (bytes) whose staging names fit a 255-byte file name.
MAX_NAME_BYTES = _NAME_MAX - _NAME_OVERHEAD
#: Linux's PATH_MAX (bytes, with the terminating NUL).
_PATH_MAX = 4096
#: Bytes the longest path written under an output directory adds to it: a batch's
#: ``/scenarios/.tmp-<16 hex>-<8 hex>/candidates_excluded.csv`` (64), with a margin.
_INNER_BYTES = 80
#: Bytes the longest path written beside or under an output directory adds to its path.
MAX_PATH_BYTES_OVER = _NAME_OVERHEAD + _INNER_BYTES
#: The longest output directory path (bytes) whose staging paths fit Linux's PATH_MAX.
MAX_PATH_BYTES = _PATH_MAX - 1 - MAX_PATH_BYTES_OVER


def _aside_name(final: Path, what: str) -> Path:
    return final.with_name(f".{final.name}.edge-coverage-{what}-{os.getpid()}-"
                           f"{uuid.uuid4().hex[:8]}")


class ForeignFilesError(Exception):
    """The directory to be replaced holds files the tool did not write (``names``), or
    is no longer a directory at all (``replaced``: the user put a file or a link there)."""

    def __init__(self, names: list[str], *, replaced: bool = False) -> None:
        super().__init__(", ".join(names) or "not a directory")
        self.names = names
        self.replaced = replaced


def _inode(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of ``path`` itself (not followed), or None when it is gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _is_real_dir(path: Path) -> bool:
    """A directory itself, not a file or a symbolic link (to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True  # gone: nothing of the user's to keep


def remove_old_dir(old: Path) -> None:
    """Remove a replaced directory, its marker last: a removal cut short (Ctrl-C) leaves
    a directory the marker still describes, which the next run recognises as its own
    leftover and removes (without the marker its files read as the user's, kept for
    ever). An entry that cannot be removed (``chattr +i``, permissions) keeps the marker
    too, and is said in a warning naming the directory (tester 144: it was left hidden,
    without its marker and without a word)."""
    try:
        entries = [e for e in os.listdir(old) if e != MARKER]
    except OSError:
        return
    for e in entries:
        p = old / e
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
    try:
        stuck = [e for e in os.listdir(old) if e != MARKER]
    except OSError:
        stuck = []
    if stuck:
        logger.warning("%s: the replaced directory's %s could not be removed; it is left "
                       "there with its marker (a later run into the same directory tries "
                       "again). Fix: remove it by hand once its files can be deleted", old,
                       _describe(stuck))
        return
    with contextlib.suppress(OSError):
        (old / MARKER).unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)


def swap_dir(staging: Path, final: Path, *,
             foreign: Callable[[Path], list[str]] | None = None,
             remove_old: bool = True) -> Path | None:
    """Put the complete directory ``staging`` in place of ``final`` (which may not exist).

    A reader of ``final`` sees the old complete directory or the new one. The old
    directory is moved aside and removed after the swap. Both must be on one file system.

    Parameters
    ----------
    staging : pathlib.Path
        The new, complete directory (fsync'ed by the caller).
    final : pathlib.Path
        Where it goes.
    foreign : callable, optional
        ``foreign(old_dir)`` names the files of the replaced directory the tool did not
        write; when it names any, the swap is undone (``final`` keeps the old directory,
        ``staging`` the new one) and :class:`ForeignFilesError` is raised. The check runs
        on the directory already moved out of ``final``, so a file added until the very
        swap is seen.
    remove_old : bool, default True
        Remove the replaced directory (:func:`remove_old_dir`); ``False``: leave it to the
        caller, who gets its path.

    Returns
    -------
    pathlib.Path or None
        The replaced directory when ``remove_old`` is false and there was one.
    """
    if not os.path.lexists(final):  # a dangling link is the user's: never renamed over
        try:
            os.rename(staging, final)  # atomic; an empty directory made meanwhile is replaced
            _fsync_path(final.parent, directory=True)
            return None
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
    old = _aside_name(final, "old")
    new_id = _inode(staging)
    try:
        exchanged = _exchange(staging, final)
    except BaseException:
        # a Ctrl-C handled as the exchange returned (tester 179: the new directory stayed
        # in place with the check not run, the old one hidden under the staging name,
        # which the next run removed with a file of the user's in it): undone
        if new_id is not None and _inode(final) == new_id:
            _exchange(staging, final)
        raise
    if exchanged:  # the old directory is now under the staging name
        try:
            replaced = not _is_real_dir(staging)  # a file or link the user put there
            names = [] if replaced else foreign(staging) if foreign else []
        except BaseException:  # Ctrl-C in the check: undone, the old directory back
            _exchange(staging, final)
            raise
        if names or replaced:
            _exchange(staging, final)  # undo: the user's files stay where they were
            raise ForeignFilesError(names, replaced=replaced)
        os.rename(staging, old)
    else:
        if not _is_real_dir(final):
            raise ForeignFilesError([], replaced=True)
        try:
            os.rename(final, old)
        except BaseException:
            # a Ctrl-C handled as the rename returned (tester 179): the target back
            if not os.path.lexists(final) and os.path.lexists(old):
                os.rename(old, final)
            raise
        try:
            names = foreign(old) if foreign else []
        except BaseException:  # Ctrl-C in the check: the target back where it was
            os.rename(old, final)
            raise
        if names:
            os.rename(old, final)
            raise ForeignFilesError(names)
        try:
            os.rename(staging, final)
        except BaseException:
            os.rename(old, final)  # never leave the target missing
            raise
    _fsync_path(final.parent, directory=True)
    if not remove_old:
        return old
    remove_old_dir(old)
    return None


@functools.cache
def _umask_by_setting() -> int:
    """The umask read by setting it and setting it back, once per process: a global change
    that a thread creating a file meanwhile would see, so only where ``/proc`` cannot tell
    (:func:`umask`)."""
    old = os.umask(0o022)
    os.umask(old)
    return old


def umask() -> int:
    """The process's file mode creation mask.

    Read from the ``Umask:`` line of ``/proc/self/status`` (Linux 4.7 and later), which
    changes nothing; elsewhere by setting it and setting it back, once per process.

    Returns
    -------
    int
        The mask (e.g. ``0o022``).
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    return _umask_by_setting()


def file_mode() -> int:
    """Permission bits of a file the tool writes: ``0o666`` less the umask, as a file made
    by ``open()`` gets (``umask 077``: ``0o600``, where every output was made ``0o644``, a
    tester's find)."""
    return 0o666 & ~umask()


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None,
                 replace: bool = True) -> None:
    """Write one file by a temporary name in its directory, fsync, and rename it in place.

    The one atomic single-file writer of the package: a reader sees the old file or the new
    one, and an interrupted write leaves the old file (the temporary is removed).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    data : bytes or str
        Content (text is written as UTF-8).
    mode : int, optional
        Permission bits of the new file; default :func:`file_mode` (``0o666`` less the
        umask).
    replace : bool, default True
        Replace a file at ``path``; with ``False`` a file there (one that appeared since
        the caller's check) is left as it is and :class:`FileExistsError` raised (a hard
        link of the temporary, which no other writer can race; a file system without
        hard links checks just before the rename).

    Raises
    ------
    FileExistsError
        ``replace=False`` and ``path`` exists.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode() if mode is None else mode)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails with EEXIST whatever appeared there
            except FileExistsError:
                raise
            except OSError:  # no hard links here: the check, then the rename
                if os.path.lexists(path):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST),
                                          str(path)) from None
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_path(path.parent, directory=True)


# --------------------------------------------------------------------------- the owner


class OutputDir:
    """An output directory held for one run: checked, locked, staged, swapped.

    Use as a context manager::

        with OutputDir("out/es", kind="plan") as od:   # checks and locks (before the work)
            ...                                          # compute
            od.start()                                   # a fresh staging directory
            (od.staging / "summary.json").write_text(...)
            od.commit()                                  # fsync, marker, swap

    Parameters
    ----------
    path : str or os.PathLike
        The target directory.
    kind : {"plan", "batch"}
        What is written there (recorded in the marker).
    option : str, default "--out"
        Option name for messages.
    must_exist : bool, default False
        The target must already be this tool's (``edge-coverage report``).

    Raises
    ------
    InputValidationError
        On entering: the target is refused (see :func:`check_output_dir`), or another run
        holds its lock.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str = "plan", *,
                 option: str = "--out", must_exist: bool = False) -> None:
        self.requested = path
        self.kind = kind
        self.option = option
        self.must_exist = must_exist
        self.path = absolute_path(os.fspath(path) or ".")
        self.staging: Path | None = None
        self.files: set[str] = set()
        self.committed = False
        self._lock_fd: int | None = None
        self._lock_path: Path | None = None
        self._made_dirs: list[Path] = []
        # (size, mtime) of the target's files when it was checked: a file changed after
        # that (edited while the run computed) is not swapped out at commit
        self._seen: dict[str, list[Any]] = {}
        # the target's entries when it was checked (empty when it was absent): an entry
        # that appears after that is the user's, whatever its name (tester 179: a plan's
        # files copied into a directory that was absent or empty at the start, or a whole
        # plan directory with its marker, were replaced without a word)
        self._start_entries: frozenset[str] = frozenset()
        self._staging_id: tuple[int, int] | None = None  # (device, inode) of the staging
        #: Called just before the swap (it may raise, e.g. KeyboardInterrupt: nothing is
        #: replaced and the staging directory goes, as for Ctrl-C): the command line's
        #: check for a stop signal whose exception was swallowed.
        self.before_swap: Callable[[], None] | None = None

    # -- checks and lock
    def __enter__(self) -> OutputDir:
        self.acquire()
        return self

    def acquire(self) -> None:
        """Check the target, create its parents, take the lock and clean up after killed
        runs. Raises :class:`InputValidationError` when the target is refused."""
        if self.must_exist:
            self.repair()
        chk = check_output_dir(self.requested, self.kind, option=self.option,
                               must_exist=self.must_exist)
        if chk.problems:
            raise InputValidationError("\n".join(chk.problems))
        self.path = chk.path
        missing = []
        d = self.path.parent
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputWriteError(f"cannot create {d} ({exc.strerror})") from exc
            self._made_dirs.append(d)
        self._lock()
        try:
            self._recover()
            chk = check_output_dir(self.path, self.kind, option=self.option,
                                   must_exist=self.must_exist)  # again, under the lock
            if chk.problems:
                raise InputValidationError("\n".join(chk.problems))
            self.files = chk.files
            if chk.state in ("ours", "legacy"):
                # (hashes of the small files: an edit during the run that puts the time
                # back is seen at the swap too, review 139)
                self._seen = file_stats(self.path, self.files,
                                        hash_max_bytes=REHASHED_MAX_BYTES)
            try:
                self._start_entries = frozenset(os.listdir(self.path))
            except (FileNotFoundError, NotADirectoryError):
                self._start_entries = frozenset()
        except BaseException:
            self.release()
            raise

    def _lock(self) -> None:
        self._lock_fd, self._lock_path = take_lock(self.path, self.option, self.requested)

    def release(self) -> None:
        """Remove the staging directory of an unfinished write and release the lock."""
        if self.staging is not None and self._is_our_staging(self.staging):
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None
        if self._lock_fd is not None:
            drop_lock(self._lock_fd, self._lock_path)
            self._lock_fd = None
        if not self.committed:
            for d in reversed(self._made_dirs):  # parents this run made, if still empty
                try:
                    d.rmdir()
                except OSError:
                    break
        self._made_dirs = []

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def repair(self) -> None:
        """Put back a target a run killed between the two renames of a non-atomic swap
        left missing (its complete new directory beside it), under the lock; nothing when
        the target exists or nothing is beside it. A reader (``edge-coverage report``)
        calls it before it reads the target (tester 193: `report DIR` said it did not
        exist; only a plan run repaired it, and replaced it)."""
        if os.path.lexists(self.path) or not self._leftovers():
            return
        fd, lock = take_lock(self.path, self.option, self.requested)
        try:
            self._recover()
        finally:
            drop_lock(fd, lock)

    def _leftovers(self) -> list[Path]:
        """The staging and moved-aside directories of killed runs into the target, newest
        first."""
        def ours(entry: Path) -> bool:
            m = _LEFTOVER_NAME.match(entry.name)
            return m is not None and m.group(1) == self.path.name and entry.is_dir()

        try:
            return sorted((e for e in self.path.parent.iterdir() if ours(e)),
                          key=lambda e: e.stat().st_mtime, reverse=True)
        except OSError:
            return []

    def _recover(self) -> None:
        """Under the lock: repair a swap killed half-way, remove leftovers of killed runs."""
        left = self._leftovers()
        if not self.path.exists():
            # killed between the two renames of a non-atomic swap: the complete new
            # directory (marker written last) wins over the old one
            for e in left:
                complete = read_marker(e) is not None and not (e / _STAGING_MARKER).exists()
                if "-tmp-" in e.name and complete:
                    os.rename(e, self.path)
                    logger.warning("restored %s from %s (a run was killed while swapping)",
                                   self.path, e.name)
                    left.remove(e)
                    break
            else:
                for e in left:
                    # a whole old directory only (not one whose removal was cut short)
                    if ("-old-" in e.name and not foreign_entries(e) and os.listdir(e)
                            and _whole(e)):
                        os.rename(e, self.path)
                        logger.warning("restored %s from %s (a run was killed while "
                                       "swapping)", self.path, e.name)
                        left.remove(e)
                        break
        for e in left:
            # an -old- directory was checked to hold only the tool's files before it was
            # moved aside under the lock, and keeps its marker until the rest is gone
            # (remove_old_dir); a -tmp- one must carry one of the tool's markers. One
            # without a marker is the user's, whatever its files' names (tester 144: a
            # look-alike holding a "sites.csv" was removed), unless it is empty; one the
            # user filled holds files the tool did not write: both left alone, as
            # docs/outputs.md says
            if "-old-" in e.name:
                if not ((read_marker(e) is not None and not foreign_entries(e))
                        or next(e.iterdir(), None) is None):
                    continue
                remove_old_dir(e)  # its marker last, and kept (with a warning) while a
                # file cannot be removed: never left markerless (review 139)
            elif (e / _STAGING_MARKER).exists():
                shutil.rmtree(e, ignore_errors=True)  # a staging directory never completed
            elif read_marker(e) is not None:
                # complete: a new directory never swapped in, or the old target that a
                # swap killed between the exchange and its check left under this name
                # (tester 179: removed with a file of the user's in it): one holding
                # anything the tool did not write, or an edited file, is kept in sight
                # (an edited file that is a hard link to the target's is no copy of its
                # own: a report run carries the target's edited tables so; review 158)
                theirs = foreign_entries(e) + [
                    n for n in edited_entries(e)
                    if _inode(e / n) != _inode(self.path / n)]
                if theirs:
                    kept = _kept_name(self.path, "kept")
                    try:
                        os.rename(e, kept)
                    except OSError:
                        kept = e
                    logger.warning(
                        "%s: a run killed while swapping left a directory holding files "
                        "edge-coverage did not write, or edited since (%s); kept as %s. "
                        "Fix: move what you need from it, then remove it", self.path,
                        _describe(theirs), kept)
                    continue
                shutil.rmtree(e, ignore_errors=True)
            else:
                if "-tmp-" in e.name and next(e.iterdir(), None) is not None:
                    # no marker: not the tool's, left alone, but said (review 158: a
                    # target filled by hand while a run computed, then left under this
                    # name by a run killed in its swap, stayed hidden without a word)
                    logger.warning(
                        "%s: %s is named like edge-coverage's staging directory but holds "
                        "no marker of its: left as it is (a run killed while swapping may "
                        "have left your earlier %s there). Fix: move what you need from "
                        "it, then remove it", self.path, e, self.path.name)
                continue
            if not os.path.lexists(e):
                logger.info("removed %s, left by a killed run", e)

    def adopt(self, files: Collection[str]) -> Path:
        """Make the target this tool's in place (for directories filled over time, like a
        batch sweep): create it and write the marker listing ``files``; remove hidden
        temporaries of killed runs.

        Parameters
        ----------
        files : collection of str
            Entry names the directory may hold.

        Returns
        -------
        pathlib.Path
            The target directory.
        """
        from .. import __version__

        try:
            self.path.mkdir(exist_ok=True)
            owned = set(files)
            for e in os.listdir(self.path):
                if own_temporary(e, owned, self.path):
                    (self.path / e).unlink(missing_ok=True)
            doc = {"tool": _TOOL, "kind": self.kind, "version": __version__,
                   "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   "files": sorted(owned)}
            was = (read_marker(self.path) or {}).get("stats")
            if isinstance(was, dict):  # what the files were: kept until they are rewritten
                doc["stats"] = was
            write_atomic(self.path / MARKER, json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            raise OutputWriteError(write_error_message(self.path, exc)) from exc
        self.committed = True
        return self.path

    def _is_our_staging(self, path: Path) -> bool:
        """Whether ``path`` is still the staging directory :meth:`start` made (its inode),
        not the old directory an exchange cut short left under its name."""
        try:
            st = os.lstat(path)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == self._staging_id

    def _not_ours(self, old: Path) -> list[str]:
        """What the swap must not throw away in the replaced directory ``old``: entries
        the tool did not write, entries that were not there when the target was checked
        (whatever their names: a plan's files, or a whole plan directory, copied in while
        the run computed), and files changed since."""
        names = set(foreign_entries(old)) | set(_changed_since(old, self._seen))
        try:
            now = os.listdir(old)
        except OSError:
            now = []
        owned = set(self.files)
        names |= {e for e in now if e not in self._start_entries and e != MARKER
                  and not own_temporary(e, owned, old)}
        if MARKER in now and MARKER not in self._start_entries:
            names.add(MARKER)  # a marker copied in with a plan directory
        return sorted(names)

    # -- staging and commit
    def start(self, carry: Collection[str] = ()) -> Path:
        """A fresh staging directory next to the target (an earlier one is discarded).

        Parameters
        ----------
        carry : collection of str
            Names of files of the current target to carry into the new directory
            (hard links where possible, copies otherwise).

        Returns
        -------
        pathlib.Path
            The staging directory.
        """
        if self._lock_fd is None:
            raise RuntimeError("OutputDir.start() outside its context")
        if self.staging is not None and self._is_our_staging(self.staging):
            shutil.rmtree(self.staging, ignore_errors=True)
        staging = _aside_name(self.path, "tmp")
        try:
            staging.mkdir()
            st = os.lstat(staging)
            self._staging_id = (st.st_dev, st.st_ino)
            (staging / _STAGING_MARKER).write_bytes(b"")
            # the marker's room, taken before any output: a disk filled by the outputs
            # (optional ones included) cannot then lose the whole plan at its last write
            (staging / MARKER).write_bytes(b"{}" + b" " * (MARKER_RESERVE_BYTES - 2))
            for name in carry:
                src = self.path / name
                if src.is_dir():
                    shutil.copytree(src, staging / name, copy_function=_link_or_copy)
                elif src.exists():
                    _link_or_copy(src, staging / name)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputWriteError(write_error_message(staging, exc)) from exc
        self.staging = staging
        return staging

    def _keep_new(self, staging: Path) -> Path:
        """The complete staging directory under its kept name (:func:`_kept_name`), or
        where it is when it cannot be renamed either."""
        kept = _kept_name(self.path)
        try:
            os.rename(staging, kept)
        except OSError:
            return staging
        return kept

    def commit(self, extra: dict[str, Any] | None = None, *,
               still_edited: Collection[str] = ()) -> Path:
        """Write the marker, fsync everything and swap the staging directory in.

        Parameters
        ----------
        extra : dict, optional
            More fields for the marker (e.g. skipped outputs).
        still_edited : collection of str, optional
            Files carried over that were edited by hand since the tool wrote them: the new
            marker keeps their old record, so that they still count as edited (and a later
            plan run still refuses to replace them).

        Returns
        -------
        pathlib.Path
            The target directory.
        """
        from .. import __version__

        staging = self.staging
        if staging is None:
            raise RuntimeError("OutputDir.commit() without start()")
        complete = False
        try:
            # an output skipped but still there could not be removed (a directory the user
            # made at its name meanwhile): not listed, so the next run refuses it as
            # theirs rather than removing it (review 165)
            skipped = set((extra or {}).get("skipped") or ())
            files = sorted(e for e in os.listdir(staging)
                           if e not in (MARKER, _STAGING_MARKER) and e not in skipped)
            dirs = [e for e in files if (staging / e).is_dir()]
            stats = file_stats(staging, files)
            if still_edited:
                was = (read_marker(self.path) or {}).get("stats")
                was = was if isinstance(was, dict) else {}
                stats.update({n: was[n] for n in still_edited if n in was and n in stats})
            doc = {"tool": _TOOL, "kind": self.kind, "version": __version__,
                   "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files,
                   "dirs": dirs,
                   # what each file was: a later run refuses to replace one edited since
                   "stats": stats, **(extra or {})}
            # the marker first, then the staging marker goes: never a folder with neither;
            # written over the room start() took (no new block unless it is larger)
            data = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
            fd = os.open(staging / MARKER, os.O_WRONLY | os.O_CREAT, 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.ftruncate(fd, len(data))
            finally:
                os.close(fd)
            (staging / _STAGING_MARKER).unlink(missing_ok=True)
            _inherit_attributes(self.path, staging)
            fsync_tree(staging)
            if self.before_swap is not None:
                self.before_swap()
            complete = True  # (the staging directory is the whole new one from here)
            old = swap_dir(staging, self.path, foreign=self._not_ours, remove_old=False)
        except ForeignFilesError as exc:
            kept = self._keep_new(staging)
            self.staging = None
            if exc.replaced:
                raise _kept_error(
                    kept,
                    f"{self.option} {self.requested}: {self.path} is no longer a directory "
                    f"(a file or a link was put in its place while planning); it was left "
                    f"as it is. The new outputs are complete in {kept}. Fix: use {kept} "
                    f"as it is, or choose another {self.option}") from None
            edited = [n for n in exc.names if n in self._seen]
            if edited:
                added = [n for n in exc.names if n not in self._seen]
                raise _kept_error(
                    kept,
                    f"{self.option} {self.requested}: {_describe(edited)} changed while "
                    "edge-coverage was writing the directory (edited by hand?)"
                    + (f", and files it did not write appeared ({_describe(added)})"
                       if added else "")
                    + f"; nothing was replaced, the edits are kept. The new outputs are "
                    f"complete in {kept}. Fix: move the edited files out of "
                    f"{self.path} and use {kept}, or run again") from None
            raise _kept_error(
                kept,
                f"{self.option} {self.requested}: files edge-coverage did not write appeared "
                f"in it while planning ({_describe(exc.names)}); nothing was replaced. The "
                f"new outputs are complete in {kept}. Fix: move your files out of "
                f"{self.path} and run again, or use {kept} as it is") from None
        except OSError as exc:
            if complete and self._is_our_staging(self.path):
                # the swap went through and a step after it failed (the old directory
                # not moved aside, an fsync): the new outputs are the target (review 139:
                # they were said to be where the old directory was left)
                logger.warning("%s: the new outputs are in place, but a step after the swap "
                               "failed (%s)", self.path, exc.strerror or exc)
                old = staging if _is_real_dir(staging) else None
            elif complete and self._is_our_staging(staging):
                # the swap failed with the new directory complete: kept, not thrown away
                # (tester 144: a target another user owns in a sticky directory)
                kept = self._keep_new(staging)
                self.staging = None
                later = (" (a later run into the same directory removes it: move it first)"
                         if kept == staging else "")
                raise _kept_error(
                    kept,
                    f"{self.option} {self.requested}: cannot put the new outputs in place of "
                    f"{self.path} ({exc.strerror or exc}); it was left as it is. The new "
                    f"outputs are complete in {kept}{later}. Fix: use {kept} as it is, or "
                    f"choose another {self.option}") from exc
            else:
                raise OutputWriteError(write_error_message(self.path, exc)) from exc
        except BaseException:
            if complete and self._is_our_staging(self.path):
                # a stop (Ctrl-C, SIGTERM) after the swap went through, as the old
                # directory was moved aside: the new outputs are the target, and the
                # message says so (tester 193: "terminated", as if nothing was written);
                # the old directory left beside it goes with the next run
                self.staging = None
                self.committed = True
            raise
        self.staging = None
        self.committed = True  # before the old directory goes: a Ctrl-C now loses nothing
        self.files = set(files) | {MARKER}
        # what the target holds now is this run's: a second commit through this object
        # compares with it (review 158: a second write_plan through one OutputDir into a
        # target absent at the start was refused)
        self._start_entries = frozenset(self.files)
        self._seen = file_stats(self.path, files, hash_max_bytes=REHASHED_MAX_BYTES)
        if old is not None:
            remove_old_dir(old)
        return self.path


def _kept_error(kept: Path, message: str) -> OutputWriteError:
    """An :class:`OutputWriteError` whose complete new outputs were kept in ``kept``."""
    err = OutputWriteError(message)
    err.kept = kept
    return err


def _kept_name(path: Path, what: str = "new") -> Path:
    """``NAME.edge-coverage-new-<time>-<4 hex>`` beside ``path``: a complete new directory
    that could not take its place (visible, and never removed by a later run);
    ``what="kept"``: a directory a killed swap left, kept for the user's files in it."""
    return path.with_name(f"{path.name}.edge-coverage-{what}-"
                          f"{time.strftime('%Y%m%d-%H%M%S')}-"
                          f"{uuid.uuid4().hex[:4]}")  # two in one second


def _inherit_attributes(target: Path, staging: Path) -> None:
    """Give ``staging`` the permission bits and group of the directory it replaces (and,
    under a set-group-ID directory, its group to every entry, as if made in it): a swap
    had reset a shared plan directory to the defaults of its parent (a tester's find).
    Run as root (effective uid 0), the directory and every entry also get the old
    directory's owner and group: a root run into a user's directory left it owned by root,
    the user locked out of their own plan (a tester's find). Best effort: a group the user
    may not give is left as it is. ACLs are not copied."""
    try:
        st = os.stat(target)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    owner = st.st_uid if as_root else -1
    with contextlib.suppress(OSError):
        os.chown(staging, owner, st.st_gid)
    with contextlib.suppress(OSError):
        os.chmod(staging, stat.S_IMODE(st.st_mode))
    if as_root or st.st_mode & stat.S_ISGID:
        for root, dirs, files in os.walk(staging):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    os.chown(os.path.join(root, name), owner, st.st_gid,
                             follow_symlinks=False)


def give_to_owner(directory: Path) -> None:
    """Run as root (effective uid 0), give every entry under ``directory`` that root owns
    the directory's owner and group: a directory written in place (a batch's) keeps its
    owner, but a root run left the files it wrote there owned by root (review 115; a
    swapped plan directory gets this from :func:`_inherit_attributes`). Nothing without
    root, or in a directory root owns. Best effort."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return
    try:
        st = os.stat(directory)
    except OSError:
        return
    if st.st_uid == 0 or not stat.S_ISDIR(st.st_mode):
        return
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid == 0:
                    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)


def _update_stats(directory: Path, update: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``update`` to the file record (``stats``) of the marker of ``directory`` and
    write the marker again. Best effort: no marker, or one that cannot be rewritten,
    keeps its old record."""
    marker = read_marker(directory)
    if marker is None:
        return
    stats = marker.get("stats") if isinstance(marker.get("stats"), dict) else {}
    update(stats)
    marker["stats"] = stats
    with contextlib.suppress(OSError):
        write_atomic(directory / MARKER, json.dumps(marker, indent=2) + "\n")


def record_stats(directory: Path, names: Iterable[str]) -> None:
    """Record in the marker of ``directory`` (one filled over time, like a batch sweep) what
    the files ``names`` are now, just written by the tool: a later run refuses to replace
    one edited since (:func:`edited_entries`). A name that is not a file is dropped from
    the record."""
    names = list(names)

    def update(stats: dict[str, Any]) -> None:
        for name in names:
            stats.pop(name, None)
        stats.update(file_stats(directory, names))

    _update_stats(directory, update)


def record_pending(directory: Path, contents: Mapping[str, bytes]) -> None:
    """Record in the marker of ``directory`` what the files of ``contents`` are about to
    become (size and SHA-256), before they are written: a run killed between the write and
    :func:`record_stats` leaves files the next run still knows for the tool's own (else it
    took them for hand edits and refused them)."""
    import hashlib

    def update(stats: dict[str, Any]) -> None:
        for name, data in contents.items():
            was = stats.get(name)
            was = list(was[:3]) if isinstance(was, list) and len(was) >= 2 else [None, None]
            was += [None] * (3 - len(was))
            stats[name] = [*was, [len(data), hashlib.sha256(data).hexdigest()]]

    _update_stats(directory, update)


def _whole(directory: Path) -> bool:
    """Whether every file the marker of ``directory`` lists is there (a replaced directory
    whose removal was cut short lacks some: it is never put back as the target)."""
    marker = read_marker(directory)
    files = (marker or {}).get("files")
    if not isinstance(files, list):
        return False
    return all(isinstance(f, str) and os.path.lexists(directory / f) for f in files)


def _changed_since(directory: Path, seen: Mapping[str, list[Any]]) -> list[str]:
    """The files of ``seen`` whose size, modification time or (up to
    :data:`REHASHED_MAX_BYTES`) content in ``directory`` is no longer the recorded one
    (``seen``: :func:`file_stats` with that hash limit)."""
    now = file_stats(directory, seen, hash_max_bytes=REHASHED_MAX_BYTES)
    return sorted(n for n, was in seen.items() if n in now and now[n] != list(was))


def _link_or_copy(src: Any, dst: Any) -> Any:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def write_error_message(path: Path, exc: OSError, shown: Path | None = None) -> str:
    """One sentence for a failed write: the path, the reason and a fix. ``shown``: the
    path to name instead (a file of a staging directory, which is removed, named as the
    target's; tester 179: the message named a hidden path that no longer existed), with
    the note that nothing was replaced."""
    reason = exc.strerror or str(exc)
    where = exc.filename or path
    if shown is not None:
        return (f"cannot write {shown}: {reason}; nothing was put in place of "
                f"{shown.parent}. Fix: " + _write_hint(exc))
    return f"cannot write {where}: {reason}. Fix: {_write_hint(exc)}"


def _write_hint(exc: OSError) -> str:
    """The fix of a failed write, by its errno."""
    hint = {errno.ENOSPC: "the disk is full: free space or choose another directory",
            errno.EDQUOT: "the disk quota is used up: free space or choose another directory",
            errno.EACCES: "permission denied: choose a directory you can write to",
            errno.EPERM: "permission denied: choose a directory you can write to",
            errno.EROFS: "the file system is read-only: choose another directory",
            errno.EFBIG: "the file is larger than allowed here (file size limit)"}.get(
                exc.errno or 0, "check the directory and the disk")
    return hint
