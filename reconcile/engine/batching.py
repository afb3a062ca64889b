"""Batching: turn resource changes into the exact API calls apply will make, in execution order.

- RegisterMedia: ⌈n/10⌉ calls per group of files sharing region, storage location (one OSS bucket per call),
  template group, workflow and user data — those are top-level parameters of the call.
- UpdateVideoInfos and DeleteVideo: ⌈n/20⌉ calls per region.
- BindInputBucket / UnbindInputBucket: one call per bucket; a replacement is an unbind (replace=True,
  phase 0) followed by a bind (phase 1).

Calls are ordered by phase, action, region, then storage location, template group, workflow and user data
(RegisterMedia's group parameters), then first address: the batches of a group are contiguous, and the same
plan always lists the same calls in the same order (apply starts them in this order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, assert_never

from reconcile.cloud.limits import REGISTER_MEDIA_BATCH, VIDEO_IDS_BATCH, parse_oss_url
from reconcile.engine.attributes import media_of
from reconcile.engine.plan import ApiAction, PlannedCall, ResourceChange

RegisterGroup = tuple[str, str, str | None, str | None, str | None]  # region, storage location, tg, wf, ud


def plan_calls(changes: Iterable[ResourceChange]) -> tuple[PlannedCall, ...]:
    calls: list[PlannedCall] = []
    registers: dict[RegisterGroup, list[str]] = {}
    updates: dict[str, list[str]] = {}
    deletes: dict[str, list[str]] = {}
    for change in sorted(changes, key=lambda c: c.address):
        match change.action:
            case "bind":
                calls.append(_single("BindInputBucket", change))
            case "replace":
                calls.append(_single("UnbindInputBucket", change, replace=True))
                calls.append(_single("BindInputBucket", change))
            case "unbind":
                calls.append(_single("UnbindInputBucket", change))
            case "register":
                registers.setdefault(register_group(change), []).append(change.address)
            case "update":
                updates.setdefault(change.region, []).append(change.address)
            case "delete":
                deletes.setdefault(change.region, []).append(change.address)
            case "orphan" | "no-op":
                continue
            case unknown:
                assert_never(unknown)
    for (region, location, template_group, workflow, user_data), addresses in registers.items():
        calls.extend(
            _batches(
                "RegisterMedia", region, addresses, REGISTER_MEDIA_BATCH, storage_location=location,
                template_group_id=template_group, workflow_id=workflow, user_data=user_data,
            )
        )  # fmt: skip
    for region, addresses in updates.items():
        calls.extend(_batches("UpdateVideoInfos", region, addresses, VIDEO_IDS_BATCH))
    for region, addresses in deletes.items():
        calls.extend(_batches("DeleteVideo", region, addresses, VIDEO_IDS_BATCH))
    return tuple(sorted(calls, key=_call_order))


def _call_order(call: PlannedCall) -> tuple[Any, ...]:
    """Phase, action, region, then the RegisterMedia group parameters (unset before set), then first address:
    a group's batches are contiguous, and the listing reads as groups in a stable order."""
    settings = ((value is not None, value or "") for value in call.register_settings)
    return (call.phase, call.action, call.region, *settings, call.addresses[0])


def register_group(change: ResourceChange) -> RegisterGroup:
    """The RegisterMedia parameters a registration shares with the others in its call."""
    after = media_of(change.after)
    parsed = parse_oss_url(after.file_url)
    return (change.region, parsed.host if parsed else after.file_url, *after.registration)


def _single(action: ApiAction, change: ResourceChange, *, replace: bool = False) -> PlannedCall:
    return PlannedCall(action=action, region=change.region, addresses=(change.address,), replace=replace)


def _batches(
    action: ApiAction, region: str, addresses: Sequence[str], size: int, **params: str | None
) -> list[PlannedCall]:
    return [
        PlannedCall(action=action, region=region, addresses=tuple(addresses[i : i + size]), **params)
        for i in range(0, len(addresses), size)
    ]
