"""The pull-request view of a Plan (`--format markdown`): what a reviewer must see first, the rest folded.

Outside any `<details>`: the summary line, every deletion (they delete source files) and replacement, and
the errors. Folded: the list of all changes, the API calls, warnings and unmanaged buckets. A comment must
stay under `max_chars` (GitHub refuses longer than 65,536): entries are written in a fixed order until the
budget is spent, and a closing note says how many were left out, so the same plan always truncates the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reconcile.engine.plan import Plan, PlanWarning, ResourceChange
from reconcile.render.health import partial_banner, unhealthy_markdown
from reconcile.render.summary import (
    SYMBOL,
    call_groups,
    changes_by_section,
    converged,
    no_changes_message,
    summary_line,
)

MAX_COMMENT_CHARS = 65_000
# Kept free for the closing tags and the truncation note, so they always fit.
_RESERVE = 600
_BACKTICKS = re.compile(r"`+")


def render_plan_markdown(plan: Plan, *, max_chars: int = MAX_COMMENT_CHARS, title: str = "reconcile plan") -> str:
    out = _Budget(max_chars)
    out.fixed(f"### {_text(title)}", "")
    if plan.partial:  # issue 16: --target
        out.fixed("> [!WARNING]", f"> **{_text(partial_banner(plan.source.targets))}**", "")
    if converged(plan):
        out.fixed(f"**{_text(no_changes_message(plan))}**", "")
    else:
        head, _, calls = summary_line(plan).partition(" — ")
        out.fixed(f"**{head}** — {calls}", "")
    deletes = [c for c in plan.changes if c.action in ("delete", "unbind")]
    if deletes:
        n = sum(1 for c in deletes if c.action == "delete")
        warning = f" DeleteVideo DELETES THE SOURCE FILE IN OSS TOO ({n} file{'s' if n != 1 else ''})." if n else ""
        out.fixed("> [!CAUTION]", f"> **{len(deletes)} to destroy.**{warning}", "")
        out.items(f"- {_code(c.address)} — {_text(c.reason or c.action)}" for c in deletes)
        out.fixed("")
    replaces = [c for c in plan.changes if c.action == "replace"]
    if replaces:
        out.fixed("**Replacements** (unbind, then bind):", "")
        out.items(f"- {_code(c.address)} — {_text(c.reason or 'replace')}" for c in replaces)
        out.fixed("")
    heading, unhealthy = unhealthy_markdown(plan.unhealthy)  # issue 16: media health
    if unhealthy:
        out.fixed(*heading)
        out.items(unhealthy)
        out.fixed("")
    if plan.errors:
        out.fixed(f"**Errors** — apply will refuse this plan ({len(plan.errors)}):", "")
        out.items(_diagnostic(e) for e in plan.errors)
        out.fixed("")
    listed = [c for _, changes in changes_by_section(plan) for c in changes] + list(plan.state_only_changes)
    if listed:
        lines = [_change_line(c) for c in listed]
        fence = "`" * max([3, *(len(run) + 1 for line in lines for run in _BACKTICKS.findall(line))])
        out.folded(f"All changes ({len(listed)})", lines, opening=f"{fence}diff", closing=fence)
    groups = call_groups(plan)
    if groups:
        lines = [f"- `{g.action} ×{g.calls}` {_text(g.region)} — {_text(g.detail)}" for g in groups]
        out.folded(f"API calls ({len(plan.calls)})", lines)
    if plan.warnings:
        out.folded(f"Warnings ({len(plan.warnings)})", [_diagnostic(w) for w in plan.warnings])
    if plan.unmanaged:
        lines = [f"- {_code(u.bucket)} ({_text(u.region)})" for u in plan.unmanaged]
        out.folded(f"Unmanaged input buckets ({len(plan.unmanaged)}): bound, declared by no manifest, no action", lines)
    return out.finish()


class _Budget:
    """Appends lines while they fit in `limit - _RESERVE` characters; counts the entries that did not."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.shown = 0
        self.omitted = 0
        self.full = False

    def _fits(self, line: str) -> bool:
        return not self.full and self.size + len(line) + 1 <= self.limit - _RESERVE

    def _add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line) + 1

    def fixed(self, *lines: str) -> None:
        """Structure that is always written when there is room (headings, blank lines)."""
        for line in lines:
            if self._fits(line):
                self._add(line)

    def items(self, lines: Iterable[str]) -> None:
        for line in lines:
            if self._fits(line):
                self._add(line)
                self.shown += 1
            else:
                self.full = True
                self.omitted += 1

    def folded(self, summary: str, lines: list[str], *, opening: str = "", closing: str = "") -> None:
        head = [f"<details><summary>{_text(summary)}</summary>", ""] + ([opening] if opening else [])
        tail = ([closing] if closing else []) + ["", "</details>", ""]
        if not all(self._fits(line) for line in head):
            self.full = True
            self.omitted += len(lines)
            return
        for line in head:
            self._add(line)
        self.items(lines)
        for line in tail:  # the reserve guarantees the closing lines fit
            self._add(line)

    def finish(self) -> str:
        if self.omitted:
            total = self.shown + self.omitted
            self._add(
                f"_Truncated to fit a comment: {self.omitted} of {total} entries not shown. "
                "Run `reconcile show PLANFILE` for the full plan._"
            )
        text = "\n".join(self.lines).rstrip("\n") + "\n"
        assert len(text) <= self.limit, "the reserve must cover the closing lines"
        return text


def _change_line(change: ResourceChange) -> str:
    if change.state_only is not None:
        detail = change.reason or "state only"
        return f"  {change.address}  (state only: {detail})"
    symbol = SYMBOL[change.action]
    detail = f"{change.action}: {', '.join(change.changed)}" if change.changed else change.action
    return f"{symbol} {change.address}  ({detail})"


def _diagnostic(item: PlanWarning) -> str:
    where = f" ({_code(str(item.location))})" if item.location else ""
    about = f"{_code(item.address)}: " if item.address else ""
    return f"- {about}{_text(item.message)}{where}"


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    text = text.replace("\n", " ")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _text(text: str) -> str:
    """Plain text in Markdown that GitHub renders as HTML: no tags, no line breaks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
