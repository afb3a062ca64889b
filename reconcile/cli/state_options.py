"""The state options every state-using command shares: `--state PATH` and `--lock-timeout DURATION`.

@click.command()
@state_options
@log_level_option
def command(state: str | None, lock_timeout: float, ...) -> int:
    store = store_from_options(state)
    with state_errors_as_fatal(), store.lock("apply", lock_timeout):
        ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from reconcile.cli.common import FatalError
from reconcile.state import DEFAULT_STATE_PATH, STATE_ENV_VAR, LocalStateStore, open_store
from reconcile.state.store import StateError, StateLockedError

F = TypeVar("F", bound=Callable[..., Any])

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*", re.IGNORECASE)
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(click.ParamType[float]):
    """Seconds, as a number (`30`, `1.5`) or with a unit (`500ms`, `30s`, `2m`, `1h`)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            match = _DURATION.fullmatch(str(value))
            if match is None:
                self.fail(f"{value!r} is not a duration: use seconds (30) or a unit (500ms, 30s, 2m, 1h).", param, ctx)
            seconds = float(match[1]) * _SECONDS_PER_UNIT[(match[2] or "s").lower()]
        if seconds < 0:
            self.fail(f"{value!r} is negative: a duration is 0 or more.", param, ctx)
        return seconds


DURATION = Duration()


def state_option(func: F) -> F:
    """`--state PATH` (env RECONCILE_STATE): for commands that only read the state."""
    return click.option(
        "--state",
        "state",
        type=click.Path(dir_okay=False),
        envvar=STATE_ENV_VAR,
        default=None,
        metavar="PATH",
        help=f"The state file (default: {DEFAULT_STATE_PATH}; env {STATE_ENV_VAR}).",
    )(func)


def lock_timeout_option(func: F) -> F:
    """`--lock-timeout DURATION`: how long a command that writes the state waits for its lock."""
    return click.option(
        "--lock-timeout",
        "lock_timeout",
        type=DURATION,
        default="0",
        metavar="DURATION",
        help="Wait this long for a state lock held by another command, e.g. 30s or 2m (default 0: fail at once).",
    )(func)


def state_options(func: F) -> F:
    """`--state PATH` and `--lock-timeout DURATION`, passed as `state: str | None` and `lock_timeout: float`."""
    return state_option(lock_timeout_option(func))


def store_from_options(state: str | None) -> LocalStateStore:
    return open_store(state)


@contextmanager
def state_errors_as_fatal() -> Iterator[None]:
    """Report a state that cannot be read, written or locked as `error: ...` and exit 1, never a traceback."""
    try:
        yield
    except (StateError, StateLockedError) as exc:
        raise FatalError(str(exc)) from None
