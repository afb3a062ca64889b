"""`reconcile apply` end to end: the real CLI against a real emulator process on a loopback port."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time

import pytest

from reconcile.cli.common import EXIT_INTERRUPTED
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.limits import parse_oss_url
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.e2e.conftest import REGION, Workspace, oss_url

pytestmark = pytest.mark.e2e

APPLY = ("apply", "manifests/", "--auto-approve")
REFERER = "https://www.example.com"


def videos(bucket: str, count: int, **extra: object) -> list[dict[str, object]]:
    return [{"file_url": oss_url(bucket, f"v/{i:03}.mp4"), "title": f"Video {i}", **extra} for i in range(count)]


def test_cold_apply_binds_and_registers_everything_with_exactly_the_planned_calls(ws: Workspace):
    media = videos("raw-a", 13) + videos("raw-b", 12, tags=["x", "y"])
    ws.manifest(buckets=[{"bucket": "raw-a", "referer": REFERER}, {"bucket": "raw-b"}], media=media)

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.err
    assert "Apply complete! Resources: 2 bound, 25 registered." in result.out
    assert (
        "API calls made: BindInputBucket×2, RegisterMedia×4; predicted: BindInputBucket×2, RegisterMedia×4 (equal)."
        in result.out
    )
    assert ws.successes() == {"BindInputBucket": 2, "RegisterMedia": 4}
    assert ws.buckets() == {"raw-a": ("Input", REFERER), "raw-b": ("Input", None)}
    registered = ws.media()
    assert set(registered) == {m["file_url"] for m in media}
    assert registered[oss_url("raw-b", "v/003.mp4")]["tags"] == ["x", "y"]
    state = ws.state()
    assert len(state) == 27
    assert {r["remote_id"] for r in state.values() if r["kind"] == "media"} == {
        m["media_id"] for m in registered.values()
    }


def test_reapply_is_a_no_op_with_zero_mutating_calls(ws: Workspace):
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=videos("raw-a", 5))
    assert ws.reconcile(*APPLY).code == 0
    before = ws.successes()

    result = ws.reconcile(*APPLY)

    assert result.code == 0
    assert "No changes." in result.out
    assert "Apply complete" not in result.out
    assert ws.successes() == before


def test_update_changes_only_the_edited_fields_with_one_call(ws: Workspace):
    media = videos("raw-a", 3, description="first cut")
    ws.manifest(media=media)
    assert ws.reconcile(*APPLY).code == 0
    media[1] = {**media[1], "title": "Director's cut", "tags": ["final"]}
    ws.manifest(media=media)

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.err
    assert "Apply complete! Resources: 1 updated." in result.out
    assert ws.successes() == {"RegisterMedia": 1, "UpdateVideoInfos": 1}
    edited = ws.media()[media[1]["file_url"]]
    assert (edited["title"], edited["tags"], edited["description"]) == ("Director's cut", ["final"], "first cut")
    assert ws.state()['media["raw-a/v/001.mp4"]']["attributes"]["title"] == "Director's cut"


def test_replace_unbinds_then_binds_with_the_new_referer(ws: Workspace):
    ws.manifest(buckets=[{"bucket": "raw-a", "referer": REFERER}])
    assert ws.reconcile(*APPLY).code == 0
    ws.manifest(buckets=[{"bucket": "raw-a", "referer": "https://cdn.example.com"}])

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.err
    assert "Apply complete! Resources: 1 replaced." in result.out
    assert ws.successes() == {"BindInputBucket": 2, "UnbindInputBucket": 1}
    assert ws.buckets() == {"raw-a": ("Input", "https://cdn.example.com")}
    assert ws.state()["input_bucket.raw-a"]["attributes"] == {"referer": "https://cdn.example.com"}


def test_prune_deletes_what_left_the_manifests_except_prevent_destroy(ws: Workspace):
    kept, dropped, protected = videos("raw-a", 3)
    protected = {**protected, "prevent_destroy": True}
    ws.manifest(
        buckets=[{"bucket": "raw-a"}, {"bucket": "old-in"}, {"bucket": "archive", "prevent_destroy": True}],
        media=[kept, dropped, protected],
    )
    assert ws.reconcile(*APPLY).code == 0
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=[kept])

    without_prune = ws.reconcile(*APPLY)
    assert without_prune.code == 0
    assert ws.successes() == {"BindInputBucket": 3, "RegisterMedia": 1}  # orphans are kept: no call
    assert len(ws.media()) == 3

    result = ws.reconcile(*APPLY, "--prune")

    assert result.code == 0, result.err
    assert "Apply complete! Resources: 1 unbound, 1 deleted." in result.out
    assert ws.successes() == {"BindInputBucket": 3, "RegisterMedia": 1, "DeleteVideo": 1, "UnbindInputBucket": 1}
    assert set(ws.buckets()) == {"raw-a", "archive"}
    assert set(ws.media()) == {kept["file_url"], protected["file_url"]}
    assert dropped["file_url"] not in ws.control.objects()  # DeleteVideo deletes the source file too
    state = ws.state()
    assert "input_bucket.archive" in state and state["input_bucket.archive"]["prevent_destroy"] is True
    assert 'media["raw-a/v/002.mp4"]' in state and "input_bucket.old-in" not in state


def test_a_saved_plan_applies_without_asking_once_and_is_refused_when_stale(ws: Workspace):
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=videos("raw-a", 2))
    assert ws.reconcile("plan", "manifests/", "--out", "first.plan").code == 0

    applied = ws.reconcile("apply", "first.plan")
    assert applied.code == 0, applied.err
    assert ws.successes() == {"BindInputBucket": 1, "RegisterMedia": 1}

    # Terraform #24078: a plan made on empty state must not be applied a second time.
    again = ws.reconcile("apply", "first.plan")
    assert again.code == 1
    assert "saved plan first.plan is stale; nothing was applied:" in again.err
    assert "the plan was made on empty state, but state now exists" in again.err
    assert again.err.endswith("Run `reconcile plan manifests/ --out first.plan` again, review it, then apply it.\n")

    ws.manifest(buckets=[{"bucket": "raw-a"}], media=videos("raw-a", 3))
    assert ws.reconcile("plan", "manifests/", "--out", "second.plan").code == 0
    assert ws.reconcile(*APPLY).code == 0  # the state moves on
    stale = ws.reconcile("apply", "second.plan")
    assert stale.code == 1
    assert "something was applied since the plan was made" in stale.err
    assert ws.successes() == {"BindInputBucket": 1, "RegisterMedia": 2}


def test_failed_file_urls_are_reported_with_file_and_location_and_the_rest_is_applied(ws: Workspace):
    media = videos("raw-a", 12)
    ws.manifest(media=media, put_objects=False)
    missing = media[4]["file_url"]
    ws.control.put_objects([m["file_url"] for m in media if m["file_url"] != missing])

    result = ws.reconcile(
        *APPLY, "--skip-object-check"
    )  # else the plan stops on it (tests/e2e/test_objectcheck_e2e.py)

    assert result.code == 1
    assert "Apply failed: 11 done, 1 failed, 0 not attempted (of 12)." in result.out
    expected = (
        f'{ws.location_of(missing)}: media["raw-a/v/004.mp4"] ({missing}): RegisterMedia could not register this '
        "file (FailedFileURLs): check that the object exists in OSS and has a media extension"
    )
    assert f"error: {expected}" in result.out  # as it happened
    assert f"  {expected}" in result.out  # and in the summary
    assert len(ws.media()) == 11 and len(ws.state()) == 11
    assert "Traceback" not in result.out + result.err


def identity_of(url: str) -> str:
    parsed = parse_oss_url(url)
    assert parsed is not None
    return parsed.identity


def wait_for(condition, timeout: float = 20.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(interval)


def journal_entries(ws: Workspace) -> int:
    journal = ws.state_path.with_name("state.json.journal")
    return journal.read_text().count("\n") if journal.exists() else 0


def slow_apply(ws: Workspace, *extra: str):
    """An apply in a child process that takes a few seconds: RegisterMedia paced at 10 calls per second."""
    return ws.spawn(*APPLY, *extra, env={"RECONCILE_QPS": "RegisterMedia=10"})


def test_a_second_concurrent_apply_is_refused_naming_the_holder(ws: Workspace):
    ws.manifest(media=videos("raw-a", 200))
    first = slow_apply(ws)
    try:
        wait_for(lambda: journal_entries(ws) >= 2)

        second = ws.reconcile(*APPLY)

        assert second.code == 1
        assert "is locked: lock " in second.err
        assert f"held by pid {first.pid} on " in second.err
        assert "('apply')" in second.err
    finally:
        finished = first.wait()
    assert finished.code == 0, finished.err
    assert len(ws.media()) == 200


def test_kill_9_mid_apply_then_apply_again_converges_without_registering_anything_twice(ws: Workspace):
    media = videos("raw-a", 300)
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    # Slow calls, several in flight: the kill lands while the emulator is still working on some of them.
    ws.control.set_faults({"rules": [{"action": "RegisterMedia", "latency_ms": 300}]})
    child = ws.spawn(*APPLY, env={"RECONCILE_QPS": "RegisterMedia=20"})
    wait_for(lambda: journal_entries(ws) >= 6)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    recorded = {r["identity"] for r in ws.state().values() if r["kind"] == "media"}
    time.sleep(0.4)  # let the emulator finish what was in flight: registered, never recorded
    registered_before = ws.media()
    assert 0 < len(recorded) < len(registered_before) < 300
    ws.control.set_faults({"rules": []})

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.err
    adopted = len(registered_before) - len(recorded)
    assert f"Apply complete! Resources: {300 - len(recorded)} registered ({adopted} adopted: already registered)." in (
        result.out
    )
    registered = ws.media()  # asserts no file URL has two MediaIds
    assert set(registered) == {m["file_url"] for m in media}
    assert all(registered[url]["media_id"] == m["media_id"] for url, m in registered_before.items())
    in_state = {r["identity"]: r["remote_id"] for r in ws.state().values() if r["kind"] == "media"}
    assert in_state == {identity_of(url): m["media_id"] for url, m in registered.items()}
    assert "No changes." in ws.reconcile(*APPLY).out


def test_apply_converges_while_the_emulator_injects_503s_throttles_and_drops_after_commit(ws: Workspace):
    media = videos("raw-a", 150) + videos("raw-b", 50)
    ws.manifest(buckets=[{"bucket": f"in-{i}"} for i in range(20)], media=media)
    ws.control.set_faults(
        {
            "rules": [
                {"action": "*", "probability": 0.10, "error": {"status": 503, "code": "ServiceUnavailable"}},
                {"action": "*", "probability": 0.05, "error": {"status": 400, "code": "Throttling.User"}},
                {"action": "*", "probability": 0.02, "drop_after_commit": True},
            ]
        }
    )

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.out + result.err
    assert "(equal)" in result.out
    stats = ws.control.stats()["actions"]
    assert sum(stats[a]["faults"] for a in stats) > 0
    ws.control.set_faults({"rules": []})
    assert set(ws.media()) == {m["file_url"] for m in media}
    assert set(ws.buckets()) == {f"in-{i}" for i in range(20)}
    assert len(ws.state()) == 220
    assert "No changes." in ws.reconcile(*APPLY).out


def test_without_a_tty_apply_needs_auto_approve_and_applies_nothing(ws: Workspace):
    ws.manifest(media=videos("raw-a", 1))

    result = ws.reconcile("apply", "manifests/")

    assert result.code == 1
    assert result.err.startswith("error: apply needs --auto-approve when it cannot ask for confirmation")
    assert ws.successes() == {}


def test_ctrl_c_stops_new_calls_records_those_in_flight_and_the_next_apply_finishes(ws: Workspace):
    media = videos("raw-a", 300)
    ws.manifest(media=media)
    child = slow_apply(ws)
    wait_for(lambda: journal_entries(ws) >= 3)
    child.process.send_signal(signal.SIGINT)
    stopped = child.wait()

    assert stopped.code == EXIT_INTERRUPTED, stopped.err
    assert "Stopping: no new calls" in stopped.err
    assert "Stopped early: stopped on request" in stopped.out
    assert "Apply failed: " in stopped.out and " not attempted (of 300)." in stopped.out
    recorded = ws.state()
    assert 0 < len(recorded) < 300
    assert len(ws.media()) == len(recorded)  # every call that was made is in the state

    result = ws.reconcile(*APPLY)

    assert result.code == 0, result.err
    assert f"Apply complete! Resources: {300 - len(recorded)} registered." in result.out
    assert len(ws.state()) == 300


def test_on_a_tty_apply_asks_and_only_yes_applies(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    ws.manifest(media=videos("raw-a", 2))
    monkeypatch.setattr("reconcile.cli.apply._interactive", lambda: True)

    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    refused = ws.reconcile("apply", "manifests/")
    assert refused.code == 1
    assert "Only 'yes' will be accepted to approve." in refused.out
    assert "Apply cancelled: nothing was applied." in refused.err
    assert ws.successes() == {}

    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    accepted = ws.reconcile("apply", "manifests/")
    assert accepted.code == 0, accepted.err
    assert ws.successes() == {"RegisterMedia": 1}


def test_json_streams_the_plan_each_batch_and_the_summary(ws: Workspace):
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=videos("raw-a", 15))

    result = ws.reconcile(*APPLY, "--json")

    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "plan" and kinds[-1] == "summary"
    assert sorted(kinds[1:-1]) == ["batch_done"] * 3 + ["batch_started"] * 3
    assert events[0]["plan"]["format_version"] == "1.4"
    summary = events[-1]
    assert summary["ok"] is True
    assert summary["counts"] == {"done": 16, "adopted": 0, "failed": 0, "not_attempted": 0}
    assert summary["calls"]["made"] == summary["calls"]["predicted"] == {"BindInputBucket": 1, "RegisterMedia": 2}


def test_a_plan_with_errors_is_refused_and_nothing_is_applied(ws: Workspace):
    asyncio.run(call_mps(ws, "BindOutputBucket", "raw-out"))
    ws.manifest(buckets=[{"bucket": "raw-out"}, {"bucket": "raw-a"}])

    result = ws.reconcile(*APPLY)

    assert result.code == 1
    assert result.err.endswith(
        "error: the plan has errors (listed above); nothing was applied. Fix them and plan again.\n"
    )
    assert ws.successes() == {}  # MUTATING calls only: the BindOutputBucket above is not one of them
    assert ws.buckets() == {"raw-out": ("Output", None)}


async def call_mps(ws: Workspace, action: str, bucket: str) -> None:
    """Change the account behind reconcile's back, as another tool or a console user would."""
    settings = ClientSettings(endpoint=ws.emulator.url)
    async with CloudSession(settings, StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)) as session:
        await session.call("mts", REGION, action, {"Bucket": bucket})


def test_a_saved_plan_is_refused_when_the_manifests_or_the_live_resources_changed(ws: Workspace):
    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-b"}])
    assert ws.reconcile(*APPLY).code == 0
    ws.manifest(buckets=[{"bucket": "raw-a", "referer": REFERER}, {"bucket": "raw-b"}])
    assert ws.reconcile("plan", "manifests/", "--out", "edited.plan").code == 0
    before = ws.successes()

    ws.manifest(buckets=[{"bucket": "raw-a", "referer": "https://other.example"}, {"bucket": "raw-b"}])
    edited = ws.reconcile("apply", "edited.plan")
    assert edited.code == 1
    assert "  - the manifests changed since the plan was made\n" in edited.err

    ws.manifest(buckets=[{"bucket": "raw-a", "referer": REFERER}, {"bucket": "raw-b"}])
    asyncio.run(call_mps(ws, "UnbindInputBucket", "raw-b"))
    drifted = ws.reconcile("apply", "edited.plan")
    assert drifted.code == 1
    assert "  - the live resources the plan was made against changed (in the account, outside this plan)" in (
        drifted.err
    )
    assert ws.successes() == {**before, "UnbindInputBucket": 1}  # the out-of-band unbind, nothing from apply
