"""Where reconcile remembers what it manages: resources, remote ids, serial, lineage and the lock.

`open_store()` picks the backend for a location (`location.py`): a file path is the local file store, the
default; a `postgresql://` URL the shared PostgreSQL store; an `oss://` URL the store in OSS. Each implements
the `StateStore` protocol, and each keeps one state per workspace.
"""

from __future__ import annotations

from reconcile.state.local import LocalStateStore
from reconcile.state.location import (
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
    "backend_for",
    "open_store",
    "redact",
    "state_location",
    "workspace_name",
]
