"""What every plan view says the same way: the summary line, the verbs, and the API calls grouped for reading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reconcile.engine.plan import ChangeAction, Plan, PlannedCall, ResourceChange

# The order plan views list changes in, and the summary counts them in.
SUMMARY_ACTIONS: tuple[ChangeAction, ...] = ("register", "bind", "update", "replace", "unbind", "delete")
SECTION_ACTIONS: tuple[ChangeAction, ...] = ("bind", "register", "update", "replace", "unbind", "delete")

SYMBOL: dict[ChangeAction, str] = {
    "bind": "+",
    "register": "+",
    "update": "~",
    "replace": "-/+",
    "unbind": "-",
    "delete": "-",
    "orphan": "!",
    "no-op": " ",
}

NO_CHANGES = "No changes. The account matches the manifests."


def verb(change: ResourceChange) -> str:
    """What happens to the resource, in words, as the line that introduces it."""
    match change.action:
        case "bind":
            return "will be bound as an MPS input bucket"
        case "register":
            return "will be registered in VOD"
        case "update":
            return "will be updated in place"
        case "replace":
            return "must be replaced: unbound, then bound again"
        case "unbind":
            return "will be unbound from MPS"
        case "delete":
            return "will be DELETED from VOD, AND ITS SOURCE FILE IN OSS WITH IT"
        case "orphan":
            return "is no longer declared: kept, no call"
        case "no-op":
            return "is unchanged"


def converged(plan: Plan) -> bool:
    """Nothing to do and nothing wrong: the views say "No changes." only then (errors are never "no changes")."""
    return not plan.needs_apply and not plan.errors


def fully_converged(plan: Plan) -> bool:
    """The account was read and matches the manifests: no call to make and nothing kept that they dropped."""
    return converged(plan) and plan.source.refreshed and not plan.count("orphan")


def no_changes_message(plan: Plan) -> str:
    """What a converged plan says, claiming only what was checked.

    "The account matches the manifests" only when the account was read and nothing removed from the
    manifests is kept; with --refresh=false the comparison was against the state alone."""
    if fully_converged(plan) and not plan.partial:
        return NO_CHANGES
    if plan.partial:  # issue 16: --target checked only part of the manifests
        message = "No changes to the resources matching --target: no API calls to make."
    elif plan.source.refreshed:
        message = "No changes: no API calls to make."
    else:
        message = "No changes against the state (the account was not read: --refresh=false)."
    kept = plan.count("orphan")
    if kept == 1:
        message += " 1 resource removed from the manifests is kept (see the warnings)."
    elif kept:
        message += f" {kept} resources removed from the manifests are kept (see the warnings)."
    return message


def summary_line(plan: Plan) -> str:
    """`Plan: 120 to register, 2 to bind, ... — API calls: RegisterMedia×12, BindInputBucket×2`."""
    counts = [f"{plan.count(action)} to {action}" for action in SUMMARY_ACTIONS]
    state_only = len(plan.state_only_changes)
    if state_only:
        counts.append(f"{state_only} state-only")
    calls = ", ".join(f"{action}×{n}" for action, n in plan.call_counts().items()) or "none"
    return f"Plan: {', '.join(counts)} — API calls: {calls}"


def changes_by_section(plan: Plan) -> list[tuple[ChangeAction, list[ResourceChange]]]:
    """The changes that make calls, grouped by action in SECTION_ACTIONS order, sorted by address."""
    grouped: dict[ChangeAction, list[ResourceChange]] = {action: [] for action in SECTION_ACTIONS}
    for change in plan.changes:
        if change.action in grouped:
            grouped[change.action].append(change)
    return [(action, found) for action, found in grouped.items() if found]


@dataclass(frozen=True, slots=True)
class CallGroup:
    """Consecutive planned calls of one action, region and parameter set: one line in a plan view."""

    action: str
    region: str
    calls: int
    resources: int
    detail: str


def call_groups(plan: Plan) -> list[CallGroup]:
    groups: list[CallGroup] = []
    previous: tuple[Any, ...] | None = None
    for call in plan.calls:
        key = call.group
        if key == previous:
            last = groups[-1]
            groups[-1] = CallGroup(
                last.action, last.region, last.calls + 1, last.resources + len(call.addresses), last.detail
            )
        else:
            groups.append(CallGroup(call.action, call.region, 1, len(call.addresses), _detail(call)))
        previous = key
    return [CallGroup(g.action, g.region, g.calls, g.resources, _count_detail(g)) for g in groups]


def _detail(call: PlannedCall) -> str:
    match call.action:
        case "UnbindInputBucket":
            return "replacements: unbound before the binds" if call.replace else "pruned: unbound last"
        case "RegisterMedia":
            settings = [f"in {call.storage_location}"]
            if call.template_group_id is not None:
                settings.append(f"template group {call.template_group_id}")
            if call.workflow_id is not None:
                settings.append(f"workflow {call.workflow_id}")
            if call.user_data is not None:
                settings.append(f"user data {call.user_data}")
            return ", ".join(settings)
        case "DeleteVideo":
            return "WITH THEIR SOURCE FILES IN OSS"
        case "BindInputBucket" | "UpdateVideoInfos":
            return ""


def _count_detail(group: CallGroup) -> str:
    noun = {"RegisterMedia": "file", "UpdateVideoInfos": "video", "DeleteVideo": "video"}.get(group.action, "bucket")
    counted = f"{group.resources} {noun}{'' if group.resources == 1 else 's'}"
    detail = group.detail
    if group.action == "DeleteVideo" and group.resources == 1:
        detail = "WITH ITS SOURCE FILE IN OSS"
    return f"{counted} ({detail})" if detail else counted


def value(data: Any) -> str:
    """An attribute value as the views print it: JSON, so strings are quoted and lists read as lists."""
    return json.dumps(data, ensure_ascii=False)
