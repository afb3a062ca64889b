"""The state store interface. The local file store implements it today; a shared remote backend next.

Reads never need the lock. Anything that writes holds it: `with store.lock("apply"): ...`.
During apply, progress is committed cheaply and durably with `append` (one journal entry per
successful batch, each a new serial); `write` rewrites the whole snapshot and folds the journal in.
A reader always sees snapshot + journal, so a crash between batches loses nothing.

Serial and lineage rules (every backend):
- `read()` returns the state at its current serial: the snapshot's, or the last journal entry's.
- `write(doc)` stores `doc` at current serial + 1. It refuses (StateError) a document of another lineage,
  a fresh document (`StateDocument.empty()`, lineage "") when a state already exists, and a document read at
  an older serial than the current one (someone wrote since): read again, then write.
- `append(records)` is one new serial per call. Without any state yet, it first creates an empty one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from reconcile.state.model import ResourceKind, ResourceState, StateDocument


class LockInfo(BaseModel):
    """Who holds the state lock; shown to anyone who is refused it."""

    model_config = ConfigDict(frozen=True)

    id: str
    pid: int
    host: str
    command: str
    created: str  # UTC, ISO 8601

    def describe(self) -> str:
        return f"lock {self.id} held by pid {self.pid} on {self.host} ({self.command!r}) since {self.created}"


class StateLockedError(Exception):
    """The lock is held by someone else (after waiting up to the lock timeout)."""

    def __init__(self, holder: LockInfo | None, location: str, waited: float = 0.0) -> None:
        self.holder = holder
        self.location = location
        self.waited = waited
        who = holder.describe() if holder else "a lock whose holder could not be read"
        after = f" (waited {waited:g}s)" if waited > 0 else ""
        super().__init__(
            f"state {location} is locked{after}: {who}. It is released when that command ends: wait for it, or "
            f"retry with --lock-timeout (e.g. 5m). If its holder died on another machine, run "
            f"`reconcile force-unlock {holder.id if holder else 'LOCK_ID'}`."
        )


class StateError(Exception):
    """The state cannot be read or written (corrupt file, unknown version, permissions)."""


class PutResource(BaseModel):
    """Journal record: this resource now exists with these attributes (insert or replace by kind+identity)."""

    model_config = ConfigDict(frozen=True)
    op: Literal["put"] = "put"
    resource: ResourceState


class RemoveResource(BaseModel):
    """Journal record: this resource no longer exists."""

    model_config = ConfigDict(frozen=True)
    op: Literal["remove"] = "remove"
    kind: ResourceKind
    identity: str


JournalRecord = PutResource | RemoveResource


def next_version(doc: StateDocument, current: tuple[str, int] | None, location: str) -> tuple[str, int]:
    """The lineage and serial `write(doc)` stores `doc` at, given the state's current (lineage, serial), or
    StateError when the rules above refuse it. Every backend applies exactly these rules."""
    if current is None:
        return doc.lineage or str(uuid.uuid4()), doc.serial + 1
    lineage, serial = current
    if not doc.lineage:
        raise StateError(
            f"state {location} changed since it was read: it was empty then, and now exists (serial "
            f"{serial}). Run the command again so that it starts from the current state."
        )
    if doc.lineage != lineage:
        raise StateError(
            f"refusing to overwrite state {location} (lineage {lineage}) with a state of another "
            f"lineage ({doc.lineage}): they are different states. Check that --state (or RECONCILE_STATE) "
            f"names the state you meant."
        )
    if doc.serial < serial:
        raise StateError(
            f"state {location} changed since it was read (serial {doc.serial} then, {serial} now). "
            f"Run the command again so that it starts from the current state."
        )
    return lineage, max(doc.serial, serial) + 1


class StateStore(Protocol):
    @property
    def location(self) -> str:
        """Where the state lives, for messages (e.g. `.reconcile/state.json`)."""
        ...

    def read(self) -> StateDocument | None:
        """The current state (snapshot + journal), or None when there is none yet."""
        ...

    def write(self, doc: StateDocument) -> StateDocument:
        """Atomically replace the state with `doc` at serial+1 (lineage created on first write); clears the journal."""
        ...

    def append(self, records: Sequence[JournalRecord]) -> int:
        """Durably record one batch of changes (fsync'd before returning); returns the new serial."""
        ...

    def lock(self, command: str, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the state lock; raises StateLockedError naming the holder after `timeout` seconds."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove a lock left behind by a holder on another machine; returns the lock removed.

        StateError if nothing is locked, if `lock_id` is not the recorded lock's id, or if the holder is a live
        process on this machine (stop it instead).
        """
        ...
