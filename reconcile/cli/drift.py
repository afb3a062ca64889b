"""`reconcile drift [PATH...]`: what changed in the account outside reconcile since the last apply.

A refresh-only check for scheduled CI jobs: every resource in the state is read from the account and
compared with what apply last recorded. Exit 2 when anything drifted. Manifests, when given, are validated
and mark each drifted resource as still declared or not; they never change what counts as drift.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from reconcile.cli.cloud_options import cloud_options, settings_from_options
from reconcile.cli.common import EXIT_CHANGES, EXIT_OK, log_level_option, use_color
from reconcile.cli.plan import manifest_regions, open_session, planning_errors, refresh_concurrency, run_detached
from reconcile.cli.state_options import StateChoice, state_option, store_from_options
from reconcile.cloud.settings import ClientSettings
from reconcile.engine.drift import DriftReport, detect_drift
from reconcile.engine.planner import StateReader, read_live
from reconcile.manifest import load_desired_state
from reconcile.render.drift import render_drift_json, render_drift_text
from reconcile.render.text import render_call_accounting


@click.command(name="drift")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("text", "json"), case_sensitive=False),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)
@cloud_options
@state_option
@log_level_option
def command(paths: tuple[str, ...], output_format: str, state: StateChoice, **cloud: Any) -> int:
    """Report what changed in the account outside reconcile, against the state of the last apply.

    PATH... (optional) are the manifests: they are validated, and each drifted resource is marked as still
    declared or not. Nothing is changed, in the account or in the state.

    Media VOD reports in a failed status (TranscodeFail, UploadFail, Blocked, checkFail, ProduceFail) are listed
    as unhealthy.

    Exit codes: 0 no drift, 1 error, 2 drift found or a media unhealthy.
    """
    settings = settings_from_options(cloud)
    regions = manifest_regions(lambda: paths) if paths else None
    store = store_from_options(state, settings=settings, manifest_regions=regions)
    report, accounting = run_detached(check_drift(paths, store, settings, refresh_concurrency(cloud, settings)))
    json_output = output_format.lower() == "json"
    if json_output:
        click.echo(render_drift_json(report), nl=False)
    else:
        click.echo(render_drift_text(report, manifest_paths=paths, color=use_color()), nl=False)
    click.echo(("" if json_output else "\n") + accounting, file=sys.stderr if json_output else sys.stdout)
    return EXIT_CHANGES if report.needs_attention else EXIT_OK


async def check_drift(
    paths: tuple[str, ...], store: StateReader, settings: ClientSettings, reads: int
) -> tuple[DriftReport, str]:
    async with open_session(settings) as session:
        with planning_errors():
            desired = load_desired_state(list(paths)) if paths else None
            state = store.read()
            live = await read_live(session.client, desired, state, concurrency=reads)
        return detect_drift(state, live, desired), render_call_accounting(session.stats, activity="checking drift")
