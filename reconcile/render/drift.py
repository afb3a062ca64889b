"""Views of a drift report (`reconcile drift`): text for people, JSON for scheduled CI checks."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from reconcile.engine.drift import Drift, DriftReport
from reconcile.render.health import unhealthy_json, unhealthy_text_lines
from reconcile.render.summary import value
from reconcile.render.text import BOLD, GREEN, RED, YELLOW, Painter

DRIFT_FORMAT_VERSION = "1.1"  # 1.1: unhealthy_media

_SYMBOL = {"changed": ("~", YELLOW), "deleted": ("-", RED), "unbound": ("-", RED), "bound_as_output": ("!", RED)}
_WHAT = {
    "changed": "changed outside reconcile",
    "deleted": "deleted from VOD outside reconcile",
    "unbound": "unbound from MPS outside reconcile",
    "bound_as_output": "now bound as an MPS output bucket, not input",
}


def render_drift_text(report: DriftReport, *, manifest_paths: Sequence[str] = (), color: bool = False) -> str:
    """`manifest_paths` are those drift was given, for the `reconcile plan` command the report suggests."""
    text = _render_drift_text(report, manifest_paths, Painter(color))
    if report.unhealthy:  # issue 16: media health
        text += "\n" + "\n".join(Painter(color)(line, YELLOW) for line in unhealthy_text_lines(report.unhealthy)) + "\n"
    return text


def _render_drift_text(report: DriftReport, manifest_paths: Sequence[str], paint: Painter) -> str:
    n = report.checked
    managed = f"{n} managed resource{'s' if n != 1 else ''}"
    against = f"the state (serial {report.state_serial})" if report.state_serial is not None else "the state"
    if report.state_lineage is None:
        return paint("No drift: there is no state yet, so reconcile manages nothing.", BOLD, GREEN) + "\n"
    if not report.has_drift:
        return paint(f"No drift: the {managed} match {against}.", BOLD, GREEN) + "\n"
    lines = [paint(f"Drift since the last apply, against {against}:", BOLD), ""]
    for drift in report.drifts:
        lines += _drift_lines(drift, paint)
    lines += [
        "",
        paint(f"{len(report.drifts)} of {managed} drifted.", BOLD)
        + f" `{_plan_command(manifest_paths)}` shows the calls that would converge them on the manifests again.",
    ]
    return "\n".join(lines) + "\n"


def _plan_command(manifest_paths: Sequence[str]) -> str:
    if not manifest_paths:
        return "reconcile plan <manifests>"  # drift ran without manifests: the user knows where theirs are
    return shlex.join(["reconcile", "plan", *manifest_paths])


def _drift_lines(drift: Drift, paint: Painter) -> list[str]:
    symbol, colour = _SYMBOL[drift.drift]
    declared = {True: "", False: " (no longer declared in the manifests)", None: ""}[drift.declared]
    lines = [f"  {paint(symbol, colour)} {drift.address}: {_WHAT[drift.drift]}{declared}"]
    width = max((len(a.name) for a in drift.attributes), default=0)
    lines += [
        f"      {paint('~', YELLOW)} {a.name:<{width}} = {value(a.recorded)} -> {value(a.live)}"
        for a in drift.attributes
    ]
    return lines


def drift_document(report: DriftReport) -> dict[str, Any]:
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "drifted": report.has_drift,
        "checked": report.checked,
        "state": {"lineage": report.state_lineage, "serial": report.state_serial},
        "drifts": [
            {
                "address": d.address,
                "kind": d.kind,
                "identity": d.identity,
                "region": d.region,
                "remote_id": d.remote_id,
                "drift": d.drift,
                "declared": d.declared,
                "attributes": [{"name": a.name, "state": a.recorded, "live": a.live} for a in d.attributes],
            }
            for d in report.drifts
        ],
        "unhealthy_media": unhealthy_json(report.unhealthy),
    }


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(drift_document(report), ensure_ascii=False, indent=2) + "\n"
