"""`--workspace` on every state command, `reconcile state workspaces` and `reconcile state migrate` on local files."""

from __future__ import annotations

import pytest

from reconcile.cli.main import main
from reconcile.state import LocalStateStore, PutResource, open_store

from .conftest import bucket, document, media


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "command",
    [
        ("plan",),
        ("apply",),
        ("drift",),
        ("force-unlock",),
        ("state", "list"),
        ("state", "show"),
        ("state", "workspaces"),
        ("state", "migrate"),
    ],
)
def test_every_state_command_takes_a_workspace_and_a_location(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "--workspace NAME" in out and "RECONCILE_WORKSPACE" in out
    assert "--state LOCATION" in out and "postgresql://" in out


def test_local_workspaces_are_files_under_workspaces_and_listed(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    open_store(None, "staging").write(document(bucket("in-staging")))
    open_store(None).write(document(bucket("in-prod")))

    assert (tmp_path / ".reconcile" / "workspaces" / "staging" / "state.json").exists()
    assert run(capsys, "state", "list", "--workspace", "staging") == (0, "input_bucket.in-staging\n", "")
    monkeypatch.setenv("RECONCILE_WORKSPACE", "staging")
    assert run(capsys, "state", "list") == (0, "input_bucket.in-staging\n", "")
    assert run(capsys, "state", "workspaces") == (0, "  default\n* staging\n", "")
    assert run(capsys, "state", "workspaces", "--workspace", "dev-alice") == (
        0,
        "  default\n  staging\n",
        "Workspace dev-alice has no state yet at .reconcile/state.json.\n",
    )


def test_an_invalid_workspace_name_is_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "state", "list", "--workspace", "a/b")
    assert code == 1
    assert err == (
        "error: workspace name 'a/b' is not valid: use 1 to 63 letters, digits, '-' or '_', starting with a letter or "
        "a digit (e.g. prod, staging, dev-alice).\n"
    )


def test_migrate_copies_lineage_serial_and_the_journal_then_changes_nothing_the_second_time(capsys, tmp_path):
    source = tmp_path / "a" / "state.json"
    store = LocalStateStore(source)
    written = store.write(document(bucket("in-a")))
    store.append([PutResource(resource=media("v/x.mp4"))])
    target = tmp_path / "b" / "state.json"

    code, out, err = run(capsys, "state", "migrate", "--state", str(source), "--to", str(target), "--to-workspace", "p")

    assert (code, err) == (0, "")
    moved = tmp_path / "b" / "workspaces" / "p" / "state.json"
    assert out == (
        f"Copied {source} to {moved} (lineage {written.lineage}, serial 2, 2 resources).\n"
        f"{source} is unchanged. Use the new location from now on (--state, or RECONCILE_STATE), and remove the old "
        "state once every runner has switched.\n"
    )
    assert LocalStateStore(moved).read() == store.read()
    assert run(capsys, "state", "migrate", "--state", str(source), "--to", str(target), "--to-workspace", "p") == (
        0,
        f"{moved} already holds this state (lineage {written.lineage}, serial 2, 2 resources): nothing to do.\n",
        "",
    )
    store.write(store.read())  # the source moves on: the copy is brought up to date
    code, out, _ = run(capsys, "state", "migrate", "--state", str(source), "--to", str(target), "--to-workspace", "p")
    assert (code, out.splitlines()[0]) == (
        0,
        f"Updated {moved} from serial 2 to {source}'s (lineage {written.lineage}, serial 3, 2 resources).",
    )


def test_migrate_refuses_a_target_that_moved_on_and_a_missing_source_and_itself(capsys, tmp_path):
    source, target = tmp_path / "a" / "state.json", tmp_path / "b" / "state.json"
    LocalStateStore(source).write(document(bucket("in-a")))
    assert run(capsys, "state", "migrate", "--state", str(source), "--to", str(target))[0] == 0
    copy = LocalStateStore(target)
    copy.write(copy.read())

    code, _, err = run(capsys, "state", "migrate", "--state", str(source), "--to", str(target))
    assert code == 1
    assert err.startswith(
        f"error: refusing to migrate: {target} holds this state at serial 2, ahead of {source} at serial 1"
    )

    missing = tmp_path / "none" / "state.json"
    assert run(capsys, "state", "migrate", "--state", str(missing), "--to", str(target)) == (
        1,
        "",
        f"error: there is no state at {missing}: nothing to migrate. Check --state and --workspace.\n",
    )
    assert run(capsys, "state", "migrate", "--state", str(source), "--to", str(source)) == (
        1,
        "",
        f"error: the target {source} is the source state itself: nothing to migrate.\n",
    )
