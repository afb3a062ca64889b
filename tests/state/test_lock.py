"""The state lock against real second processes: contention, dead holders, waiting, force-unlock, fallback."""

from __future__ import annotations

import errno
import os
import socket
import stat
import uuid

import pytest

from reconcile.state import LocalStateStore, LockInfo, PutResource, StateError, StateLockedError
from reconcile.state.lockfile import LockFile

from .conftest import bucket, document


def locked_message(location: object, holder: LockInfo, waited: str = "") -> str:
    return (
        f"state {location} is locked{waited}: lock {holder.id} held by pid {holder.pid} on {holder.host} "
        f"('{holder.command}') since {holder.created}. It is released when that command ends: wait for it, or retry "
        f"with --lock-timeout (e.g. 5m). If its holder died on another machine, run "
        f"`reconcile force-unlock {holder.id}`."
    )


class VirtualTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_lock_records_its_holder_and_clears_the_record_on_release(store):
    with store.lock("apply") as info:
        assert uuid.UUID(info.id).version == 4
        assert (info.pid, info.host, info.command) == (os.getpid(), socket.gethostname(), "apply")
        assert LockInfo.model_validate_json(store.lock_path.read_bytes()) == info
        assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600
        assert store.lock_holder() == info
    assert store.lock_path.read_bytes() == b""
    assert store.lock_holder() is None


def test_lock_is_reentrant_for_its_store(store):
    with store.lock("apply") as outer, store.lock("apply") as inner:
        assert inner == outer
        store.write(document(bucket("in-a")))  # writes inside the lock use it rather than taking it again
    assert store.lock_holder() is None


def test_second_process_is_refused_at_once_naming_the_holder(store, state_path, hold_lock):
    holder = hold_lock(state_path, command="apply")

    with pytest.raises(StateLockedError) as caught, store.lock("apply"):
        pytest.fail("the lock was granted twice")

    assert caught.value.holder == holder.info
    assert holder.info.pid == holder.process.pid
    assert str(caught.value) == locked_message(state_path, holder.info)


def test_writes_without_the_lock_are_refused_while_another_process_holds_it(store, state_path, hold_lock):
    hold_lock(state_path)
    with pytest.raises(StateLockedError):
        store.write(document(bucket("in-a")))
    with pytest.raises(StateLockedError):
        store.append([PutResource(resource=bucket("in-a"))])
    assert store.read() is None  # reads need no lock


def test_another_store_in_the_same_process_is_refused(store, state_path):
    with store.lock("apply"), pytest.raises(StateLockedError):
        LocalStateStore(state_path).lock("plan").__enter__()


def test_lock_of_a_process_killed_with_sigkill_is_free_at_once(store, state_path, hold_lock):
    holder = hold_lock(state_path)
    holder.kill()
    assert store.lock_holder() == holder.info  # its record is still there, but nobody holds the OS lock

    with store.lock("apply") as info:
        assert info.pid == os.getpid()


def test_waits_for_the_lock_until_its_holder_releases_it(state_path, hold_lock):
    holder = hold_lock(state_path)
    polls = 0

    def sleep_then_release(seconds: float) -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            holder.release()

    store = LocalStateStore(state_path, sleep=sleep_then_release)
    with store.lock("apply", timeout=30) as info:
        assert info.pid == os.getpid()
    assert polls == 3


def test_lock_timeout_polls_then_fails_naming_the_holder(state_path, hold_lock):
    holder = hold_lock(state_path)
    time = VirtualTime()
    store = LocalStateStore(state_path, clock=time.clock, sleep=time.sleep, poll_interval=0.25)

    with pytest.raises(StateLockedError) as caught:
        store.lock("apply", timeout=2).__enter__()

    assert time.sleeps == [0.25] * 8
    assert str(caught.value) == locked_message(state_path, holder.info, waited=" (waited 2s)")


# -- force-unlock ------------------------------------------------------------------------------------------------


def test_force_unlock_when_nothing_is_locked(store, state_path):
    with pytest.raises(StateError) as caught:
        store.force_unlock("1b4f0e9a-0000-4000-8000-000000000000")
    assert str(caught.value) == f"state {state_path} is not locked: there is no lock to remove."


def test_force_unlock_with_the_wrong_id_names_the_recorded_one(store, state_path, hold_lock):
    holder = hold_lock(state_path).info
    with pytest.raises(StateError) as caught:
        store.force_unlock("1b4f0e9a")
    assert str(caught.value) == (
        f"lock id '1b4f0e9a' does not match the lock on state {state_path}: the recorded lock is {holder.id} "
        f"(held by pid {holder.pid} on {holder.host}, 'apply', since {holder.created}). Use the id printed by "
        f"the command that was refused the lock."
    )


def test_force_unlock_refuses_a_live_holder_on_this_machine(store, state_path, hold_lock):
    holder = hold_lock(state_path).info
    with pytest.raises(StateError) as caught:
        store.force_unlock(holder.id)
    assert str(caught.value) == (
        f"lock {holder.id} on state {state_path} is held by pid {holder.pid} on this machine ('apply', since "
        f"{holder.created}), which is still running: stop it first; the lock is released when it exits. "
        f"force-unlock is for locks whose holder is gone."
    )
    with pytest.raises(StateLockedError):
        store.lock("apply").__enter__()


def test_force_unlock_of_a_dead_holder_removes_its_record(store, state_path, hold_lock):
    holder = hold_lock(state_path)
    holder.kill()

    assert store.force_unlock(holder.info.id) == holder.info
    assert store.lock_holder() is None


def test_force_unlock_of_a_holder_on_another_machine(store, state_path, hold_lock):
    """The lock file is shared (a network filesystem) and its holder's machine is gone."""
    holder = hold_lock(state_path)
    remote = holder.info.model_copy(update={"host": "build-agent-7", "pid": 31337})
    store.lock_path.write_text(remote.model_dump_json())  # as that machine recorded it

    assert store.force_unlock(remote.id) == remote

    with store.lock("apply") as info:  # a new lock file: the old holder keeps only the one it had open
        assert info.pid == os.getpid()


# -- without flock -----------------------------------------------------------------------------------------------


def test_without_flock_the_record_is_the_lock(state_path):
    first = LocalStateStore(state_path, os_lock=False)
    second = LocalStateStore(state_path, os_lock=False)
    with first.lock("apply") as info:
        with pytest.raises(StateLockedError) as caught:
            second.lock("apply").__enter__()
        assert caught.value.holder == info
    assert not first.lock_path.exists()
    with second.lock("apply"):
        pass


def test_without_flock_a_dead_holders_record_is_taken_over(state_path, hold_lock, state_log):
    holder = hold_lock(state_path, os_lock=False)
    holder.kill()
    store = LocalStateStore(state_path, os_lock=False)

    with store.lock("apply") as info:
        assert info.pid == os.getpid()
    assert state_log.messages == [
        f"taking over {holder.info.describe()} from pid {holder.info.pid}, which is no longer running"
    ]


def test_without_flock_a_live_holder_keeps_the_lock_and_cannot_be_forced(state_path, hold_lock):
    holder = hold_lock(state_path, os_lock=False)
    store = LocalStateStore(state_path, os_lock=False)
    with pytest.raises(StateLockedError):
        store.lock("apply").__enter__()
    with pytest.raises(StateError, match="which is still running: stop it first"):
        store.force_unlock(holder.info.id)
    holder.release()
    assert not store.lock_path.exists()


def test_without_flock_a_holder_on_another_machine_waits_for_force_unlock(state_path):
    remote = LockInfo(id="9d1c", pid=1, host="build-agent-7", command="apply", created="2026-01-02T03:04:05Z")
    state_path.parent.mkdir(parents=True)
    (state_path.parent / "state.json.lock").write_text(remote.model_dump_json())
    store = LocalStateStore(state_path, os_lock=False)

    with pytest.raises(StateLockedError):
        store.lock("apply").__enter__()
    assert store.force_unlock("9d1c") == remote
    with store.lock("apply"):
        pass


def test_a_filesystem_without_flock_falls_back_to_the_record(state_path, monkeypatch, state_log):
    import fcntl

    def no_flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    lock_file = LockFile(state_path.with_name("state.json.lock"), str(state_path))

    held = lock_file.acquire("apply")

    assert not lock_file.os_lock
    assert lock_file.read_record() == held.info
    lock_file.release(held)
    assert not lock_file.path.exists()
    assert state_log.messages == [
        f"{lock_file.path}: the filesystem has no flock ([Errno {errno.ENOLCK}] No locks available); "
        f"locking with a pid-checked record"
    ]
