"""Manifest files → DesiredState, or a ManifestError listing every problem. Reads files; never the network."""

from __future__ import annotations

import hashlib
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from reconcile.manifest.desired import DesiredMedia, DesiredState, SourceLocation, Warning_
from reconcile.manifest.diagnostics import Diagnostic, ManifestError
from reconcile.manifest.document import Declarations, DeclaredBucket, DeclaredMedia, read_document
from reconcile.manifest.reader import ExpansionLimitExceeded, NodeReader
from reconcile.manifest.sources import ManifestFile, find_manifest_files, read_manifest_file
from reconcile.manifest.yaml_nodes import compose_documents
from reconcile.util.gc import gc_paused

_ADDRESS = operator.attrgetter("address")
_EMPTY_FILE = (
    "no manifest here: the file is empty or holds only comments; declare `region:` and entries, or delete the file"
)


def load_desired_state(paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None) -> DesiredState:
    """Read and validate the manifests under `paths` (files, or directories searched recursively for
    `*.yaml` / `*.yml`). `${VAR}` references are resolved from `env` (default: the process environment).

    Raises ManifestError with every problem found, sorted by path, line and column.
    """
    if not paths:
        raise ValueError("load_desired_state needs at least one manifest path")
    # A snapshot: os.environ decodes on every lookup, and a missing variable costs a KeyError.
    environment = dict(os.environ if env is None else env)
    with gc_paused():
        return _load(paths, environment)


def _load(paths: Sequence[str | os.PathLike[str]], env: Mapping[str, str]) -> DesiredState:
    environment = RecordingEnvironment(env)
    found, diagnostics = find_manifest_files(paths)
    declarations = Declarations()
    warnings: list[Warning_] = []
    files: list[str] = []
    digest = hashlib.sha256()
    for path in found:
        file = read_manifest_file(path)
        if isinstance(file, Diagnostic):
            diagnostics.append(file)
            continue
        files.append(file.path)
        _add_to_digest(digest, file)
        documents, problems = compose_documents(file)
        diagnostics.extend(problems)
        if not documents and not problems:
            diagnostics.append(Diagnostic(file.path, 1, 1, _EMPTY_FILE))
        reader = NodeReader(file.path, environment, len(file.data), aliases=b"*" in file.data)
        try:
            for document in documents:
                read_document(reader, document, declarations)
        except ExpansionLimitExceeded as exc:
            diagnostics.append(exc.diagnostic)  # the rest of the file is not read: it would only repeat more
        diagnostics.extend(reader.diagnostics)
        warnings.extend(reader.warnings)
    diagnostics.extend(_duplicate_buckets(declarations.buckets))
    diagnostics.extend(_duplicate_media(declarations.media))
    if diagnostics:
        raise ManifestError(diagnostics)
    _add_variables_to_digest(digest, environment)
    media: list[DesiredMedia] = [declared.media for declared in declarations.media if declared.media is not None]
    return DesiredState(
        buckets=tuple(sorted((declared.bucket for declared in declarations.buckets), key=_ADDRESS)),
        media=tuple(sorted(media, key=_ADDRESS)),
        files=tuple(files),
        digest=digest.hexdigest(),
        warnings=tuple(sorted(warnings, key=_warning_order)),
    )


class RecordingEnvironment(Mapping[str, str]):
    """The environment, remembering every variable the manifests looked up (set or not)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.used: dict[str, str | None] = {}

    def __getitem__(self, name: str) -> str:
        self.used[name] = self._env.get(name)
        return self._env[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self._env.get(name)
        self.used[name] = value
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def _add_variables_to_digest(digest: hashlib._Hash, environment: RecordingEnvironment) -> None:
    """The same files read with another `${VAR}` value declare other resources: a saved plan made with
    MEDIA_ENV=staging must not apply under MEDIA_ENV=prod. Only the variables the manifests use count."""
    for name, value in sorted(environment.used.items()):
        text = "\x00" if value is None else value
        digest.update(b"env:%d:%s%d:%s" % (len(name), name.encode(), len(text.encode()), text.encode()))


def manifest_digest(files: Sequence[ManifestFile]) -> str:
    """sha256 over the files' paths and bytes, in path order: a saved plan refuses changed manifests."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path):
        _add_to_digest(digest, file)
    return digest.hexdigest()


def _add_to_digest(digest: hashlib._Hash, file: ManifestFile) -> None:
    path = file.path.encode("utf-8", errors="surrogateescape")
    digest.update(b"%d:%s%d:" % (len(path), path, len(file.data)))
    digest.update(file.data)


def _duplicate_buckets(buckets: list[DeclaredBucket]) -> list[Diagnostic]:
    first: dict[str, DeclaredBucket] = {}
    problems: list[Diagnostic] = []
    for declared in buckets:
        name = declared.bucket.bucket
        seen = first.setdefault(name, declared)
        if seen is not declared:
            where = seen.bucket.location
            place, how = _second_place(declared.bucket.location, declared.entry, where, seen.entry)
            problems.append(_at(place, f"input bucket `{name}` is declared twice: first at {where}{how}; remove one"))
    return problems


def _duplicate_media(media: list[DeclaredMedia]) -> list[Diagnostic]:
    by_identity: dict[str, DeclaredMedia] = {}
    by_name: dict[str, DeclaredMedia] = {}
    problems: list[Diagnostic] = []
    for declared in media:
        seen = by_identity.setdefault(declared.identity, declared)
        if seen is not declared:
            place, how = _second_place(declared.location, declared.entry, seen.location, seen.entry)
            if seen.file_url != declared.file_url:
                how += f" as {seen.file_url} (http and https URLs of one object are the same media)"
            message = f"media `{declared.identity}` is declared twice: first at {seen.location}{how}; remove one"
            problems.append(_at(place, message))
        if declared.name_location is None:
            continue
        named = by_name.setdefault(declared.name or "", declared)
        if named is not declared and named.name_location is not None:
            first = named.name_location
            place, how = _second_place(declared.name_location, declared.entry, first, named.entry)
            message = f"media name `{declared.name}` is used twice: first at {first}{how}; names are unique"
            problems.append(_at(place, message))
    return problems


def _second_place(
    place: SourceLocation, entry: SourceLocation, first_place: SourceLocation, first_entry: SourceLocation
) -> tuple[SourceLocation, str]:
    """Where to report a second declaration, and how it came about: a YAML alias or `<<` merge can repeat a
    key, or a whole entry, that is written only once (composed YAML keeps no position for the alias)."""
    if place != first_place:
        return place, ""
    if entry != first_entry:
        return entry, " (this entry repeats it through a YAML alias or `<<` merge)"
    return place, " (a YAML alias `*name` repeats that whole entry)"


def _at(location: SourceLocation, message: str) -> Diagnostic:
    return Diagnostic(location.path, location.line, location.col, message)


def _warning_order(warning: Warning_) -> tuple[str, int, int, str]:
    location = warning.location
    return (location.path, location.line, location.col, warning.message)
