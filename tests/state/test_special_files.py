"""Only regular files are read as state, journal or lock record, and only up to a size cap: /dev/zero, a FIFO or a
directory in their place is a located error at once, never a hang, an out-of-memory kill or a traceback."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from reconcile.state import LocalStateStore, PutResource, StateError

from .conftest import bucket, document, read_error, run_cli, special_file

MANIFEST = "region: cn-shanghai\ninput_buckets:\n  - bucket: media-in\n"
COMMANDS = {
    "state list": ["state", "list"],
    "plan": ["plan", "manifests", "--refresh=false"],
    "apply": ["apply", "manifests", "--refresh=false", "--auto-approve"],
}
NOT_A_FILE = (
    "error: state file {state} is {kind}, not a regular file: reconcile keeps its state only in a regular file it "
    "wrote. Check that --state (or RECONCILE_STATE) names the state file you meant.\n"
)


@pytest.fixture(autouse=True)
def _fail_instead_of_hanging() -> Iterator[None]:
    """A read that blocks (a FIFO opened for reading waits for a writer) fails the test instead of hanging it
    (after 30 s; the CLI child processes are given up on after 20)."""

    def hung(signum: int, frame: object) -> None:
        pytest.fail("blocked for 30 s on a special file")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("kind", "described"), [("zero", "a character device"), ("fifo", "a FIFO (named pipe)")])
def test_state_that_is_a_device_or_a_fifo_is_refused_at_once(tmp_path, command, kind, described):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "media.yaml").write_text(MANIFEST)
    state = special_file(tmp_path, kind)

    done = run_cli(tmp_path, *COMMANDS[command], "--state", state.name)

    assert (done.returncode, done.stdout, done.stderr) == (1, "", NOT_A_FILE.format(state=state.name, kind=described))


@pytest.mark.parametrize("command", COMMANDS)
def test_state_that_is_a_directory_is_refused(tmp_path, command):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "media.yaml").write_text(MANIFEST)
    special_file(tmp_path, "dir")

    done = run_cli(tmp_path, *COMMANDS[command], "--state", "dir.json")

    assert done.returncode == 1
    assert done.stderr == (
        "error: state file dir.json is a directory, not a regular file: reconcile keeps its state only in a regular "
        "file it wrote. Check that --state (or RECONCILE_STATE) names the state file you meant.\n"
    )
    assert "Traceback" not in done.stderr


def test_store_refuses_a_directory_named_by_its_api_too(tmp_path):
    assert read_error(special_file(tmp_path, "dir")) == (
        f"state file {tmp_path / 'dir.json'} is a directory, not a regular file: reconcile keeps its state only in "
        f"a regular file it wrote. Check that --state (or RECONCILE_STATE) names the state file you meant."
    )


def test_state_above_the_size_cap_is_refused_before_it_is_read(state_path):
    state_path.parent.mkdir(parents=True)
    with state_path.open("wb") as file:
        file.truncate(3 * 1024**3)  # sparse: 3 GiB long, nothing written (reading it would take 3 GiB of memory)

    assert read_error(state_path) == (
        f"state file {state_path} is larger than 2,147,483,648 bytes (3,221,225,472 bytes or more), far more than "
        f"reconcile ever writes there: reconcile keeps its state only in a regular file it wrote. Check that --state "
        f"(or RECONCILE_STATE) names the state file you meant."
    )


@pytest.mark.parametrize(("kind", "described"), [("zero", "a character device"), ("fifo", "a FIFO (named pipe)")])
def test_journal_that_is_a_device_or_a_fifo_is_refused(store, state_path, kind, described):
    store.write(document(bucket("in-a")))
    made = special_file(state_path.parent, kind)
    made.rename(store.journal_path)

    assert read_error(state_path) == (
        f"state journal {store.journal_path} is {described}, not a regular file: reconcile keeps its journal only "
        f"in a regular file it wrote. Move it aside to fall back to the snapshot (losing the changes it recorded)."
    )


def test_journal_above_the_size_cap_is_refused(store, state_path):
    store.write(document(bucket("in-a")))
    with store.journal_path.open("wb") as file:
        file.truncate(2 * 1024**3 + 1)

    assert read_error(state_path) == (
        f"state journal {store.journal_path} is larger than 2,147,483,648 bytes (2,147,483,649 bytes or more), far "
        f"more than reconcile ever writes there: reconcile keeps its journal only in a regular file it wrote. Move "
        f"it aside to fall back to the snapshot (losing the changes it recorded)."
    )


@pytest.mark.parametrize(("kind", "described"), [("zero", "a character device"), ("fifo", "a FIFO (named pipe)")])
@pytest.mark.parametrize("os_lock", [True, False])
def test_lock_file_that_is_a_device_or_a_fifo_is_refused(store, state_path, kind, described, os_lock):
    store.write(document(bucket("in-a")))
    special_file(state_path.parent, kind).rename(store.lock_path)
    locking = LocalStateStore(state_path, os_lock=os_lock)
    expected = (
        f"the lock file {store.lock_path} of state {state_path} is {described}, not a regular file: reconcile "
        f"locks its state only with a regular file it wrote. Remove {store.lock_path} once no reconcile command is "
        f"running."
    )

    with pytest.raises(StateError) as caught, locking.lock("apply"):
        locking.append([PutResource(resource=bucket("in-b"))])

    assert str(caught.value) == expected
    with pytest.raises(StateError) as caught:
        locking.lock_holder()
    assert str(caught.value) == expected
