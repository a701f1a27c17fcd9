"""Who may write a folder, and which of its files a command may remove.

Two rules keep a user's files safe, as ``git`` and ``rsync`` keep them:

- one writer at a time: ``folder_lock`` takes an exclusive lock on
  ``FOLDER/.lock`` for as long as a command writes the folder, and a second
  writer is refused at once with one line naming the holder's PID;
- remove only what you wrote: a command that replaces its own output
  (``--force``) lists the files it wrote in a manifest (``MANIFEST``) and
  refuses when the folder holds anything else.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path
from typing import Iterable, Iterator

from mgmtn.errors import MgmtnError

LOCK_FILE = ".lock"
MANIFEST = ".mgmtn-manifest.json"

def _holder(handle) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f"process {pid}" if pid else "another process"


def _same_file(handle) -> bool:
    """Whether ``handle``'s path still names the file it opened (not removed, nor replaced by another)."""
    try:
        return os.stat(handle.name).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def _acquire(folder: Path, what: str, wait: bool):
    """The open, locked ``folder/.lock``, holding this process's PID."""
    path = folder / LOCK_FILE
    while True:
        try:
            handle = open(path, "a+")
        except OSError as error:
            raise write_error(error, path) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            handle.close()
            raise MgmtnError(f"{folder}: {holder} is writing this {what} ({path}); wait for it to finish or "
                             "choose another folder") from None
        if _same_file(handle):  # else the holder removed the file as we opened it: lock the one now there
            break
        handle.close()
    try:
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as error:
        handle.close()
        raise write_error(error, path) from None
    return handle


@contextmanager
def folder_lock(folder: Path, what: str = "folder", wait: bool = False) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``folder/.lock`` (created with the folder) while the block runs.

    The lock file holds the holder's PID and is removed when the block ends. A
    second writer is refused at once (``wait``: it waits instead, for short
    critical sections). The lock belongs to the open file, so the kernel frees
    it when its process dies, however it dies (kill -9 included): the ``.lock``
    a dead process leaves is simply taken over. A folder created here that is
    empty at the end is removed again, so a refused command leaves nothing behind.
    """
    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MgmtnError(f"{folder} is a file, not a {what}") from None
    except OSError as error:
        raise write_error(error, folder) from None
    try:
        handle = _acquire(folder, what, wait)
    except MgmtnError:
        if created:
            folder.rmdir()
        raise
    try:
        yield folder
    finally:
        with handle:
            if _same_file(handle):  # removed before the unlock: a waiter then locks a new file
                os.unlink(handle.name)
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


# Write faults a user can act on: a full disk (or quota), a folder without write permission.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a write fault of the block (``WRITE_ERRNOS``) into one ``MgmtnError`` naming ``path``."""
    try:
        yield
    except OSError as error:
        if error.errno in WRITE_ERRNOS:
            raise write_error(error, path) from None
        raise


def write_error(error: OSError, path: Path) -> MgmtnError:
    """One line for a failed write: a full disk and a folder without write permission named as such."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return MgmtnError(f"no space left on device writing {path}")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return MgmtnError(f"cannot write {path}: {os.strerror(error.errno).lower()}")
    return MgmtnError(f"cannot write {path}: {error.strerror or error}")


def written_json(path: Path, keys: Iterable[str]) -> bool:
    """Whether ``path`` is a JSON object with all of ``keys``: how a command recognises a record it wrote."""
    try:
        saved = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and set(keys) <= set(saved)


def check_output_file(path: Path, tool: str, keys: Iterable[str], force: bool = False) -> None:
    """Refuse, before any work, to replace a file that is not ``tool``'s record (``written_json``) unless
    ``force``, or to write where this process cannot."""
    path = Path(path)
    if path.is_dir():
        raise MgmtnError(f"{path} is a folder; --out takes a file name")
    if path.exists() and not force and not written_json(path, keys):
        raise MgmtnError(f"{path} exists and was not written by mgmtn {tool}; pass --force to replace it or "
                         "choose another --out")
    check_writable(path.parent)


def check_writable(folder: Path) -> None:
    """Refuse early a folder (or its nearest existing parent) that this process cannot write."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise MgmtnError(f"cannot write {folder}: permission denied")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def write_manifest(folder: Path, tool: str) -> None:
    """List every file now in ``folder`` as written by ``tool`` (call it on the finished output)."""
    from mgmtn.data.layout import atomic_write

    folder = Path(folder)
    files = [f for f in _files(folder) if f not in (MANIFEST, LOCK_FILE)]
    with atomic_write(folder / MANIFEST) as handle:
        json.dump({"tool": tool, "files": files}, handle)


def foreign_files(folder: Path, tool: str, derived: Iterable[str] = ()) -> list[str]:
    """Files in ``folder`` that ``tool``'s manifest does not list (all of them without its manifest).

    ``derived``: name patterns of files other mgmtn commands add to such a
    folder (e.g. the box caches ``annotate`` writes beside the data).
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        listed = set(manifest["files"]) if manifest.get("tool") == tool else set()
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    patterns = (MANIFEST, LOCK_FILE, *derived)
    return [f for f in _files(folder) if f not in listed and not any(fnmatch(f, p) for p in patterns)]


def check_replaceable(out: Path, tool: str, force: bool, derived: tuple[str, ...] = (),
                      unlisted: tuple[str, tuple[str, ...]] | None = None) -> None:
    """``out`` must be new, empty, or (with ``force``) an earlier output of ``tool`` that holds nothing else.

    ``derived``: see ``foreign_files``. ``unlisted``: (marker, patterns) of an
    output written before manifests existed: where ``marker`` is there and no
    manifest, files matching ``patterns`` count as the tool's own.
    """
    out = Path(out)
    if unlisted and (out / unlisted[0]).exists() and not (out / MANIFEST).exists():
        derived = (*derived, *unlisted[1])
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise MgmtnError(f"{out} is a file or a link, not a folder")
    if not out.is_dir() or all(p.name == LOCK_FILE for p in out.iterdir()):
        return
    foreign = foreign_files(out, tool, derived)
    if foreign:
        raise MgmtnError(f"{out} holds {len(foreign)} files that mgmtn {tool} did not write (first: "
                         f"{out / foreign[0]}); choose a new folder")
    if not force:
        raise MgmtnError(f"{out} already holds an output of mgmtn {tool}; pass --force to replace it or choose a "
                         "new folder")


def _replace(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` onto ``out``, moving an earlier ``out`` aside until that succeeded."""
    if not (out.exists() or out.is_symlink()):
        os.replace(tmp, out)
        return
    trash = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.replace(out, trash / "old")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(trash / "old", out)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def build_beside(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` to fill: renamed onto ``out`` when the block ends, removed if it fails.

    Until the rename an earlier ``out`` stays as it was, and a failed or
    interrupted build leaves no half-written ``out``. Check what ``out`` holds
    first (``check_replaceable``) and hold its lock (``folder_lock``) throughout.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        yield tmp
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes an owner-only folder
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
