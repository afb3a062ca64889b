"""The journal: cheap durable commits per apply batch, replayed on read, robust to a crash mid-append."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from reconcile.state import LocalStateStore, PutResource, RemoveResource

from .conftest import bucket, document, media, read_error


def journal_lines(store: LocalStateStore) -> list[dict[str, object]]:
    return [json.loads(line) for line in store.journal_path.read_text().splitlines()]


def without_digest(line: bytes) -> bytes:
    """A journal line as reconcile wrote it before entries carried a sha256."""
    entry = json.loads(line)
    del entry["sha256"]
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def three_serials(store: LocalStateStore) -> tuple[str, list[bytes]]:
    """in-a written (serial 1), in-b and in-c appended (2, 3): the lineage and the journal's two lines."""
    lineage = store.write(document(bucket("in-a"))).lineage
    store.append([PutResource(resource=bucket("in-b"))])
    store.append([PutResource(resource=bucket("in-c"))])
    return lineage, store.journal_path.read_bytes().splitlines(keepends=True)


def test_each_append_is_one_fsynced_line_and_one_new_serial(store, monkeypatch):
    base = store.write(document(bucket("in-a")))
    snapshot_before = store.path.stat()
    synced: list[int] = []
    real_fsync = __import__("os").fsync
    monkeypatch.setattr("os.fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    first = store.append([PutResource(resource=media("vids/a.mp4")), PutResource(resource=media("vids/b.mp4"))])
    second = store.append([RemoveResource(kind="input_bucket", identity="in-a")])

    assert (first, second) == (2, 3)
    assert synced  # the line is on disk before append returns
    entries = journal_lines(store)
    assert [(e["serial"], e["lineage"], len(e["records"])) for e in entries] == [
        (2, base.lineage, 2),
        (3, base.lineage, 1),
    ]
    assert entries[1]["records"] == [{"op": "remove", "kind": "input_bucket", "identity": "in-a"}]
    # The snapshot is not rewritten: an append costs one line, whatever the size of the state.
    after = store.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (snapshot_before.st_ino, snapshot_before.st_mtime_ns)
    assert stat.S_IMODE(store.journal_path.stat().st_mode) == 0o600


def test_read_replays_the_journal_over_the_snapshot(store, state_path):
    store.write(document(bucket("in-a"), media("vids/a.mp4", title="Old")))
    store.append([PutResource(resource=media("vids/a.mp4", title="New")), PutResource(resource=media("vids/b.mp4"))])
    store.append([RemoveResource(kind="input_bucket", identity="in-a")])

    state = LocalStateStore(state_path).read()

    assert state is not None
    assert state.serial == 3
    assert [(r.address, getattr(r.attributes, "title", None)) for r in state.resources] == [
        ('media["vids/a.mp4"]', "New"),
        ('media["vids/b.mp4"]', "b.mp4"),
    ]


def test_append_without_any_state_creates_it_first(store):
    serial = store.append([PutResource(resource=bucket("in-a"))])

    state = store.read()
    assert serial == 2  # serial 1: the empty state created for the journal to continue
    assert state is not None and state.serial == 2 and [r.address for r in state.resources] == ["input_bucket.in-a"]


def test_append_of_nothing_is_not_a_new_serial(store):
    store.write(document(bucket("in-a")))
    assert store.append([]) == 1
    assert not store.journal_path.exists()


def test_write_folds_the_journal_into_the_snapshot(store):
    store.write(document(bucket("in-a")))
    store.append([PutResource(resource=bucket("in-b"))])
    current = store.read()
    assert current is not None

    written = store.write(current)

    assert written.serial == 3
    assert not store.journal_path.exists()
    assert store.read() == written


def test_torn_last_line_is_ignored_and_the_next_append_starts_clean(store, state_path, state_log):
    store.write(document(bucket("in-a")))
    store.append([PutResource(resource=bucket("in-b"))])
    committed = store.journal_path.read_bytes()
    with store.journal_path.open("ab") as journal:  # a crash in the middle of appending serial 3
        journal.write(b'{"serial":3,"lineage":"')

    state = LocalStateStore(state_path).read()

    assert state is not None and state.serial == 2
    assert [r.address for r in state.resources] == ["input_bucket.in-a", "input_bucket.in-b"]
    assert state_log.messages == [
        f"{store.journal_path}: ignoring an incomplete last entry, left by an interrupted write"
    ]

    resumed = LocalStateStore(state_path)
    assert resumed.append([PutResource(resource=bucket("in-c"))]) == 3
    assert store.journal_path.read_bytes().startswith(committed + b'{"serial":3,')
    assert [e["serial"] for e in journal_lines(store)] == [2, 3]


def test_damaged_last_complete_line_is_ignored(store, state_path):
    store.write(document(bucket("in-a")))
    store.append([PutResource(resource=bucket("in-b"))])
    with store.journal_path.open("ab") as journal:
        journal.write(b"\x00\x00\x00\x00\n")  # a filesystem that extended the file before writing the data

    state = LocalStateStore(state_path).read()

    assert state is not None and state.serial == 2


def test_damage_before_the_last_line_is_an_error_naming_the_line(store, state_path):
    _, lines = three_serials(store)
    legacy = [without_digest(line) for line in lines]  # lines without a digest are checked by parsing only
    store.journal_path.write_bytes(legacy[0].replace(b'"serial":2', b'"serial":"two"') + legacy[1])

    assert read_error(state_path) == (
        f"state journal {store.journal_path}:1 is damaged (serial: Input should be a valid integer, unable to "
        f"parse string as an integer): only its last line can be cut short by a crash. Restore the journal from "
        f"a backup, or move it aside to fall back to the snapshot (losing the changes it recorded)."
    )


def test_entries_already_in_the_snapshot_are_skipped(store, state_path):
    """A rewrite that crashed after renaming the snapshot but before removing the journal."""
    store.write(document(bucket("in-a")))
    store.append([PutResource(resource=bucket("in-b"))])
    stale_journal = store.journal_path.read_bytes()
    current = store.read()
    assert current is not None
    store.write(current.model_copy(update={"resources": [bucket("in-c")]}))  # serial 3, without in-a and in-b
    store.journal_path.write_bytes(stale_journal)

    state = LocalStateStore(state_path).read()

    assert state is not None and state.serial == 3
    assert [r.address for r in state.resources] == ["input_bucket.in-c"]
    assert LocalStateStore(state_path).append([PutResource(resource=bucket("in-d"))]) == 4


def test_journal_that_does_not_continue_the_snapshot_is_an_error(store, state_path):
    lineage, lines = three_serials(store)
    store.journal_path.write_bytes(lines[1])  # serial 3 follows serial 1: serial 2 is missing

    assert read_error(state_path) == (
        f"state journal {store.journal_path} does not continue the snapshot: the snapshot is at serial 1 of "
        f"lineage {lineage}, the journal's next entry is serial 3 of lineage {lineage}. Was the snapshot restored "
        f"from a backup? If the snapshot is the state you want, move the journal aside."
    )


def test_journal_without_snapshot_is_an_error(store, state_path):
    store.append([PutResource(resource=bucket("in-a"))])
    state_path.unlink()

    assert read_error(state_path) == (
        f"state {state_path} is missing but its journal {store.journal_path} exists: the snapshot was moved or "
        f"deleted. Restore it (or its backup, {store.backup_path}); to start over instead, move the journal "
        f"aside too."
    )


def test_append_notices_a_write_by_another_store(store, state_path):
    store.write(document(bucket("in-a")))
    store.append([PutResource(resource=bucket("in-b"))])
    other = LocalStateStore(state_path)
    current = other.read()
    assert current is not None
    other.write(current)  # serial 3, journal folded in and removed

    assert store.append([PutResource(resource=bucket("in-c"))]) == 4
    state = LocalStateStore(state_path).read()
    assert state is not None and [r.address for r in state.resources][-1] == "input_bucket.in-c"


def test_releasing_the_lock_compacts_the_journal_at_the_same_serial(store, state_path):
    store.write(document(bucket("in-a")))
    with store.lock("apply"):
        store.append([PutResource(resource=bucket("in-b"))])
        store.append([PutResource(resource=bucket("in-c"))])
        during = LocalStateStore(state_path).read()
        assert store.journal_path.exists()

    assert not store.journal_path.exists()
    assert LocalStateStore(state_path).read() == during
    assert during is not None and during.serial == 3


def test_a_failed_command_leaves_the_journal_as_it_is(store):
    store.write(document(bucket("in-a")))
    with pytest.raises(RuntimeError), store.lock("apply"):
        store.append([PutResource(resource=bucket("in-b"))])
        raise RuntimeError("batch failed")

    assert store.journal_path.exists()
    state = store.read()
    assert state is not None and state.serial == 2


def test_concurrent_appends_from_worker_threads_get_distinct_serials(store, state_path):
    """Apply appends from `asyncio.to_thread` workers: one line and one serial per batch, none lost."""
    store.write(document())
    with store.lock("apply"), ThreadPoolExecutor(max_workers=8) as pool:
        serials = list(pool.map(lambda i: store.append([PutResource(resource=bucket(f"in-{i:03d}"))]), range(200)))
        assert sorted(serials) == list(range(2, 202))
        assert [e["serial"] for e in journal_lines(store)] == list(range(2, 202))

    state = LocalStateStore(state_path).read()
    assert state is not None and state.serial == 201 and len(state.resources) == 200


def test_compaction_that_fails_on_release_keeps_the_journal(store, state_path, monkeypatch, state_log):
    store.write(document(bucket("in-a")))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    with store.lock("apply"):
        store.append([PutResource(resource=bucket("in-b"))])
        monkeypatch.setattr("reconcile.state.local.replace_atomically", disk_full)

    assert state_log.messages == [
        f"could not fold the journal into the state snapshot (it stays valid as it is): cannot write state "
        f"{state_path}: No space left on device"
    ]
    assert store.lock_holder() is None
    state = LocalStateStore(state_path).read()
    assert state is not None and state.serial == 2 and len(state.resources) == 2
