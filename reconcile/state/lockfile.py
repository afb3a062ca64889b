"""The local store's lock: `<state>.lock`, an OS lock plus a record of who holds it.

Primary mechanism: flock(2) on the lock file. The kernel releases it when the holding process ends, however
it ends (kill -9 included), so a dead holder never leaves the state locked; the LockInfo written into the
file only tells others who holds it, and is cleared on release. A record left in a file nobody has
flock'd is therefore a dead holder's, and is simply taken over.

Fallback, where flock is unavailable (no fcntl, or a filesystem that refuses it): the record file itself
is the lock, created exclusively (hard-linked into place complete, so nobody ever reads half a record),
and a record whose holder is a dead process on this host is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from reconcile.state.files import (
    MAX_LOCK_RECORD_BYTES,
    PRIVATE_FILE,
    FileRefused,
    check_regular,
    fsync_dir,
    make_private_dir,
    read_regular_file,
    temp_path_for,
    write_file_durably,
)
from reconcile.state.store import LockInfo, StateError, StateLockedError, this_host

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# flock errors meaning "this filesystem has no flock", not "someone holds it".
NO_FLOCK_ERRNOS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})
RECORD_READ_ATTEMPTS = 3  # a record being written right now reads as garbage for a moment


@dataclass(frozen=True, slots=True)
class HeldLock:
    info: LockInfo
    fd: int | None  # with flock: the locked descriptor, which holds the lock until it is closed


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running process on this machine (a zombie has exited: it is not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: os.kill's answer stands
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


class LockFile:
    def __init__(
        self,
        path: Path,
        location: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 0.25,
        os_lock: bool | None = None,
    ) -> None:
        self.path = path
        self.location = location  # the state's, for messages
        self._clock = clock
        self._sleep = sleep
        self._poll_interval = poll_interval
        self.os_lock = fcntl is not None if os_lock is None else os_lock

    # -- acquiring and releasing ------------------------------------------------------------------------

    def acquire(self, command: str, timeout: float = 0.0) -> HeldLock:
        """Take the lock, polling for up to `timeout` seconds; StateLockedError naming the holder after that."""
        deadline = self._clock() + timeout
        announced = False
        while True:
            held = self._try_acquire(command)
            if held is not None:
                return held
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise StateLockedError(self.read_record(), self.location, waited=timeout)
            if not announced:
                log.info("state %s is locked; waiting up to %gs for it", self.location, timeout)
                announced = True
            self._sleep(min(self._poll_interval, remaining))

    def release(self, held: HeldLock) -> None:
        if held.fd is not None:
            with contextlib.suppress(OSError):  # clearing the record is a courtesy: closing is what unlocks
                os.ftruncate(held.fd, 0)
            os.close(held.fd)
            return
        try:
            self._remove_record(held.info.id)
        except OSError as exc:
            raise StateError(
                f"cannot release lock {held.info.id} of state {self.location}: {exc.strerror or exc}. Remove "
                f"{self.path} once no reconcile command is running."
            ) from exc

    def _try_acquire(self, command: str) -> HeldLock | None:
        try:
            make_private_dir(self.path.parent)
            if self.os_lock:
                return self._try_flock(command)
            return self._try_create_record(command)
        except FileRefused as exc:
            raise self._refused(exc) from None
        except OSError as exc:
            raise StateError(f"cannot lock state {self.location}: {exc.strerror or exc} ({self.path})") from exc

    def _refused(self, exc: FileRefused) -> StateError:
        return StateError(
            f"the lock file {self.path} of state {self.location} {exc.reason}: reconcile locks its state only with "
            f"a regular file it wrote. Remove {self.path} once no reconcile command is running."
        )

    def _open_regular(self, flags: int) -> int:
        """Open the lock file without blocking (a FIFO would wait for a peer), refusing anything but a regular file."""
        fd = os.open(self.path, flags | os.O_NONBLOCK, PRIVATE_FILE)
        try:
            check_regular(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _try_flock(self, command: str) -> HeldLock | None:
        assert fcntl is not None
        fd = self._open_regular(os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            if exc.errno not in NO_FLOCK_ERRNOS:
                raise
            log.warning("%s: the filesystem has no flock (%s); locking with a pid-checked record", self.path, exc)
            self.os_lock = False
            return self._try_create_record(command)
        try:
            if not _names_same_file(fd, self.path):
                # Force-unlocked (removed) between our open and our flock: lock the file now at that path.
                os.close(fd)
                return self._try_flock(command)
            info = LockInfo.new(command)
            data = info.model_dump_json().encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return HeldLock(info=info, fd=fd)

    def _try_create_record(self, command: str, attempts: int = 3) -> HeldLock | None:
        if attempts == 0:
            return None  # the path keeps changing under us: report it locked, and poll again if waiting
        info = LockInfo.new(command)
        temp = temp_path_for(self.path)
        write_file_durably(temp, info.model_dump_json().encode())
        try:
            os.link(temp, self.path)  # fails if a record exists: exclusive, and never half-written
        except FileExistsError:
            if self._discard_empty_file():
                return self._try_create_record(command, attempts - 1)
            holder = self.read_record()
            if holder is not None and holder.host == this_host() and not pid_alive(holder.pid):
                log.warning("taking over %s from pid %d, which is no longer running", holder.describe(), holder.pid)
                self._remove_record(holder.id)
                return self._try_create_record(command, attempts - 1)
            return None
        finally:
            temp.unlink()
        fsync_dir(self.path.parent)
        return HeldLock(info=info, fd=None)

    def _discard_empty_file(self) -> bool:
        """Remove an empty lock file (left by flock locking, which empties it on release): it is no record.

        It is moved aside first, atomically, so a record someone links in meanwhile is never deleted.
        """
        aside = temp_path_for(self.path)
        try:
            status = self.path.stat()
            check_regular(status)  # never move aside (and delete) a device or a FIFO someone put here
            if status.st_size != 0:
                return False
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True  # gone already: try again
        try:
            if aside.stat().st_size != 0:  # a record after all: put it back, unless a newer one took its place
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self.path)
        finally:
            aside.unlink()
        return True

    # -- the record -------------------------------------------------------------------------------------

    def read_record(self) -> LockInfo | None:
        """The recorded holder, or None when there is no (readable) record."""
        for attempt in range(RECORD_READ_ATTEMPTS):
            try:
                data, _ = read_regular_file(self.path, MAX_LOCK_RECORD_BYTES)
            except FileNotFoundError:
                return None
            except FileRefused as exc:
                raise self._refused(exc) from None
            except OSError as exc:
                raise StateError(f"cannot read the lock of state {self.location}: {exc.strerror or exc}") from exc
            if not data.strip():
                return None
            try:
                return LockInfo.model_validate_json(data)
            except ValidationError:
                if attempt + 1 < RECORD_READ_ATTEMPTS:
                    self._sleep(0.005)
        return None

    def _remove_record(self, lock_id: str) -> None:
        """Remove the record file if it is still `lock_id`'s (never a newer holder's)."""
        current = self.read_record()
        if current is not None and current.id != lock_id:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fsync_dir(self.path.parent)

    # -- breaking a lock --------------------------------------------------------------------------------

    def force_unlock(self, lock_id: str) -> LockInfo:
        holder = self.read_record()
        if holder is None:
            raise StateError(f"state {self.location} is not locked: there is no lock to remove.")
        if holder.id != lock_id:
            raise StateError(
                f"lock id {lock_id!r} does not match the lock on state {self.location}: the recorded lock is "
                f"{holder.id} (held by pid {holder.pid} on {holder.host}, {holder.command!r}, since "
                f"{holder.created}). Use the id printed by the command that was refused the lock."
            )
        try:
            if self.os_lock and self._clear_if_free(holder):
                return holder  # its holder had exited: the kernel had already released the lock
        except FileRefused as exc:
            raise self._refused(exc) from None
        except OSError as exc:
            raise StateError(f"cannot unlock state {self.location}: {exc.strerror or exc} ({self.path})") from exc
        if holder.host == this_host():
            if pid_alive(holder.pid):
                raise StateError(
                    f"lock {holder.id} on state {self.location} is held by pid {holder.pid} on this machine "
                    f"({holder.command!r}, since {holder.created}), which is still running: stop it first; the "
                    f"lock is released when it exits. force-unlock is for locks whose holder is gone."
                )
            if self.os_lock:
                raise StateError(
                    f"lock {holder.id} on state {self.location} was taken by pid {holder.pid} on this machine, "
                    f"which has exited, but a process it started still holds it: stop that process first "
                    f"(`fuser {self.path}` names it); the lock is released when it exits."
                )
        # A holder on another machine (sharing this file), or a dead one without flock: drop its record.
        # With flock, new holders lock a new file at this path from now on.
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            fsync_dir(self.path.parent)
        except OSError as exc:
            raise StateError(f"cannot unlock state {self.location}: {exc.strerror or exc} ({self.path})") from exc
        return holder

    def _clear_if_free(self, holder: LockInfo) -> bool:
        """If nobody holds the OS lock, clear `holder`'s leftover record (under the OS lock) and say so."""
        assert fcntl is not None
        fd = self._open_regular(os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            current = self.read_record()
            if current is not None and current.id == holder.id:
                os.ftruncate(fd, 0)
                os.fsync(fd)
            return True
        finally:
            os.close(fd)


def _names_same_file(fd: int, path: Path) -> bool:
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)
