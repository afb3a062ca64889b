"""Durable file operations for the local store: private directories, atomic replace, fsync'd appends.

POSIX only promises that a rename survives a crash once the directory holding it is fsync'd, and that
data survives once its file is fsync'd: every step below does both, in that order.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
TEMP_MARKER = ".tmp-"


def make_private_dir(directory: Path) -> None:
    """Create `directory` and any missing parents as 0700; directories that already exist are left alone."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=PRIVATE_DIR)
            path.chmod(PRIVATE_DIR)  # mkdir's mode is filtered by the umask


def fsync_dir(directory: Path) -> None:
    """Make renames, creations and removals in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory; their renames are synchronous
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def temp_path_for(target: Path) -> Path:
    """A unique hidden sibling of `target`: same directory, so the final rename stays atomic."""
    return target.with_name(f".{target.name}{TEMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove_stale_temps(target: Path) -> None:
    """Remove temp files a crashed writer left next to `target`. Call only while holding the state lock."""
    for leftover in target.parent.glob(f".{target.name}{TEMP_MARKER}*"):
        log.info("removing %s, left by an interrupted write", leftover)
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (signals, some filesystems): loop until everything is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file_durably(path: Path, data: bytes) -> None:
    """Create `path` (which must not exist) with mode 0600 and `data`, fsync'd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(target: Path, data: bytes, backup: Path | None = None) -> None:
    """Replace `target` with `data` so that a crash at any moment leaves either the old or the new file whole.

    temp file in the same directory → fsync → (hard-link the old file to `backup`) → rename → fsync directory.
    """
    temp = temp_path_for(target)
    try:
        write_file_durably(temp, data)
        if backup is not None and target.exists():
            keep_copy(target, backup)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


def keep_copy(source: Path, copy: Path) -> None:
    """Point `copy` at `source`'s current content: a hard link (no data copied), swapped in atomically."""
    temp = temp_path_for(copy)
    os.link(source, temp)
    try:
        os.replace(temp, copy)
    finally:
        # Renaming onto another link of the same file does nothing and leaves `temp`: remove it either way.
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def append_durably(path: Path, data: bytes, truncate_to: int | None = None) -> os.stat_result:
    """Append `data` to `path` (created 0600 if missing) in one write, fsync'd; returns the file's new status.

    `truncate_to` first cuts off a torn tail (a line a crash interrupted), so the new line starts clean.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    created = not path.exists()
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        if created:
            os.fchmod(fd, PRIVATE_FILE)
        if truncate_to is not None:
            os.ftruncate(fd, truncate_to)
        write_all(fd, data)
        os.fsync(fd)
        status = os.fstat(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return status


def remove_durably(path: Path) -> None:
    """Remove `path` if it exists, and make the removal durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
