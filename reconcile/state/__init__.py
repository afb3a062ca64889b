"""Where reconcile remembers what it manages: resources, remote ids, serial, lineage and the lock.

`open_store()` picks the backend for a location (`location.py`): a file path is the local file store, the
default; a `postgresql://` URL the shared PostgreSQL store; an `oss://` URL the store in OSS. Each implements
the `StateStore` protocol, and each keeps one state per workspace.
"""

from __future__ import annotations

from reconcile.state.local import LocalStateStore
from reconcile.state.location import (
    DEFAULT_STATE_PATH,
    DEFAULT_WORKSPACE,
    STATE_ENV_VAR,
    WORKSPACE_ENV_VAR,
    Backend,
    OpenOptions,
    backend_for,
    open_store,
    redact,
    state_location,
    workspace_name,
)
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

__all__ = [
    "DEFAULT_STATE_PATH",
    "DEFAULT_WORKSPACE",
    "STATE_ENV_VAR",
    "STATE_FORMAT_VERSION",
    "WORKSPACE_ENV_VAR",
    "Backend",
    "JournalRecord",
    "LocalStateStore",
    "LockInfo",
    "OpenOptions",
    "PutResource",
    "RemoveResource",
    "ResourceKind",
    "ResourceState",
    "StateDocument",
    "StateError",
    "StateLockedError",
    "StateStore",
    "backend_for",
    "open_store",
    "redact",
    "state_location",
    "workspace_name",
]
