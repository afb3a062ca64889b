"""What every view says about media health and partial (--target) plans, in one place.

Plan text, JSON and Markdown and the drift views call these; they hold the wording and the JSON shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconcile.engine.plan import UnhealthyMedia

UNHEALTHY_HEADING = "Unhealthy media (VOD reports a failed status; reconcile makes no call for it):"


def partial_banner(targets: Sequence[str]) -> str:
    return (
        f"WARNING: PARTIAL PLAN: only resources matching --target {' '.join(targets)}. "
        "Everything else, removals included, is left out."
    )


def unhealthy_line(media: UnhealthyMedia) -> str:
    """`media.intro: TranscodeFail (transcoding failed), media id 5f..., declared at prod.yaml:7:5`."""
    where = f", declared at {media.location}" if media.location is not None else ""
    return f"{media.address}: {media.status} ({media.meaning}), media id {media.remote_id}{where}"


def unhealthy_text_lines(unhealthy: Sequence[UnhealthyMedia]) -> list[str]:
    if not unhealthy:
        return []
    return [UNHEALTHY_HEADING, *(f"  ! {unhealthy_line(m)}" for m in unhealthy)]


def unhealthy_json(unhealthy: Sequence[UnhealthyMedia]) -> list[dict[str, Any]]:
    return [
        {
            "address": m.address,
            "remote_id": m.remote_id,
            "status": m.status,
            "meaning": m.meaning,
            "location": None
            if m.location is None
            else {"path": m.location.path, "line": m.location.line, "col": m.location.col},
        }
        for m in unhealthy
    ]


def unhealthy_markdown(unhealthy: Sequence[UnhealthyMedia]) -> tuple[list[str], list[str]]:
    """A GitHub alert listing them: (its heading lines, one line per media). Text is HTML-escaped: GitHub renders
    Markdown as HTML."""
    if not unhealthy:
        return [], []
    heading = ["> [!WARNING]", f"> **{len(unhealthy)} unhealthy media** (VOD reports a failed status):"]
    return heading, [f"> - {_escaped(unhealthy_line(m))}" for m in unhealthy]


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
