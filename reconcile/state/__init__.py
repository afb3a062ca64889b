"""Where reconcile remembers what it manages: resources, remote ids, serial, lineage and the lock.

`open_store()` picks the backend for a location. Today that is always the local file store; a shared remote
backend plugs in here behind the same `StateStore` protocol, chosen by the location's form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reconcile.state.local import LocalStateStore
from reconcile.state.model import STATE_FORMAT_VERSION, ResourceKind, ResourceState, StateDocument
from reconcile.state.store import (
    JournalRecord,
    LockInfo,
    PutResource,
    RemoveResource,
    StateError,
    StateLockedError,
    StateStore,
)

DEFAULT_STATE_PATH = ".reconcile/state.json"
STATE_ENV_VAR = "RECONCILE_STATE"

__all__ = [
    "DEFAULT_STATE_PATH",
    "STATE_ENV_VAR",
    "STATE_FORMAT_VERSION",
    "JournalRecord",
    "LocalStateStore",
    "LockInfo",
    "PutResource",
    "RemoveResource",
    "ResourceKind",
    "ResourceState",
    "StateDocument",
    "StateError",
    "StateLockedError",
    "StateStore",
    "open_store",
    "state_location",
]


def state_location(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> str:
    """The state's location: `path`, else $RECONCILE_STATE, else `.reconcile/state.json` (relative to the cwd)."""
    if path is not None and str(path):
        return os.path.expanduser(os.fspath(path))
    environ = os.environ if env is None else env
    return os.path.expanduser(environ.get(STATE_ENV_VAR) or DEFAULT_STATE_PATH)


def open_store(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> LocalStateStore:
    location = state_location(path, env)
    return LocalStateStore(Path(location), location=location)
