"""`reconcile validate PATH...`: check manifests against the language and the API's limits; no network."""

from __future__ import annotations

import click

from reconcile.cli.common import EXIT_ERROR, EXIT_OK, log_level_option
from reconcile.manifest import DesiredState, ManifestError, load_desired_state


@click.command(name="validate")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@log_level_option
def command(paths: tuple[str, ...]) -> int:
    """Check the manifests in PATH... (files, or directories searched recursively for *.yaml and *.yml).

    Every problem is printed to stderr as `path:line:col: message`, all at once, and the exit code is 1.
    A valid set prints a one-line summary and exits 0; warnings (valid but questionable declarations) are
    printed to stderr and do not fail validation. Makes no network calls and needs no credentials.

    `${VAR}` and `${VAR:-default}` in text values are read from the environment.
    """
    try:
        state = load_desired_state(paths)
    except ManifestError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        problems, files = _count(len(exc.diagnostics), "problem"), _count(len(exc.files), "file")
        click.echo(f"Invalid: {problems} in {files}.", err=True)
        return EXIT_ERROR
    for warning in state.warnings:
        click.echo(str(warning), err=True)
    click.echo(summary(state))
    return EXIT_OK


def summary(state: DesiredState) -> str:
    """`Valid: 4 files, 3 input buckets, 36 media (2 OSS buckets).`"""
    oss_buckets = len({media.oss_bucket for media in state.media})
    return (
        f"Valid: {_count(len(state.files), 'file')}, {_count(len(state.buckets), 'input bucket')}, "
        f"{len(state.media)} media ({_count(oss_buckets, 'OSS bucket')})."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
