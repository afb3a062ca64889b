"""Views of an apply: the text summary a person reads, and the JSON events and summary CI reads.

JSON (`--json`, one object per line, `format_version` on every object; minor versions only add fields):
    {"type": "plan", "plan": {...}}   the plan document of `reconcile plan --format json`
    {"type": "batch_started", "index": 3, "action": "RegisterMedia", "region": "cn-shanghai", "addresses": [...]}
    {"type": "batch_done", ..., "elapsed_seconds": 0.21, "adopted": [...], "failed": [...], "note": null}
    {"type": "batch_failed", ..., "elapsed_seconds": 0.21, "error": "...", "failed": [...]}
    {"type": "summary", "ok": true, "counts": {...}, "calls": {...}, "client": {...}, "failures": [...], ...}
A failure is {"address", "message", "location": "path:line:col" | null, "file_url": str | null}.
In the summary, "pacing" says per action how the client paced it: the account's limit, the share this process
could take (--qps-share), the ceiling it paced at (limit x share x 0.97), the rate at the end and the lowest one,
how many answers were throttled and how many of them cut the rate (the pacer learns from throttling that other
clients share the account). "state_updates" is how many times the apply wrote the state (journal appends, then the final
snapshot; each is a new serial) and "state_only_changes" how many of the plan's changes it recorded without a
call. Version 1.1 added "state_only_changes": 1.0 gave that count the name "state_updates". Version 1.2 added
"pacing".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.cloud.models import CallStats
from reconcile.cloud.pacing import ActionPacing
from reconcile.engine.execute_result import ApplyResult, ResourceFailure
from reconcile.engine.plan import ChangeAction, Plan, PlannedCall
from reconcile.engine.progress import BatchDone, BatchFailed, BatchStarted
from reconcile.render.json import plan_document

APPLY_JSON_FORMAT_VERSION = "1.2"

# How many failures the text summary lists; progress output has already shown each as it happened.
SUMMARY_FAILURES_SHOWN = 20

PAST_TENSE: dict[ChangeAction, str] = {
    "bind": "bound",
    "register": "registered",
    "update": "updated",
    "replace": "replaced",
    "unbind": "unbound",
    "delete": "deleted",
    "orphan": "orphaned",
    "no-op": "unchanged",
}


def format_calls(counts: Mapping[str, int]) -> str:
    """`RegisterMedia×12, BindInputBucket×2`, or `none`."""
    return ", ".join(f"{action}×{n}" for action, n in counts.items()) or "none"


def failure_json(failure: ResourceFailure) -> dict[str, Any]:
    return {
        "address": failure.address,
        "message": failure.message,
        "location": str(failure.location) if failure.location else None,
        "file_url": failure.file_url,
    }


def plan_event_json(plan: Plan) -> dict[str, Any]:
    """The first line of `apply --json`: the plan about to be applied, in `plan --format json`'s form."""
    return {"format_version": APPLY_JSON_FORMAT_VERSION, "type": "plan", "plan": plan_document(plan)}


def _call_json(kind: str, index: int, call: PlannedCall) -> dict[str, Any]:
    return {
        "format_version": APPLY_JSON_FORMAT_VERSION,
        "type": kind,
        "index": index,
        "action": call.action,
        "region": call.region,
        "addresses": list(call.addresses),
    }


def batch_started_json(event: BatchStarted) -> dict[str, Any]:
    return _call_json("batch_started", event.index, event.call)


def batch_done_json(event: BatchDone) -> dict[str, Any]:
    return {
        **_call_json("batch_done", event.index, event.call),
        "elapsed_seconds": round(event.elapsed, 3),
        "adopted": list(event.adopted),
        "failed": [failure_json(f) for f in event.failed],
        "note": event.note,
    }


def batch_failed_json(event: BatchFailed) -> dict[str, Any]:
    return {
        **_call_json("batch_failed", event.index, event.call),
        "elapsed_seconds": round(event.elapsed, 3),
        "error": event.error,
        "failed": [failure_json(f) for f in event.failed],
    }


def stats_json(stats: CallStats | None) -> dict[str, dict[str, int]]:
    if stats is None:
        return {}
    return {
        action: {"calls": s.calls, "retries": s.retries, "throttled": s.throttled, "errors": s.errors}
        for action, s in sorted(stats.actions.items())
    }


def pacing_json(pacing: Sequence[ActionPacing]) -> dict[str, dict[str, float | int]]:
    return {
        p.action: {
            "limit": p.limit,
            "share": p.share,
            "ceiling": round(p.ceiling, 2),
            "final_rate": round(p.rate, 2),
            "lowest_rate": round(p.lowest, 2),
            "throttled": p.throttled,
            "rate_cuts": p.cuts,
        }
        for p in pacing
    }


def summary_json(
    result: ApplyResult,
    stats: CallStats | None = None,
    state_location: str | None = None,
    pacing: Sequence[ActionPacing] = (),
) -> dict[str, Any]:
    by_action: dict[str, dict[str, int]] = {}
    for r in result.resources:
        by_action.setdefault(r.action, {}).setdefault(r.outcome, 0)
        by_action[r.action][r.outcome] += 1
    return {
        "format_version": APPLY_JSON_FORMAT_VERSION,
        "type": "summary",
        "ok": result.ok,
        "counts": result.outcome_counts,
        "by_action": by_action,
        "state_updates": result.state_updates,
        "state_only_changes": result.state_only_changes,
        "calls": {
            "predicted": result.calls_predicted,
            "made": result.calls_made,
            "match": result.calls_match,
            "verification": result.verification_calls,
        },
        "client": stats_json(stats),
        "pacing": pacing_json(pacing),
        "failures": [failure_json(f) for f in result.failures],
        "adopted": [r.address for r in result.resources if r.outcome == "adopted"],
        "aborted": result.aborted,
        "elapsed_seconds": round(result.elapsed, 3),
        "state": {"location": state_location, "serial": result.serial},
    }


def _headline(result: ApplyResult) -> str:
    counts = result.outcome_counts
    if result.ok:
        done: dict[str, int] = {}
        for r in result.resources:
            done[PAST_TENSE[r.action]] = done.get(PAST_TENSE[r.action], 0) + 1
        what = ", ".join(f"{n} {word}" for word, n in done.items()) or "state updated only"
        adopted = f" ({counts['adopted']} adopted: already registered)" if counts["adopted"] else ""
        return f"Apply complete! Resources: {what}{adopted}."
    applied = counts["done"] + counts["adopted"]
    return (
        f"Apply failed: {applied} done, {counts['failed']} failed, {counts['not_attempted']} not attempted "
        f"(of {len(result.resources)})."
    )


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 request`, `2 requests`, `1 retry`, `0 retries`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _stats_lines(stats: CallStats) -> list[str]:
    return [
        f"  {action}: {counted(s.calls, 'request')}, {counted(s.retries, 'retry', 'retries')}, "
        f"{s.throttled} throttled, {s.errors} failed"
        for action, s in sorted(stats.actions.items())
    ]


def _pacing_lines(pacing: Sequence[ActionPacing]) -> list[str]:
    """Only the actions whose pacing was not simply the ceiling throughout: throttled, or a share taken."""
    lines = []
    for p in pacing:
        if not p.cuts and p.share == 1:
            continue
        share = f", share {p.share:g}" if p.share != 1 else ""
        cuts = f"; {counted(p.cuts, 'cut')} after throttling, lowest {p.lowest:.1f}/s" if p.cuts else ""
        lines.append(f"  {p.action}: {p.rate:.1f} calls/s at the end (limit {p.limit:g}/s{share}){cuts}")
    return ["Pacing (other clients of the account share its limits):", *lines] if lines else []


def render_apply_text(
    result: ApplyResult,
    stats: CallStats | None = None,
    state_location: str | None = None,
    *,
    failures_listed_live: bool = True,
    pacing: Sequence[ActionPacing] = (),
) -> str:
    """The summary printed after an apply: outcome, failures, calls made vs predicted, client stats, state.

    `failures_listed_live`: the progress output printed each failure as it happened, so a long list may be
    cut short here. Without that (the live display on a TTY only counts them), every failure is listed."""
    lines = [_headline(result)]
    if result.aborted:
        lines.append(f"Stopped early: {result.aborted}")
    if result.failures:
        shown = SUMMARY_FAILURES_SHOWN if failures_listed_live else len(result.failures)
        lines.append("")
        lines.append(f"Failed ({len(result.failures)}):")
        lines.extend(f"  {f.describe()}" for f in result.failures[:shown])
        if len(result.failures) > shown:
            lines.append(f"  ... and {len(result.failures) - shown} more (each listed above)")
    adopted = [r.address for r in result.resources if r.outcome == "adopted"]
    if adopted:
        lines.append("")
        lines.append(
            f"Adopted ({len(adopted)}): already registered in VOD, now managed; their metadata was not "
            "changed by RegisterMedia — the next plan shows any difference."
        )
    lines.append("")
    verdict = "equal" if result.calls_match else "NOT equal: the remaining calls were not made"
    lines.append(
        f"API calls made: {format_calls(result.calls_made)}; predicted: {format_calls(result.calls_predicted)} "
        f"({verdict})."
    )
    if result.verification_calls:
        lines.append(f"Verification reads: ListAllMediaBucket×{result.verification_calls} (Bucket.AlreadyBind).")
    if stats is not None and stats.actions:
        lines.append("Client (retries included):")
        lines.extend(_stats_lines(stats))
    lines.extend(_pacing_lines(pacing))
    if result.state_only_changes:
        lines.append(f"State-only changes (recorded without an API call): {result.state_only_changes}.")
    if state_location is not None:
        serial = f" (serial {result.serial})" if result.serial is not None else " (unchanged)"
        lines.append(f"State: {state_location}{serial}.")
    lines.append(f"Elapsed: {result.elapsed:.1f} s.")
    return "\n".join(lines)
