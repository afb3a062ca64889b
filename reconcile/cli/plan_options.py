"""The options `plan` and `apply` share, passed as `target: tuple[str, ...]`, `refresh: bool | None` (None: not
given, which means true) and `skip_object_check: bool`."""

from __future__ import annotations

import click

target_option = click.option(
    "--target",
    "target",
    multiple=True,
    metavar="ADDRESS",
    help="Plan only the resources at ADDRESS (repeatable; globs such as 'media.harbor-*'; a kind such as "
    "input_bucket for all of it). A partial plan: everything else, removals included, is left out.",
)
refresh_option = click.option(
    "--refresh",
    type=click.BOOL,
    default=None,
    metavar="BOOLEAN",
    help="Read the live account before planning (default true); --refresh=false plans from the state alone.",
)
skip_object_check_option = click.option(
    "--skip-object-check",
    is_flag=True,
    help="Do not check that the files the plan registers exist in OSS (HeadObject / ListObjectsV2).",
)
