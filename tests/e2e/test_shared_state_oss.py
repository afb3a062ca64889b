"""Shared state in OSS (the loopback emulator's own OSS): runners in different directories plan and apply one state.

Every runner is the real CLI, in-process or as a child process (to hold the lock, to be killed), against the
loopback emulator, which serves both the media APIs and the state bucket (RECONCILE_ENDPOINT, path-style). The
region comes from the manifests (no ?region=, no ALIBABA_CLOUD_REGION_ID) unless a test says otherwise. Every
output is checked for the AccessKey secret on the way (`Runner`).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_SECRET
from tests.e2e.conftest import REGION, Workspace, oss_url
from tests.e2e.shared_state import Runner, second_runner_plans_nothing_after_the_first_applied, videos, wait_for

pytestmark = pytest.mark.e2e

APPLY = ("apply", "manifests/", "--auto-approve")
BUCKET = "tf-state"
URL = f"oss://{BUCKET}/reconcile/prod"
LEASE = "3s"
SECRETS = (DEFAULT_ACCESS_KEY_SECRET,)


@pytest.fixture
def runners(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Runner]:
    monkeypatch.delenv("ALIBABA_CLOUD_REGION_ID", raising=False)
    monkeypatch.delenv("RECONCILE_OSS_ENDPOINT", raising=False)
    ws.control.put_objects([oss_url(BUCKET, "README")])  # creates the state bucket
    return lambda name: Runner(
        ws, tmp_path / name, URL, monkeypatch, secrets=SECRETS, env={"RECONCILE_LOCK_LEASE": LEASE}
    )


def state_objects(ws: Workspace, kind: str, under: str = "reconcile/prod") -> list[str]:
    prefix = oss_url(BUCKET, f"{under}/{kind}/")
    return sorted(url[len(prefix) :] for url in ws.control.objects() if url.startswith(prefix))


def test_runner_b_in_an_empty_directory_plans_no_changes_after_runner_a_applied(runners):
    a, b = second_runner_plans_nothing_after_the_first_applied(runners, URL)
    assert state_objects(a.ws, "lock") == ["000000000001"]  # released, kept: its generation is never reused
    listed = b.reconcile("state", "list", "--state", f"{URL}?region={REGION}")
    assert listed.code == 0 and listed.out.count("media[") == 25


def test_a_second_apply_is_refused_at_once_naming_the_holders_host(runners):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 100)
    a.manifest(media=media)
    b.manifest(media=media, put_objects=False)
    github = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "team/media", "GITHUB_RUN_ID": "42"}
    first = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=10", **github})
    try:
        wait_for(lambda: len(state_objects(a.ws, "log")) >= 2)
        started = time.monotonic()

        second = b.reconcile(*APPLY)

        assert time.monotonic() - started < 10
        assert second.code == 1
        assert f"error: state {URL} is locked: lock " in second.err
        assert f"held by pid {first.pid} on {socket.gethostname()} ('apply') since " in second.err
        assert ", CI run https://github.com/team/media/actions/runs/42. It is released when that command ends" in (
            second.err
        )
        lease = "the lock frees itself once the lease (3s, the holder's RECONCILE_LOCK_LEASE) runs out, so retry with "
        assert lease in second.err
        assert "--lock-timeout 5s rather than force-unlock." in second.err
    finally:
        finished = a.checked(first)
    assert finished.code == 0, finished.err
    assert len(a.ws.media()) == 100


def test_after_kill_9_of_the_holder_another_runner_waiting_on_the_lock_takes_over_once_the_lease_ran_out(runners):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 150)
    a.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    b.manifest(buckets=[{"bucket": "raw-a"}], media=media, put_objects=False)
    a.ws.control.set_faults({"rules": [{"action": "RegisterMedia", "latency_ms": 300}]})
    holder = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=20"})
    wait_for(lambda: len(state_objects(a.ws, "log")) >= 4)  # the empty state, the bucket, 2 batches at least
    waiting = b.spawn(*APPLY, "--lock-timeout", "30s")
    time.sleep(0.5)  # B is polling for the lock
    os.kill(holder.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    holder.wait()
    a.ws.control.set_faults({"rules": []})

    took_over = b.checked(waiting)

    assert took_over.code == 0, took_over.out + took_over.err
    assert time.monotonic() - killed_at >= 3  # not before the dead holder's lease ran out
    registered = a.ws.media()  # asserts no file URL has two MediaIds
    assert set(registered) == {m["file_url"] for m in media}
    # Only what A had in flight when it died is sent again, and adopted (RegisterMedia returns the existing id).
    resent = a.ws.successes()["RegisterMedia"] - 15
    assert "registered (" in took_over.out
    adopted = int(took_over.out.split(" registered (")[1].split(" adopted")[0])
    assert 0 < adopted == resent * 10 <= 40 * 10  # at most A's 40 calls kept in flight (20/s x 2 s)
    assert state_objects(a.ws, "lock") == ["000000000002"]  # the dead generation was replaced, then released
    assert "No changes." in b.reconcile(*APPLY).out


def test_a_holder_that_cannot_renew_its_lease_stops_sending_before_it_runs_out_and_another_apply_finishes(runners):
    a = runners("a")
    media = videos("raw-a", 300)
    a.manifest(media=media)
    holder = a.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=10"})
    wait_for(lambda: len(state_objects(a.ws, "log")) >= 3)  # applying: the empty state and 2 batches at least
    # Renewals list the lock generations first; appends do not list: from now on only renewals fail.
    a.ws.control.set_faults({"rules": [{"action": "ListObjectsV2", "error": {"status": 403, "code": "AccessDenied"}}]})

    stopped = a.checked(holder)

    assert stopped.code == 1, stopped.out + stopped.err
    assert (
        f"Stopped early: stopped: the lock on state {URL} could not be renewed before its lease ran out, so another "
        "runner may take the lock over: no new call was sent. Every batch recorded before is kept in the state; run "
        "`reconcile apply` again (from any runner)" in stopped.out
    )
    sent = a.ws.successes()["RegisterMedia"]
    assert sent < 30
    recorded = len(state_objects(a.ws, "log"))  # the empty state, then one per batch recorded
    assert f"State: {URL} (serial {recorded})." in stopped.out
    time.sleep(0.3)
    assert a.ws.successes()["RegisterMedia"] == sent  # nothing more went out after it stopped
    a.ws.control.set_faults({"rules": []})

    resumed = a.reconcile(*APPLY, "--lock-timeout", "10s")

    assert resumed.code == 0, resumed.out + resumed.err
    assert set(a.ws.media()) == {m["file_url"] for m in media}  # each registered once
    assert "No changes." in a.reconcile(*APPLY).out


def test_workspaces_are_sub_prefixes_listed_by_state_workspaces(runners):
    a = runners("a")
    a.manifest(media=videos("raw-a", 4))
    assert a.reconcile(*APPLY).code == 0
    assert a.reconcile(*APPLY, "--workspace", "staging").code == 0  # the same media, adopted there

    assert state_objects(a.ws, "log", "reconcile/prod/workspaces/staging")
    listed = a.reconcile("state", "workspaces", "--workspace", "staging", env={"ALIBABA_CLOUD_REGION_ID": REGION})
    assert (listed.code, listed.out) == (0, "  default\n* staging\n")
    unknown = a.reconcile("state", "workspaces", "--workspace", "dev", env={"ALIBABA_CLOUD_REGION_ID": REGION})
    assert unknown.err == f"Workspace dev has no state yet at {URL}.\n"


def test_migrate_local_to_oss_then_a_fresh_runner_plans_nothing(runners):
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 12)
    a.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    b.manifest(buckets=[{"bucket": "raw-a"}], media=media, put_objects=False)
    local = str(a.ws.directory / ".reconcile" / "state.json")
    assert a.reconcile(*APPLY, "--state", local).code == 0
    lineage = a.ws.state_path.read_text().split('"lineage":"')[1].split('"')[0]
    target = f"{URL}?region={REGION}"

    moved = a.reconcile("state", "migrate", "--state", local, "--to", target)

    assert moved.code == 0, moved.err
    assert moved.out.startswith(f"Copied {local} to {URL} (lineage {lineage}, serial ")
    assert "13 resources)." in moved.out
    assert b.reconcile("plan", "manifests/", "--detailed-exitcode").code == 0
    again = a.reconcile("state", "migrate", "--state", local, "--to", target)
    assert again.code == 0 and "already holds this state" in again.out and "nothing to do" in again.out


def test_without_a_region_the_error_names_the_three_ways_and_no_secret_is_printed(runners):
    a = runners("a")
    a.manifest(media=videos("raw-a", 2))
    a.reconcile(*APPLY, "--log-level", "debug")
    a.reconcile("plan", "manifests/", "--format", "json", "--log-level", "debug")
    a.reconcile("drift", "manifests/")

    no_region = a.reconcile("state", "list")

    assert no_region.code == 1
    assert no_region.err == (
        f"error: cannot tell the region of the state bucket 'tf-state' ({URL}): this command reads no manifests. "
        f"Give it as ?region= (e.g. {URL}?region=cn-shanghai), or set ALIBABA_CLOUD_REGION_ID, or run a command "
        "whose manifests declare one region.\n"
    )
    listing = a.reconcile("state", "list", "--format", "json", env={"ALIBABA_CLOUD_REGION_ID": REGION})
    assert f'"state":"{URL}"' in listing.out
    unlock = a.reconcile("force-unlock", "0000", env={"ALIBABA_CLOUD_REGION_ID": REGION})
    assert unlock.err == f"error: state {URL} is not locked (a lock whose lease ran out is free already)\n"
    wrong = a.reconcile("plan", "manifests/", env={"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"})
    assert wrong.code == 1 and f"state {URL}: " in wrong.err and "SignatureDoesNotMatch" in wrong.err
    assert "not-the-secret" not in wrong.out + wrong.err
