"""The `StateStore` contract, run against every backend: the local files and a real PostgreSQL server.

Same inputs, same results, same refusals with the same words (only the location in them differs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconcile.state import (
    PutResource,
    RemoveResource,
    StateDocument,
    StateError,
    StateLockedError,
    StateStore,
    open_store,
)
from tests.postgres_server import PostgresServer

from .conftest import bucket, document, media
from .test_lock import VirtualTime

MakeStore = Callable[..., StateStore]


@pytest.fixture(params=["local", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    """`make_store(workspace="default", **options)`: a store of this test's state, as a new runner opens it."""
    if request.param == "local":
        path = tmp_path / ".reconcile" / "state.json"

        def local(workspace: str = "default", **options: Any) -> StateStore:
            store = open_store(str(path), workspace)
            if options:
                from reconcile.state import LocalStateStore

                assert isinstance(store, LocalStateStore)
                return LocalStateStore(store.path, location=store.location, **options)
            return store

        return local
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.url(server.new_schema())

    def postgres(workspace: str = "default", **options: Any) -> StateStore:
        from reconcile.state.location import parse_postgres
        from reconcile.state.postgres import PostgresStateStore

        return PostgresStateStore(parse_postgres(url), workspace, **options)

    return postgres


def test_a_new_state_is_none_until_written_then_gets_a_lineage_and_serial_1(make_store: MakeStore):
    store = make_store()
    assert store.read() is None

    written = store.write(document(media("vids/b.mp4"), bucket("in-a"), media("vids/a.mp4", name="a")))

    assert written.serial == 1 and len(written.lineage) == 36
    assert [r.address for r in written.resources] == ["input_bucket.in-a", "media.a", 'media["vids/b.mp4"]']
    assert make_store().read() == written


def test_each_write_is_the_next_serial_and_keeps_the_lineage(make_store: MakeStore):
    store = make_store()
    first = store.write(document(bucket("in-a")))
    second = store.write(first.model_copy(update={"resources": [bucket("in-b")]}))
    assert (second.lineage, second.serial) == (first.lineage, 2)
    assert make_store().read() == second


def test_a_write_from_an_older_read_is_refused(make_store: MakeStore):
    store = make_store()
    old = store.write(document(bucket("in-a")))
    store.write(old)
    with pytest.raises(StateError) as refused:
        make_store().write(old)
    assert str(refused.value) == (
        f"state {store.location} changed since it was read (serial 1 then, 2 now). Run the command again so that it "
        "starts from the current state."
    )


def test_a_state_of_another_lineage_is_refused(make_store: MakeStore):
    store = make_store()
    current = store.write(document(bucket("in-a")))
    stranger = current.model_copy(update={"lineage": "0b7e-other"})
    with pytest.raises(StateError) as refused:
        store.write(stranger)
    assert str(refused.value) == (
        f"refusing to overwrite state {store.location} (lineage {current.lineage}) with a state of another lineage "
        "(0b7e-other): they are different states. Check that --state (or RECONCILE_STATE) names the state you meant."
    )


def test_a_fresh_document_is_refused_once_a_state_exists(make_store: MakeStore):
    store = make_store()
    store.write(document(bucket("in-a")))
    with pytest.raises(StateError, match=r"it was empty then, and now exists \(serial 1\)"):
        make_store().write(StateDocument.empty())


def test_duplicate_resources_are_refused(make_store: MakeStore):
    with pytest.raises(StateError, match=r"2 resource\(s\) appear more than once"):
        make_store().write(document(bucket("in-a"), bucket("in-a")))
    assert make_store().read() is None


def test_appends_are_one_serial_each_and_every_reader_sees_them(make_store: MakeStore):
    store = make_store()
    with store.lock("apply"):
        assert store.append([PutResource(resource=bucket("in-a"))]) == 2  # no state yet: created first (serial 1)
        assert store.append([]) == 2
        assert store.append([PutResource(resource=media("vids/a.mp4")), PutResource(resource=bucket("in-b"))]) == 3
        assert store.append([RemoveResource(kind="input_bucket", identity="in-a")]) == 4
        seen = make_store().read()  # another runner, while the apply holds the lock
    assert seen is not None and seen.serial == 4
    assert [r.address for r in seen.resources] == ["input_bucket.in-b", 'media["vids/a.mp4"]']
    assert make_store().read() == seen


def test_a_write_folds_the_journal_in_at_the_next_serial(make_store: MakeStore):
    store = make_store()
    with store.lock("apply"):
        store.write(document(bucket("in-a")))
        store.append([PutResource(resource=bucket("in-b"))])
        current = store.read()
        assert current is not None
        written = store.write(current)
    assert written.serial == 3
    assert make_store().read() == written


def test_concurrent_appends_from_worker_threads_get_distinct_serials(make_store: MakeStore):
    store = make_store()
    serials: list[int] = []
    with store.lock("apply"):
        store.write(document())
        threads = [
            threading.Thread(target=lambda i=i: serials.append(store.append([PutResource(resource=bucket(f"b-{i}"))])))
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(serials) == list(range(2, 10))
    state = make_store().read()
    assert state is not None and len(state.resources) == 8


def test_the_lock_refuses_another_store_at_once_and_writes_without_it(make_store: MakeStore):
    holder = make_store()
    with holder.lock("apply") as info:
        other = make_store()
        with pytest.raises(StateLockedError) as refused, other.lock("apply"):
            pass
        assert refused.value.holder == info
        with pytest.raises(StateLockedError):
            other.write(document(bucket("in-a")))
        with holder.lock("apply") as again:  # re-entrant for its own store
            assert again == info
    with make_store().lock("apply"):
        pass


def test_the_lock_timeout_polls_then_names_the_holder(make_store: MakeStore):
    time = VirtualTime()
    holder = make_store()
    with holder.lock("apply") as info, pytest.raises(StateLockedError) as refused:
        make_store(clock=time.clock, sleep=time.sleep, poll_interval=0.5).lock("apply", timeout=2.0).__enter__()
    assert refused.value.holder == info
    assert refused.value.waited == 2.0
    assert sum(time.sleeps) == pytest.approx(2.0)
    assert f"state {holder.location} is locked (waited 2s): lock {info.id} held by pid " in str(refused.value)


def test_workspaces_are_separate_states(make_store: MakeStore):
    prod = make_store("prod").write(document(bucket("in-prod")))
    staging = make_store("staging").write(document(bucket("in-staging")))
    assert make_store().read() is None
    assert prod.lineage != staging.lineage
    assert make_store("prod").read() == prod
    with make_store("prod").lock("apply"), make_store("staging").lock("apply"):  # one lock per workspace
        pass
