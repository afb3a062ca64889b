"""`reconcile show FILE`: render a saved plan (`reconcile plan --out FILE`) without touching the account."""

from __future__ import annotations

import click

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.cli.plan import format_option, render_plan
from reconcile.engine.savedplan import SavedPlanError, load_plan


@click.command(name="show")
@click.argument("file", type=click.Path(dir_okay=False), metavar="FILE")
@format_option
@log_level_option
def command(file: str, output_format: str) -> int:
    """Render the saved plan FILE as text, JSON or Markdown. Reads nothing else: no manifests, state or account.

    Exit codes: 0 shown, 1 the file is not a readable saved plan.
    """
    try:
        plan = load_plan(file)
    except SavedPlanError as exc:
        raise FatalError(str(exc)) from None
    click.echo(render_plan(plan, output_format.lower()), nl=False)
    return EXIT_OK
