"""What the user reads after and during an apply: the text summary, the JSON events and the plain progress lines."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

from reconcile.cli.progress import JsonEvents, LiveProgress, PlainProgress
from reconcile.cloud.models import ActionStats, CallStats
from reconcile.cloud.pacing import ActionPacing
from reconcile.engine.execute_result import ApplyResult, ResourceFailure, ResourceResult
from reconcile.engine.plan import Plan, PlannedCall
from reconcile.engine.progress import BatchDone, BatchFailed, BatchStarted
from reconcile.manifest.desired import SourceLocation
from reconcile.render.apply_result import render_apply_text, summary_json

LOC = SourceLocation(path="manifests/prod.yaml", line=11, col=7)
FILE = "https://media.oss-cn-shanghai.aliyuncs.com/b.mp4"
REGISTER = PlannedCall(action="RegisterMedia", region="cn-shanghai", addresses=("media.a", "media.b"))
BIND = PlannedCall(action="BindInputBucket", region="cn-shanghai", addresses=("input_bucket.in",))
FAILURE = ResourceFailure("media.b", "RegisterMedia could not register this file (FailedFileURLs)", LOC, FILE)


def stats() -> CallStats:
    return CallStats(
        actions={
            "RegisterMedia": ActionStats(calls=3, retries=1, throttled=1),
            "BindInputBucket": ActionStats(calls=1),
        }
    )


def test_successful_apply_summary_says_what_was_done_and_that_calls_match():
    result = ApplyResult(
        resources=(
            ResourceResult("input_bucket.in", "bind", "done"),
            ResourceResult("media.a", "register", "done", remote_id="m1"),
            ResourceResult("media.b", "register", "adopted", remote_id="m2"),
        ),
        calls_predicted={"BindInputBucket": 1, "RegisterMedia": 2},
        calls_made={"BindInputBucket": 1, "RegisterMedia": 2},
        elapsed=1.25,
        serial=7,
    )

    text = render_apply_text(result, stats(), ".reconcile/state.json")

    assert text == (
        "Apply complete! Resources: 1 bound, 2 registered (1 adopted: already registered).\n"
        "\n"
        "Adopted (1): already registered in VOD, now managed; their metadata was not changed by RegisterMedia — "
        "the next plan shows any difference.\n"
        "\n"
        "API calls made: BindInputBucket×1, RegisterMedia×2; predicted: BindInputBucket×1, RegisterMedia×2 (equal).\n"
        "Client (retries included):\n"
        "  BindInputBucket: 1 request, 0 retries, 0 throttled, 0 failed\n"
        "  RegisterMedia: 3 requests, 1 retry, 1 throttled, 0 failed\n"
        "State: .reconcile/state.json (serial 7).\n"
        "Elapsed: 1.2 s."
    )


def test_failed_apply_summary_counts_and_lists_each_failure_with_location_and_file():
    result = ApplyResult(
        resources=(
            ResourceResult("input_bucket.in", "bind", "not_attempted"),
            ResourceResult("media.a", "register", "done"),
            ResourceResult("media.b", "register", "failed", FAILURE.message, LOC, FILE),
        ),
        calls_predicted={"BindInputBucket": 1, "RegisterMedia": 1},
        calls_made={"RegisterMedia": 1},
        aborted="stopped on request",
        failures=(FAILURE,),
        serial=3,
    )

    text = render_apply_text(result, None, "state.json")

    assert text.splitlines()[:5] == [
        "Apply failed: 1 done, 1 failed, 1 not attempted (of 3).",
        "Stopped early: stopped on request",
        "",
        "Failed (1):",
        f"  manifests/prod.yaml:11:7: media.b ({FILE}): RegisterMedia could not register this file (FailedFileURLs)",
    ]
    assert (
        "API calls made: RegisterMedia×1; predicted: BindInputBucket×1, RegisterMedia×1 "
        "(NOT equal: the remaining calls were not made)." in text
    )


def test_plurals_in_the_client_lines():
    one_each = CallStats(actions={"BindInputBucket": ActionStats(calls=1, retries=1, throttled=1, errors=1)})
    result = ApplyResult(resources=(), calls_predicted={}, calls_made={})
    assert "  BindInputBucket: 1 request, 1 retry, 1 throttled, 1 failed" in render_apply_text(result, one_each)


def test_on_a_tty_the_summary_lists_every_failure_since_progress_printed_none():
    failures = tuple(ResourceFailure(f"media.f{i:02}", "boom", LOC, FILE) for i in range(25))
    result = ApplyResult(
        resources=tuple(ResourceResult(f.address, "register", "failed") for f in failures),
        calls_predicted={"RegisterMedia": 3},
        calls_made={"RegisterMedia": 3},
        failures=failures,
    )

    in_logs = render_apply_text(result).splitlines()
    on_a_tty = render_apply_text(result, failures_listed_live=False).splitlines()

    assert in_logs[2:4] == ["Failed (25):", f"  manifests/prod.yaml:11:7: media.f00 ({FILE}): boom"]
    assert in_logs[23] == "  ... and 5 more (each listed above)"
    assert on_a_tty[2:28] == ["Failed (25):"] + [
        f"  manifests/prod.yaml:11:7: media.f{i:02} ({FILE}): boom" for i in range(25)
    ]
    assert on_a_tty[28] == ""


def test_summary_counts_state_writes_and_state_only_changes_apart():
    result = ApplyResult(
        resources=(ResourceResult("input_bucket.in", "bind", "done"),),
        calls_predicted={"BindInputBucket": 1},
        calls_made={"BindInputBucket": 1},
        state_updates=3,
        state_only_changes=1,
        serial=9,
    )

    doc = summary_json(result, None, "state.json")
    text = render_apply_text(result, None, "state.json")

    assert (doc["format_version"], doc["state_updates"], doc["state_only_changes"]) == ("1.2", 3, 1)
    assert doc["state"] == {"location": "state.json", "serial": 9}
    assert text.splitlines()[-3:] == [
        "State-only changes (recorded without an API call): 1.",
        "State: state.json (serial 9).",
        "Elapsed: 0.0 s.",
    ]


def test_summary_json_is_machine_readable():
    result = ApplyResult(
        resources=(ResourceResult("media.b", "register", "failed", FAILURE.message, LOC, FILE),),
        calls_predicted={"RegisterMedia": 1},
        calls_made={"RegisterMedia": 1},
        failures=(FAILURE,),
    )

    doc = summary_json(result, stats(), "state.json")

    assert doc["ok"] is False
    assert doc["counts"] == {"done": 0, "adopted": 0, "failed": 1, "not_attempted": 0}
    assert doc["by_action"] == {"register": {"failed": 1}}
    assert doc["calls"] == {
        "predicted": {"RegisterMedia": 1},
        "made": {"RegisterMedia": 1},
        "match": True,
        "verification": 0,
    }
    assert doc["client"]["RegisterMedia"] == {"calls": 3, "retries": 1, "throttled": 1, "errors": 0}
    assert doc["failures"] == [
        {"address": "media.b", "message": FAILURE.message, "location": "manifests/prod.yaml:11:7", "file_url": FILE}
    ]


def test_json_events_stream_one_object_per_line():
    out = io.StringIO()
    events = JsonEvents(out, stats(), "state.json")

    events.batch_started(BatchStarted(0, REGISTER))
    events.batch_done(BatchDone(0, REGISTER, 0.5, adopted=("media.a",), failed=(FAILURE,)))
    events.batch_failed(BatchFailed(1, BIND, 0.25, "BindInputBucket: InternalError (HTTP 500): boom", ()))
    events.finished(ApplyResult(resources=(), calls_predicted={}, calls_made={}))

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["batch_started", "batch_done", "batch_failed", "summary"]
    assert lines[0] == {
        "format_version": "1.2",
        "type": "batch_started",
        "index": 0,
        "action": "RegisterMedia",
        "region": "cn-shanghai",
        "addresses": ["media.a", "media.b"],
    }
    assert lines[1]["adopted"] == ["media.a"] and lines[1]["failed"][0]["file_url"] == FILE
    assert lines[2]["error"] == "BindInputBucket: InternalError (HTTP 500): boom"


SHARED = ActionPacing("RegisterMedia", limit=50, share=1.0, ceiling=48.5, rate=24.3, lowest=17.5, throttled=4, cuts=2)
ALONE = ActionPacing("BindInputBucket", limit=100, share=1.0, ceiling=97.0, rate=97.0, lowest=97.0, throttled=0, cuts=0)
HALF = ActionPacing(
    "UpdateVideoInfos", limit=30, share=0.5, ceiling=14.55, rate=14.55, lowest=14.55, throttled=0, cuts=0
)


def test_summary_says_how_each_action_was_paced_when_throttling_or_a_share_changed_it():
    result = ApplyResult(resources=(), calls_predicted={}, calls_made={})

    text = render_apply_text(result, stats(), pacing=[ALONE, SHARED, HALF]).splitlines()
    doc = summary_json(result, stats(), pacing=[ALONE, SHARED])

    assert text[-4:-1] == [
        "Pacing (other clients of the account share its limits):",
        "  RegisterMedia: 24.3 calls/s at the end (limit 50/s); 2 cuts after throttling, lowest 17.5/s",
        "  UpdateVideoInfos: 14.6 calls/s at the end (limit 30/s, share 0.5)",
    ]
    assert doc["pacing"] == {
        "BindInputBucket": {
            "limit": 100,
            "share": 1.0,
            "ceiling": 97.0,
            "final_rate": 97.0,
            "lowest_rate": 97.0,
            "throttled": 0,
            "rate_cuts": 0,
        },
        "RegisterMedia": {
            "limit": 50,
            "share": 1.0,
            "ceiling": 48.5,
            "final_rate": 24.3,
            "lowest_rate": 17.5,
            "throttled": 4,
            "rate_cuts": 2,
        },
    }


def test_summary_of_an_apply_paced_at_the_ceiling_throughout_has_no_pacing_lines():
    result = ApplyResult(resources=(), calls_predicted={}, calls_made={})

    assert "Pacing" not in render_apply_text(result, stats(), pacing=[ALONE])


def test_json_summary_reads_the_rates_when_the_apply_finishes():
    out = io.StringIO()
    rates = [ALONE]
    events = JsonEvents(out, stats(), "state.json", pacing=lambda: rates)
    rates = [SHARED]  # what the session reports by the end

    events.finished(ApplyResult(resources=(), calls_predicted={}, calls_made={}))

    assert json.loads(out.getvalue())["pacing"]["RegisterMedia"]["final_rate"] == 24.3


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_a_line_every_interval_failures_at_once_and_a_final_line():
    clock, out = FakeClock(), io.StringIO()
    plan = Plan(calls=(REGISTER, REGISTER, REGISTER, REGISTER, BIND))
    progress = PlainProgress(plan, out, interval=2.0, clock=clock)

    progress.batch_started(BatchStarted(0, REGISTER))
    clock.now += 1.0
    progress.batch_done(BatchDone(0, REGISTER, 1.0))
    assert out.getvalue() == ""  # not due yet
    clock.now += 1.0
    progress.batch_done(BatchDone(1, REGISTER, 1.0, failed=(FAILURE,)))
    bind_failure = ResourceFailure("input_bucket.in", "boom", SourceLocation(path="manifests/prod.yaml", line=3, col=7))
    progress.batch_failed(BatchFailed(4, BIND, 0.1, "BindInputBucket: InternalError (HTTP 500): boom", (bind_failure,)))
    progress.finished(ApplyResult(resources=(), calls_predicted={}, calls_made={}))

    assert out.getvalue().splitlines() == [
        f"error: manifests/prod.yaml:11:7: media.b ({FILE}): RegisterMedia could not register this file "
        "(FailedFileURLs)",
        "[  2.0s] RegisterMedia 2/4 calls (1.0/s, ETA 2s); BindInputBucket 0/1 calls",
        "error: BindInputBucket failed for 1 resource: BindInputBucket: InternalError (HTTP 500): boom",
        "  manifests/prod.yaml:3:7: input_bucket.in",
        "[  2.0s] RegisterMedia 2/4 calls (1.0/s, ETA 2s); BindInputBucket 1/1 calls (done, 1 failed)",
    ]


def test_live_progress_shows_a_bar_per_action_and_counts_failures_without_printing_them():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system=None, width=120)
    plan = Plan(calls=(REGISTER, REGISTER, BIND))
    bind_failure = ResourceFailure("input_bucket.in", "boom", SourceLocation(path="manifests/prod.yaml", line=3, col=7))

    with LiveProgress(plan, console) as live:
        live.batch_started(BatchStarted(0, REGISTER))
        live.batch_done(BatchDone(0, REGISTER, 0.5, failed=(FAILURE,)))
        live.batch_started(BatchStarted(2, BIND))
        live.batch_failed(BatchFailed(2, BIND, 0.1, "BindInputBucket: InternalError (HTTP 500): boom", (bind_failure,)))
        live.finished(ApplyResult(resources=(), calls_predicted={}, calls_made={}))

    text = buffer.getvalue()
    assert "error" not in text and "FailedFileURLs" not in text  # the summary lists them, once
    lines = [" ".join(line.replace("━", " ").split()) for line in re.split(r"\x1b\[[0-9;?]*[A-Za-z]|\n", text)]
    last = {action: [line for line in lines if line.startswith(action)][-1] for action in ("Register", "Bind")}
    assert last == {"Register": "RegisterMedia 1/2 ETA -- 1 failed", "Bind": "BindInputBucket 1/1 done 1 failed"}
