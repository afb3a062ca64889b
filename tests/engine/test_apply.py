"""apply_plan against an in-memory account and state store: exact calls, order, state commits, failures."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from reconcile.cloud.errors import AuthenticationError, ConflictError, NotFoundError, ServerError
from reconcile.cloud.models import (
    DeleteVideoResult,
    GetVideoInfosResult,
    MediaBucket,
    Mezzanine,
    RegisteredMedia,
    RegisterMediaRequest,
    RegisterMediaResult,
    UpdateVideoInfosResult,
    VideoUpdate,
)
from reconcile.engine.apply import PlanNotApplicable, apply_plan, workers_for
from reconcile.engine.attributes import media_of
from reconcile.engine.plan import Plan, PlannedCall, PlanWarning, ResourceChange
from reconcile.engine.progress import BatchDone, BatchFailed, BatchStarted
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import BucketAttributes, MediaAttributes
from reconcile.state.model import ResourceState, StateDocument
from reconcile.state.store import JournalRecord, LockInfo, PutResource, StateError

REGION = "cn-shanghai"
HOST = "media.oss-cn-shanghai.aliyuncs.com"


def url(key: str) -> str:
    return f"https://{HOST}/{key}"


class FakeAccount:
    """One region of MPS + VOD in memory, recording every call in order."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.buckets: dict[str, MediaBucket] = {}
        self.media: dict[str, str] = {}  # file URL → MediaId
        self.missing_objects: set[str] = set()  # file URLs RegisterMedia lists in FailedFileURLs
        self.forbidden: set[str] = set()
        self.fail: dict[str, Exception] = {}  # "<Action>:<first item>" → raised instead of answering
        self.calls: list[tuple[str, Any]] = []
        self.delay = 0.0

    def _maybe_fail(self, action: str, key: str) -> None:
        error = self.fail.get(f"{action}:{key}")
        if error is not None:
            raise error

    async def list_all_media_buckets(self) -> list[MediaBucket]:
        self.calls.append(("ListAllMediaBucket", None))
        return list(self.buckets.values())

    async def bind_input_bucket(self, bucket: str, referer: str | None = None) -> str:
        self.calls.append(("BindInputBucket", (bucket, referer)))
        await asyncio.sleep(self.delay)
        self._maybe_fail("BindInputBucket", bucket)
        if bucket in self.buckets:
            raise ConflictError("Bucket.AlreadyBind", f'Bucket "{bucket}" already binded', action="BindInputBucket")
        self.buckets[bucket] = MediaBucket(bucket, "Input", referer)
        return "rid"

    async def unbind_input_bucket(self, bucket: str) -> str:
        self.calls.append(("UnbindInputBucket", bucket))
        self._maybe_fail("UnbindInputBucket", bucket)
        if self.buckets.pop(bucket, None) is None:
            raise NotFoundError("InvalidParameter.ResourceNotFound", "not found", status=404)
        return "rid"

    async def register_media(self, request: RegisterMediaRequest) -> RegisterMediaResult:
        self.calls.append(("RegisterMedia", request))
        await asyncio.sleep(self.delay)
        self._maybe_fail("RegisterMedia", request.metadatas[0].file_url)
        registered, failed = [], []
        for meta in request.metadatas:
            if meta.file_url in self.missing_objects:
                failed.append(meta.file_url)
                continue
            new = meta.file_url not in self.media
            media_id = self.media.setdefault(meta.file_url, uuid.uuid4().hex)
            registered.append(RegisteredMedia(media_id, meta.file_url, new))
        return RegisterMediaResult("rid", tuple(registered), tuple(failed))

    async def get_video_infos(self, video_ids: Sequence[str]) -> GetVideoInfosResult:
        raise AssertionError("apply never reads videos")

    async def update_video_infos(self, updates: Sequence[VideoUpdate]) -> UpdateVideoInfosResult:
        self.calls.append(("UpdateVideoInfos", tuple(updates)))
        known = set(self.media.values())
        gone = tuple(u.video_id for u in updates if u.video_id not in known)
        forbidden = tuple(u.video_id for u in updates if u.video_id in self.forbidden)
        return UpdateVideoInfosResult("rid", gone, forbidden)

    async def delete_video(self, video_ids: Sequence[str]) -> DeleteVideoResult:
        self.calls.append(("DeleteVideo", tuple(video_ids)))
        self._maybe_fail("DeleteVideo", video_ids[0])
        forbidden = tuple(v for v in video_ids if v in self.forbidden)
        gone = tuple(v for v in video_ids if v not in self.media.values())
        self.media = {u: m for u, m in self.media.items() if m not in video_ids or m in forbidden}
        return DeleteVideoResult("rid", gone, forbidden)

    async def get_mezzanine_info(self, video_id: str) -> Mezzanine:
        raise AssertionError("apply never reads mezzanines")

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]


class MemoryStore:
    """The StateStore contract in memory: snapshot + journal, a serial per append and per write."""

    location = "memory"

    def __init__(self, doc: StateDocument | None = None) -> None:
        self.snapshot = doc
        self.journal: list[JournalRecord] = []
        self.serial = doc.serial if doc else 0
        self.appends: list[tuple[JournalRecord, ...]] = []
        self.writes = 0
        self.fail_appends = False

    def read(self) -> StateDocument | None:
        if self.snapshot is None and not self.journal:
            return None
        base = self.snapshot or StateDocument(lineage="new-lineage")
        resources = {(r.kind, r.identity): r for r in base.resources}
        for record in self.journal:
            if isinstance(record, PutResource):
                resources[(record.resource.kind, record.resource.identity)] = record.resource
            else:
                resources.pop((record.kind, record.identity), None)
        return StateDocument(lineage=base.lineage, serial=self.serial, resources=list(resources.values()))

    def write(self, doc: StateDocument) -> StateDocument:
        self.serial += 1
        self.writes += 1
        self.snapshot = doc.model_copy(update={"serial": self.serial})
        self.journal = []
        return self.snapshot

    def append(self, records: Sequence[JournalRecord]) -> int:
        if self.fail_appends:
            raise StateError("disk full")
        self.journal.extend(records)
        self.appends.append(tuple(records))
        self.serial += 1
        return self.serial

    @contextmanager
    def lock(self, command: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        yield LockInfo(id="1", pid=1, host="h", command=command, created="now")

    def force_unlock(self, lock_id: str) -> LockInfo:
        raise StateError("not locked")

    def resources(self) -> dict[str, ResourceState]:
        doc = self.read()
        return {r.address: r for r in doc.resources} if doc else {}


class Recorder:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.events: list[object] = []
        self.store = store
        self.state_at_done: list[set[str]] = []
        self.result = None

    def batch_started(self, event: BatchStarted) -> None:
        self.events.append(event)

    def batch_done(self, event: BatchDone) -> None:
        self.events.append(event)
        if self.store is not None:
            self.state_at_done.append(set(self.store.resources()))

    def batch_failed(self, event: BatchFailed) -> None:
        self.events.append(event)

    def finished(self, result: object) -> None:
        self.result = result


def loc(line: int) -> SourceLocation:
    return SourceLocation(path="manifests/prod.yaml", line=line, col=7)


def bind(bucket: str, referer: str | None = None, action: str = "bind", line: int = 3) -> ResourceChange:
    after = {} if referer is None else {"referer": referer}
    return ResourceChange(
        address=f"input_bucket.{bucket}",
        kind="input_bucket",
        identity=bucket,
        region=REGION,
        action=action,  # type: ignore[arg-type]
        after=after,
        location=loc(line),
    )


def register(key: str, line: int = 10, **attrs: Any) -> ResourceChange:
    return ResourceChange(
        address=f"media.{key.split('.', maxsplit=1)[0]}",
        kind="media",
        identity=f"media/{key}",
        region=REGION,
        action="register",
        after={"file_url": url(key), "title": key, **attrs},
        location=loc(line),
    )


def existing(key: str, action: str, remote_id: str, changed: tuple[str, ...] = (), **attrs: Any) -> ResourceChange:
    return ResourceChange(
        address=f"media.{key.split('.', maxsplit=1)[0]}",
        kind="media",
        identity=f"media/{key}",
        region=REGION,
        action=action,  # type: ignore[arg-type]
        before={"file_url": url(key), "title": key},
        after=None if action == "delete" else {"file_url": url(key), "title": key, **attrs},
        changed=changed,
        remote_id=remote_id,
    )


def recorded(key: str, remote_id: str, *, serial: int) -> StateDocument:
    """A state holding one media as apply recorded it."""
    media = ResourceState(
        address=f"media.{key.split('.', maxsplit=1)[0]}",
        kind="media",
        identity=f"media/{key}",
        region=REGION,
        remote_id=remote_id,
        attributes=MediaAttributes(file_url=url(key), title=key),
    )
    return StateDocument(lineage="L", serial=serial, resources=[media])


def call(action: str, *changes: ResourceChange, **params: Any) -> PlannedCall:
    return PlannedCall(action=action, region=REGION, addresses=tuple(c.address for c in changes), **params)  # type: ignore[arg-type]


def plan_of(changes: Sequence[ResourceChange], calls: Sequence[PlannedCall], **kw: Any) -> Plan:
    return Plan(changes=tuple(sorted(changes, key=lambda c: c.address)), calls=tuple(calls), **kw)


def registers(keys: Sequence[str]) -> tuple[list[ResourceChange], list[PlannedCall]]:
    changes = [register(k, line=10 + i) for i, k in enumerate(keys)]
    calls = [call("RegisterMedia", *changes[i : i + 10], storage_location=HOST) for i in range(0, len(changes), 10)]
    return changes, calls


async def run(plan: Plan, account: FakeAccount, store: MemoryStore, hooks: Recorder | None = None, **kw: Any):
    return await apply_plan(plan, lambda region: account, store, hooks=hooks or Recorder(), **kw)


async def test_cold_apply_makes_exactly_the_planned_calls_and_records_every_resource():
    account, store = FakeAccount(), MemoryStore()
    media, media_calls = registers([f"v{i:02}.mp4" for i in range(25)])
    buckets = [bind("in-a", "https://a.example"), bind("in-b")]
    plan = plan_of(
        [*buckets, *media],
        [call("BindInputBucket", buckets[0]), call("BindInputBucket", buckets[1]), *media_calls],
    )

    result = await run(plan, account, store)

    assert result.calls_made == result.calls_predicted == {"BindInputBucket": 2, "RegisterMedia": 3}
    assert result.calls_match and result.ok
    assert sorted(account.actions()) == ["BindInputBucket"] * 2 + ["RegisterMedia"] * 3
    batch_sizes = sorted(len(req.metadatas) for action, req in account.calls if action == "RegisterMedia")
    assert batch_sizes == [5, 10, 10]
    assert ("BindInputBucket", ("in-a", "https://a.example")) in account.calls
    assert ("BindInputBucket", ("in-b", None)) in account.calls
    assert result.outcome_counts == {"done": 27, "adopted": 0, "failed": 0, "not_attempted": 0}
    state = store.resources()
    assert state["input_bucket.in-a"].attributes == BucketAttributes(referer="https://a.example")
    assert state["media.v07"].remote_id == account.media[url("v07.mp4")]
    assert state["media.v07"].attributes == MediaAttributes(file_url=url("v07.mp4"), title="v07.mp4")
    # One journal append per successful call, then one snapshot folding them.
    assert len(store.appends) == 5 and store.writes == 1 and store.journal == []
    assert result.serial == store.serial == 6
    assert result.state_updates == 6 and result.state_only_changes == 0  # the serial moved 0 → 6


async def test_register_sends_the_planned_group_settings_and_metadata():
    account, store = FakeAccount(), MemoryStore()
    change = register("a.mp4", description="d", tags=["x", "y"], cover_url=url("a.jpg"), cate_id=7)
    planned = call(
        "RegisterMedia", change, storage_location=HOST, template_group_id="VOD_NO_TRANSCODE", user_data='{"a":1}'
    )

    await run(plan_of([change], [planned]), account, store)

    [(_, request)] = account.calls
    assert request.template_group_id == "VOD_NO_TRANSCODE" and request.workflow_id is None
    assert request.user_data == '{"a":1}'
    [meta] = request.metadatas
    assert (meta.file_url, meta.title, meta.description, meta.tags, meta.cover_url, meta.cate_id) == (
        url("a.mp4"),
        "a.mp4",
        "d",
        ("x", "y"),
        url("a.jpg"),
        7,
    )


async def test_each_batch_is_in_state_before_it_is_reported_done():
    account, store = FakeAccount(), MemoryStore()
    media, calls = registers([f"v{i:02}.mp4" for i in range(30)])
    hooks = Recorder(store)

    await run(plan_of(media, calls), account, store, hooks)

    done = [e for e in hooks.events if isinstance(e, BatchDone)]
    assert len(done) == 3
    for event, in_state in zip(done, hooks.state_at_done, strict=True):
        assert set(event.call.addresses) <= in_state


async def test_phases_run_in_order_replacement_unbind_first_prune_last():
    account, store = FakeAccount(), MemoryStore()
    account.buckets["in-r"] = MediaBucket("in-r", "Input", "https://old.example")
    account.buckets["in-old"] = MediaBucket("in-old", "Input", None)
    account.media[url("gone.mp4")] = "m-gone"
    replaced = bind("in-r", "https://new.example", action="replace")
    pruned_bucket = ResourceChange(
        address="input_bucket.in-old", kind="input_bucket", identity="in-old", region=REGION, action="unbind"
    )
    pruned_media = existing("gone.mp4", "delete", "m-gone")
    new = register("new.mp4")
    plan = plan_of(
        [replaced, pruned_bucket, pruned_media, new],
        [
            call("UnbindInputBucket", replaced, replace=True),
            call("BindInputBucket", replaced),
            call("RegisterMedia", new, storage_location=HOST),
            call("DeleteVideo", pruned_media),
            call("UnbindInputBucket", pruned_bucket),
        ],
    )

    result = await run(plan, account, store)

    order = account.actions()
    assert order.index("UnbindInputBucket") == 0
    assert set(order[1:3]) == {"BindInputBucket", "RegisterMedia"}
    assert set(order[3:]) == {"DeleteVideo", "UnbindInputBucket"}
    assert account.buckets["in-r"].referer == "https://new.example"
    assert "in-old" not in account.buckets and url("gone.mp4") not in account.media
    assert result.ok and result.calls_match
    assert set(store.resources()) == {"input_bucket.in-r", "media.new"}


async def test_mps_and_vod_calls_are_in_flight_together():
    account, store = FakeAccount(), MemoryStore()
    account.delay = 0.01
    in_flight = {"BindInputBucket": 0, "RegisterMedia": 0}
    overlap = []
    original_bind, original_register = account.bind_input_bucket, account.register_media

    async def bind_input_bucket(bucket: str, referer: str | None = None) -> str:
        in_flight["BindInputBucket"] += 1
        overlap.append(dict(in_flight))
        try:
            return await original_bind(bucket, referer)
        finally:
            in_flight["BindInputBucket"] -= 1

    async def register_media(request: RegisterMediaRequest) -> RegisterMediaResult:
        in_flight["RegisterMedia"] += 1
        overlap.append(dict(in_flight))
        try:
            return await original_register(request)
        finally:
            in_flight["RegisterMedia"] -= 1

    account.bind_input_bucket = bind_input_bucket  # type: ignore[method-assign]
    account.register_media = register_media  # type: ignore[method-assign]
    media, media_calls = registers([f"v{i:03}.mp4" for i in range(100)])
    buckets = [bind(f"in-{i}") for i in range(10)]

    await run(
        plan_of([*buckets, *media], [*(call("BindInputBucket", b) for b in buckets), *media_calls]), account, store
    )

    assert max(o["RegisterMedia"] for o in overlap) == 10
    assert max(o["BindInputBucket"] for o in overlap) == 10
    assert any(o["RegisterMedia"] and o["BindInputBucket"] for o in overlap)


def test_workers_cover_qps_times_in_flight_seconds():
    assert workers_for("RegisterMedia", 500) == 100
    assert workers_for("RegisterMedia", 3) == 3
    assert workers_for("DeleteVideo", 500, in_flight_seconds=0.01) == 1


async def test_already_bound_as_wanted_counts_as_done_after_verification():
    account, store = FakeAccount(), MemoryStore()
    account.buckets["in-a"] = MediaBucket("in-a", "Input", "https://a.example")
    change = bind("in-a", "https://a.example")

    result = await run(plan_of([change], [call("BindInputBucket", change)]), account, store)

    assert account.actions() == ["BindInputBucket", "ListAllMediaBucket"]
    assert result.ok and result.verification_calls == 1
    assert result.resources[0].message == "already bound (verified)"
    assert "input_bucket.in-a" in store.resources()


@pytest.mark.parametrize(
    ("existing_binding", "message"),
    [
        (
            MediaBucket("in-a", "Output"),
            "bucket 'in-a' is bound to MPS as an output bucket, not as an input bucket; reconcile never unbinds it "
            "implicitly: unbind it (UnbindOutputBucket) or remove it from the manifests",
        ),
        (
            MediaBucket("in-a", "Input", "https://other.example"),
            "bucket 'in-a' is already bound as an input bucket with referer 'https://other.example', not "
            "'https://a.example': it changed outside reconcile since the plan; run `reconcile plan` again",
        ),
    ],
)
async def test_already_bound_differently_fails_that_bucket_and_the_rest_goes_on(existing_binding, message):
    account, store = FakeAccount(), MemoryStore()
    account.buckets["in-a"] = existing_binding
    wanted, other = bind("in-a", "https://a.example", line=4), bind("in-b")
    media, media_calls = registers(["a.mp4"])
    plan = plan_of(
        [wanted, other, *media], [call("BindInputBucket", wanted), call("BindInputBucket", other), *media_calls]
    )

    result = await run(plan, account, store)

    assert not result.ok
    assert result.outcome_counts == {"done": 2, "adopted": 0, "failed": 1, "not_attempted": 0}
    [failure] = result.failures
    assert failure.describe() == f"manifests/prod.yaml:4:7: input_bucket.in-a: {message}"
    assert set(store.resources()) == {"input_bucket.in-b", "media.a"}


async def test_failed_file_urls_fail_those_files_with_their_manifest_location_and_keep_the_rest():
    account, store = FakeAccount(), MemoryStore()
    media, calls = registers(["a.mp4", "b.mp4", "c.mp4"])
    account.missing_objects.add(url("b.mp4"))
    hooks = Recorder()

    result = await run(plan_of(media, calls), account, store, hooks)

    assert result.outcome_counts == {"done": 2, "adopted": 0, "failed": 1, "not_attempted": 0}
    assert [f.describe() for f in result.failures] == [
        f"manifests/prod.yaml:11:7: media.b ({url('b.mp4')}): RegisterMedia could not register this file "
        "(FailedFileURLs): check that the object exists in OSS and has a media extension"
    ]
    [done] = [e for e in hooks.events if isinstance(e, BatchDone)]
    assert [f.address for f in done.failed] == ["media.b"]
    assert set(store.resources()) == {"media.a", "media.c"}


async def test_already_registered_files_are_adopted_with_their_existing_media_id():
    account, store = FakeAccount(), MemoryStore()
    account.media[url("a.mp4")] = "m-existing"
    media, calls = registers(["a.mp4", "b.mp4"])
    hooks = Recorder()

    result = await run(plan_of(media, calls), account, store, hooks)

    assert result.outcome_counts == {"done": 1, "adopted": 1, "failed": 0, "not_attempted": 0}
    assert store.resources()["media.a"].remote_id == "m-existing"
    [done] = [e for e in hooks.events if isinstance(e, BatchDone)]
    assert done.adopted == ("media.a",)


async def test_a_failed_call_fails_its_resources_and_other_batches_go_on():
    account, store = FakeAccount(), MemoryStore()
    media, calls = registers([f"v{i:02}.mp4" for i in range(20)])
    account.fail[f"RegisterMedia:{url('v10.mp4')}"] = ServerError(
        "ServiceUnavailable", "temporary failure", status=503, action="RegisterMedia", request_id="R1"
    )
    hooks = Recorder()

    result = await run(plan_of(media, calls), account, store, hooks)

    assert result.outcome_counts == {"done": 10, "adopted": 0, "failed": 10, "not_attempted": 0}
    assert result.calls_made == {"RegisterMedia": 2}
    [failed] = [e for e in hooks.events if isinstance(e, BatchFailed)]
    assert failed.error == "RegisterMedia: ServiceUnavailable (HTTP 503): temporary failure (request id R1)"
    assert failed.failed[0].describe().startswith("manifests/prod.yaml:20:7: media.v10 (https://")
    assert len(store.resources()) == 10


async def apply_failing_replacement(failing_action: str):
    """Replace in-r's referer while `failing_action` answers InternalError."""
    account, store = FakeAccount(), MemoryStore()
    account.buckets["in-r"] = MediaBucket("in-r", "Input", "https://old.example")
    account.fail[f"{failing_action}:in-r"] = ServerError("InternalError", "boom", status=500)
    replaced = bind("in-r", "https://new.example", action="replace")
    plan = plan_of([replaced], [call("UnbindInputBucket", replaced, replace=True), call("BindInputBucket", replaced)])
    return account, store, await run(plan, account, store)


async def test_a_failed_replacement_unbind_leaves_the_bind_unattempted():
    account, _, result = await apply_failing_replacement("UnbindInputBucket")

    assert account.actions() == ["UnbindInputBucket"]
    assert result.calls_made == {"UnbindInputBucket": 1}
    assert result.calls_predicted == {"UnbindInputBucket": 1, "BindInputBucket": 1}
    assert result.resources[0].outcome == "failed"


async def test_a_replacement_whose_bind_fails_says_the_bucket_is_unbound_now():
    _, store, result = await apply_failing_replacement("BindInputBucket")

    [failure] = result.failures
    assert failure.message == (
        "InternalError (HTTP 500): boom (its old binding was removed for the replacement: the bucket is not "
        "bound now; run `reconcile apply` again)"
    )
    assert "input_bucket.in-r" not in store.resources()


async def test_an_authentication_failure_stops_new_calls():
    account, store = FakeAccount(), MemoryStore()
    media, calls = registers([f"v{i:02}.mp4" for i in range(30)])
    account.fail[f"RegisterMedia:{url('v00.mp4')}"] = AuthenticationError(
        "InvalidAccessKeyId.NotFound", "Specified access key is not found.", status=404
    )

    result = await run(plan_of(media, calls), account, store, in_flight_seconds=0.01)

    assert result.calls_made == {"RegisterMedia": 1}
    assert result.outcome_counts == {"done": 0, "adopted": 0, "failed": 10, "not_attempted": 20}
    assert result.aborted == (
        "stopped after an authentication failure: InvalidAccessKeyId.NotFound (HTTP 404): "
        "Specified access key is not found."
    )
    assert store.read() is None


async def test_a_stop_request_lets_calls_in_flight_finish_and_starts_no_more():
    account, store = FakeAccount(), MemoryStore()
    media, calls = registers([f"v{i:02}.mp4" for i in range(30)])
    stop = asyncio.Event()

    class StopAfterFirst(Recorder):
        def batch_started(self, event: BatchStarted) -> None:
            super().batch_started(event)
            stop.set()

    result = await run(plan_of(media, calls), account, store, StopAfterFirst(), stop=stop, in_flight_seconds=0.01)

    assert result.calls_made == {"RegisterMedia": 1}
    assert result.outcome_counts == {"done": 10, "adopted": 0, "failed": 0, "not_attempted": 20}
    assert result.aborted == "stopped on request" and result.stopped_on_request
    assert len(store.resources()) == 10 and store.writes == 1


async def test_update_sends_only_the_changed_fields_and_records_the_new_attributes():
    account, store = FakeAccount(), MemoryStore()
    account.media[url("a.mp4")] = "m-a"
    change = existing("a.mp4", "update", "m-a", changed=("tags", "title"), description="same", tags=["n"])
    change = change.model_copy(
        update={"after": MediaAttributes(file_url=url("a.mp4"), title="New", description="same", tags=("n",))}
    )

    result = await run(plan_of([change], [call("UpdateVideoInfos", change)]), account, store)

    assert account.calls == [("UpdateVideoInfos", (VideoUpdate(video_id="m-a", title="New", tags=("n",)),))]
    assert result.ok
    assert media_of(store.resources()["media.a"].attributes).title == "New"
    assert store.resources()["media.a"].remote_id == "m-a"


async def test_update_of_media_deleted_since_the_plan_forgets_it_and_fails():
    account, store = FakeAccount(), MemoryStore(recorded("a.mp4", "m-a", serial=3))
    change = existing("a.mp4", "update", "m-a", changed=("title",))

    result = await run(plan_of([change], [call("UpdateVideoInfos", change)]), account, store)

    assert result.failures[0].message == (
        "media m-a no longer exists in VOD; run `reconcile apply` again to re-register it"
    )
    assert store.resources() == {}


async def test_delete_counts_already_gone_media_as_done_and_reports_forbidden_ones():
    account, store = FakeAccount(), MemoryStore()
    account.media.update({url("a.mp4"): "m-a", url("c.mp4"): "m-c"})
    account.forbidden.add("m-c")
    changes = [
        existing("a.mp4", "delete", "m-a"),
        existing("b.mp4", "delete", "m-b"),
        existing("c.mp4", "delete", "m-c"),
    ]

    result = await run(plan_of(changes, [call("DeleteVideo", *changes)]), account, store)

    assert account.calls == [("DeleteVideo", ("m-a", "m-b", "m-c"))]
    assert {r.address: r.outcome for r in result.resources} == {
        "media.a": "done",
        "media.b": "done",
        "media.c": "failed",
    }
    assert (
        result.failures[0].message == "VOD refused to delete media m-c (ForbiddenVideoIds): check the RAM permissions"
    )


async def test_unbind_of_a_bucket_no_longer_bound_is_done():
    account, store = FakeAccount(), MemoryStore()
    change = ResourceChange(address="input_bucket.x", kind="input_bucket", identity="x", region=REGION, action="unbind")

    result = await run(plan_of([change], [call("UnbindInputBucket", change)]), account, store)

    assert result.ok and result.resources[0].message == "already unbound"


async def test_a_state_write_failure_stops_the_apply_and_says_the_next_apply_adopts():
    account, store = FakeAccount(), MemoryStore()
    store.fail_appends = True
    media, calls = registers([f"v{i:02}.mp4" for i in range(30)])

    stopped_sending: list[bool] = []

    result = await run(
        plan_of(media, calls), account, store, in_flight_seconds=0.01, stop_sending=lambda: stopped_sending.append(True)
    )

    assert result.calls_made == {"RegisterMedia": 1}
    assert result.aborted == (
        "stopped: the state could not be written: disk full. Every batch recorded before is kept in the state; run "
        "`reconcile apply` again (from any runner) to finish the rest: calls made but not recorded are adopted, not "
        "repeated"
    )
    assert result.failures[0].message == (
        "applied, but the state could not record it (disk full); the next apply will adopt it"
    )
    assert stopped_sending == [True]  # calls waiting for their pacing turn are not sent either
    assert store.writes == 0 and result.serial is None  # no final snapshot on a state that cannot be written


class LeasedStore(MemoryStore):
    """A store whose lock is a lease, lost (as its renewal thread finds) once the first batch is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.on_lost: Callable[[], None] | None = None
        self.watched: list[bool] = []

    def watch_lease(self, on_lost: Callable[[], None] | None) -> None:
        self.on_lost = on_lost
        self.watched.append(on_lost is not None)

    def append(self, records: Sequence[JournalRecord]) -> int:
        serial = super().append(records)
        renewer = threading.Thread(target=self.on_lost or (lambda: None))  # not the apply's thread
        renewer.start()
        renewer.join()
        return serial


async def test_a_lease_that_cannot_be_renewed_stops_the_apply_sending_before_it_runs_out():
    account, store = FakeAccount(), LeasedStore()
    media, calls = registers([f"v{i:02}.mp4" for i in range(30)])
    stopped_sending: list[bool] = []

    result = await run(
        plan_of(media, calls), account, store, in_flight_seconds=0.01, stop_sending=lambda: stopped_sending.append(True)
    )

    assert result.calls_made == {"RegisterMedia": 1}
    assert result.aborted == (
        "stopped: the lock on state memory could not be renewed before its lease ran out, so another runner may take "
        "the lock over: no new call was sent. Every batch recorded before is kept in the state; run `reconcile "
        "apply` again (from any runner) to finish the rest: calls made but not recorded are adopted, not repeated"
    )
    assert not result.stopped_on_request
    assert stopped_sending == [True]
    assert [r.outcome for r in result.resources].count("done") == 10
    assert len(store.resources()) == 10 and store.writes == 0  # no final snapshot under a lost lease
    assert result.serial == 1  # the batch recorded before
    assert store.watched == [True, False]  # watched for the apply only


async def test_state_only_changes_are_recorded_without_any_call():
    account, store = FakeAccount(), MemoryStore(recorded("old.mp4", "m-old", serial=1))
    adopted = bind("in-a", "https://a.example", action="no-op").model_copy(update={"state_only": "put"})
    forgotten = ResourceChange(
        address="media.old", kind="media", identity="media/old.mp4", region=REGION, action="no-op", state_only="remove"
    )

    result = await run(plan_of([adopted, forgotten], []), account, store)

    assert account.calls == []
    assert result.state_only_changes == 2 and result.resources == ()
    assert set(store.resources()) == {"input_bucket.in-a"}
    assert len(store.appends) == 1 and store.writes == 1
    assert result.state_updates == 2 and result.serial == 3  # one append for both, then the snapshot: 1 → 3


async def test_a_plan_with_errors_is_refused_before_any_call():
    account, store = FakeAccount(), MemoryStore()
    change = bind("in-a")
    error = PlanWarning(
        address="input_bucket.in-a", message="bucket in-a is bound as an output bucket", location=loc(3)
    )
    plan = plan_of([change], [call("BindInputBucket", change)], errors=(error,))

    with pytest.raises(PlanNotApplicable) as raised:
        await run(plan, account, store)

    assert str(raised.value) == (
        "the plan has errors and cannot be applied: manifests/prod.yaml:3:7: bucket in-a is bound as an output bucket"
    )
    assert account.calls == []
