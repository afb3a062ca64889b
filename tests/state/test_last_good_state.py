"""Never lose the last good state: a lost snapshot is not a new state, the backup holds resources, and a file
the writer would never write (duplicate or conflicting lines, a negative serial, a changed journal entry) is
refused where it is wrong rather than read."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from reconcile.state import LocalStateStore, PutResource, RemoveResource, StateError

from .conftest import bucket, document, media, read_error
from .test_journal import three_serials, without_digest

# -- a lost snapshot ---------------------------------------------------------------------------------------------


def restore_refusal(store: LocalStateStore) -> str:
    backup, state = shlex.quote(str(store.backup_path)), shlex.quote(store.location)
    return (
        f"state {store.location} is missing, but its backup {store.backup_path} exists: the state was moved or "
        f"deleted. reconcile will not start a new, empty state, which would plan to register everything again and "
        f"replace the backup at the next apply. Restore it with `cp -p {backup} {state}` and run the command again "
        f"(reconcile adopts what was applied since the backup); to start a new state instead, move the backup "
        f"aside (`mv {backup} {backup}.old`)."
    )


def test_missing_state_with_a_backup_is_refused_and_the_backup_kept(store, state_path):
    kept = store.write(
        document(bucket("in-a"), media("vids/a.mp4", name="intro").model_copy(update={"prevent_destroy": True}))
    )
    store.write(kept)
    backup = store.backup_path.read_bytes()
    state_path.unlink()

    assert read_error(state_path) == restore_refusal(store)
    with pytest.raises(StateError) as caught:  # what apply does next: it must not start over and replace the backup
        LocalStateStore(state_path).append([PutResource(resource=bucket("in-b"))])
    assert str(caught.value) == restore_refusal(store)
    assert store.backup_path.read_bytes() == backup
    assert not state_path.exists()


def test_the_restore_command_in_the_refusal_restores_the_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = LocalStateStore(Path("my state.json"))  # as `--state "my state.json"` names it
    kept = store.write(document(bucket("in-a"), media("vids/a.mp4")))
    store.write(kept)
    Path("my state.json").unlink()
    message = read_error(Path("my state.json"))
    assert message == restore_refusal(store)
    command = message.split("Restore it with `", 1)[1].split("`", 1)[0]
    assert command == "cp -p 'my state.json.backup' 'my state.json'"

    subprocess.run(command, shell=True, check=True)

    restored = LocalStateStore(Path("my state.json")).read()
    assert restored is not None and restored.resources == kept.resources and restored.lineage == kept.lineage


def test_missing_state_with_a_backup_that_is_no_file_is_refused(store, state_path):
    store.write(document(bucket("in-a")))
    state_path.unlink()
    store.backup_path.unlink()
    store.backup_path.symlink_to("/dev/zero")

    assert read_error(state_path) == (
        f"state {state_path} is missing and its backup {store.backup_path} is a character device, not a state "
        f"reconcile wrote. reconcile will not start a new, empty state next to it: restore the state from your own "
        f"backup, or remove {store.backup_path} to start a new state."
    )


# -- what the backup holds ---------------------------------------------------------------------------------------


def apply_batches(store: LocalStateStore, *batches: list[PutResource | RemoveResource]) -> None:
    """What apply does to the state: journal appends under the lock, folded into the snapshot at release."""
    with store.lock("apply"):
        for records in batches:
            store.append(records)


def test_after_the_first_apply_the_backup_holds_its_resources(store, state_path):
    apply_batches(store, [PutResource(resource=bucket("in-a"))], [PutResource(resource=media("vids/a.mp4"))])

    state = LocalStateStore(state_path).read()
    assert state is not None and state.serial == 3 and len(state.resources) == 2
    assert LocalStateStore(store.backup_path).read() == state  # not the empty serial-1 state the journal began on


def test_later_applies_keep_the_state_before_them_as_backup(store, state_path):
    apply_batches(store, [PutResource(resource=bucket("in-a"))])
    before = LocalStateStore(state_path).read()

    apply_batches(store, [PutResource(resource=bucket("in-b"))])

    assert LocalStateStore(store.backup_path).read() == before


def test_a_state_without_resources_never_replaces_the_backup(store, state_path):
    apply_batches(store, [PutResource(resource=bucket("in-a"))], [PutResource(resource=bucket("in-b"))])
    last_with_resources = LocalStateStore(state_path).read()
    assert last_with_resources is not None

    apply_batches(store, [RemoveResource(kind="input_bucket", identity="in-a")])  # pruned one ...
    pruned_one = LocalStateStore(state_path).read()
    apply_batches(store, [RemoveResource(kind="input_bucket", identity="in-b")])  # ... then the last one
    emptied = LocalStateStore(state_path).read()
    assert emptied is not None and emptied.resources == []
    assert LocalStateStore(store.backup_path).read() == pruned_one
    store.write(emptied)  # a write of nothing over nothing

    assert LocalStateStore(store.backup_path).read() == pruned_one


# -- what the writer would never write ---------------------------------------------------------------------------


def restore_hint(store: LocalStateStore) -> str:
    """How a damaged state's error ends when there is a backup."""
    return (
        f"Restore the last good copy with `cp -p {store.backup_path} {store.location}` (the state before the last "
        f"apply, or the first one with resources; reconcile adopts what was applied since), or restore your own "
        f"backup."
    )


def written_lines(store: LocalStateStore) -> list[bytes]:
    store.write(document(bucket("in-a"), media("vids/a.mp4", name="intro", title="Intro"), media("vids/b.mp4")))
    return store.path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("second_line", "recorded"),
    [
        (lambda line: line, "record media.intro twice (identical lines)"),
        (lambda line: line.replace(b'"title":"Intro"', b'"title":"Other"'), "record media.intro twice, differently"),
        (
            lambda line: line.replace(b'"address":"media.intro"', b'"address":"media.opening"'),
            "record the same media vids/a.mp4 under two addresses (media.intro and media.opening)",
        ),
    ],
    ids=["duplicated", "conflicting", "two-addresses"],
)
def test_a_resource_recorded_twice_is_refused_naming_both_lines(store, state_path, second_line, recorded):
    lines = written_lines(store)
    state_path.write_bytes(b"".join([*lines[:3], second_line(lines[2]), *lines[3:]]))  # media.intro: lines 3 and 4

    assert read_error(state_path) == (
        f"state file {state_path}:3 and {state_path}:4 {recorded}: reconcile writes each resource once, so the "
        f"file was edited by hand or merged badly. Keep one of the two lines and delete the other (`reconcile "
        f"drift` shows which one matches the account), or: {restore_hint(store)}"
    )


def test_a_negative_serial_is_refused(store, state_path):
    lines = written_lines(store)
    state_path.write_bytes(b"".join([lines[0].replace(b'"serial":1', b'"serial":-4'), *lines[1:]]))

    assert read_error(state_path) == (
        f"state file {state_path}:1 is not a valid reconcile state: serial: Input should be greater than or equal "
        f"to 0 (1 error). {restore_hint(store)}"
    )


# -- the journal's integrity check -------------------------------------------------------------------------------


def test_each_journal_entry_carries_the_sha256_of_its_body(store):
    _, lines = three_serials(store)
    for line in lines:
        entry = json.loads(line)
        digest = entry.pop("sha256")
        assert digest == hashlib.sha256(json.dumps(entry, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("line", [0, 1])
def test_a_byte_flipped_inside_a_journal_string_is_refused(store, state_path, line):
    _, lines = three_serials(store)
    lines[line] = lines[line].replace(b"in-", b"im-", 1)  # still valid JSON, still a valid entry
    store.journal_path.write_bytes(b"".join(lines))

    assert read_error(state_path) == (
        f"state journal {store.journal_path}:{line + 1} fails its integrity check (its sha256 does not match): it "
        f"was changed after reconcile wrote it (a disk error, or a hand edit). Restore the journal from a backup, or "
        f"move it aside to fall back to the snapshot (losing the changes it recorded)."
    )


def test_a_journal_line_that_lost_its_digest_after_others_is_refused(store, state_path):
    _, lines = three_serials(store)
    store.journal_path.write_bytes(lines[0] + without_digest(lines[1]))

    assert read_error(state_path) == (
        f"state journal {store.journal_path}:2 has no sha256, unlike the lines before it: it was changed after "
        f"reconcile wrote it (a disk error, or a hand edit). Restore the journal from a backup, or move it aside to "
        f"fall back to the snapshot (losing the changes it recorded)."
    )


def test_a_journal_written_before_entries_had_a_digest_is_still_read_and_continued(store, state_path):
    _, lines = three_serials(store)
    expected = LocalStateStore(state_path).read()
    store.journal_path.write_bytes(
        b"".join(without_digest(line) for line in lines)
    )  # an apply the old version cut short

    resumed = LocalStateStore(state_path)
    assert resumed.read() == expected
    assert resumed.append([PutResource(resource=bucket("in-d"))]) == 4
    state = LocalStateStore(state_path).read()
    assert state is not None and [r.address for r in state.resources][-1] == "input_bucket.in-d"
