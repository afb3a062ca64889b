"""`StateStore` in OSS and nothing else: no TableStore table for the lock (Terraform's `oss` backend needs one).

Objects under `<prefix>/` of one bucket (the caller puts the workspace in the prefix):

    log/<serial:012d>    one per serial, written create-only (x-oss-forbid-overwrite): either a snapshot
                         `{"kind": "snapshot", "state": ...}` (by `write`) or a journal entry
                         `{"kind": "journal", "entry": ...}` (by `append`, one batch of an apply)
    lock/<gen:012d>      the lock: its holder and lease, create-only per generation; the newest stays
                         (marked released) so that generation numbers are never reused

A create-only write is a compare-and-swap on the serial: two writers of serial n cannot both succeed, and the
loser is told the state moved (FileAlreadyExists). Nothing is overwritten, so older serials are history:
`write` keeps the last `history` snapshots and deletes what is older. A read lists `log/`, reads back from the
newest serial to the newest snapshot and replays the journal entries after it, exactly as the local store does.

The lock is a lease. Taking it creates `lock/<g+1>` create-only, so of two runners only one gets each
generation. Its holder rewrites its own generation every lease/3 (a renewal). Another runner reads the newest
generation: it is free when released, or when its age by the OSS server's own clock (`Date` - `Last-Modified`
of the same answer: no clock of any runner is trusted) exceeds the lease. A holder killed with kill -9 thus
blocks others for one lease at most, and no force-unlock is needed. A holder that has not renewed for
lease - margin (measured from the start of its last successful renewal, which the server stamped later) stops
writing: every write and append first checks it, and its watcher (`on_lease_lost`, or `watch_lease`: apply
stops its cloud session sending) is told once, by the renewer at that moment at the latest (a renewal still
hanging then is given up) - so it stops before any other runner may take over. The lease is
`RECONCILE_LOCK_LEASE` (e.g. `10s`, `2m`; default 2 minutes). A refused runner is told to wait for the lease
with --lock-timeout, not to force-unlock.

The `StateStore` interface is synchronous; OSS calls are async on the project's client. The store runs its
own event loop on a worker thread (its session, pacing and retries, and the renewals, live there), so it
works from plain code and from apply's worker threads alike.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import CredentialsProvider
from reconcile.cloud.errors import CloudError, ConflictError
from reconcile.cloud.oss_client import OssClient
from reconcile.cloud.settings import ClientSettings
from reconcile.state.journal import JournalEntry, replay
from reconcile.state.model import STATE_FORMAT_VERSION, StateDocument
from reconcile.state.store import (
    JournalRecord,
    LockInfo,
    StateError,
    StateLockedError,
    StateVersion,
    StoreBase,
    next_document,
)

log = logging.getLogger(__name__)

LEASE_ENV_VAR = "RECONCILE_LOCK_LEASE"
DEFAULT_LEASE_SECONDS = 120.0
MIN_LEASE_SECONDS = 3.0  # HTTP dates have whole seconds: a shorter lease could not be told from its margin
HISTORY = 10
T = TypeVar("T")

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def lease_seconds(env: Mapping[str, str] | None = None) -> float:
    """RECONCILE_LOCK_LEASE (seconds, or 500ms / 30s / 2m / 1h), else 2 minutes; StateError when unusable."""
    text = (os.environ if env is None else env).get(LEASE_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_LEASE_SECONDS
    match = _DURATION.fullmatch(text)
    seconds = float(match[1]) * _UNIT[(match[2] or "s").lower()] if match else -1.0
    if seconds < MIN_LEASE_SECONDS:
        raise StateError(
            f"{LEASE_ENV_VAR}={text!r} is not a lease: give a duration of at least {MIN_LEASE_SECONDS:g}s "
            "(e.g. 10s, 2m)"
        )
    return seconds


@dataclass(slots=True)
class _Held:
    info: LockInfo
    generation: int
    valid_until: float  # local monotonic: no write after this (the last renewal's start + lease - margin)
    renewals: int = 0


class OssStateStore(StoreBase[_Held]):
    """See the module docstring. `close()` (or the context manager) ends its worker thread."""

    def __init__(
        self,
        bucket: str,
        region: str,
        prefix: str,
        settings: ClientSettings,
        *,
        endpoint: str | None = None,
        credentials: CredentialsProvider | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        lease: float | None = None,
        history: int = HISTORY,
        clock: Callable[[], float] = time.monotonic,
        oss_timestamp: Callable[[], str] | None = None,
        poll_interval: float = 1.0,
        on_lease_lost: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(f"oss://{bucket}/{prefix.strip('/')}")
        self.bucket = bucket
        self.region = region
        self.prefix = prefix.strip("/")
        self.lease = lease if lease is not None else lease_seconds()
        self.margin = max(1.0, self.lease / 10)
        self._holder_lease = self.lease  # the lease of the holder last seen holding the lock
        self.history = history
        self._clock = clock
        self._poll = poll_interval
        self._on_lease_lost = on_lease_lost
        self._lost = False  # the lease was lost: `watch_lease` calls a callback registered afterwards at once
        self._lost_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="oss-state", daemon=True)
        self._thread.start()
        self._session = CloudSession(settings, credentials, transport=transport)
        extra = {"timestamp": oss_timestamp} if oss_timestamp is not None else {}
        self._oss = OssClient(self._session, endpoint=endpoint, **extra)
        self._renewer: concurrent.futures.Future[None] | None = None
        self._seen: StateVersion | None = None
        # A store nobody closed (a CLI command's) stops its loop when collected, or at exit.
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, self._thread, self._session)

    def __enter__(self) -> OssStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop_renewing()
        self._finalizer()

    def watch_lease(self, on_lost: Callable[[], None] | None) -> None:
        """Call `on_lost` (from any thread) once the lock's lease can no longer be renewed in time, before it runs
        out: the apply stops sending calls then. At once if it was lost already. None: stop watching."""
        self._on_lease_lost = on_lost
        if on_lost is not None and self._lost:
            on_lost()

    def abandon(self) -> None:
        """Stop renewing and sending without releasing the lock: what kill -9 leaves behind (for tests)."""
        self._stop_renewing()
        self._held = None

    # -- reading --------------------------------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        with self._mutex:
            doc = self._run(self._read())
            self._seen = StateVersion(doc.lineage, doc.serial) if doc is not None else None
            return doc

    async def _read(self) -> StateDocument | None:
        serials = await self._serials()
        entries: list[JournalEntry] = []
        for serial in reversed(serials):
            item = await self._get_json(self._log_key(serial))
            if item is None:
                continue  # pruned while we read: an older snapshot follows, or a newer one was read already
            if item.get("kind") == "snapshot":
                snapshot = self._decode_snapshot(item.get("state"), serial)
                entries.reverse()
                return replay(snapshot, entries, self._location) if entries else snapshot
            try:
                entries.append(JournalEntry.model_validate(item.get("entry")))
            except ValueError as exc:
                raise StateError(f"state {self._location}: journal entry {serial} is damaged: {exc}") from None
        if entries:
            raise StateError(
                f"state {self._location} has journal entries but no snapshot under {self.prefix}/log/: the "
                "snapshot objects were deleted. Restore them (OSS versioning, or a copy), or move the prefix aside."
            )
        return None

    def _decode_snapshot(self, data: object, serial: int) -> StateDocument:
        try:
            doc = StateDocument.model_validate(data)
        except ValueError as exc:
            raise StateError(f"state {self._location}: snapshot {serial} is damaged: {exc}") from None
        if doc.version != STATE_FORMAT_VERSION:
            raise StateError(
                f"state {self._location} has format version {doc.version}; this reconcile reads version "
                f"{STATE_FORMAT_VERSION}: upgrade reconcile"
            )
        return doc

    async def _serials(self) -> list[int]:
        serials: list[int] = []
        token: str | None = None
        while True:
            page = await self._oss.list_objects_v2(
                self.bucket, self.region, prefix=f"{self.prefix}/log/", continuation_token=token
            )
            serials += [int(o.key.rsplit("/", 1)[1]) for o in page.objects if o.key.rsplit("/", 1)[1].isdigit()]
            token = page.next_token
            if token is None:
                return sorted(serials)

    async def _get_json(self, key: str) -> Mapping[str, object] | None:
        data = await self._oss.get_object(self.bucket, self.region, key)
        if data is None:
            return None
        try:
            value = json.loads(data.body)
        except ValueError:
            raise StateError(f"state {self._location}: {key} is not JSON") from None
        return value if isinstance(value, dict) else {}

    # -- writing --------------------------------------------------------------------------------------------

    def write(self, doc: StateDocument) -> StateDocument:
        with self._mutex, self._exclusive("write"):
            written = next_document(doc, self._current(), self._location)
            self._create(written.serial, {"kind": "snapshot", "state": json.loads(written.model_dump_json())})
            self._seen = StateVersion(written.lineage, written.serial)
            self._run(self._prune(written.serial))
            return written

    def _append_entry(self, after: StateVersion, records: Sequence[JournalRecord]) -> None:
        entry = JournalEntry(serial=after.serial + 1, lineage=after.lineage, records=tuple(records))
        self._create(entry.serial, {"kind": "journal", "entry": json.loads(entry.model_dump_json())})
        self._seen = StateVersion(entry.lineage, entry.serial)

    def _current(self) -> StateVersion | None:
        if self._seen is None or self._held is None:
            self.read()
        return self._seen

    def _create(self, serial: int, body: Mapping[str, object]) -> None:
        """Write serial `serial` create-only: the compare-and-swap that keeps two writers from both writing it."""
        self._check_lease()
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if not self._run(self._create_only(self._log_key(serial), data)):
            self._seen = None
            raise StateError(
                f"state {self._location} changed while it was written: serial {serial} was written by another "
                "runner. Run the command again so that it starts from the current state."
            )

    async def _create_only(self, key: str, data: bytes) -> bool:
        """False when the object exists already (FileAlreadyExists), unless it is this very write: a retry whose
        earlier attempt was carried out although its answer was lost (a timeout, a reset, a 5xx) meets its own
        object, byte for byte (every body holds a serial and lineage, or a lock id, of its own)."""
        try:
            await self._oss.put_object(self.bucket, self.region, key, data, forbid_overwrite=True)
        except ConflictError as exc:
            if exc.earlier_attempt_may_have_succeeded:
                existing = await self._oss.get_object(self.bucket, self.region, key)
                return existing is not None and existing.body == data
            return False
        return True

    async def _prune(self, newest: int) -> None:
        """Keep the newest `history` snapshots and what follows the oldest of them; delete the rest (tidying:
        a failure is only logged)."""
        try:
            serials = await self._serials()
            snapshots: list[int] = []
            for serial in reversed(serials):
                if serial > newest:
                    continue
                item = await self._get_json(self._log_key(serial)) if len(snapshots) < self.history else None
                if item is not None and item.get("kind") == "snapshot":
                    snapshots.append(serial)
                if len(snapshots) >= self.history:
                    break
            oldest_kept = min(snapshots) if len(snapshots) >= self.history else 0
            for serial in serials:
                if serial < oldest_kept:
                    await self._oss.delete_object(self.bucket, self.region, self._log_key(serial))
        except (CloudError, StateError) as exc:
            log.warning("could not delete old state versions in %s (the state is fine): %s", self._location, exc)

    def _log_key(self, serial: int) -> str:
        return f"{self.prefix}/log/{serial:012d}"

    def _lock_key(self, generation: int) -> str:
        return f"{self.prefix}/lock/{generation:012d}"

    # -- locking --------------------------------------------------------------------------------------------

    def _acquire(self, command: str, timeout: float) -> _Held:
        started = self._clock()
        while True:
            generation, holder = self._run(self._newest_lock())
            if holder is None:
                info = LockInfo.new(command)
                attempt_started = self._clock()
                if self._run(self._create_only(self._lock_key(generation + 1), self._lock_body(info))):
                    held = _Held(info, generation + 1, attempt_started + self.lease - self.margin)
                    self._held = held
                    self._lost = False
                    self._seen = None
                    if generation:
                        self._run(self._delete_quietly(self._lock_key(generation)))
                    self._renewer = asyncio.run_coroutine_threadsafe(self._renew(held), self._loop)
                    return held
                continue  # another runner took this generation first: look again
            waited = self._clock() - started
            if waited >= timeout:
                # "waited 30s" for --lock-timeout 30s; nothing for 0 (the listing's own time is no wait)
                raise StateLockedError(holder, self._location, timeout, advice=self._lease_advice())
            time.sleep(min(self._poll, max(0.0, timeout - waited)))

    async def _newest_lock(self) -> tuple[int, LockInfo | None]:
        """The newest lock generation, and its holder when it is held (not released, lease not run out)."""
        generations = await self._generations()
        if not generations:
            return 0, None
        generation = max(generations)
        data = await self._oss.get_object(self.bucket, self.region, self._lock_key(generation))
        if data is None:
            return generation, None  # released just now
        try:
            record = json.loads(data.body)
            info = LockInfo.model_validate(record["holder"])
        except (ValueError, KeyError, TypeError):
            return generation, None  # damaged: treated as free, the next generation replaces it
        if record.get("released"):
            return generation, None
        age = (data.served_at or 0.0) - (data.last_modified or 0.0)
        if data.served_at is None or data.last_modified is None or age > float(record.get("lease", 0)) + 1:
            log.info("state %s: the lease of %s ran out %.0f s ago; taking over", self._location, info.describe(),
                     age - float(record.get("lease", 0)))  # fmt: skip
            return generation, None
        with contextlib.suppress(TypeError, ValueError):
            self._holder_lease = float(record.get("lease", self.lease))  # the holder's, not this process's
        return generation, info

    def _lease_advice(self) -> str:
        lease = self._holder_lease  # the lease the holder took (its RECONCILE_LOCK_LEASE), which may not be ours
        return (
            f"Its lock is a lease its holder renews while it runs: if the holder was killed or lost, the lock frees "
            f"itself once the lease ({_seconds(lease)}, the holder's {LEASE_ENV_VAR}) runs out, so retry with "
            f"--lock-timeout {_seconds(lease + max(1.0, lease / 10) + 1)} rather than force-unlock."
        )

    def _lock_body(self, info: LockInfo, renewals: int = 0, *, released: bool = False) -> bytes:
        record = {"holder": json.loads(info.model_dump_json()), "lease": self.lease, "renewals": renewals}
        if released:
            record["released"] = True
        return json.dumps(record).encode()

    async def _renew(self, held: _Held) -> None:
        """Rewrite the lock every lease/3. A renewal that fails is tried again, but the lease is declared lost
        (`on_lease_lost`) by `valid_until` at the latest: a renewal still hanging then is given up, and a wait
        for the next attempt never sleeps past it."""
        while self._held is held:
            await asyncio.sleep(max(0.0, min(self.lease / 3, held.valid_until - self._clock())))
            if self._held is not held:
                return
            if self._clock() >= held.valid_until:
                self._lease_lost()
                return
            try:
                async with asyncio.timeout(held.valid_until - self._clock()):
                    await self._renew_once(held)
            except StateError as exc:
                log.warning("%s", exc)
                return
            except (CloudError, TimeoutError) as exc:
                log.warning(
                    "state %s: could not renew the lock's lease: %s", self._location, exc or "no answer in time"
                )

    async def _renew_once(self, held: _Held) -> None:
        """Rewrite our generation, after checking it is still the newest: once another runner has taken over,
        renewing would only bring our stale generation back. Then the lease is lost (StateError)."""
        started = self._clock()
        generations = await self._generations()
        if generations and max(generations) != held.generation:
            held.valid_until = started  # nothing more is written under this lock
            self._lease_lost()
            raise StateError(f"state {self._location}: another runner took the lock over; this one stopped")
        body = self._lock_body(held.info, held.renewals + 1)
        await self._oss.put_object(self.bucket, self.region, self._lock_key(held.generation), body)
        held.renewals += 1
        held.valid_until = started + self.lease - self.margin

    async def _generations(self) -> list[int]:
        page = await self._oss.list_objects_v2(self.bucket, self.region, prefix=f"{self.prefix}/lock/")
        return [int(o.key.rsplit("/", 1)[1]) for o in page.objects if o.key.rsplit("/", 1)[1].isdigit()]

    def renew(self) -> None:
        """Renew the held lock's lease now (the worker also does every lease/3); StateError when it fails."""
        held = self._held
        if held is None:
            raise StateError(f"state {self._location}: renew() without the lock")
        self._check_lease()
        self._run(self._renew_once(held))  # StateError when another runner took the lock over

    def _check_lease(self) -> None:
        held = self._held
        if held is not None and self._clock() >= held.valid_until:
            self._lease_lost()
            raise StateError(
                f"state {self._location}: this runner's lock lease ran out (it could not be renewed), so another "
                "runner may hold the lock now: nothing more was written. Run the command again."
            )

    def _lease_lost(self) -> None:
        """Tell the watcher, once per lease (the renewer and a write may both find it lost)."""
        with self._lost_lock:  # the renewer's thread and a writer's
            if self._lost:
                return
            self._lost = True
        callback = self._on_lease_lost
        if callback is not None:
            callback()

    def _lock_info(self, held: _Held) -> LockInfo:
        return held.info

    def _release(self, held: _Held, *, tidy: bool) -> None:
        self._stop_renewing()
        with self._mutex:
            self._held = None
            # Marked released, not deleted: the newest generation stays, so generation numbers are never reused.
            body = self._lock_body(held.info, held.renewals, released=True)
            try:
                self._run(self._oss.put_object(self.bucket, self.region, self._lock_key(held.generation), body))
            except StateError as exc:
                log.warning(
                    "state %s: could not release the lock (its lease runs out instead): %s", self._location, exc
                )

    def _stop_renewing(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()

    async def _delete_quietly(self, key: str) -> None:
        with contextlib.suppress(CloudError):
            await self._oss.delete_object(self.bucket, self.region, key)

    def force_unlock(self, lock_id: str) -> LockInfo:
        generation, holder = self._run(self._newest_lock())
        if holder is None:
            raise StateError(f"state {self._location} is not locked (a lock whose lease ran out is free already)")
        if holder.id != lock_id:
            raise StateError(f"state {self._location} is locked by {holder.describe()}, not by lock {lock_id}")
        body = self._lock_body(holder, released=True)
        self._run(self._oss.put_object(self.bucket, self.region, self._lock_key(generation), body))
        return holder

    def lock_holder(self) -> LockInfo | None:
        return self._run(self._newest_lock())[1]

    # -- workspaces -----------------------------------------------------------------------------------------

    def has_state(self, under: str = "") -> bool:
        """Whether `<prefix>/<under>` holds a state (a version under its `log/`): one listing of one key."""
        base = f"{self.prefix}/{under.strip('/')}/" if under.strip("/") else f"{self.prefix}/"
        page = self._run(self._oss.list_objects_v2(self.bucket, self.region, prefix=f"{base}log/", max_keys=1))
        return bool(page.objects)

    def children(self, under: str) -> list[str]:
        """The names one level below `<prefix>/<under>/` (ListObjectsV2 with delimiter `/`, every page)."""
        base = f"{self.prefix}/{under.strip('/')}/"
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._run(
                self._oss.list_objects_v2(
                    self.bucket, self.region, prefix=base, delimiter="/", continuation_token=token
                )
            )
            names += [common[len(base) :].rstrip("/") for common in page.common_prefixes]
            token = page.next_token
            if token is None:
                return sorted(names)

    # -- the worker loop ------------------------------------------------------------------------------------

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            return asyncio.run_coroutine_threadsafe(work, self._loop).result()
        except CloudError as exc:
            raise StateError(f"state {self._location}: {exc}") from None


def _seconds(value: float) -> str:
    """A duration as --lock-timeout and RECONCILE_LOCK_LEASE take it, rounded up: 13s, 3m."""
    return f"{math.ceil(value)}s" if value < 120 else f"{math.ceil(value / 60)}m"


def _shut_down(loop: asyncio.AbstractEventLoop, thread: threading.Thread, session: CloudSession) -> None:
    if loop.is_closed():
        return
    if threading.current_thread() is thread:  # collected on its own loop: it cannot wait for itself
        loop.call_soon(loop.stop)
        return
    with contextlib.suppress(Exception):  # closing connections is tidying: the process may be exiting
        asyncio.run_coroutine_threadsafe(session.aclose(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
