"""The state snapshot's bytes: encoding, and decoding with errors a user can act on.

The file is one JSON document with one resource per line, so `grep` finds a resource whole and a diff of
two snapshots is a diff of resources, while a parser reads it in one call:

    {"version":1,"lineage":"…","serial":7,"resources":[
    {"address":"input_bucket.media-in","kind":"input_bucket",…},
    {"address":"media.intro","kind":"media",…}
    ]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reconcile.gcpause import gc_paused
from reconcile.state.model import (
    STATE_FORMAT_VERSION,
    ResourceState,
    SharedFieldsSets,
    StateDocument,
    share_fields_sets,
)
from reconcile.state.store import StateError

_RESOURCE_JSON = ResourceState.__pydantic_serializer__


class _VersionProbe(BaseModel):
    """Reads only `version`, to explain a document the current model rejects."""

    model_config = ConfigDict(extra="ignore")
    version: Any = None


def encode_snapshot(doc: StateDocument) -> bytes:
    header = doc.model_dump_json(exclude={"resources"}).encode()[:-1] + b',"resources":['
    chunks = [_RESOURCE_JSON.to_json(resource) for resource in doc.resources]
    if not chunks:
        return header + b"\n]}\n"
    # One join, one copy of the (tens of megabytes) result: the header and the end ride on the first and last line.
    chunks[0] = header + b"\n" + chunks[0]
    chunks[-1] += b"\n]}\n"
    return b",\n".join(chunks)


def decode_snapshot(data: bytes, location: str, restore_hint: str) -> StateDocument:
    """Parse a snapshot; StateError (never a traceback, never "empty") when it cannot be used.

    `restore_hint` ends the message for a damaged file: what the user can restore it from.
    """
    if not data or data.isspace():
        raise StateError(
            f"state file {location} is empty: it was damaged (a full disk, or an interrupted copy). reconcile "
            f"will not treat it as an empty state, which would plan to re-create everything it manages. "
            f"{restore_hint}"
        )
    try:
        with gc_paused():
            doc = _decode_by_lines(data)
            if doc is None:
                doc = StateDocument.model_validate_json(data)
                share_fields_sets(doc.resources)
    except ValidationError as exc:
        raise _explain(exc, data, location, restore_hint) from None
    check_version(doc.version, location)
    return doc


def _decode_by_lines(data: bytes) -> StateDocument | None:
    """The document `encode_snapshot` writes, read one resource line at a time; None for any other layout or
    any problem, which the whole-document parse then reports precisely (or reads, when only the layout differs).

    The same result as validating the whole document, in less memory: that first builds a tree of the entire
    file, about three times its size (at 50,000 media, 21 MB of JSON peaked at 135 MB over the objects' 55)."""
    end = data.find(b"\n")
    header = data[:end]
    if end < 0 or not header.endswith(b'"resources":['):
        return None
    try:
        doc = StateDocument.model_validate_json(header + b"]}")
    except ValidationError:
        return None
    if doc.version != STATE_FORMAT_VERSION:
        return None
    resources = doc.resources
    validate, share = ResourceState.model_validate_json, SharedFieldsSets()
    start = end + 1
    ended = False  # the last resource read had no trailing comma: the list is over
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return None
        line = data[start:end]
        start = end + 1
        if line == b"]}":
            return doc if (ended or not resources) and not data[start:].strip() else None
        if ended:
            return None
        ended = not line.endswith(b",")
        try:
            resources.append(share(validate(line if ended else line[:-1])))
        except ValidationError:
            return None


def check_version(version: object, location: str) -> None:
    if version == STATE_FORMAT_VERSION:
        return
    if isinstance(version, int) and not isinstance(version, bool) and version > STATE_FORMAT_VERSION:
        raise StateError(
            f"state file {location} has format version {version}, which is newer than this reconcile "
            f"understands (version {STATE_FORMAT_VERSION}): it was written by a newer reconcile. Upgrade "
            f"reconcile (pip install --upgrade reconcile) to use this state."
        )
    raise StateError(
        f"state file {location} has unknown format version {version!r} (this reconcile reads version "
        f"{STATE_FORMAT_VERSION}): it was not written by reconcile, or was edited by hand."
    )


def _explain(exc: ValidationError, data: bytes, location: str, restore_hint: str) -> StateError:
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        detail = first.get("ctx", {}).get("error", first["msg"])
        return StateError(
            f"state file {location} is not valid JSON ({detail}): it was damaged (a full disk, or a hand "
            f"edit). reconcile will not treat it as an empty state, which would plan to re-create everything "
            f"it manages. {restore_hint}"
        )
    try:
        probe = _VersionProbe.model_validate_json(data)
    except ValidationError:
        probe = _VersionProbe()
    if probe.version is not None:
        check_version(probe.version, location)  # a newer format explains itself better than its first error
    return StateError(
        f"state file {location} is not a valid reconcile state: {format_loc(first['loc'])}: {first['msg']} "
        f"({exc.error_count()} error{'s' if exc.error_count() != 1 else ''}). {restore_hint}"
    )


def format_loc(loc: Sequence[int | str]) -> str:
    """("resources", 3, "kind") → "resources[3].kind"; () → "the document"."""
    if not loc:
        return "the document"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
