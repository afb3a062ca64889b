"""The human view of a Plan, Terraform-like: `+` create, `~` update, `-/+` replace, `-` destroy.

Changes are grouped by action and sorted by address; then the state-only changes, the API calls apply will
make, the summary line, unmanaged buckets, warnings and errors. Colour is an argument (ANSI codes written
here): the CLI turns it on only on a TTY and never with NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.cloud.models import CallStats
from reconcile.engine.plan import ChangeAction, Plan, PlanWarning, ResourceChange
from reconcile.model.media import shown
from reconcile.render.health import partial_banner, unhealthy_text_lines
from reconcile.render.reasons import reason_text
from reconcile.render.summary import (
    SYMBOL,
    call_groups,
    changes_by_section,
    converged,
    fully_converged,
    no_changes_message,
    summary_line,
    value,
    verb,
)

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
MAGENTA = "\x1b[35m"
DIM = "\x1b[2m"

COLOUR: dict[ChangeAction, str] = {
    "bind": GREEN,
    "register": GREEN,
    "update": YELLOW,
    "replace": MAGENTA,
    "unbind": RED,
    "delete": RED,
    "orphan": YELLOW,
    "no-op": "",
}


class Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *codes: str) -> str:
        codes = tuple(c for c in codes if c)
        return f"{''.join(codes)}{text}{RESET}" if self.color and codes else text


def render_plan_text(plan: Plan, *, color: bool = False) -> str:
    paint = Painter(color)
    lines: list[str] = [paint(partial_banner(plan.source.targets), BOLD, RED), ""] if plan.partial else []
    sections = changes_by_section(plan)
    if sections:
        lines += ["Reconcile will perform the following actions:", ""]
        for action, changes in sections:
            for change in changes:
                lines += _change_block(change, action, paint)
                lines.append("")
    state_only = plan.state_only_changes
    if state_only:
        lines += [paint("State-only changes (recorded by apply, no API call):", BOLD)]
        lines += [f"  # {c.address}: {reason_text(c) or verb(c)}" for c in state_only]
        lines.append("")
    if plan.calls:
        lines += [paint("API calls apply will make, in order:", BOLD)]
        groups = call_groups(plan)
        width = max(len(f"{g.action} ×{g.calls}") for g in groups)
        region_width = max(len(g.region) for g in groups)
        for g in groups:
            lines.append(f"  {f'{g.action} ×{g.calls}':<{width}}  {g.region:<{region_width}}  {g.detail}".rstrip())
        lines.append("")
    if converged(plan):
        lines.append(paint(no_changes_message(plan), BOLD, GREEN if fully_converged(plan) else YELLOW))
    else:
        lines.append(paint(summary_line(plan), BOLD))
    if plan.unmanaged:
        lines += [
            "",
            "Unmanaged input buckets (bound in the account, declared by no manifest, not in state; no action):",
        ]
        width = max(len(u.region) for u in plan.unmanaged)
        for u in plan.unmanaged:
            referer = f"  referer {value(u.referer)}" if u.referer else ""
            lines.append(f"  {u.region:<{width}}  {u.bucket}{referer}")
    if plan.unhealthy:  # issue 16: media health
        lines += ["", *(paint(line, YELLOW) for line in unhealthy_text_lines(plan.unhealthy))]
    if plan.warnings:
        lines.append("")
        lines += [_diagnostic(w, paint("warning", BOLD, YELLOW)) for w in plan.warnings]
    if plan.errors:
        lines.append("")
        lines += [_diagnostic(e, paint("error", BOLD, RED)) for e in plan.errors]
        n = len(plan.errors)
        lines += ["", f"The plan has {n} error{'s' if n > 1 else ''}: apply will refuse it. Fix and plan again."]
    return "\n".join(lines) + "\n"


def _change_block(change: ResourceChange, action: ChangeAction, paint: Painter) -> list[str]:
    header = f"  # {change.address} {verb(change)}"
    lines = [paint(header, BOLD)]
    reason = reason_text(change)
    if reason:
        lines.append(paint(f"  #   {reason}", DIM))
    if change.location is not None:
        lines.append(paint(f"  #   declared at {change.location}", DIM))
    if change.moved_from:
        lines.append(paint(f"  #   moved from {change.moved_from}", DIM))
    symbol = SYMBOL[action]
    lines.append(f"{' ' * (3 - len(symbol))}{paint(symbol, COLOUR[action])} {change.address}")
    if action in ("bind", "register"):
        lines += _attributes({"region": change.region, **shown(change.after)})
    elif action in ("update", "replace"):
        lines += _changed(change, paint)
    elif action in ("unbind", "delete"):
        gone = {"region": change.region, "remote_id": change.remote_id, **_identity(change)}
        lines += _attributes({k: v for k, v in gone.items() if v is not None})
    return lines


def _identity(change: ResourceChange) -> dict[str, Any]:
    if change.kind == "media":
        return {"file_url": shown(change.before).get("file_url") or shown(change.after).get("file_url")}
    return {}


def _attributes(attrs: Mapping[str, Any]) -> list[str]:
    width = max((len(name) for name in attrs), default=0)
    return [f"      {name:<{width}} = {value(v)}" for name, v in attrs.items()]


def _changed(change: ResourceChange, paint: Painter) -> list[str]:
    before, after = shown(change.before), shown(change.after)
    width = max((len(name) for name in change.changed), default=0)
    return [
        f"      {paint('~', YELLOW)} {name:<{width}} = {value(before.get(name))} -> {value(after.get(name))}"
        for name in change.changed
    ]


def _diagnostic(item: PlanWarning, label: str) -> str:
    where = f"{item.location}: " if item.location else ""
    about = f"{item.address}: " if item.address else ""
    return f"{where}{label}: {about}{item.message}"


def render_call_accounting(stats: CallStats, *, activity: str = "planning") -> str:
    """One line after a plan: the API calls refresh made (retries included), then retries and throttling."""
    if stats.total_calls == 0:
        return f"API calls made while {activity}: none"
    per_action = ", ".join(f"{action}×{s.calls}" for action, s in sorted(stats.actions.items()))
    retries = sum(s.retries for s in stats.actions.values())
    throttled = sum(s.throttled for s in stats.actions.values())
    return (
        f"API calls made while {activity}: {stats.total_calls} ({per_action}); "
        f"{retries} retr{'y' if retries == 1 else 'ies'}, {throttled} throttled"
    )
