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
from operator import attrgetter
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reconcile.state.model import (
    STATE_FORMAT_VERSION,
    ResourceState,
    SharedFieldsSets,
    StateDocument,
    share_fields_sets,
)
from reconcile.state.store import StateError
from reconcile.util.gc import gc_paused

_RESOURCE_JSON = ResourceState.__pydantic_serializer__
_ADDRESS = attrgetter("address")
_IDENTITY = attrgetter("identity")


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
    check_each_resource_once(doc.resources, data, location, restore_hint)
    return doc


def check_each_resource_once(resources: Sequence[ResourceState], data: bytes, location: str, restore_hint: str) -> None:
    """The writer records each resource once, under one address: refuse a file that says otherwise (a hand edit,
    a bad merge), rather than let the later line silently win."""
    count = len(resources)
    # The usual case, in C (~60 ms at 100k). Identities of different kinds never collide (a media's has a `/`,
    # which no bucket name has), so distinct identities mean distinct (kind, identity) pairs.
    if len(set(map(_ADDRESS, resources))) == count and len(set(map(_IDENTITY, resources))) == count:
        return
    addresses: dict[str, int] = {}
    identities: dict[tuple[str, str], int] = {}
    for index, resource in enumerate(resources):
        first = addresses.setdefault(resource.address, index)
        if first != index:
            other = resources[first]
            how = "twice (identical lines)" if other == resource else "twice, differently"
            raise _recorded_twice(data, location, first, index, f"{resource.address} {how}", restore_hint)
        first = identities.setdefault((resource.kind, resource.identity), index)
        if first != index:
            other = resources[first]
            how = f"the same {resource.kind} {resource.identity} under two addresses ({other.address} and "
            raise _recorded_twice(data, location, first, index, f"{how}{resource.address})", restore_hint)


def _recorded_twice(data: bytes, location: str, first: int, second: int, what: str, restore_hint: str) -> StateError:
    return StateError(
        f"state file {_where(data, location, first)} and {_where(data, location, second)} record {what}: reconcile "
        f"writes each resource once, so the file was edited by hand or merged badly. Keep one of the two lines and "
        f"delete the other (`reconcile drift` shows which one matches the account), or: {restore_hint}"
    )


def _line_of(data: bytes, loc: Sequence[int | str]) -> int | None:
    """The line of `loc` in a snapshot laid out as the writer lays it out (header, then one resource per line)."""
    first_line = data[: data.find(b"\n")]
    if not first_line.endswith(b'"resources":['):
        return None
    if not loc or loc[0] != "resources":
        return 1
    if len(loc) < 2 or not isinstance(loc[1], int):
        return None
    lines = data.split(b"\n", loc[1] + 2)
    line = loc[1] + 2
    return line if len(lines) > line - 1 and lines[line - 1].startswith(b"{") else None


def _where(data: bytes, location: str, index: int) -> str:
    """`path:line` of resource `index`, or `path (resources[index])` in a file laid out otherwise."""
    line = _line_of(data, ("resources", index))
    return f"{location}:{line}" if line is not None else f"{location} (resources[{index}])"


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
    line = _line_of(data, first["loc"])
    return StateError(
        f"state file {location}{f':{line}' if line else ''} is not a valid reconcile state: "
        f"{format_loc(first['loc'])}: {first['msg']} "
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
