"""The state store interface, implemented by the local file, PostgreSQL and OSS stores (each a `StoreBase`,
which holds the rules below that every backend shares: `next_document` for `write`, `append`, the lock's).

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

import contextlib
import datetime as dt
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from operator import attrgetter
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from reconcile.state.model import STATE_FORMAT_VERSION, ResourceKind, ResourceState, StateDocument


class LockInfo(BaseModel):
    """Who holds the state lock; shown to anyone who is refused it."""

    model_config = ConfigDict(frozen=True)

    id: str
    pid: int
    host: str
    command: str
    created: str  # UTC, ISO 8601
    ci_run: str | None = None  # the CI job's URL, when the holder runs in a known CI service

    @classmethod
    def new(cls, command: str) -> LockInfo:
        """A new lock, taken by this process for `command`."""
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return cls(
            id=str(uuid.uuid4()),
            pid=os.getpid(),
            host=this_host(),
            command=command,
            created=created,
            ci_run=ci_run_url(),
        )

    def describe(self) -> str:
        where = f", CI run {self.ci_run}" if self.ci_run else ""
        return f"lock {self.id} held by pid {self.pid} on {self.host} ({self.command!r}) since {self.created}{where}"


def this_host() -> str:
    return socket.gethostname()


def ci_run_url(env: Mapping[str, str] | None = None) -> str | None:
    """The URL of the CI job this process runs in: GitHub Actions' run, or GitLab's job (CI_JOB_URL)."""
    environ = os.environ if env is None else env
    server, repository, run = (environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repository and run:
        return f"{server.rstrip('/')}/{repository}/actions/runs/{run}"
    return environ.get("CI_JOB_URL") or None


class StateLockedError(Exception):
    """The lock is held by someone else (after waiting up to the lock timeout)."""

    def __init__(self, holder: LockInfo | None, location: str, waited: float = 0.0, advice: str | None = None) -> None:
        self.holder = holder
        self.location = location
        self.waited = waited
        who = holder.describe() if holder else "a lock whose holder could not be read"
        after = f" (waited {waited:g}s)" if waited > 0 else ""
        if advice is None:
            lock_id = holder.id if holder else "LOCK_ID"
            advice = f"If its holder died on another machine, run `reconcile force-unlock {lock_id}`."
        super().__init__(
            f"state {location} is locked{after}: {who}. It is released when that command ends: wait for it, or "
            f"retry with --lock-timeout (e.g. 5m). {advice}"
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


class StateVersion(NamedTuple):
    """Where a state stands: its lineage and serial, which the next `write` or `append` continues."""

    lineage: str
    serial: int


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


def check_unique(resources: Sequence[ResourceState], location: str) -> None:
    """Two entries for one resource, or one address for two, would make the state ambiguous: refuse it."""
    addresses = {r.address for r in resources}
    identities: dict[str, set[str]] = {}
    for r in resources:
        identities.setdefault(r.kind, set()).add(r.identity)
    if len(addresses) == len(resources) == sum(map(len, identities.values())):
        return
    counts = Counter(r.address for r in resources) + Counter(f"{r.kind} {r.identity}" for r in resources)
    duplicates = sorted(key for key, count in counts.items() if count > 1)
    raise StateError(
        f"refusing to write state {location}: {len(duplicates)} resource(s) appear more than once "
        f"({', '.join(duplicates[:5])}). This is a bug in reconcile: please report it."
    )


def next_document(doc: StateDocument, current: StateVersion | None, location: str) -> StateDocument:
    """`doc` as `write` stores it over a state at `current`: at the lineage and serial `next_version` gives, in
    this format version, its resources sorted by address (StateError for a resource listed twice)."""
    lineage, serial = next_version(doc, current, location)
    resources = sorted(doc.resources, key=attrgetter("address"))
    check_unique(resources, location)
    return doc.model_copy(
        update={"version": STATE_FORMAT_VERSION, "lineage": lineage, "serial": serial, "resources": resources}
    )


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
        """Durably record one batch of changes (fsync'd, or committed, before returning); returns the new serial."""
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


HeldT = TypeVar("HeldT")


class StoreBase(ABC, Generic[HeldT]):
    """What every store shares: its location (for messages), a mutex for the threads that use it, and the rules of
    the lock and of `append`. `HeldT` is the store's record of a lock it holds.

    `lock()` is re-entrant for the store: inside it, `lock()` again yields the same holder. A write holds the lock
    the store holds, or else takes it just for itself, without waiting (`_exclusive`).
    """

    def __init__(self, location: str) -> None:
        self._location = location
        self._mutex = threading.RLock()
        self._held: HeldT | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._location!r})"

    @property
    def location(self) -> str:
        return self._location

    @contextlib.contextmanager
    def lock(self, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the state lock (re-entrant for this store) until the block ends."""
        if self._held is not None:
            yield self._lock_info(self._held)
            return
        held = self._acquire(command, timeout)  # waits up to `timeout`: not under the mutex
        completed = False
        try:
            yield self._lock_info(held)
            completed = True
        finally:
            self._release(held, tidy=completed)

    @contextlib.contextmanager
    def _exclusive(self, command: str) -> Iterator[None]:
        """The lock for one write: the one this store holds, or else taken (without waiting) just for it."""
        if self._held is not None:
            yield
            return
        held = self._acquire(command, 0.0)
        try:
            yield
        finally:
            self._release(held, tidy=False)

    def append(self, records: Sequence[JournalRecord]) -> int:
        """One journal entry (a new serial) for `records`, durable before this returns. No records: no new serial.
        Without any state yet, an empty one is written first."""
        with self._mutex, self._exclusive("append"):
            current = self._current()
            if not records:
                return current.serial if current else 0
            if current is None:
                written = self.write(StateDocument.empty())
                current = StateVersion(written.lineage, written.serial)
            self._append_entry(current, records)
            return current.serial + 1

    @abstractmethod
    def write(self, doc: StateDocument) -> StateDocument: ...

    @abstractmethod
    def _current(self) -> StateVersion | None:
        """The state's version now. Called under the lock, when nobody else can change it."""

    @abstractmethod
    def _append_entry(self, after: StateVersion, records: Sequence[JournalRecord]) -> None:
        """Durably record `records` as the entry that follows `after` (serial `after.serial + 1`)."""

    @abstractmethod
    def _acquire(self, command: str, timeout: float) -> HeldT:
        """Take the lock, waiting up to `timeout` seconds (else StateLockedError), and record it in `_held`."""

    @abstractmethod
    def _release(self, held: HeldT, *, tidy: bool) -> None:
        """Give the lock up and clear `_held`. `tidy`: an outermost `lock()` block ended normally (the local store
        folds its journal into the snapshot then)."""

    @abstractmethod
    def _lock_info(self, held: HeldT) -> LockInfo:
        """Who holds the lock `held`."""
