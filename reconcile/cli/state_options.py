"""The state options every state-using command shares: `--state LOCATION`, `--workspace NAME` and
`--lock-timeout DURATION`.

@click.command()
@state_options
@log_level_option
def command(state: StateChoice, lock_timeout: float, ...) -> int:
    store = store_from_options(state)
    with state_errors_as_fatal(), store.lock("apply", lock_timeout):
        ...
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import click

from reconcile.cli.common import FatalError
from reconcile.cloud.settings import ClientSettings
from reconcile.state import StateStore
from reconcile.state.location import (
    DEFAULT_STATE_PATH,
    DEFAULT_WORKSPACE,
    STATE_ENV_VAR,
    WORKSPACE_ENV_VAR,
    Backend,
    OpenOptions,
    backend_for,
    open_store,
    state_location,
    workspace_name,
)
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


@dataclass(frozen=True, slots=True)
class StateChoice:
    """What `--state` and `--workspace` (or their environment variables) chose; None: not given."""

    location: str | None = None
    workspace: str | None = None


def state_option(func: F) -> F:
    """`--state LOCATION` (env RECONCILE_STATE) and `--workspace NAME` (env RECONCILE_WORKSPACE), passed to the
    command as one `state: StateChoice`: for commands that only read the state."""

    @functools.wraps(func)
    def with_choice(*args: Any, state: str | None, workspace: str | None, **kwargs: Any) -> Any:
        return func(*args, state=StateChoice(state, workspace), **kwargs)

    with_state = click.option(
        "--state",
        "state",
        type=str,
        envvar=STATE_ENV_VAR,
        default=None,
        metavar="LOCATION",
        help=f"Where the state is: a file path (default {DEFAULT_STATE_PATH}), a postgresql:// URL or "
        f"oss://BUCKET/PREFIX (env {STATE_ENV_VAR}).",
    )
    with_workspace = click.option(
        "--workspace",
        "workspace",
        type=str,
        envvar=WORKSPACE_ENV_VAR,
        default=None,
        metavar="NAME",
        help=f"One state per workspace in the same location, e.g. prod or staging (default {DEFAULT_WORKSPACE}; "
        f"env {WORKSPACE_ENV_VAR}).",
    )
    return cast(F, with_state(with_workspace(with_choice)))


# `--lock-timeout DURATION`: how long a command that writes the state waits for its lock.
lock_timeout_option = click.option(
    "--lock-timeout",
    "lock_timeout",
    type=DURATION,
    default="0",
    metavar="DURATION",
    help="Wait this long for a state lock held by another command, e.g. 30s or 2m (default 0: fail at once).",
)


def state_options(func: F) -> F:
    """`--state`, `--workspace` and `--lock-timeout`, passed as `state: StateChoice` and `lock_timeout: float`."""
    return state_option(lock_timeout_option(func))


def store_from_options(
    state: StateChoice | str | None,
    *,
    settings: ClientSettings | None = None,
    manifest_regions: Callable[[], Sequence[str]] | None = None,
) -> StateStore:
    """The store `--state` / `--workspace` chose; `error: ...` (exit 1) for a location that names none.

    A command that calls the cloud passes its `settings` (an OSS state follows its --endpoint) and the regions
    of its manifests (read only for an oss:// state whose region is not given otherwise)."""
    choice = state if isinstance(state, StateChoice) else StateChoice(state)
    options = OpenOptions(os.environ, settings, manifest_regions)
    with state_errors_as_fatal():
        return open_store(choice.location, choice.workspace, options=options)


def backend_from_options(state: StateChoice) -> tuple[Backend, str]:
    """The backend `--state` chose and the workspace `--workspace` chose."""
    with state_errors_as_fatal():
        return backend_for(state_location(state.location)), workspace_name(state.workspace)


@contextmanager
def state_errors_as_fatal() -> Iterator[None]:
    """Report a state that cannot be read, written or locked as `error: ...` and exit 1, never a traceback."""
    try:
        yield
    except (StateError, StateLockedError) as exc:
        raise FatalError(str(exc)) from None
