"""`reconcile schema`: print the manifest JSON Schema (schema/manifest.schema.json is a committed copy)."""

from __future__ import annotations

import click

from reconcile.cli.common import EXIT_OK, log_level_option
from reconcile.manifest import json_schema_text


@click.command(name="schema")
@log_level_option
def command() -> int:
    """Print the JSON Schema of a manifest document (JSON Schema draft-07).

    Point an editor at it with a first line such as
    `# yaml-language-server: $schema=../schema/manifest.schema.json` for completion and hover help.
    The schema checks keys and types; `reconcile validate` also checks values against the API limits.
    """
    click.echo(json_schema_text(), nl=False)
    return EXIT_OK
