"""Durable file operations for the local store: private directories, atomic replace, fsync'd appends.

POSIX only promises that a rename survives a crash once the directory holding it is fsync'd, and that
data survives once its file is fsync'd: every step below does both, in that order.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
TEMP_MARKER = ".tmp-"

# Size caps for reading the state's files. A snapshot line weighs about 420 bytes per media (measured on the
# 100k benchmark state: 42 MB), so a 1,000,000-media state is about 0.42 GB; 2 GiB is about five times that.
# The journal of an apply holds at most the resources it changed, plus about 15 bytes per resource of entry
# overhead. A lock record is one short JSON object. A file above its cap is refused before it is read.
MAX_STATE_BYTES = 2 * 1024**3
MAX_JOURNAL_BYTES = 2 * 1024**3
MAX_LOCK_RECORD_BYTES = 64 * 1024
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class FileRefused(Exception):
    """A file that is there but that reconcile will not read: not a regular file, or above its size cap.

    `reason` completes "<file> ...", e.g. "is a character device, not a regular file".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words: "a directory", "a FIFO (named pipe)", "a character device"."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(status: os.stat_result) -> None:
    """FileRefused unless `status` is a regular file's."""
    if not stat.S_ISREG(status.st_mode):
        kind = file_kind(status.st_mode)
        raise FileRefused(f"is {kind}, not a regular file" if kind.startswith("a ") else f"is {kind}")


def read_regular_file(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of `path` and its status, read through one descriptor; FileNotFoundError when it is missing.

    Opened without blocking (a FIFO would wait for a writer for ever) and checked with fstat on the opened
    descriptor (so a file swapped in after a check cannot slip through): only a regular file is read, and at
    most `limit` bytes of it (FileRefused otherwise, before or while reading: /dev/zero never ends).
    """
    fd = os.open(path, READ_FLAGS)
    try:
        status = os.fstat(fd)
        check_regular(status)
        if status.st_size > limit:
            raise FileRefused(_too_large(status.st_size, limit))
        parts: list[bytes] = []
        total = 0
        wanted = status.st_size + 1  # one byte more than expected: end of file is then seen in one extra read
        while True:
            chunk = os.read(fd, max(wanted - total, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise FileRefused(_too_large(total, limit))
    finally:
        os.close(fd)
    return (parts[0] if len(parts) == 1 else b"".join(parts)), status


def _too_large(size: int, limit: int) -> str:
    return f"is larger than {limit:,} bytes ({size:,} bytes or more), far more than reconcile ever writes there"


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
