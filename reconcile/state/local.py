"""`StateStore` on local files, all next to each other:

    state.json          the snapshot: the whole state at some serial, replaced atomically by `write`
    state.json.journal  batches committed by `append` since the snapshot, one fsync'd JSON line each
    state.json.lock     the lock (flock) and the record of who holds it
    state.json.backup   the last good snapshot other than the current one, for recovering from a damaged file:
                        the snapshot a write replaced, when it held resources; else (the first apply, or one
                        after everything was pruned) a copy of the new snapshot, when that holds any. A
                        snapshot without resources never replaces a backup.

A read is the snapshot plus the journal replayed over it. The outermost `lock()` folds the journal into
the snapshot when it is released normally, so reads stay fast and the journal stays short.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconcile.state.files import (
    MAX_JOURNAL_BYTES,
    MAX_STATE_BYTES,
    FileRefused,
    append_durably,
    file_kind,
    make_private_dir,
    read_regular_file,
    remove_durably,
    remove_stale_temps,
    replace_atomically,
)
from reconcile.state.journal import JournalContents, JournalMismatchError, encode_entry, parse_journal, replay
from reconcile.state.lockfile import HeldLock, LockFile
from reconcile.state.model import StateDocument
from reconcile.state.snapshot import decode_snapshot, encode_snapshot
from reconcile.state.store import JournalRecord, LockInfo, StateError, StateVersion, StoreBase, next_document

log = logging.getLogger(__name__)

READ_ATTEMPTS = 3  # a read racing a rewrite can pair an old snapshot with a new journal: read again


@dataclass(frozen=True, slots=True)
class FileVersion:
    """Identifies one version of a file: a replaced file has a new inode, an appended one a new size."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result, size: int | None = None) -> FileVersion:
        return cls(stat.st_dev, stat.st_ino, stat.st_size if size is None else size, stat.st_mtime_ns)

    @classmethod
    def at(cls, path: Path) -> FileVersion | None:
        try:
            return cls.of(path.stat())
        except FileNotFoundError:
            return None


@dataclass(frozen=True, slots=True)
class SeenState:
    """What this store last read or wrote: enough for `append` to continue without re-reading 100k resources."""

    lineage: str
    serial: int
    snapshot: FileVersion
    journal: FileVersion | None
    journal_valid_length: int  # an append starts here (cutting off a torn tail)
    snapshot_resources: int  # resources in the snapshot file itself (journal not replayed): decides the backup

    @property
    def version(self) -> StateVersion:
        return StateVersion(self.lineage, self.serial)


class LocalStateStore(StoreBase[HeldLock]):
    def __init__(
        self,
        path: Path,
        *,
        location: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 0.25,
        os_lock: bool | None = None,
    ) -> None:
        super().__init__(location or str(path))
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self._lock_file = LockFile(
            self.lock_path, self._location, clock=clock, sleep=sleep, poll_interval=poll_interval, os_lock=os_lock
        )
        self._seen: SeenState | None = None

    # -- reading --------------------------------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        with self._mutex:
            for _ in range(READ_ATTEMPTS - 1):
                try:
                    return self._read_once()
                except JournalMismatchError:
                    log.debug("state %s changed while it was read; reading again", self._location)
            return self._read_once()

    def _read_once(self) -> StateDocument | None:
        loaded = self._load_snapshot()
        journal, journal_version = self._load_journal()
        if loaded is None:
            if journal is not None and journal.entries:
                raise StateError(
                    f"state {self._location} is missing but its journal {self.journal_path} exists: the snapshot "
                    f"was moved or deleted. Restore it (or its backup, {self.backup_path}); to start over "
                    f"instead, move the journal aside too."
                )
            self._refuse_lost_snapshot()
            self._seen = None
            return None
        snapshot, snapshot_version = loaded
        doc = replay(snapshot, journal.entries, str(self.journal_path)) if journal else snapshot
        self._seen = SeenState(
            lineage=doc.lineage,
            serial=doc.serial,
            snapshot=snapshot_version,
            journal=journal_version,
            journal_valid_length=journal.valid_length if journal else 0,
            snapshot_resources=len(snapshot.resources),
        )
        return doc

    def _refuse_lost_snapshot(self) -> None:
        """No snapshot, but a backup: the state was lost, not never made. Starting a new, empty state would plan
        to register everything again, lose every prevent_destroy, and the next write would replace the backup."""
        try:
            mode = os.stat(self.backup_path).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"cannot read state backup {self.backup_path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(mode):
            raise StateError(
                f"state {self._location} is missing and its backup {self.backup_path} is {file_kind(mode)}, not a "
                f"state reconcile wrote. reconcile will not start a new, empty state next to it: restore the state "
                f"from your own backup, or remove {self.backup_path} to start a new state."
            )
        backup, state = shlex.quote(str(self.backup_path)), shlex.quote(self._location)
        raise StateError(
            f"state {self._location} is missing, but its backup {self.backup_path} exists: the state was moved or "
            f"deleted. reconcile will not start a new, empty state, which would plan to register everything "
            f"again and replace the backup at the next apply. Restore it with `cp -p {backup} {state}` and run "
            f"the command again (reconcile adopts what was applied since the backup); to start a new state "
            f"instead, move the backup aside (`mv {backup} {backup}.old`)."
        )

    def _load_snapshot(self) -> tuple[StateDocument, FileVersion] | None:
        try:
            data, status = read_regular_file(self.path, MAX_STATE_BYTES)
        except FileNotFoundError:
            return None
        except FileRefused as exc:
            raise StateError(
                f"state file {self._location} {exc.reason}: reconcile keeps its state only in a regular file it "
                f"wrote. Check that --state (or RECONCILE_STATE) names the state file you meant."
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read state {self._location}: {exc.strerror or exc}") from exc
        return decode_snapshot(data, self._location, self._restore_hint()), FileVersion.of(status)

    def _load_journal(self) -> tuple[JournalContents | None, FileVersion | None]:
        try:
            data, status = read_regular_file(self.journal_path, MAX_JOURNAL_BYTES)
        except FileNotFoundError:
            return None, None
        except FileRefused as exc:
            raise StateError(
                f"state journal {self.journal_path} {exc.reason}: reconcile keeps its journal only in a regular "
                f"file it wrote. Move it aside to fall back to the snapshot (losing the changes it recorded)."
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read state journal {self.journal_path}: {exc.strerror or exc}") from exc
        return parse_journal(data, str(self.journal_path)), FileVersion.of(status, size=len(data))

    def _restore_hint(self) -> str:
        if self.backup_path.is_file():
            return (
                f"Restore the last good copy with `cp -p {shlex.quote(str(self.backup_path))} "
                f"{shlex.quote(self._location)}` (the state before the last apply, or the first one with resources; "
                f"reconcile adopts what was applied since), or restore your own backup."
            )
        return "Restore it from your own backup."

    # -- writing --------------------------------------------------------------------------------------------

    def write(self, doc: StateDocument) -> StateDocument:
        with self._mutex, self._exclusive("write"):
            written = next_document(doc, self._current(), self._location)
            self._replace_snapshot(written)
            return written

    def _append_entry(self, after: StateVersion, records: Sequence[JournalRecord]) -> None:
        """One journal line, fsync'd."""
        seen = self._seen
        assert seen is not None and seen.version == after  # `_current()` or `write` has just set it
        serial = after.serial + 1
        line = encode_entry(serial, after.lineage, records)
        torn = seen.journal is not None and seen.journal.size > seen.journal_valid_length
        try:
            stat = append_durably(self.journal_path, line, truncate_to=seen.journal_valid_length if torn else None)
        except OSError as exc:
            raise StateError(f"cannot write state journal {self.journal_path}: {exc.strerror or exc}") from exc
        self._seen = dataclasses.replace(
            seen, serial=serial, journal=FileVersion.of(stat), journal_valid_length=stat.st_size
        )

    def compact(self) -> StateDocument | None:
        """Fold the journal into the snapshot, at the same serial (the state does not change)."""
        with self._mutex, self._exclusive("compact"):
            if not self.journal_path.exists():
                return None
            doc = self.read()
            if doc is None:
                return None
            self._replace_snapshot(doc)
            return doc

    def _current(self) -> StateVersion | None:
        seen = self._seen
        if (
            seen is None
            or FileVersion.at(self.path) != seen.snapshot
            or FileVersion.at(self.journal_path) != seen.journal
        ):
            self.read()
            seen = self._seen
        return seen.version if seen is not None else None

    def _replace_snapshot(self, doc: StateDocument) -> None:
        data = encode_snapshot(doc)
        replaced = self._seen.snapshot_resources if self._seen is not None else 0
        try:
            make_private_dir(self.path.parent)
            remove_stale_temps(self.path)
            remove_stale_temps(self.backup_path)
            # The backup is the last snapshot that held resources: the one replaced, else a copy of the new one.
            replace_atomically(self.path, data, backup=self.backup_path if replaced else None)
            if not replaced and doc.resources:
                replace_atomically(self.backup_path, data)  # a copy: never a link to the live file
            # Only once the new snapshot is durable: the journal's entries are now in it.
            remove_durably(self.journal_path)
            version = FileVersion.of(self.path.stat())
        except OSError as exc:
            raise StateError(f"cannot write state {self._location}: {exc.strerror or exc}") from exc
        self._seen = SeenState(
            doc.lineage,
            doc.serial,
            version,
            journal=None,
            journal_valid_length=0,
            snapshot_resources=len(doc.resources),
        )

    # -- locking --------------------------------------------------------------------------------------------

    # `lock()` (StoreBase) compacts the journal when its block ends normally.

    def _acquire(self, command: str, timeout: float) -> HeldLock:
        held = self._lock_file.acquire(command, timeout)
        self._held = held
        return held

    def _release(self, held: HeldLock, *, tidy: bool) -> None:
        try:
            if tidy:
                self._compact_quietly()
        finally:
            with self._mutex:  # not while another thread is half-way through an append
                self._held = None
                self._lock_file.release(held)

    def _lock_info(self, held: HeldLock) -> LockInfo:
        return held.info

    def _compact_quietly(self) -> None:
        """Compaction only tidies: the journal is already durable, so a failure here must not fail the command."""
        try:
            self.compact()
        except StateError as exc:
            log.warning("could not fold the journal into the state snapshot (it stays valid as it is): %s", exc)

    def force_unlock(self, lock_id: str) -> LockInfo:
        return self._lock_file.force_unlock(lock_id)

    def lock_holder(self) -> LockInfo | None:
        """The recorded lock holder, if any: possibly a dead holder's record, which the next lock takes over."""
        return self._lock_file.read_record()
