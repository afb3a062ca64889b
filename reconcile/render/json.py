"""The machine-readable view of a Plan (`--format json`), documented in docs/plan-json.md.

A contract like Terraform's: `format_version` changes its minor number when fields are added and its major
number when anything is removed or changes meaning. Ordering is stable: changes by address, calls in
execution order, object keys in a fixed order, attributes in their canonical field order.
"""

from __future__ import annotations

import json
from typing import Any

from reconcile import __version__
from reconcile.engine.plan import ACTION_LIST, Plan, PlannedCall, PlanWarning, ResourceChange
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import Attributes, attributes_json
from reconcile.render.health import unhealthy_json
from reconcile.render.reasons import reason_text
from reconcile.render.summary import SUMMARY_ACTIONS


def render_plan_json(plan: Plan, *, indent: int | None = 2) -> str:
    return json.dumps(plan_document(plan), ensure_ascii=False, indent=indent) + "\n"


def plan_document(plan: Plan) -> dict[str, Any]:
    counts: dict[str, int] = {action: plan.count(action) for action in SUMMARY_ACTIONS}
    counts |= {"orphan": plan.count("orphan"), "no-op": plan.count("no-op"), "state_only": len(plan.state_only_changes)}
    return {
        "format_version": plan.format_version,
        "reconcile_version": __version__,
        "created": plan.created,
        "applyable": not plan.errors,
        "has_changes": plan.needs_apply,
        "source": plan.source.model_dump(mode="json"),
        "summary": counts,
        "call_counts": plan.call_counts(),
        "resource_changes": [_change(c) for c in plan.changes],
        "calls": [_call(c) for c in plan.calls],
        "warnings": [_diagnostic(w) for w in plan.warnings],
        "errors": [_diagnostic(e) for e in plan.errors],
        "unmanaged_input_buckets": [u.model_dump(mode="json") for u in plan.unmanaged],
        "unhealthy_media": unhealthy_json(plan.unhealthy),  # 1.1
        "partial": plan.partial,  # 1.1: made with --target (source.targets)
    }


def _change(change: ResourceChange) -> dict[str, Any]:
    return {
        "address": change.address,
        "kind": change.kind,
        "identity": change.identity,
        "region": change.region,
        "remote_id": change.remote_id,
        "action": change.action,
        "change": {
            "actions": list(ACTION_LIST[change.action]),
            "before": _attributes(change.before),
            "after": _attributes(change.after),
            "changed": list(change.changed),
            "changed_in_manifests": list(change.changed_in_manifests),  # 1.4
            "changed_outside": list(change.changed_outside),  # 1.4
        },
        "reason": reason_text(change),
        "reason_code": change.reason_code,
        "location": _location(change.location),
        "prevent_destroy": change.prevent_destroy,
        "moved_from": change.moved_from,
        "state_only": change.state_only,
    }


def _call(call: PlannedCall) -> dict[str, Any]:
    document: dict[str, Any] = {
        "action": call.action,
        "region": call.region,
        "phase": call.phase,
        "addresses": list(call.addresses),
    }
    if call.action == "UnbindInputBucket":
        document["replace"] = call.replace
    if call.action == "RegisterMedia":
        document |= {
            "storage_location": call.storage_location,
            "template_group_id": call.template_group_id,
            "workflow_id": call.workflow_id,
            "user_data": call.user_data,
        }
    return document


def _attributes(attributes: Attributes | None) -> dict[str, Any] | None:
    return None if attributes is None else attributes_json(attributes)


def _diagnostic(item: PlanWarning) -> dict[str, Any]:
    return {"address": item.address, "message": item.message, "location": _location(item.location)}


def _location(location: SourceLocation | None) -> dict[str, Any] | None:
    return None if location is None else {"path": location.path, "line": location.line, "col": location.col}
