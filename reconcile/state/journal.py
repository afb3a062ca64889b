"""The write-ahead journal: one JSON line per committed batch, replayed over the snapshot on every read.

Each line is a `JournalEntry`: the serial it creates, the lineage it belongs to, and the batch's records,
followed by `"sha256"`, the digest of the entry's JSON as written without it:

    {"serial":3,"lineage":"…","records":[…],"sha256":"<hex digest of {"serial":3,"lineage":"…","records":[…]}>"}

Apply appends one line per successful API batch, fsync'd before it moves on, so a crash loses at most the
batch in flight, and that one only as a torn last line, which reading ignores. Any other change to a line
(a flipped bit, a hand edit) fails its digest, and the journal is refused.

Lines without a digest were written by reconcile before it added one; they are still read, so an apply that
version interrupted can be finished by this one, but only before the journal's first line with a digest:
a line that lost its digest after that was changed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from reconcile.state.model import ResourceKind, ResourceState, StateDocument
from reconcile.state.snapshot import format_loc
from reconcile.state.store import JournalRecord, PutResource, RemoveResource, StateError

log = logging.getLogger(__name__)

TaggedRecord = Annotated[PutResource | RemoveResource, Field(discriminator="op")]


class JournalEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    serial: int
    lineage: str
    records: tuple[TaggedRecord, ...]


_ENTRY = TypeAdapter(JournalEntry)


class JournalMismatchError(StateError):
    """The journal does not continue the snapshot (another lineage, or a gap in serials)."""


@dataclass(frozen=True, slots=True)
class JournalContents:
    entries: tuple[JournalEntry, ...]
    valid_length: int  # bytes up to the end of the last complete entry; an append starts here
    length: int  # bytes read; more than valid_length when the last line is torn


_DIGEST_KEY = b',"sha256":"'
_DIGEST_SUFFIX = len(_DIGEST_KEY) + 64 + len(b'"}')  # ,"sha256":"<64 hex digits>"}


def encode_entry(serial: int, lineage: str, records: Sequence[JournalRecord]) -> bytes:
    body = JournalEntry(serial=serial, lineage=lineage, records=tuple(records)).model_dump_json().encode()
    return body[:-1] + _DIGEST_KEY + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def _split_digest(line: bytes) -> tuple[bytes, bytes] | None:
    """(the entry's JSON as written without its digest, the digest) of a line that has one; else None."""
    if len(line) <= _DIGEST_SUFFIX or not line.endswith(b'"}'):
        return None
    start = len(line) - _DIGEST_SUFFIX
    if line[start : start + len(_DIGEST_KEY)] != _DIGEST_KEY:
        return None
    return line[:start] + b"}", line[start + len(_DIGEST_KEY) : -2]


_CRASH_ONLY_CUTS_THE_END = "only its last line can be cut short by a crash"
_CHANGED = "it was changed after reconcile wrote it (a disk error, or a hand edit)"


def _damaged(location: str, number: int, what: str, why: str = _CRASH_ONLY_CUTS_THE_END) -> StateError:
    return StateError(
        f"state journal {location}:{number} {what}: {why}. Restore the journal from a backup, or move it aside "
        f"to fall back to the snapshot (losing the changes it recorded)."
    )


def decode_entry(line: bytes, location: str, number: int) -> JournalEntry:
    """One journal entry stored on its own (a database row, an object), checked against its sha256, which
    such stores always wrote: a torn write cannot happen there, so any mismatch is damage."""
    signed = _split_digest(line.rstrip(b"\n"))
    if signed is None:
        raise _damaged(location, number, "has no sha256", _CHANGED)
    body, digest = signed
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise _damaged(location, number, "fails its integrity check (its sha256 does not match)", _CHANGED)
    try:
        return _ENTRY.validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise _damaged(location, number, f"is damaged ({format_loc(first['loc'])}: {first['msg']})", _CHANGED) from None


def parse_journal(data: bytes, location: str) -> JournalContents:
    """Parse the committed entries: lines ending with a newline, the commit marker written with the entry.

    What follows the last newline is an append a crash interrupted; it was never acknowledged, so it is
    ignored (with a warning), as is a last line that does not parse and has no digest (a filesystem can extend
    a file before writing its data). A line whose digest does not match is a StateError wherever it is, as is
    damage anywhere but on the last line.
    """
    committed = data.rfind(b"\n") + 1
    if data[committed:].strip():
        log.warning("%s: ignoring an incomplete last entry, left by an interrupted write", location)
    lines = data[:committed].split(b"\n")[:-1]
    entries: list[JournalEntry] = []
    valid_length = 0
    digests_seen = False
    for number, line in enumerate(lines, start=1):
        if line.strip():
            signed = _split_digest(line)
            if signed is not None:
                body, digest = signed
                if hashlib.sha256(body).hexdigest().encode() != digest:
                    raise _damaged(location, number, "fails its integrity check (its sha256 does not match)", _CHANGED)
                digests_seen = True
            else:
                body = line
            try:
                entry = _ENTRY.validate_json(body)
            except ValidationError as exc:
                if number == len(lines) and signed is None:
                    log.warning("%s:%d: ignoring a damaged last entry, left by an interrupted write", location, number)
                    break
                first = exc.errors(include_url=False, include_input=False)[0]
                raise _damaged(location, number, f"is damaged ({format_loc(first['loc'])}: {first['msg']})") from None
            if signed is None and digests_seen:
                raise _damaged(location, number, "has no sha256, unlike the lines before it", _CHANGED)
            entries.append(entry)
        valid_length += len(line) + 1
    return JournalContents(entries=tuple(entries), valid_length=valid_length, length=len(data))


def replay(snapshot: StateDocument, entries: Sequence[JournalEntry], journal_location: str) -> StateDocument:
    """The snapshot with the journal's entries applied in order; resources sorted by address.

    Entries at or below the snapshot's serial are already in it (a rewrite that crashed before removing the
    journal) and are skipped. The rest must continue the snapshot: same lineage, serials without a gap.
    """
    pending = [entry for entry in entries if entry.serial > snapshot.serial]
    if not pending:
        return snapshot
    by_kind: dict[ResourceKind, dict[str, ResourceState]] = {}
    for resource in snapshot.resources:
        by_kind.setdefault(resource.kind, {})[resource.identity] = resource
    serial = snapshot.serial
    for entry in pending:
        if entry.lineage != snapshot.lineage or entry.serial != serial + 1:
            raise JournalMismatchError(
                f"state journal {journal_location} does not continue the snapshot: the snapshot is at serial "
                f"{snapshot.serial} of lineage {snapshot.lineage}, the journal's next entry is serial "
                f"{entry.serial} of lineage {entry.lineage}. Was the snapshot restored from a backup? If the "
                f"snapshot is the state you want, move the journal aside."
            )
        for record in entry.records:
            match record:
                case PutResource(resource=resource):
                    by_kind.setdefault(resource.kind, {})[resource.identity] = resource
                case RemoveResource(kind=kind, identity=identity):
                    by_kind.get(kind, {}).pop(identity, None)
        serial = entry.serial
    resources = sorted((r for index in by_kind.values() for r in index.values()), key=attrgetter("address"))
    return snapshot.model_copy(update={"serial": serial, "resources": resources})
