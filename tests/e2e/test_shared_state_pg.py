"""Shared state on a real PostgreSQL server: runners in different directories plan and apply one state.

Every runner is the real CLI, in-process or as a child process (to hold the lock, to be killed), against the
loopback emulator. Every output is checked for the database password on the way (`Runner`).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from reconcile.state.location import parse_postgres
from tests.e2e.conftest import Workspace
from tests.e2e.shared_state import Runner, second_runner_plans_nothing_after_the_first_applied, videos, wait_for
from tests.postgres_server import PASSWORD, PostgresServer

pytestmark = pytest.mark.e2e

APPLY = ("apply", "manifests/", "--auto-approve")
SECRETS = (PASSWORD, quote(PASSWORD, safe=""))


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.url(postgres_server.new_schema())


@pytest.fixture
def runners(ws: Workspace, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Runner]:
    return lambda name: Runner(ws, tmp_path / name, url, monkeypatch, secrets=SECRETS)


def journal_rows(server: PostgresServer, url: str) -> int:
    with server.admin() as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {parse_postgres(url).schema}.reconcile_journal"
            if _tables(server, url)
            else "SELECT 0"
        ).fetchone()
    return int(row[0]) if row else 0


def _tables(server: PostgresServer, url: str) -> bool:
    with server.admin() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{parse_postgres(url).schema}.reconcile_journal"])
        return bool(row.fetchone()[0])  # type: ignore[index]


def test_runner_b_in_an_empty_directory_plans_no_changes_after_runner_a_applied(runners, url):
    second_runner_plans_nothing_after_the_first_applied(runners, parse_postgres(url).display)


def test_a_saved_plan_made_on_one_runner_applies_on_another_and_is_refused_once_stale(runners):
    a, b = runners("a"), runners("b")
    a.manifest(media=videos("raw-a", 3))
    assert a.reconcile(*APPLY).code == 0
    for runner in (a, b):
        runner.manifest(media=videos("raw-a", 5), put_objects=runner is a)

    saved = b.reconcile("plan", "manifests/", "--out", "release.plan")
    assert saved.code == 0, saved.err
    (a.ws.directory / "release.plan").write_bytes((b.ws.directory / "release.plan").read_bytes())

    applied = a.reconcile("apply", "release.plan")
    assert applied.code == 0, applied.err
    assert "Apply complete! Resources: 2 registered." in applied.out

    stale = b.reconcile("apply", "release.plan")
    assert stale.code == 1
    assert "saved plan release.plan is stale; nothing was applied:" in stale.err
    assert "the state moved from serial" in stale.err


def test_a_second_apply_is_refused_at_once_naming_the_holders_host(runners, postgres_server, url):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 200)
    a.manifest(media=media)
    b.manifest(media=media, put_objects=False)
    first = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=10"})
    try:
        wait_for(lambda: journal_rows(postgres_server, url) >= 2)
        started = time.monotonic()

        second = b.reconcile(*APPLY)

        assert time.monotonic() - started < 10
        assert second.code == 1
        assert "is locked: lock " in second.err
        assert f"held by pid {first.pid} on {socket.gethostname()} ('apply') since " in second.err
        assert "releases it as soon as the database ends its session" in second.err
    finally:
        finished = a.checked(first)
    assert finished.code == 0, finished.err
    assert len(a.ws.media()) == 200


def test_after_kill_9_of_the_holder_another_runner_waiting_on_the_lock_takes_over_and_converges(
    runners, postgres_server, url
):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 300)
    a.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    b.manifest(buckets=[{"bucket": "raw-a"}], media=media, put_objects=False)
    a.ws.control.set_faults({"rules": [{"action": "RegisterMedia", "latency_ms": 300}]})
    holder = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=20"})
    wait_for(lambda: journal_rows(postgres_server, url) >= 6)
    waiting = b.spawn(*APPLY, "--lock-timeout", "30s")
    time.sleep(0.5)  # B is polling for the lock
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    recorded_batches = journal_rows(postgres_server, url)  # 1 bucket + the RegisterMedia batches recorded
    a.ws.control.set_faults({"rules": []})

    took_over = b.checked(waiting)

    assert took_over.code == 0, took_over.out + took_over.err
    registered = a.ws.media()  # asserts no file URL has two MediaIds
    assert set(registered) == {m["file_url"] for m in media}
    recorded_media = (recorded_batches - 1) * 10
    assert f"Apply complete! Resources: {300 - recorded_media} registered (" in took_over.out
    # Only what A had in flight when it died is sent again, and adopted (RegisterMedia returns the existing id).
    # A request A sent just before dying may still be in the emulator's injected latency when B re-sends its
    # files: then B registers them and A's late request is the duplicate the emulator answers with the same id.
    # Either way each file has one MediaId (asserted above), and no more is re-sent than A had in flight.
    resent = a.ws.successes()["RegisterMedia"] - 30
    adopted = int(took_over.out.split(" registered (")[1].split(" adopted")[0])
    assert 0 < resent <= 40  # at most A's 40 calls kept in flight (20/s x 2 s)
    assert adopted <= resent * 10
    assert "No changes." in b.reconcile(*APPLY).out


def test_a_connection_dropped_mid_apply_stops_new_calls_keeps_the_record_and_says_how_to_resume(
    runners, postgres_server, url
):
    a = runners("a")
    media = videos("raw-a", 300)
    a.manifest(media=media)
    child = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=10"})
    wait_for(lambda: journal_rows(postgres_server, url) >= 3)
    with postgres_server.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'reconcile_ci'")

    stopped = a.checked(child)

    assert stopped.code == 1
    assert "Stopped early: stopped: the state could not be written: lost the connection to state " in stopped.out
    assert "Every batch recorded before is kept in the state; run `reconcile apply` again (from any runner)" in (
        stopped.out
    )
    sent = a.ws.successes()["RegisterMedia"]
    recorded = journal_rows(postgres_server, url)
    assert recorded * 10 <= len(a.ws.media()) < 300
    time.sleep(0.3)
    assert a.ws.successes()["RegisterMedia"] == sent  # nothing more went out after it stopped

    resumed = a.reconcile(*APPLY)

    assert resumed.code == 0, resumed.err
    assert set(a.ws.media()) == {m["file_url"] for m in media}
    assert "No changes." in a.reconcile(*APPLY).out


def test_workspaces_are_separate_states_in_one_database(runners):
    a = runners("a")
    a.manifest(media=videos("raw-a", 4))
    assert a.reconcile(*APPLY, "--workspace", "prod").code == 0

    staging = a.reconcile("plan", "manifests/", env={"RECONCILE_WORKSPACE": "staging"})
    assert "Plan: 4 to register, 0 to bind, 0 to update" in staging.out
    assert a.reconcile("plan", "manifests/", "--workspace", "prod", "--detailed-exitcode").code == 0
    assert a.reconcile("state", "list", "--workspace", "prod").out.count("media[") == 4
    assert a.reconcile("state", "list", "--workspace", "staging").err.startswith("No state at ")

    listed = a.reconcile("state", "workspaces", "--workspace", "staging")
    assert (listed.code, listed.out) == (0, "  prod\n")
    assert listed.err == f"Workspace staging has no state yet at {parse_postgres(a.url).display}.\n"
    assert a.reconcile("state", "workspaces", "--workspace", "prod").out == "* prod\n"


def test_migrate_local_to_postgresql_then_a_fresh_runner_plans_nothing_and_back(runners, tmp_path):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 12)
    a.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    b.manifest(buckets=[{"bucket": "raw-a"}], media=media, put_objects=False)
    local = str(a.ws.directory / ".reconcile" / "state.json")
    assert a.reconcile(*APPLY, "--state", local).code == 0
    lineage = a.ws.state_path.read_text().split('"lineage":"')[1].split('"')[0]

    moved = a.reconcile("state", "migrate", "--state", local, "--to", a.url)

    assert moved.code == 0, moved.err
    display = parse_postgres(a.url).display
    assert moved.out.startswith(f"Copied {local} to {display} (lineage {lineage}, serial ")
    assert "13 resources)." in moved.out
    assert b.reconcile("plan", "manifests/", "--detailed-exitcode").code == 0
    again = a.reconcile("state", "migrate", "--state", local, "--to", a.url)
    assert again.code == 0 and "already holds this state" in again.out and "nothing to do" in again.out

    back = str(tmp_path / "back" / "state.json")
    returned = b.reconcile("state", "migrate", "--to", back)
    assert returned.code == 0, returned.err
    assert f'"lineage":"{lineage}"' in Path(back).read_text()
    assert b.reconcile("plan", "manifests/", "--state", back, "--detailed-exitcode").code == 0

    other = str(tmp_path / "other" / "state.json")
    a.reconcile("apply", "manifests/", "--auto-approve", "--state", other)
    refused = a.reconcile("state", "migrate", "--state", other, "--to", a.url)
    assert refused.code == 1
    assert f"error: refusing to migrate: {display} already holds another state (lineage {lineage}" in refused.err


def test_the_password_appears_in_no_output(runners, postgres_server, url):
    a = runners("a")
    a.manifest(media=videos("raw-a", 2))
    a.reconcile(*APPLY, "--log-level", "debug")
    a.reconcile("plan", "manifests/", "--format", "json", "--log-level", "debug")
    listing = a.reconcile("state", "list", "--format", "json")
    assert f'"state":"{parse_postgres(url).display}"' in listing.out
    a.reconcile("apply", "manifests/", "--auto-approve", "--json")
    a.reconcile("drift", "manifests/")
    a.reconcile("force-unlock", "0000")
    a.reconcile("state", "workspaces")
    unreachable = url.replace(f":{postgres_server.port}/", ":1/")
    failed = a.reconcile("plan", "manifests/", "--state", unreachable)
    assert failed.code == 1 and "cannot connect to state postgresql://reconcile_ci:***@127.0.0.1:1/" in failed.err
    unknown = a.reconcile("plan", "manifests/", "--state", url.replace("postgresql://", "pgsql://"))
    assert unknown.err.startswith("error: unknown state location scheme pgsql:// in pgsql://reconcile_ci:***@")
    assert not (a.ws.directory / "pgsql:").exists() and not (a.ws.directory / "postgresql:").exists()
