"""`--target ADDRESS`: a partial plan covering only the resources whose address matches.

A pattern is an address (`media.intro`, `input_bucket.media-in`, `media["bucket/key.mp4"]`), a glob over
addresses where `*` is any run of characters and `?` any one (`media.harbor-*`; brackets are literal, so
quoted addresses need no escaping), or a kind (`media`, `input_bucket`) for every resource of it.

What a targeted plan keeps: the matching resources' changes, whole. A resource's change already carries what
it depends on (a replacement is its unbind and its bind; a move, its old address), and registering a media
does not depend on any binding, so nothing outside the target is ever needed. Everything else is left out:
no call, no state-only change and never a removal (an unbind or a DeleteVideo) of a resource outside the
target. Warnings, errors and unhealthy media are kept for the target only; a pattern that matches nothing is
a warning. Every view says loudly that the plan is partial, and a saved plan remembers its patterns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from reconcile.engine.diff import DiffResult
from reconcile.engine.plan import PlanWarning, ResourceChange, UnhealthyMedia

PARTIAL_PLAN_WARNING = (
    "PARTIAL PLAN (--target): only the resources matching {targets} are planned; changes to everything else, "
    "removals included, are left out. Plan without --target to see the whole picture before relying on it"
)


def partial_plan_warning(targets: Sequence[str]) -> str:
    return PARTIAL_PLAN_WARNING.format(targets=", ".join(targets))


@lru_cache(maxsize=256)
def _pattern(target: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in target)
    # A bare kind or name prefix also covers what is under it: `media` → media.x and media["b/k"].
    return re.compile("".join(parts) + r"(?:[.\[].*)?", re.DOTALL)


def matches(address: str, targets: Sequence[str]) -> bool:
    """Whether `address` is selected by any of `targets` (see the module docstring)."""
    return any(_pattern(target).fullmatch(address) for target in targets)


def _selected(change: ResourceChange, targets: Sequence[str]) -> bool:
    return matches(change.address, targets) or (change.moved_from is not None and matches(change.moved_from, targets))


def narrow_diff(diff: DiffResult, targets: Sequence[str]) -> DiffResult:
    """The diff restricted to `targets` (unchanged when there are none), with the partial-plan warning."""
    if not targets:
        return diff
    changes = tuple(c for c in diff.changes if _selected(c, targets))
    unmatched = [t for t in targets if not any(matches(c.address, [t]) for c in diff.changes)]
    warnings = [PlanWarning(address=None, message=partial_plan_warning(targets))]
    warnings += [
        PlanWarning(address=None, message=f"--target {target} matches no resource in the manifests or the state")
        for target in unmatched
    ]
    kept = tuple(w for w in diff.warnings if w.address is None or matches(w.address, targets))
    errors = tuple(e for e in diff.errors if e.address is None or matches(e.address, targets))
    return DiffResult(changes=changes, warnings=(*warnings, *kept), errors=errors, unmanaged=diff.unmanaged)


def narrow_unhealthy(unhealthy: Sequence[UnhealthyMedia], targets: Sequence[str]) -> tuple[UnhealthyMedia, ...]:
    if not targets:
        return tuple(unhealthy)
    return tuple(u for u in unhealthy if matches(u.address, targets))
