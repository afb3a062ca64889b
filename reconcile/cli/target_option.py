"""`--target ADDRESS` (repeatable) for `plan` and `apply`: a partial plan (reconcile.engine.targeting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def target_option(func: F) -> F:
    """Passed as `target: tuple[str, ...]`."""
    return click.option(
        "--target",
        "target",
        multiple=True,
        metavar="ADDRESS",
        help="Plan only the resources at ADDRESS (repeatable; globs such as 'media.harbor-*'; a kind such as "
        "input_bucket for all of it). A partial plan: everything else, removals included, is left out.",
    )(func)
