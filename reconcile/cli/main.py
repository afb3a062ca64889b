"""Entry point: `reconcile` and `python -m reconcile`. Maps every outcome to a documented exit code."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from reconcile import __version__
from reconcile.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, FatalError, log_level_option

# command name → module holding `command`; imported only when used, so `reconcile validate` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("reconcile.cli.validate", "Check manifests for errors; no network."),
    "plan": ("reconcile.cli.plan", "Show the API calls that would converge the account on the manifests."),
    "apply": ("reconcile.cli.apply", "Make the planned API calls (batched, paced, resumable)."),
    "show": ("reconcile.cli.show", "Render a saved plan file."),
    "import": ("reconcile.cli.import_", "Write manifests and state for what an account already holds."),
    "drift": ("reconcile.cli.drift", "Report what changed outside reconcile since the last apply."),
    "state": ("reconcile.cli.state", "Inspect and edit the state: list, show, mv, rm."),
    "pr-comment": ("reconcile.cli.pr_comment", "Post a plan as the one sticky comment of a pull request."),
    "force-unlock": ("reconcile.cli.force_unlock", "Release a state lock left behind by another machine."),
    "schema": ("reconcile.cli.schema", "Print the manifest JSON Schema."),
    "emulator": ("reconcile.cli.emulator", "Run the local MPS + VOD emulator."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="reconcile", message="%(prog)s %(version)s")
@log_level_option
def cli() -> None:
    """Declarative reconciler for Alibaba Cloud media ingest.

    Manifests declare which OSS buckets are bound to MPS as input buckets and which OSS media files
    are registered in VOD; `plan` shows the exact API calls that would converge the account and
    `apply` makes them.

    Exit codes: 0 success (no changes), 1 error, 2 changes present (with --detailed-exitcode).
    """


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="reconcile", standalone_mode=False)
    except FatalError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort: exit 130, as documented
            click.echo("Interrupted.", err=True)
            return EXIT_INTERRUPTED
        click.echo("Aborted.", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        # Usage errors exit 1, not click's 2: 2 means "changes present".
        exc.show()
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
