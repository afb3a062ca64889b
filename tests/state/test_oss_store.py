"""OssStateStore against the in-process emulated OSS: create-only versions and journal entries, compare-and-swap
on the serial, history, and the lease lock (refused with the holder named, taken over once the lease ran out by
the server's clock, a holder past its lease writes nothing more). Time is the emulator's manual clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from reconcile.state.model import ResourceState, StateDocument
from reconcile.state.oss import OssStateStore, lease_seconds
from reconcile.state.store import PutResource, RemoveResource, StateError, StateLockedError

ENDPOINT = "http://127.0.0.1:8765"
LEASE = 10.0


class LocalClock:
    """A runner's own monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(server_clock: ManualClock) -> EmulatorApp:
    emulator = create_app(EmulatorConfig(clock=server_clock, qps_scale=0))
    emulator.backend.objects.create_bucket("tf-state", "cn-shanghai")
    return emulator


@pytest.fixture
def make_store(app: EmulatorApp, server_clock: ManualClock) -> Iterator[object]:
    stores: list[OssStateStore] = []

    def make(clock: LocalClock | None = None, **kwargs: object) -> OssStateStore:
        store = OssStateStore(
            "tf-state",
            "cn-shanghai",
            "reconcile/prod",
            ClientSettings(endpoint=ENDPOINT),
            endpoint=ENDPOINT,
            credentials=StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            transport=kwargs.pop("transport", None) or emulator_transport(app),  # type: ignore[arg-type]
            lease=kwargs.pop("lease", LEASE),  # type: ignore[arg-type]
            clock=clock or LocalClock(),
            oss_timestamp=lambda: dt.datetime.fromtimestamp(server_clock.time(), dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            **kwargs,  # type: ignore[arg-type]
        )
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def media(identity: str, remote_id: str) -> ResourceState:
    bucket, key = identity.split("/", 1)
    attributes = {"file_url": f"https://{bucket}.oss-cn-shanghai.aliyuncs.com/{key}", "title": key}
    return ResourceState(address=f'media["{identity}"]', kind="media", identity=identity, region="cn-shanghai",
                         remote_id=remote_id, attributes=attributes)  # fmt: skip


def keys(app: EmulatorApp, under: str) -> list[str]:
    page = app.backend.objects.list_objects_v2("tf-state", prefix=f"reconcile/prod/{under}/", max_keys=1000)
    return [key.rsplit("/", 1)[1] for key, _ in page.keys]


def test_versions_and_journal_entries_are_create_only_objects_a_fresh_runner_reads(make_store, app) -> None:
    first = make_store()
    assert first.read() is None
    with first.lock("apply"):
        written = first.write(StateDocument.empty())
        assert first.append([PutResource(resource=media("raw/a.mp4", "m1"))]) == 2
        assert first.append([PutResource(resource=media("raw/b.mp4", "m2"))]) == 3
        assert first.append([RemoveResource(kind="media", identity="raw/a.mp4")]) == 4
    assert keys(app, "log") == ["000000000001", "000000000002", "000000000003", "000000000004"]
    assert keys(app, "lock") == ["000000000001"]  # released, kept so that its generation is never reused

    fresh = make_store().read()
    assert fresh is not None
    assert (fresh.lineage, fresh.serial) == (written.lineage, 4)
    assert [(r.identity, r.remote_id) for r in fresh.resources] == [("raw/b.mp4", "m2")]


def test_a_write_from_a_stale_read_is_refused(make_store) -> None:
    alice, bob = make_store(), make_store()
    alice.write(StateDocument.empty())
    stale = alice.read()
    assert stale is not None
    bob.write(bob.read().model_copy(update={"resources": [media("raw/a.mp4", "m1")]}))  # type: ignore[union-attr]
    with pytest.raises(StateError, match=r"changed since it was read \(serial 1 then, 2 now\)"):
        alice.write(stale)


def test_old_versions_beyond_the_history_are_deleted(make_store, app) -> None:
    store = make_store(history=2)
    doc = store.write(StateDocument.empty())
    for _ in range(4):
        doc = store.write(doc)
    assert keys(app, "log") == ["000000000004", "000000000005"]
    assert store.read().serial == 5  # type: ignore[union-attr]


def test_a_second_runner_is_refused_and_told_the_holder(make_store) -> None:
    holder, other = make_store(), make_store()
    with holder.lock("apply manifests/"):
        with pytest.raises(StateLockedError) as refused:
            other.append([PutResource(resource=media("raw/a.mp4", "m1"))])
        assert "('apply manifests/')" in str(refused.value)
        assert other.lock_holder() is not None
    with other.lock("apply"):
        pass  # free once released


def test_a_dead_holder_blocks_until_its_lease_runs_out_by_the_server_clock(make_store, app, server_clock) -> None:
    dead = make_store()
    killed = dead.lock("apply")  # kept referenced: a collected context manager would release the lock
    killed.__enter__()
    dead.write(StateDocument.empty())
    dead.abandon()  # kill -9: no renewal, no release
    runner = make_store()
    with pytest.raises(StateLockedError), runner.lock("apply"):
        pass
    server_clock.advance(LEASE + 2)
    with runner.lock("apply") as info:
        assert runner.append([PutResource(resource=media("raw/a.mp4", "m1"))]) == 2
        assert runner.lock_holder() == info
    assert keys(app, "lock") == ["000000000002"]  # the dead generation was deleted on takeover; ours is released


def test_a_holder_past_its_lease_stops_writing(make_store) -> None:
    clock = LocalClock()
    lost: list[bool] = []
    store = make_store(clock, on_lease_lost=lambda: lost.append(True))
    with store.lock("apply"):
        store.append([PutResource(resource=media("raw/a.mp4", "m1"))])
        clock.now += LEASE  # no renewal succeeded for a whole lease (minus the margin)
        with pytest.raises(StateError, match=r"lock lease ran out .* nothing more was written"):
            store.append([PutResource(resource=media("raw/b.mp4", "m2"))])
    assert lost == [True]
    assert [r.identity for r in store.read().resources] == ["raw/a.mp4"]  # type: ignore[union-attr]


def test_a_watcher_of_the_lease_is_told_once_when_it_is_lost_and_at_once_when_it_was_lost_before(make_store) -> None:
    clock = LocalClock()
    store = make_store(clock)
    told: list[str] = []
    with store.lock("apply"):
        store.watch_lease(lambda: told.append("apply"))
        clock.now += LEASE
        for _ in range(2):
            with pytest.raises(StateError, match="lock lease ran out"):
                store.write(StateDocument.empty())
        assert told == ["apply"]
        store.watch_lease(lambda: told.append("late"))
        assert told == ["apply", "late"]
        store.watch_lease(None)
    with store.lock("apply"):  # a new lease
        store.watch_lease(lambda: told.append("next"))
        assert store.write(StateDocument.empty()).serial == 1
    assert told == ["apply", "late"]


def test_a_refused_runner_is_told_to_wait_for_the_lease_not_to_force_unlock(make_store) -> None:
    holder, other = make_store(), make_store()
    with holder.lock("apply") as info, pytest.raises(StateLockedError) as refused, other.lock("apply"):
        pass
    assert str(refused.value) == (
        f"state oss://tf-state/reconcile/prod is locked: {info.describe()}. It is released when that command ends: "
        "wait for it, or retry with --lock-timeout (e.g. 5m). Its lock is a lease its holder renews while it runs: if "
        "the holder was killed or lost, the lock frees itself once the lease (10s, the holder's RECONCILE_LOCK_LEASE) "
        "runs out, so retry with --lock-timeout 12s rather than force-unlock."
    )


def test_the_advice_gives_the_holders_lease_not_the_refused_runners(make_store) -> None:
    # The holder took a 1-minute lease; the refused runner's own RECONCILE_LOCK_LEASE (10s) says nothing of when
    # the holder's lock frees itself: "--lock-timeout 12s" would time out again.
    holder, other = make_store(lease=60.0), make_store()
    with holder.lock("apply"), pytest.raises(StateLockedError) as refused, other.lock("apply"):
        pass
    assert str(refused.value).endswith(
        "the lock frees itself once the lease (60s, the holder's RECONCILE_LOCK_LEASE) runs out, so retry with "
        "--lock-timeout 67s rather than force-unlock."
    )


def test_create_only_writes_stop_a_holder_whose_lease_was_taken_over(make_store, server_clock) -> None:
    """Even a holder whose own clock says its lease is fine (a stalled, then resumed process) cannot write a serial
    someone else wrote: the create-only write is refused."""
    stalled, runner = make_store(), make_store()
    with stalled.lock("apply"):
        stalled.append([PutResource(resource=media("raw/a.mp4", "m1"))])
        server_clock.advance(LEASE + 2)
        with runner.lock("apply"):
            runner.append([PutResource(resource=media("raw/b.mp4", "m2"))])
        with pytest.raises(StateError, match=r"serial 3 was written by another runner"):
            stalled.append([PutResource(resource=media("raw/c.mp4", "m3"))])
        with runner.lock("apply"):  # taken over again: the stalled holder's renewal sees it and stops
            with pytest.raises(StateError, match="another runner took the lock over"):
                stalled.renew()
            with pytest.raises(StateError, match="lock lease ran out"):
                stalled.append([PutResource(resource=media("raw/c.mp4", "m3"))])
    assert [r.identity for r in runner.read().resources] == ["raw/a.mp4", "raw/b.mp4"]  # type: ignore[union-attr]


def test_a_renewal_extends_the_lease_for_the_holder_and_for_the_others(make_store, server_clock) -> None:
    clock = LocalClock()
    holder, other = make_store(clock), make_store()
    with holder.lock("apply"):
        clock.now += 8
        server_clock.advance(8)
        holder.renew()  # the worker does this every lease/3
        clock.now += 8  # 16 s after taking the lock, 8 after the renewal
        server_clock.advance(8)
        assert holder.append([PutResource(resource=media("raw/a.mp4", "m1"))]) == 2  # 1: the empty state
        with pytest.raises(StateLockedError), other.lock("apply"):
            pass


def test_the_lease_comes_from_the_environment() -> None:
    assert lease_seconds({}) == 120.0
    assert lease_seconds({"RECONCILE_LOCK_LEASE": "10s"}) == 10.0
    assert lease_seconds({"RECONCILE_LOCK_LEASE": "2m"}) == 120.0
    for bad in ("soon", "1s", "-5"):
        with pytest.raises(StateError, match="RECONCILE_LOCK_LEASE"):
            lease_seconds({"RECONCILE_LOCK_LEASE": bad})


def test_force_unlock_needs_the_holders_lock_id(make_store) -> None:
    dead, runner = make_store(), make_store()
    killed = dead.lock("apply")
    info = killed.__enter__()
    dead.abandon()
    with pytest.raises(StateError, match="not by lock wrong-id"):
        runner.force_unlock("wrong-id")
    assert runner.force_unlock(info.id) == info
    with runner.lock("apply"):
        assert runner.lock_holder() is not None
    with pytest.raises(StateError, match="is not locked"):
        runner.force_unlock(info.id)


class LoseTheFirstPutAnswer(httpx.AsyncBaseTransport):
    """The first PutObject of a log object is carried out, then its answer is lost (the connection drops)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT" and "/log/" in request.url.path and not self.lost:
            self.lost += 1
            await response.aread()
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return response


def test_a_retried_write_that_meets_its_own_object_succeeds(make_store, app) -> None:
    lossy = LoseTheFirstPutAnswer(emulator_transport(app))
    store = make_store(transport=lossy)
    written = store.write(StateDocument.empty())
    assert lossy.lost == 1 and written.serial == 1
    assert store.read().serial == 1  # type: ignore[union-attr]
