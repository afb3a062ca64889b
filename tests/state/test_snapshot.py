"""Writing and reading the snapshot: atomicity, file modes, serial and lineage rules, damaged files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from reconcile.state import LocalStateStore, StateDocument, StateError
from reconcile.state.snapshot import encode_snapshot

from .conftest import bucket, document, media, read_error


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def error_reading(state_path: Path, content: str | bytes) -> str:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_error(state_path)


def test_no_state_reads_as_none_and_creates_nothing(store, state_path):
    assert store.read() is None
    assert not state_path.parent.exists()


def test_first_write_creates_lineage_serial_1_and_private_files(store, state_path):
    written = store.write(document(media("vids/b.mp4"), bucket("in-b"), bucket("in-a")))

    assert uuid.UUID(written.lineage).version == 4
    assert (written.version, written.serial) == (1, 1)
    assert [r.address for r in written.resources] == ["input_bucket.in-a", "input_bucket.in-b", 'media["vids/b.mp4"]']
    assert LocalStateStore(state_path).read() == written
    assert mode(state_path) == 0o600
    assert mode(state_path.parent) == 0o700
    assert mode(state_path.parent.parent) == 0o700  # every directory reconcile created
    # Nothing came before: the backup is a copy (not a link) of this first snapshot holding resources.
    assert LocalStateStore(store.backup_path).read() == written
    assert store.backup_path.stat().st_ino != state_path.stat().st_ino
    assert mode(store.backup_path) == 0o600


def test_existing_directories_keep_their_mode(tmp_path):
    tmp_path.chmod(0o755)
    LocalStateStore(tmp_path / "state.json").write(document(bucket("in-a")))
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "state.json") == 0o600


def test_snapshot_is_one_resource_per_line(store, state_path):
    written = store.write(document(bucket("in-a"), media("vids/a.mp4", name="intro", title="Intro")))
    lines = state_path.read_text().splitlines()
    assert lines[0] == f'{{"version":1,"lineage":"{written.lineage}","serial":1,"resources":['
    assert lines[1].startswith('{"address":"input_bucket.in-a","kind":"input_bucket","identity":"in-a"')
    assert lines[2].startswith('{"address":"media.intro","kind":"media","identity":"vids/a.mp4"')
    assert lines[3:] == ["]}"]


def test_every_write_increments_the_serial_and_keeps_the_lineage(store):
    first = store.write(document(bucket("in-a")))
    second = store.write(first.model_copy(update={"resources": [bucket("in-a"), bucket("in-b")]}))
    third = store.write(second)

    assert [first.serial, second.serial, third.serial] == [1, 2, 3]
    assert first.lineage == second.lineage == third.lineage
    assert store.read() == third


def test_write_keeps_the_previous_snapshot_as_backup(store):
    first = store.write(document(bucket("in-a")))
    store.write(first.model_copy(update={"resources": []}))
    assert LocalStateStore(store.backup_path).read() == first
    assert mode(store.backup_path) == 0o600


def test_write_of_another_lineage_is_refused(store, state_path):
    current = store.write(document(bucket("in-a")))
    other = current.model_copy(update={"lineage": "5f0c5d5e-0000-4000-8000-000000000000"})

    with pytest.raises(StateError) as caught:
        store.write(other)

    assert str(caught.value) == (
        f"refusing to overwrite state {state_path} (lineage {current.lineage}) with a state of another lineage "
        f"(5f0c5d5e-0000-4000-8000-000000000000): they are different states. Check that --state (or "
        f"RECONCILE_STATE) names the state you meant."
    )
    assert store.read() == current


def test_write_of_a_fresh_document_over_an_existing_state_is_refused(store, state_path):
    LocalStateStore(state_path).write(document(bucket("in-a")))  # another run created the state meanwhile

    with pytest.raises(StateError) as caught:
        store.write(document(bucket("in-b")))

    assert str(caught.value) == (
        f"state {state_path} changed since it was read: it was empty then, and now exists (serial 1). "
        f"Run the command again so that it starts from the current state."
    )


def test_write_based_on_an_older_serial_is_refused(store, state_path):
    read_then = store.write(document(bucket("in-a")))
    LocalStateStore(state_path).write(read_then)  # another run wrote serial 2 meanwhile

    with pytest.raises(StateError) as caught:
        store.write(read_then)

    assert str(caught.value) == (
        f"state {state_path} changed since it was read (serial 1 then, 2 now). "
        f"Run the command again so that it starts from the current state."
    )


def test_duplicate_resources_are_refused(store, state_path):
    with pytest.raises(StateError) as caught:
        store.write(document(bucket("in-a"), bucket("in-a", referer="other")))
    assert str(caught.value) == (
        f"refusing to write state {state_path}: 2 resource(s) appear more than once "
        f"(input_bucket in-a, input_bucket.in-a). This is a bug in reconcile: please report it."
    )
    assert store.read() is None


# -- atomicity --------------------------------------------------------------------------------------------------


def test_failure_between_temp_write_and_rename_leaves_the_old_state(store, state_path, monkeypatch):
    old = store.write(document(bucket("in-a")))

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StateError, match=f"^cannot write state {state_path}: No space left on device$"):
        store.write(old.model_copy(update={"resources": [bucket("in-b")]}))
    monkeypatch.undo()

    assert LocalStateStore(state_path).read() == old
    assert sorted(p.name for p in state_path.parent.iterdir()) == ["state.json", "state.json.backup", "state.json.lock"]


CRASH_DURING_RENAME = """
import os, signal, sys
from pathlib import Path
from reconcile.state import LocalStateStore
store = LocalStateStore(Path(sys.argv[1]))
doc = store.read()
rename = os.replace
def crash_before_renaming_the_state(src, dst):  # power cut just before the rename (the backup is linked by then)
    if str(dst) == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
    rename(src, dst)
os.replace = crash_before_renaming_the_state
store.write(doc.model_copy(update={"resources": []}))
"""


def test_process_killed_between_temp_write_and_rename_leaves_the_old_state(store, state_path):
    old = store.write(document(bucket("in-a"), media("vids/a.mp4")))

    crashed = subprocess.run([sys.executable, "-c", CRASH_DURING_RENAME, str(state_path)], check=False)

    assert crashed.returncode == -9
    assert LocalStateStore(state_path).read() == old
    leftovers = [p.name for p in state_path.parent.iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".state.json.tmp-")
    # The next write (under the lock, so no writer can be using it) clears the crashed writer's temp file.
    store.write(old)
    assert not [p for p in state_path.parent.iterdir() if ".tmp-" in p.name]


# -- damaged and foreign files ----------------------------------------------------------------------------------


def test_invalid_json_is_an_error_naming_the_file_never_an_empty_state(store, state_path):
    assert error_reading(state_path, '{"version":1,"lineage":"x","serial":3,"resources":[\n{"address":') == (
        f"state file {state_path} is not valid JSON (EOF while parsing a value at line 2 column 11): it was "
        f"damaged (a full disk, or a hand edit). reconcile will not treat it as an empty state, which would "
        f"plan to re-create everything it manages. Restore it from your own backup."
    )


def test_damaged_state_points_at_the_backup_when_there_is_one(store, state_path):
    first = store.write(document(bucket("in-a")))
    store.write(first)
    assert error_reading(state_path, state_path.read_bytes()[:40]).endswith(
        f"Restore the last good copy with `cp -p {store.backup_path} {state_path}` (the state before the last "
        f"apply, or the first one with resources; reconcile adopts what was applied since), or restore your own backup."
    )


def test_empty_file_is_damage_not_an_empty_state(store, state_path):
    assert error_reading(state_path, b"") == (
        f"state file {state_path} is empty: it was damaged (a full disk, or an interrupted copy). reconcile will "
        f"not treat it as an empty state, which would plan to re-create everything it manages. Restore it from "
        f"your own backup."
    )


def test_newer_format_version_asks_for_an_upgrade(store, state_path):
    newer = '{"version": 2, "lineage": "x", "serial": 9, "resources": [], "outputs": {}}'
    assert error_reading(state_path, newer) == (
        f"state file {state_path} has format version 2, which is newer than this reconcile understands "
        f"(version 1): it was written by a newer reconcile. Upgrade reconcile (pip install --upgrade reconcile) "
        f"to use this state."
    )


@pytest.mark.parametrize(("version", "shown"), [("0", "0"), ('"v1"', "'v1'")])
def test_unknown_format_version(store, state_path, version, shown):
    content = f'{{"version": {version}, "lineage": "x", "serial": 1, "resources": []}}'
    assert error_reading(state_path, content) == (
        f"state file {state_path} has unknown format version {shown} (this reconcile reads version 1): it was "
        f"not written by reconcile, or was edited by hand."
    )


def test_invalid_resource_names_the_field(store, state_path):
    bad = encode_snapshot(StateDocument(lineage="x", serial=1, resources=[bucket("in-a")])).replace(
        b'"kind":"input_bucket"', b'"kind":"bucket"'
    )
    assert error_reading(state_path, bad) == (
        f"state file {state_path}:2 is not a valid reconcile state: resources[0].kind: Input should be "
        f"'input_bucket' or 'media' (1 error). Restore it from your own backup."
    )


def test_unreadable_state_is_an_error_not_a_traceback(store, state_path):
    state_path.mkdir(parents=True)  # a directory where the file should be
    assert read_error(state_path) == (
        f"state file {state_path} is a directory, not a regular file: reconcile keeps its state only in a regular "
        f"file it wrote. Check that --state (or RECONCILE_STATE) names the state file you meant."
    )
