"""Which files make up a manifest set: the paths a user names, directories searched for `*.yaml`/`*.yml`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reconcile.manifest.diagnostics import Diagnostic

MANIFEST_SUFFIXES = (".yaml", ".yml")
# The benchmarks' 100,000 entries weigh 28 MB as 100 files (280 KB each) and 14 MB as 10 files (1.4 MB each):
# a file past this is no manifest, and reading it whole would only exhaust memory.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
# A FIFO opens at once instead of waiting for a writer; a terminal does not become the controlling one.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: str  # as the user spelled it, or joined onto the directory they named
    data: bytes


def find_manifest_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[str], list[Diagnostic]]:
    """Every manifest file under `paths`, sorted by path and listed once each, with the paths that failed.

    A named file is taken whatever its extension (pre-commit passes file names); a directory contributes its
    `*.yaml` and `*.yml` files, recursively, skipping hidden files and directories (`.git`, `.terraform`).
    """
    problems: list[Diagnostic] = []
    found: dict[str, str] = {}  # real path → path as spelled; a file named twice is read once
    for given_path in paths:
        given = os.fspath(given_path)
        if os.path.isdir(given):
            in_directory = list(_manifests_under(given))
            if not in_directory:
                problems.append(_problem(given, "no manifest files (*.yaml, *.yml) in this directory"))
            for path in in_directory:
                found.setdefault(os.path.realpath(path), path)
        elif os.path.exists(given):  # a FIFO or a device too: reading it says what it is
            found.setdefault(os.path.realpath(given), given)
        elif os.path.lexists(given):
            problems.append(_problem(given, "not a regular file or directory"))
        else:
            problems.append(_problem(given, "no such file or directory"))
    return sorted(found.values()), problems


def read_manifest_file(path: str) -> ManifestFile | Diagnostic:
    """The file's bytes, or why it cannot be read. Files are read one at a time, so a large set is never
    held in memory whole.

    Only a regular file (or a symlink to one) of at most MAX_MANIFEST_BYTES is read: a FIFO would block the
    read forever and `/dev/zero` would fill memory. The type is checked before opening, so no device is ever
    opened, and again on the opened file, in case the path was swapped in between.
    """
    try:
        problem = _not_a_manifest_file(path, os.stat(path))
        if problem is not None:
            return _problem(path, problem)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return _problem(path, f"cannot read the file: {exc.strerror or exc}")
    try:
        with open(fd, "rb") as stream:
            info = os.fstat(fd)
            problem = _not_a_manifest_file(path, info)
            if problem is not None:
                return _problem(path, problem)
            # One byte more than the size says: a file that grew since (or a /proc file, whose size is 0)
            # is read on, up to the limit.
            data = stream.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += stream.read(MAX_MANIFEST_BYTES + 1 - len(data))
    except OSError as exc:
        return _problem(path, f"cannot read the file: {exc.strerror or exc}")
    if len(data) > MAX_MANIFEST_BYTES:
        return _problem(path, _too_large())
    return ManifestFile(path, data)


def _not_a_manifest_file(path: str, info: os.stat_result) -> str | None:
    """Why the file at `path`, with this status, is not read as a manifest, if it is not."""
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        what = next((name for is_kind, name in _NOT_REGULAR if is_kind(mode)), "a special file")
        if os.path.islink(path):
            what = f"a symlink to {what}"
        return (
            f"is {what}, not a regular file; manifests are read only from regular files (a symlink to one is "
            "fine): remove it, or name the manifest files themselves"
        )
    if info.st_size > MAX_MANIFEST_BYTES:
        return _too_large()
    return None


def _too_large() -> str:
    limit = MAX_MANIFEST_BYTES // (1024 * 1024)
    return f"is larger than {limit} MiB, the most a manifest file may hold; split it into several files"


def _manifests_under(directory: str) -> Iterator[str]:
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                yield os.path.normpath(os.path.join(root, name))


def _problem(path: str, message: str) -> Diagnostic:
    # A whole-file problem has no position; 1:1 keeps every line in the `path:line:col: message` shape.
    return Diagnostic(path, 1, 1, message)
