"""Why each change is planned, in words: the English of the plan's reason codes (`ActionReason`).

The engine decides a change's `reason_code` and records the particulars a reason names (the fields changed and
where, the address moved from, the attributes before and after); every view (text, Markdown, JSON) words them
here, so that a program switches on the code and a person reads one sentence, the same in every view.
"""

from __future__ import annotations

from typing import assert_never

from reconcile.engine.plan import ActionReason, ResourceChange
from reconcile.model.media import BucketAttributes

_FIXED: dict[tuple[ActionReason, str], str] = {
    (ActionReason.NOT_IN_STATE, "bind"): "not bound",
    (ActionReason.NOT_IN_STATE, "register"): "not in state: register, or adopt if already registered",
    (ActionReason.GONE_OUTSIDE, "bind"): "unbound outside reconcile since the last apply: bind again",
    (ActionReason.GONE_OUTSIDE, "register"): (
        "gone from VOD since the last apply (deleted outside reconcile): register again"
    ),
    (ActionReason.PRUNED, "unbind"): "removed from the manifests (--prune): unbound from MPS",
    (ActionReason.PRUNED, "delete"): (
        "removed from the manifests (--prune): DeleteVideo DELETES THE SOURCE FILE IN OSS TOO"
    ),
}


def reason_text(change: ResourceChange) -> str | None:
    """The change's reason in words; None for a change without one (converged, nothing to say)."""
    code = change.reason_code
    if code is None:
        return None
    fixed = _FIXED.get((code, change.action))
    if fixed is not None:
        return fixed
    match code:
        case ActionReason.NOT_IN_STATE | ActionReason.GONE_OUTSIDE | ActionReason.PRUNED:
            return code.value.replace("_", " ")  # not planned for another action; the code says it all
        case ActionReason.CHANGED:
            return _update_reason(change)
        case ActionReason.REFERER_CHANGED:
            was, wanted = _referers(change)
            return f"referer changed from {was!r} to {wanted!r}: MPS cannot change it in place (unbind + bind)"
        case ActionReason.REFERER_DIFFERS:
            was, wanted = _referers(change)
            return f"bound outside reconcile with referer {was!r}; the manifest declares {wanted!r} (unbind + bind)"
        case ActionReason.ADOPTED:
            return "already bound as declared: recorded in state, no call"
        case ActionReason.STATE_OUTDATED:
            return "state brought up to date, no call"
        case ActionReason.MOVED:
            return f"moved from {change.moved_from}, no call"
        case ActionReason.ORPHANED:
            return _moved("removed from the manifests: kept in state, no call (orphaned)", change)
        case ActionReason.PROTECTED:
            return _moved("removed from the manifests: kept, no call (prevent_destroy protects it)", change)
        case ActionReason.ALREADY_GONE:
            return "removed from the manifests (--prune) and already gone from the account: dropped from state"
        case _:
            assert_never(code)


def _referers(change: ResourceChange) -> tuple[str, str]:
    before, after = change.before, change.after
    was = before.referer if isinstance(before, BucketAttributes) else None
    wanted = after.referer if isinstance(after, BucketAttributes) else None
    return was or "", wanted or ""


def _moved(reason: str, change: ResourceChange) -> str:
    return f"{reason} (its address {change.moved_from} now names another file)" if change.moved_from else reason


def _update_reason(change: ResourceChange) -> str:
    """Where each changed field changed: in the manifests, outside reconcile since the last apply, or both."""
    origins: dict[str, list[str]] = {}
    for name in change.changed:
        in_manifests, outside = name in change.changed_in_manifests, name in change.changed_outside
        if in_manifests and outside:
            origin = "in the manifests and outside reconcile since the last apply"
        elif outside:
            origin = "outside reconcile since the last apply"
        else:
            origin = "in the manifests"
        origins.setdefault(origin, []).append(name)
    parts = [f"{', '.join(names)} changed {origin}" for origin, names in origins.items()]
    return f"{'; '.join(parts)}: UpdateVideoInfos sends only the changed fields"
