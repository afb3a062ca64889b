"""refresh() against the in-process emulator: what it reads, and exactly how many calls it takes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence

import pytest

from reconcile.cloud.errors import ForbiddenError
from reconcile.cloud.models import GetVideoInfosResult, MediaBucket, SearchMediaResult
from reconcile.emulator.faults import FaultRules
from reconcile.engine.live import LiveState
from reconcile.engine.refresh import refresh
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


@pytest.mark.parametrize(
    ("n", "expected_reads"),
    [
        (1, {"GetVideoInfos": 1}),
        (20, {"GetVideoInfos": 1}),
        (21, {"SearchMedia": 1}),  # one search of 21 ids beats two GetVideoInfos
        (120, {"SearchMedia": 1, "GetVideoInfos": 1}),  # 100 + 20, side by side
        (600, {"SearchMedia": 5, "GetVideoInfos": 5}),  # 500 + 100: both done after 5 calls at 100/s each
    ],
)
async def test_reads_split_between_search_and_get_video_infos(account, cloud_session, n, expected_reads):
    declared = [media(f"v/{i:03d}.mp4") for i in range(n)]
    recorded = state(*(managed_media(m, account.register(m.file_url, m.attributes.title)) for m in declared))

    live = await refresh(cloud_session.client, desired(*declared), recorded)

    assert len(live.media) == n and not live.gone
    # No bucket is declared or managed: no region needs a bucket list.
    assert {a: s.calls for a, s in cloud_session.stats.actions.items()} == expected_reads
    assert account.stats() == expected_reads


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


@pytest.mark.parametrize("action", ["GetVideoInfos", "SearchMedia"])
async def test_a_failed_read_raises_the_client_error_itself(emulator_app, account, cloud_session, action):
    declared = [media(f"v/{i:03d}.mp4") for i in range(120)]
    recorded = state(*(managed_media(m, account.register(m.file_url, m.attributes.title)) for m in declared))
    emulator_app.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": action, "error": {"status": 403, "code": "Forbidden"}}]}
    )
    with pytest.raises(ForbiddenError, match="Forbidden"):
        await refresh(cloud_session.client, desired(*declared), recorded)


class SlowApi:
    """Counts how many reads of each action are in flight at once."""

    region = REGION

    def __init__(self) -> None:
        self.in_flight = {"GetVideoInfos": 0, "SearchMedia": 0}
        self.peak = {"GetVideoInfos": 0, "SearchMedia": 0}

    def qps_limit(self, action: str) -> float:
        return 100.0

    async def list_all_media_buckets(self) -> list[MediaBucket]:
        return [bound("media-in")]

    async def _read(self, action: str) -> None:
        self.in_flight[action] += 1
        self.peak[action] = max(self.peak[action], self.in_flight[action])
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.in_flight[action] -= 1

    async def get_video_infos(self, video_ids: Sequence[str]) -> GetVideoInfosResult:
        await self._read("GetVideoInfos")
        declared = media("x.mp4")
        return GetVideoInfosResult("r", tuple(video(i, declared) for i in video_ids[1:]), tuple(video_ids[:1]))

    async def search_media(
        self, match: str, *, page_size: int = 100, scroll_token: str | None = None
    ) -> SearchMediaResult:
        await self._read("SearchMedia")
        ids = re.findall(r"'([^']*)'", match)
        declared = media("x.mp4")
        return SearchMediaResult("r", len(ids), tuple(video(i, declared) for i in ids), None)


async def test_reads_run_concurrently_up_to_the_bound_per_action():
    api = SlowApi()
    declared = [media(f"v/{i:03d}.mp4", title="x.mp4") for i in range(1200)]
    recorded = state(*(managed_media(m, f"id{i:04d}") for i, m in enumerate(declared)))

    live = await refresh(lambda region: api, desired(), recorded, concurrency=4)

    assert api.peak == {"GetVideoInfos": 4, "SearchMedia": 4}
    # 1,000 searched, 200 by GetVideoInfos: the first id of each of those 10 batches is reported missing
    assert len(live.media) == 1190 and len(live.gone) == 10


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


def test_live_digest_hashes_the_same_dump_as_one_json_document():
    """Hashed in chunks, the digest is still sha256 of the one canonical document (saved plans compare it)."""
    declared = media("a.mp4", title='标题 "q"', description="d\u2028", tags=("b", "a"))
    videos = {f"{i:032x}": video(f"{i:032x}", declared, cate_id=i or None) for i in range(2500)}
    live = LiveState(buckets={REGION: {"mine": bound("mine")}}, media=videos, gone=frozenset({"g1", "g0"}))
    document = {
        "bindings": [[REGION, "mine", "Input", ""]],
        "media": [[i, '标题 "q"', "d\u2028", ["a", "b"], "", int(i, 16) or None] for i in sorted(videos)],
        "gone": ["g0", "g1"],
    }
    canonical = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    assert live.digest({"mine"}) == hashlib.sha256(canonical).hexdigest()
