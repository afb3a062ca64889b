"""What every command shares: exit codes, the expected-failure exception, logging and output streams."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console

EXIT_OK = 0  # success; for plan/drift: no changes
EXIT_ERROR = 1  # any error: bad input, failed call, refused apply
EXIT_CHANGES = 2  # with --detailed-exitcode: success and there are changes (or drift)
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it)

LOG_LEVELS = ("debug", "info", "warning", "error")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class FatalError(Exception):
    """An expected failure, written for the user: what is wrong, where, and what to do. Exit 1."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def stdout_console() -> Console:
    """Colour only on a TTY and never with NO_COLOR (rich honours both)."""
    return Console(highlight=False, soft_wrap=True)


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def configure_logging(level: str | None) -> None:
    chosen = (level or os.environ.get("RECONCILE_LOG_LEVEL") or "warning").lower()
    if chosen not in LOG_LEVELS:
        raise FatalError(f"unknown log level {chosen!r}: use one of {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("reconcile")
    root.handlers[:] = [handler]
    root.setLevel(chosen.upper())
    root.propagate = False


# ctx.meta is shared by the group's context and the subcommand's: it remembers a level given explicitly.
_EXPLICIT_LOG_LEVEL = "reconcile.explicit_log_level"


def _set_log_level(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Both `reconcile --log-level X cmd` and `reconcile cmd --log-level X` work; the subcommand's wins.

    The group's callback runs first. When the subcommand is not given the option its callback still runs
    (with None), and must not undo an explicit group-level choice by falling back to the environment.
    """
    if value is not None:
        ctx.meta[_EXPLICIT_LOG_LEVEL] = value
        configure_logging(value)
    elif not ctx.resilient_parsing and _EXPLICIT_LOG_LEVEL not in ctx.meta:
        configure_logging(None)
    return value


def log_level_option(func: F) -> F:
    """`--log-level` on every command (also RECONCILE_LOG_LEVEL); logs go to stderr."""
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_log_level,
        help="Log to stderr at this level (default: warning; env RECONCILE_LOG_LEVEL).",
    )(func)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
