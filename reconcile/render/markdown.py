"""The pull-request view of a Plan (`--format markdown`): what a reviewer must see first, the rest folded.

Outside any `<details>`: the summary line, every deletion (they delete source files) and replacement, and
the errors. Folded: every change with its reason, the attribute diffs of updates and replacements (old →
new, as the text view shows them) and a link to the manifest line that declares it; then the API calls,
warnings and unmanaged buckets. A comment must stay under `max_chars`: GitHub refuses a comment longer than
65,536 characters, and `reconcile pr-comment` adds a marker and a header line, so the default leaves room
for them. Entries are written in a fixed order until the budget is spent, and a closing note says how many
changes were left out and where the full plan is, so the same plan always truncates the same.

Rendering reads nothing but its arguments: where the manifests can be browsed (`SourceLinks`) and where the
full plan lives are passed in by the CLI, which reads them from the CI environment.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconcile.engine.plan import Plan, PlanWarning, ResourceChange
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import shown
from reconcile.render.health import partial_banner, unhealthy_markdown
from reconcile.render.reasons import reason_text
from reconcile.render.summary import (
    SYMBOL,
    call_groups,
    changes_by_section,
    converged,
    no_changes_message,
    summary_line,
    value,
)

# GitHub's limit is 65,536 characters per comment; 536 stay free for `reconcile pr-comment`'s marker and header.
MAX_COMMENT_CHARS = 65_000
# Kept free for the closing tags and the truncation note, so they always fit.
_RESERVE = 600
_BACKTICKS = re.compile(r"`+")
_URL_UNSAFE = re.compile(r"[\s()<>\[\]]")
_MAX_URL = 300  # the truncation note must fit in the reserve


@dataclass(frozen=True, slots=True)
class SourceLinks:
    """Where the manifests can be browsed: `{base}/{prefix}/{path}#L{line}`.

    `base` is a URL pinned to a commit (`https://github.com/OWNER/REPO/blob/SHA`); `prefix` is the working
    directory's path inside the repository ("" at its root). Absolute manifest paths, and paths leaving the
    repository, get no link."""

    base: str
    prefix: str = ""

    def url(self, location: SourceLocation) -> str | None:
        path = location.path.replace("\\", "/")
        if path.startswith("/"):
            return None
        joined = posixpath.normpath(posixpath.join(self.prefix, path))
        if joined.startswith("../") or joined in ("..", "."):
            return None
        url = f"{self.base.rstrip('/')}/{joined}#L{location.line}"
        return None if _URL_UNSAFE.search(url) else url


def render_plan_markdown(
    plan: Plan,
    *,
    max_chars: int = MAX_COMMENT_CHARS,
    title: str = "reconcile plan",
    links: SourceLinks | None = None,
    full_plan_url: str | None = None,
) -> str:
    """The plan as Markdown of at most `max_chars` characters. `links` turns declared-at locations into links to
    the manifest lines; `full_plan_url` (the CI job holding the job summary and the saved plan) is where the
    truncation note sends the reader."""
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
        out.items(f"- {_code(c.address)} — {_text(reason_text(c) or c.action)}" for c in deletes)
        out.fixed("")
    replaces = [c for c in plan.changes if c.action == "replace"]
    if replaces:
        out.fixed("**Replacements** (unbind, then bind):", "")
        out.items(f"- {_code(c.address)} — {_text(reason_text(c) or 'replace')}{_declared(c, links)}" for c in replaces)
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
        entries = (_change_entry(c, links) for c in listed)
        out.folded(f"All changes ({len(listed)})", entries, len(listed), kind="change")
    groups = call_groups(plan)
    if groups:
        lines = [f"- `{g.action} ×{g.calls}` {_text(g.region)} — {_text(g.detail)}" for g in groups]
        out.folded(f"API calls ({len(plan.calls)})", lines, len(lines))
    if plan.warnings:
        out.folded(f"Warnings ({len(plan.warnings)})", [_diagnostic(w) for w in plan.warnings], len(plan.warnings))
    if plan.unmanaged:
        lines = [f"- {_code(u.bucket)} ({_text(u.region)})" for u in plan.unmanaged]
        title = f"Unmanaged input buckets ({len(plan.unmanaged)}): bound, declared by no manifest, no action"
        out.folded(title, lines, len(lines))
    return out.finish(len(listed), full_plan_url)


EntryKind = Literal["change", "other"]


class _Budget:
    """Appends entries while they fit in `limit - _RESERVE` characters; counts those that did not, by kind.

    An entry may span several lines (a change and its attribute diffs): it is written whole or not at all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.omitted: dict[EntryKind, int] = {"change": 0, "other": 0}
        self.full = False

    def _fits(self, text: str) -> bool:
        return not self.full and self.size + len(text) + 1 <= self.limit - _RESERVE

    def _add(self, text: str) -> None:
        self.lines.append(text)
        self.size += len(text) + 1

    def fixed(self, *lines: str) -> None:
        """Structure that is always written when there is room (headings, blank lines)."""
        for line in lines:
            if self._fits(line):
                self._add(line)

    def items(self, entries: Iterable[str], kind: EntryKind = "other", *, total: int | None = None) -> None:
        """Write entries while they fit. With `total` (how many `entries` yields), the rest are counted
        without being formatted once the budget is spent."""
        written = 0
        for entry in entries:
            if self._fits(entry):
                self._add(entry)
                written += 1
                continue
            self.full = True
            if total is not None:
                self.omitted[kind] += total - written
                return
            self.omitted[kind] += 1

    def folded(self, summary: str, entries: Iterable[str], total: int, *, kind: EntryKind = "other") -> None:
        head = [f"<details><summary>{_text(summary)}</summary>", ""]
        if not all(self._fits(line) for line in head):
            self.full = True
            self.omitted[kind] += total
            return
        for line in head:
            self._add(line)
        self.items(entries, kind, total=total)
        for line in ("", "</details>", ""):  # the reserve guarantees the closing lines fit
            self._add(line)

    def finish(self, changes: int, full_plan_url: str | None) -> str:
        left_out, others = self.omitted["change"], self.omitted["other"]
        if left_out or others:
            what = f"{left_out} of {changes} change{'' if changes == 1 else 's'} not shown"
            if others:
                what += f" (and {others} other entr{'y' if others == 1 else 'ies'})"
            where = (
                f"The full plan is in [the CI job]({full_plan_url}) (its job summary and the saved plan)."
                if full_plan_url and len(full_plan_url) <= _MAX_URL and not _URL_UNSAFE.search(full_plan_url)
                else "Run `reconcile show PLANFILE` on the saved plan for the full plan."
            )
            self._add(f"_Truncated to fit a comment: {what}. {where}_")
        text = "\n".join(self.lines).rstrip("\n") + "\n"
        assert len(text) <= self.limit, "the reserve must cover the closing lines"
        return text


def _change_entry(change: ResourceChange, links: SourceLinks | None) -> str:
    """One change as a list item: symbol and address, why, where it is declared; then old → new per attribute."""
    if change.state_only is not None:
        return f"- {_code(change.address)} — state only: {_text(reason_text(change) or change.state_only)}"
    head = f"- `{SYMBOL[change.action]}` {_code(change.address)} — {_text(reason_text(change) or change.action)}"
    lines = [head + _declared(change, links)]
    if change.action in ("update", "replace"):
        before, after = shown(change.before), shown(change.after)
        lines += [
            f"  - {_code(name)}: {_code(value(before.get(name)))} → {_code(value(after.get(name)))}"
            for name in change.changed
        ]
    return "\n".join(lines)


def _declared(change: ResourceChange, links: SourceLinks | None) -> str:
    location = change.location
    if location is None:
        return ""
    shown = f"{location.path}:{location.line}"
    url = links.url(location) if links is not None else None
    return f" ([{_text(shown)}]({url}))" if url else f" ({_code(shown)})"


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
