"""Where the state lives: --state, then RECONCILE_STATE, then .reconcile/state.json."""

from __future__ import annotations

import os
from pathlib import Path

from reconcile.state import LocalStateStore, open_store


def test_explicit_path_wins_over_the_environment():
    store = open_store("ci/state.json", env={"RECONCILE_STATE": "/srv/prod.json"})
    assert isinstance(store, LocalStateStore)
    assert (store.location, store.path) == ("ci/state.json", Path("ci/state.json"))


def test_environment_then_default():
    assert open_store(None, env={"RECONCILE_STATE": "/srv/prod.json"}).location == "/srv/prod.json"
    assert open_store(None, env={"RECONCILE_STATE": ""}).location == ".reconcile/state.json"
    assert open_store(None, env={}).location == ".reconcile/state.json"


def test_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("RECONCILE_STATE", "~/states/media.json")
    store = open_store(None)
    assert store.location == os.path.expanduser("~/states/media.json")
    assert store.lock_path == Path(os.path.expanduser("~/states/media.json.lock"))
    assert store.journal_path.name == "media.json.journal"
    assert store.backup_path.name == "media.json.backup"
