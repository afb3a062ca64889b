"""`StateStore` on PostgreSQL: one shared, locked, durable state per workspace, for every runner of a team.

Synchronous psycopg 3, not its async API: the `StateStore` interface is synchronous. Plan, drift, `state` and
migrate call it with no event loop running; apply appends from a worker thread (`asyncio.to_thread` in
engine/apply.py, one append at a time under its journal lock) so the loop keeps sending while a batch
commits. A psycopg `Connection` is thread-safe, so one connection per store serves both; an
`AsyncConnection` would be bound to apply's loop and useless to everything else.

Tables, created on first write in the URL's schema (`?schema=`, default `reconcile`; a database and a role
with CREATE on it are all that is needed):

    reconcile_meta        key/value: the table layout's format
    reconcile_workspaces  one row per workspace: lineage, current serial, the snapshot's serial
    reconcile_snapshots   (workspace, serial): the snapshot document (the local store's file bytes), the
                          current one and the previous `?history=` ones (default 10)
    reconcile_journal     (workspace, serial): one committed row per batch apply recorded since the snapshot
    reconcile_locks       one row per locked workspace: who holds the lock (host, pid, command, time, CI run)

A read is one REPEATABLE READ transaction (snapshot + journal rows, then `journal.replay` exactly as the local
store does): it never sees half a write, and needs no lock. `write` is one transaction (snapshot row,
journal rows deleted, workspace row, history pruned); `append` is one transaction (journal row, workspace
serial) committed before it returns. Serial and lineage follow `store.next_version`, as every backend does.

The lock is a session-level advisory lock: the server releases it when the session ends, however the holder
ends (kill -9, a lost runner, a network cut once the server notices), so no dead holder ever needs
force-unlock. Its key is the first 64 bits of BLAKE2b("reconcile-state", schema, workspace). Advisory-lock keys
are shared by the whole database, so keying them by a per-schema row id, as Terraform's pg backend did
(hashicorp/terraform#22833), makes workspace 1 of schema A and workspace 1 of schema B one lock. A 64-bit hash
of both names collides with probability 2^-64 per pair, and a collision could only make one state wait for
another, never let two commands hold one. The check: a refused command reads the holder row of its own
workspace and compares the backend pid recorded there with the session `pg_locks` says holds the key; a row
that does not match (a dead holder's, or another state's session) is not reported as the holder, the session
is. The lock, every read and every write of a command use one connection, so writes happen only while the
lock is held: when that connection is lost, the lock is gone and the next write fails (StateError); the store
never reconnects under a lock it no longer holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from reconcile.state.journal import decode_entry, encode_entry, replay
from reconcile.state.location import DEFAULT_WORKSPACE, PostgresLocation
from reconcile.state.lockfile import pid_alive
from reconcile.state.model import StateDocument
from reconcile.state.snapshot import decode_snapshot, encode_snapshot
from reconcile.state.store import (
    JournalRecord,
    LockInfo,
    StateError,
    StateLockedError,
    StateVersion,
    StoreBase,
    next_document,
    this_host,
)

log = logging.getLogger(__name__)

TABLES_FORMAT = 1
CONNECT_TIMEOUT_SECONDS = 15  # libpq waits for ever by default
APPLICATION_NAME = "reconcile"
UNLOCK_WAIT_SECONDS = 5.0  # force-unlock: how long the ended holder's session may take to go
HOLDER_READ_ATTEMPTS = 3  # a holder between taking the lock and writing its row is read again

_TABLES = ("reconcile_meta", "reconcile_workspaces", "reconcile_snapshots", "reconcile_journal", "reconcile_locks")
_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.reconcile_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.reconcile_workspaces (
    name text PRIMARY KEY,
    lineage text NOT NULL,
    serial bigint NOT NULL,
    snapshot_serial bigint NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.reconcile_snapshots (
    workspace text NOT NULL,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    resources integer NOT NULL,
    document bytea NOT NULL,
    written timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, serial)
);
CREATE TABLE IF NOT EXISTS {schema}.reconcile_journal (
    workspace text NOT NULL,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    entry bytea NOT NULL,
    written timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, serial)
);
CREATE TABLE IF NOT EXISTS {schema}.reconcile_locks (
    workspace text PRIMARY KEY,
    id text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    command text NOT NULL,
    created text NOT NULL,
    ci_run text,
    backend_pid integer NOT NULL
);
"""


def lock_key(schema: str, workspace: str) -> int:
    """The advisory-lock key of one state: a signed 64-bit hash of its schema and workspace (see above)."""
    digest = hashlib.blake2b(f"reconcile-state\0{schema}\0{workspace}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_key_parts(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits (objsubid 1)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


class _Database:
    """One connection to the location's database, its errors as StateError with the password scrubbed."""

    def __init__(self, location: PostgresLocation, display: str) -> None:
        self.location = location
        self.display = display
        self.schema = sql.Identifier(location.schema)
        self._conn: psycopg.Connection[Any] | None = None
        self._tables_ready = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def scrub(self, text: str) -> str:
        password = self.location.password
        return text.replace(password, "***") if password else text

    def connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        given = conninfo_to_dict(self.location.conninfo)
        defaults: dict[str, str | int] = {}
        if "application_name" not in given:
            defaults["application_name"] = APPLICATION_NAME
        if "connect_timeout" not in given and "PGCONNECT_TIMEOUT" not in os.environ:
            defaults["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        try:
            conn = psycopg.connect(make_conninfo(self.location.conninfo, **defaults), autocommit=True)
        except psycopg.Error as exc:
            raise StateError(
                f"cannot connect to state {self.display}: {self.scrub(_first_line(exc))}. Check the URL's host, "
                f"port, database and user, its password (or PGPASSWORD / ~/.pgpass), and that the server accepts "
                f"connections from here."
            ) from None
        self._conn = conn
        self._tables_ready = False
        self._finalizer = weakref.finalize(self, _close_quietly, conn)
        return conn

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._conn = None

    @property
    def lost(self) -> bool:
        return self._conn is not None and (self._conn.closed or self._conn.broken)

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Driver errors while `doing` (e.g. "reading the state") as StateError, the password scrubbed."""
        try:
            yield
        except psycopg.Error as exc:
            detail = self.scrub(_first_line(exc))
            if self.lost:
                raise StateError(f"lost the connection to state {self.display} while {doing}: {detail}") from None
            raise StateError(f"state {self.display}: {doing} failed: {detail}") from None

    def tables_exist(self, conn: psycopg.Connection[Any]) -> bool:
        if self._tables_ready:
            return True
        names = [f"{self.location.schema}.{table}" for table in _TABLES]
        row = conn.execute(
            "SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n", [names]
        ).fetchone()
        exists = bool(row and row[0])
        if exists:
            self._check_format(conn)
        return exists

    def ensure_tables(self, conn: psycopg.Connection[Any]) -> None:
        """Create the schema and tables the first time (under a transaction-level advisory lock, so two first
        runners do not race), then check their format."""
        if self.tables_exist(conn):
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(self.location.schema, "\0tables")])
            row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [self.location.schema]).fetchone()
            if not (row and row[0]):
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(self.schema))
            conn.execute(sql.SQL(_DDL).format(schema=self.schema))
            conn.execute(
                sql.SQL("INSERT INTO {}.reconcile_meta VALUES ('format', %s) ON CONFLICT (key) DO NOTHING").format(
                    self.schema
                ),
                [str(TABLES_FORMAT)],
            )
        log.info("created the state tables in schema %s of %s", self.location.schema, self.display)
        self._check_format(conn)

    def _check_format(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            sql.SQL("SELECT value FROM {}.reconcile_meta WHERE key = 'format'").format(self.schema)
        ).fetchone()
        found = row[0] if row else None
        if found != str(TABLES_FORMAT):
            raise StateError(
                f"state {self.display}: the tables in schema {self.location.schema} have format {found!r}; this "
                f"reconcile uses format {TABLES_FORMAT}. They were written by "
                f"{'a newer' if found and found.isdigit() and int(found) > TABLES_FORMAT else 'another'} "
                f"reconcile: upgrade reconcile (pip install --upgrade reconcile), or choose another ?schema=."
            )
        self._tables_ready = True

    def q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=self.schema)


def _close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def list_workspaces(location: PostgresLocation) -> list[str]:
    db = _Database(location, location.display)
    try:
        with db.errors("listing the workspaces"):
            conn = db.connect()
            if not db.tables_exist(conn):
                return []
            rows = conn.execute(db.q("SELECT name FROM {schema}.reconcile_workspaces ORDER BY name")).fetchall()
        return [row[0] for row in rows]
    finally:
        db.close()


class PostgresStateStore(StoreBase[LockInfo]):
    def __init__(
        self,
        location: PostgresLocation,
        workspace: str = DEFAULT_WORKSPACE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__(
            location.display if workspace == DEFAULT_WORKSPACE else f"{location.display} (workspace {workspace})"
        )
        self.settings = location
        self.workspace = workspace
        self._db = _Database(location, self._location)
        self._key = lock_key(location.schema, workspace)
        self._clock = clock
        self._sleep = sleep
        self._poll_interval = poll_interval

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    # -- reading --------------------------------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        with self._mutex, self._db.errors("reading the state"):
            conn = self._connection()
            if not self._db.tables_exist(conn):
                return None
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                head = conn.execute(
                    self._db.q("SELECT snapshot_serial FROM {schema}.reconcile_workspaces WHERE name = %s"),
                    [self.workspace],
                ).fetchone()
                if head is None:
                    return None
                with conn.cursor(binary=True) as cur:
                    document = cur.execute(
                        self._db.q(
                            "SELECT document FROM {schema}.reconcile_snapshots WHERE workspace = %s AND serial = %s"
                        ),
                        [self.workspace, head[0]],
                    ).fetchone()
                    entries = cur.execute(
                        self._db.q(
                            "SELECT entry FROM {schema}.reconcile_journal WHERE workspace = %s AND serial > %s "
                            "ORDER BY serial"
                        ),
                        [self.workspace, head[0]],
                    ).fetchall()
        if document is None:
            raise StateError(
                f"state {self._location} is damaged: its workspace row names snapshot serial {head[0]}, which is not "
                f"in {self.settings.schema}.reconcile_snapshots. {self._restore_hint()}"
            )
        snapshot = decode_snapshot(bytes(document[0]), self._location, self._restore_hint())
        where = f"{self._location} journal"
        journal = [decode_entry(bytes(row[0]), where, number) for number, row in enumerate(entries, start=1)]
        return replay(snapshot, journal, f"{self._location} journal") if journal else snapshot

    def _restore_hint(self) -> str:
        return (
            f"Earlier versions are kept in {self.settings.schema}.reconcile_snapshots (the last "
            f"{self.settings.history} besides the current one, workspace {self.workspace!r}): restore one by "
            f"pointing reconcile_workspaces.snapshot_serial at it, or restore the database from your backup."
        )

    # -- writing --------------------------------------------------------------------------------------------

    def write(self, doc: StateDocument) -> StateDocument:
        with self._mutex, self._exclusive("write"), self._db.errors("writing the state"):
            conn = self._connection()
            with conn.transaction():
                written = next_document(doc, self._version(conn), self._location)
                lineage, serial = written.lineage, written.serial
                conn.execute(
                    self._db.q(
                        "INSERT INTO {schema}.reconcile_snapshots (workspace, serial, lineage, resources, document) "
                        "VALUES (%s, %s, %s, %s, %b)"
                    ),
                    [self.workspace, serial, lineage, len(written.resources), encode_snapshot(written)],
                )
                conn.execute(
                    self._db.q(
                        "INSERT INTO {schema}.reconcile_workspaces (name, lineage, serial, snapshot_serial) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET lineage = EXCLUDED.lineage, "
                        "serial = EXCLUDED.serial, snapshot_serial = EXCLUDED.snapshot_serial, updated = now()"
                    ),
                    [self.workspace, lineage, serial, serial],
                )
                conn.execute(
                    self._db.q("DELETE FROM {schema}.reconcile_journal WHERE workspace = %s"), [self.workspace]
                )
                conn.execute(
                    self._db.q(
                        "DELETE FROM {schema}.reconcile_snapshots WHERE workspace = %s AND serial NOT IN "
                        "(SELECT serial FROM {schema}.reconcile_snapshots WHERE workspace = %s "
                        "ORDER BY serial DESC LIMIT %s)"
                    ),
                    [self.workspace, self.workspace, self.settings.history + 1],
                )
            return written

    def _current(self) -> StateVersion | None:
        with self._db.errors("recording a batch"):
            return self._version(self._connection(), lock_row=False)

    def _append_entry(self, after: StateVersion, records: Sequence[JournalRecord]) -> None:
        """One committed journal row, in a transaction that holds the workspace row."""
        with self._db.errors("recording a batch"):
            conn = self._connection()
            with conn.transaction():
                current = self._version(conn)
                if current is None:
                    raise StateError(f"state {self._location} disappeared while a batch was recorded in it.")
                if current != after:
                    raise StateError(
                        f"state {self._location} changed while a batch was recorded in it (serial {after.serial} "
                        f"then, {current.serial} now): it was written without its lock."
                    )
                lineage, serial = after.lineage, after.serial + 1
                conn.execute(
                    self._db.q(
                        "INSERT INTO {schema}.reconcile_journal (workspace, serial, lineage, entry) "
                        "VALUES (%s, %s, %s, %b)"
                    ),
                    [self.workspace, serial, lineage, encode_entry(serial, lineage, records)],
                )
                conn.execute(
                    self._db.q("UPDATE {schema}.reconcile_workspaces SET serial = %s, updated = now() WHERE name = %s"),
                    [serial, self.workspace],
                )

    def _version(self, conn: psycopg.Connection[Any], *, lock_row: bool = True) -> StateVersion | None:
        """The state's lineage and serial now; in a transaction, the row stays locked until it ends."""
        query = "SELECT lineage, serial FROM {schema}.reconcile_workspaces WHERE name = %s" + (
            " FOR UPDATE" if lock_row else ""
        )
        row = conn.execute(self._db.q(query), [self.workspace]).fetchone()
        return StateVersion(row[0], row[1]) if row else None

    def _connection(self) -> psycopg.Connection[Any]:
        """The store's connection. Never a new one while a lock is held: the lock went with the old one."""
        if self._held is not None and self._db.lost:
            raise StateError(
                f"lost the connection to state {self._location}, and with it the state lock: nothing more can be "
                f"recorded by this command."
            )
        return self._db.connect()

    # -- locking --------------------------------------------------------------------------------------------

    # `lock()` (StoreBase) holds it on this store's connection.

    def _lock_info(self, held: LockInfo) -> LockInfo:
        return held

    def _acquire(self, command: str, timeout: float) -> LockInfo:
        deadline = self._clock() + timeout
        announced = False
        with self._db.errors("locking the state"):
            conn = self._db.connect()
            self._db.ensure_tables(conn)
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key]).fetchone()
                if row and row[0]:
                    break
                remaining = deadline - self._clock()
                if remaining <= 0:
                    holder, advice = self._holder(conn)
                    raise StateLockedError(holder, self._location, waited=timeout, advice=advice)
                if not announced:
                    log.info("state %s is locked; waiting up to %gs for it", self._location, timeout)
                    announced = True
                self._sleep(min(self._poll_interval, remaining))
            info = LockInfo.new(command)
            try:
                conn.execute(
                    self._db.q(
                        "INSERT INTO {schema}.reconcile_locks (workspace, id, pid, host, command, created, ci_run, "
                        "backend_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (workspace) DO "
                        "UPDATE SET id = EXCLUDED.id, pid = EXCLUDED.pid, host = EXCLUDED.host, command = "
                        "EXCLUDED.command, created = EXCLUDED.created, ci_run = EXCLUDED.ci_run, backend_pid = "
                        "EXCLUDED.backend_pid"
                    ),
                    [self.workspace, info.id, info.pid, info.host, info.command, info.created, info.ci_run],
                )
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", [self._key])
                raise
        self._held = info
        return info

    def _release(self, held: LockInfo, *, tidy: bool) -> None:
        """Clear our holder row and unlock. On a lost connection there is nothing to do: the server ended the
        session, and its lock with it; the row left is recognised as stale by its backend pid."""
        with self._mutex:
            self._held = None
            if self._db.lost:
                self._db.close()
                return
            try:
                conn = self._db.connect()
                conn.execute(
                    self._db.q("DELETE FROM {schema}.reconcile_locks WHERE workspace = %s AND id = %s"),
                    [self.workspace, held.id],
                )
                conn.execute("SELECT pg_advisory_unlock(%s)", [self._key])
            except psycopg.Error as exc:
                log.warning(
                    "could not release the lock of state %s cleanly (%s): closing its session releases it",
                    self._location,
                    self._db.scrub(_first_line(exc)),
                )
                self._db.close()

    def _holder(self, conn: psycopg.Connection[Any]) -> tuple[LockInfo | None, str]:
        """Who holds this state's lock, and what the refused user can do about it."""
        classid, objid = _lock_key_parts(self._key)
        for attempt in range(HOLDER_READ_ATTEMPTS):
            row = conn.execute(
                self._db.q(
                    "SELECT l.id, l.pid, l.host, l.command, l.created, l.ci_run, l.backend_pid, h.pid, "
                    "a.application_name, a.client_addr::text, a.backend_start "
                    "FROM (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                    "classid::bigint = %s AND objid::bigint = %s AND objsubid = 1 LIMIT 1) h "
                    "LEFT JOIN pg_stat_activity a ON a.pid = h.pid "
                    "FULL JOIN (SELECT * FROM {schema}.reconcile_locks WHERE workspace = %s) l ON true"
                ),
                [classid, objid, self.workspace],
            ).fetchone()
            if row is None or row[7] is None:  # released meanwhile
                return None, "It was released just now: run the command again."
            if row[0] is not None and row[6] == row[7]:
                holder = _lock_info_of(row)
                return holder, (
                    "A holder that dies (kill -9, a lost runner) releases it as soon as the database ends its "
                    f"session; if it hangs, `reconcile force-unlock {holder.id}` ends that session."
                )
            if attempt + 1 < HOLDER_READ_ATTEMPTS:
                self._sleep(0.05)
        assert row is not None
        session = f"database session {row[7]}"
        if row[8] or row[9]:
            session += f" (application {row[8] or '?'}, client {row[9] or 'local socket'}, since {row[10]})"
        return None, (
            f"It is held by {session}, which recorded no holder for this workspace: another reconcile starting "
            f"up, or another program using the same advisory-lock key."
        )

    def force_unlock(self, lock_id: str) -> LockInfo:
        with self._mutex, self._db.errors("unlocking the state"):
            conn = self._db.connect()
            recorded = self._recorded_lock(conn) if self._db.tables_exist(conn) else None
            if recorded is None:
                raise StateError(f"state {self._location} is not locked: there is no lock to remove.")
            holder, backend_pid = recorded
            if holder.id != lock_id:
                raise StateError(
                    f"lock id {lock_id!r} does not match the lock on state {self._location}: the recorded lock is "
                    f"{holder.id} (held by pid {holder.pid} on {holder.host}, {holder.command!r}, since "
                    f"{holder.created}). Use the id printed by the command that was refused the lock."
                )
            if self._session_holds_key(conn, backend_pid):
                if holder.host == this_host() and pid_alive(holder.pid):
                    raise StateError(
                        f"lock {holder.id} on state {self._location} is held by pid {holder.pid} on this machine "
                        f"({holder.command!r}, since {holder.created}), which is still running: stop it first; the "
                        f"lock is released when it exits. force-unlock is for locks whose holder is gone."
                    )
                self._end_session(conn, backend_pid, holder)
            conn.execute(
                self._db.q("DELETE FROM {schema}.reconcile_locks WHERE workspace = %s AND id = %s"),
                [self.workspace, holder.id],
            )
            return holder

    def _session_holds_key(self, conn: psycopg.Connection[Any], backend_pid: int) -> bool:
        classid, objid = _lock_key_parts(self._key)
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = %s AND "
            "classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
            [backend_pid, classid, objid],
        ).fetchone()
        return bool(row and row[0])

    def _end_session(self, conn: psycopg.Connection[Any], backend_pid: int, holder: LockInfo) -> None:
        """The holder's database session is still open (a hung or cut-off runner): end it, which unlocks."""
        try:
            conn.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StateError(
                f"lock {holder.id} on state {self._location} is held by database session {backend_pid} (pid "
                f"{holder.pid} on {holder.host}), which this role may not end ({self._db.scrub(_first_line(exc))}). "
                f"Ask a database administrator to run SELECT pg_terminate_backend({backend_pid})."
            ) from None
        deadline = time.monotonic() + UNLOCK_WAIT_SECONDS
        while self._session_holds_key(conn, backend_pid):
            if time.monotonic() > deadline:
                raise StateError(
                    f"ended database session {backend_pid} holding the lock of state {self._location}, but it still "
                    f"holds it after {UNLOCK_WAIT_SECONDS:g}s; run force-unlock again in a moment."
                )
            time.sleep(0.05)

    def lock_holder(self) -> LockInfo | None:
        """The recorded holder, if its session still holds the lock."""
        with self._mutex, self._db.errors("reading the lock"):
            conn = self._db.connect()
            recorded = self._recorded_lock(conn) if self._db.tables_exist(conn) else None
            if recorded is None or not self._session_holds_key(conn, recorded[1]):
                return None
            return recorded[0]

    def _recorded_lock(self, conn: psycopg.Connection[Any]) -> tuple[LockInfo, int] | None:
        """The holder row of this workspace: who recorded the lock, and the backend pid of its session."""
        row = conn.execute(
            self._db.q(
                "SELECT id, pid, host, command, created, ci_run, backend_pid FROM {schema}.reconcile_locks "
                "WHERE workspace = %s"
            ),
            [self.workspace],
        ).fetchone()
        return (_lock_info_of(row), row[6]) if row else None


def _lock_info_of(row: Sequence[Any]) -> LockInfo:
    """A LockInfo from a row whose first six columns are reconcile_locks' id, pid, host, command, created, ci_run."""
    return LockInfo(id=row[0], pid=row[1], host=row[2], command=row[3], created=row[4], ci_run=row[5])
