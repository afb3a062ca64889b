"""refresh() against the in-process emulator: what it reads, and exactly how many calls it takes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from reconcile.cloud.errors import ForbiddenError
from reconcile.cloud.models import GetVideoInfosResult, MediaBucket
from reconcile.emulator.faults import FaultRules
from reconcile.engine.refresh import LiveState, refresh
from tests.engine.builders import REGION, bound, bucket, desired, managed_bucket, managed_media, media, state, video


async def test_reads_bindings_and_the_media_in_state(account, cloud_session):
    account.bind("media-in", "https://a.example")
    account.bind_output("media-out")
    kept, deleted = media("kept.mp4", title="Kept", tags=("a", "b")), media("deleted.mp4")
    kept_id = account.register(kept.file_url, "Kept", tags=("a", "b"), description="d")
    deleted_id = account.register(deleted.file_url, "x")
    account.delete(deleted_id)
    recorded = state(managed_bucket("media-in"), managed_media(kept, kept_id), managed_media(deleted, deleted_id))

    live = await refresh(cloud_session.client, desired(bucket("media-in")), recorded)

    assert live.buckets == {
        REGION: {
            "media-in": MediaBucket(bucket="media-in", type="Input", referer="https://a.example"),
            "media-out": MediaBucket(bucket="media-out", type="Output", referer=None),
        }
    }
    assert set(live.media) == {kept_id}
    info = live.media[kept_id]
    assert (info.title, info.description, info.tags) == ("Kept", "d", ("a", "b"))
    assert live.gone == frozenset({deleted_id})


@pytest.mark.parametrize(("n", "expected_reads"), [(1, 1), (20, 1), (21, 2), (45, 3)])
async def test_reads_media_in_batches_of_twenty(account, cloud_session, n, expected_reads):
    declared = [media(f"v/{i:03d}.mp4") for i in range(n)]
    recorded = state(*(managed_media(m, account.register(m.file_url, m.title)) for m in declared))

    live = await refresh(cloud_session.client, desired(*declared), recorded)

    assert len(live.media) == n
    # No bucket is declared or managed: no region needs a bucket list.
    assert {a: s.calls for a, s in cloud_session.stats.actions.items()} == {"GetVideoInfos": expected_reads}
    assert account.stats() == {"GetVideoInfos": expected_reads}


async def test_lists_every_page_of_buckets_once_per_region(account, cloud_session):
    for i in range(250):  # 3 pages: the client asks for the largest page, 100
        account.bind(f"bucket-{i:03d}")
    live = await refresh(cloud_session.client, desired(bucket("bucket-000")), None)
    assert len(live.buckets[REGION]) == 250
    assert account.stats() == {"ListAllMediaBucket": 3}


async def test_nothing_to_read_makes_no_call(cloud_session):
    live = await refresh(cloud_session.client, desired(), None)
    assert live == LiveState()
    assert cloud_session.stats.total_calls == 0


async def test_a_failed_read_raises_the_client_error_itself(emulator_app, account, cloud_session):
    declared = [media(f"v/{i:03d}.mp4") for i in range(45)]
    recorded = state(*(managed_media(m, account.register(m.file_url, m.title)) for m in declared))
    emulator_app.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "GetVideoInfos", "error": {"status": 403, "code": "Forbidden"}}]}
    )
    with pytest.raises(ForbiddenError, match="Forbidden"):
        await refresh(cloud_session.client, desired(*declared), recorded)


class SlowApi:
    """Counts how many reads are in flight at once."""

    region = REGION

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    async def list_all_media_buckets(self) -> list[MediaBucket]:
        return [bound("media-in")]

    async def get_video_infos(self, video_ids: Sequence[str]) -> GetVideoInfosResult:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.in_flight -= 1
        declared = media("x.mp4")
        return GetVideoInfosResult("r", tuple(video(i, declared) for i in video_ids[1:]), tuple(video_ids[:1]))


async def test_reads_run_concurrently_up_to_the_bound():
    api = SlowApi()
    declared = [media(f"v/{i:03d}.mp4") for i in range(200)]
    recorded = state(*(managed_media(m, f"id{i:03d}") for i, m in enumerate(declared)))

    live = await refresh(lambda region: api, desired(), recorded, concurrency=4)

    assert api.peak == 4
    assert len(live.media) == 190 and len(live.gone) == 10  # the first id of each batch reported missing


def test_live_digest_ignores_unrelated_buckets_and_status():
    declared = media("a.mp4")
    base = LiveState(buckets={REGION: {"mine": bound("mine")}}, media={"v1": video("v1", declared)})
    with_stranger = LiveState(
        buckets={REGION: {"mine": bound("mine"), "other": bound("other")}},
        media={"v1": video("v1", declared, status="Transcoding")},
    )
    retitled = LiveState(buckets={REGION: {"mine": bound("mine")}}, media={"v1": video("v1", declared, title="new")})
    assert base.digest({"mine"}) == with_stranger.digest({"mine"})
    assert base.digest({"mine"}) != retitled.digest({"mine"})
    assert base.digest({"mine"}) != LiveState(buckets={REGION: {}}, media=base.media).digest({"mine"})
