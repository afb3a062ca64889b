"""Which files make up a manifest set: the paths a user names, directories searched for `*.yaml`/`*.yml`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reconcile.manifest.diagnostics import Diagnostic

MANIFEST_SUFFIXES = (".yaml", ".yml")


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
        elif os.path.isfile(given):
            found.setdefault(os.path.realpath(given), given)
        elif os.path.lexists(given):
            problems.append(_problem(given, "not a regular file or directory"))
        else:
            problems.append(_problem(given, "no such file or directory"))
    return sorted(found.values()), problems


def read_manifest_file(path: str) -> ManifestFile | Diagnostic:
    """The file's bytes, or why it cannot be read. Files are read one at a time, so a large set is never
    held in memory whole."""
    try:
        with open(path, "rb") as stream:
            return ManifestFile(path, stream.read())
    except OSError as exc:
        return _problem(path, f"cannot read the file: {exc.strerror or exc}")


def _manifests_under(directory: str) -> Iterator[str]:
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                yield os.path.normpath(os.path.join(root, name))


def _problem(path: str, message: str) -> Diagnostic:
    # A whole-file problem has no position; 1:1 keeps every line in the `path:line:col: message` shape.
    return Diagnostic(path, 1, 1, message)
