"""Refresh: read what the account holds right now for everything the manifests or the state name.

- Buckets: `ListAllMediaBucket`, every page, once per region that a desired or managed bucket lives in.
- Media: `GetVideoInfos` for every media in state, 20 ids per call (unknown ids come back in
  `NonExistVideoIds`: the media is gone). VOD cannot look media up by FileURL, so media that are not in
  state are not read at all: the diff plans them as registrations (which adopt an existing file).

All reads run concurrently, `concurrency` at a time; the client paces each action to its QPS limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from reconcile.cloud.api import MediaApi
from reconcile.cloud.limits import VIDEO_IDS_BATCH
from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.manifest.desired import DesiredState
from reconcile.state.model import StateDocument

# Reads in flight at once. The account paces GetVideoInfos at 100/s, so 8 reach that rate up to 80 ms of latency;
# on a fast link more only make the HTTP pool scan more idle connections per request (at 100k media on
# loopback, 16 in flight cost 40% more CPU than 8).
DEFAULT_CONCURRENCY = 8

ApiForRegion = Callable[[str], MediaApi]


@dataclass(frozen=True, slots=True)
class LiveState:
    """The account as refresh saw it: bucket bindings per listed region, and the state's media by remote id."""

    buckets: Mapping[str, Mapping[str, MediaBucket]] = field(default_factory=dict)  # region → name → binding
    media: Mapping[str, VideoInfo] = field(default_factory=dict)  # remote id → video
    gone: frozenset[str] = frozenset()  # remote ids VOD no longer knows (NonExistVideoIds)

    def binding(self, region: str, bucket: str) -> MediaBucket | None:
        return self.buckets.get(region, {}).get(bucket)

    def with_buckets(self, more: Mapping[str, Mapping[str, MediaBucket]]) -> LiveState:
        """This live state with the bindings of more regions."""
        return LiveState(buckets={**self.buckets, **more}, media=self.media, gone=self.gone)

    def digest(self, bucket_names: Iterable[str]) -> str:
        """sha256 of a canonical dump of what the plan depends on: the named buckets' bindings in every listed
        region, and the managed fields of every media read. Unrelated buckets and status changes do not count."""
        names = frozenset(bucket_names)
        bindings = [
            [region, b.bucket, b.type, b.referer or ""]
            for region in sorted(self.buckets)
            for b in sorted(self.buckets[region].values(), key=lambda b: b.bucket)
            if b.bucket in names
        ]
        media = [
            [v.video_id, v.title, v.description or "", sorted(v.tags), v.cover_url or "", v.cate_id]
            for _, v in sorted(self.media.items())
        ]
        document = {"bindings": bindings, "media": media, "gone": sorted(self.gone)}
        canonical = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def bucket_regions(desired: DesiredState | None, state: StateDocument | None) -> list[str]:
    """Regions whose bucket bindings the plan needs: where a desired or a managed bucket lives."""
    regions = {b.region for b in desired.buckets} if desired else set()
    if state:
        regions.update(r.region for r in state.resources if r.kind == "input_bucket")
    return sorted(regions)


def bucket_names(desired: DesiredState | None, state: StateDocument | None) -> set[str]:
    names = {b.bucket for b in desired.buckets} if desired else set()
    if state:
        names.update(r.identity for r in state.resources if r.kind == "input_bucket")
    return names


def media_ids_by_region(state: StateDocument | None) -> dict[str, list[str]]:
    """The remote ids of the state's media, per region, sorted and without duplicates."""
    ids: dict[str, set[str]] = {}
    for resource in state.resources if state else ():
        if resource.kind == "media" and resource.remote_id:
            ids.setdefault(resource.region, set()).add(resource.remote_id)
    return {region: sorted(found) for region, found in sorted(ids.items())}


async def refresh(
    api_for_region: ApiForRegion,
    desired: DesiredState | None,
    state: StateDocument | None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """Read the live bindings and media the plan depends on. Calls: one list per region (all its pages) and
    ⌈n/20⌉ GetVideoInfos per region for its n media in state. Raises the client's CloudError on failure."""
    buckets: dict[str, dict[str, MediaBucket]] = {}
    media: dict[str, VideoInfo] = {}
    gone: set[str] = set()

    async def read_videos(region: str, ids: list[str]) -> None:
        result = await api_for_region(region).get_video_infos(ids)
        for video in result.videos:
            media[video.video_id] = video
        gone.update(result.non_exist_video_ids)

    in_state = media_ids_by_region(state)
    jobs: list[Callable[[], Awaitable[None]]] = [
        partial(_list_region, api_for_region, r, buckets) for r in bucket_regions(desired, state)
    ]
    for region, ids in in_state.items():
        for start in range(0, len(ids), VIDEO_IDS_BATCH):
            jobs.append(partial(read_videos, region, ids[start : start + VIDEO_IDS_BATCH]))
    await run_bounded(jobs, concurrency)
    # An id neither listed nor reported missing was dropped by the service: treat it as gone, never as present.
    for ids in in_state.values():
        gone.update(i for i in ids if i not in media)
    return LiveState(buckets=buckets, media=media, gone=frozenset(gone))


async def list_buckets(
    api_for_region: ApiForRegion, regions: Iterable[str], *, concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, dict[str, MediaBucket]]:
    """The bindings of each region, by bucket name: one ListAllMediaBucket (all its pages) per region."""
    buckets: dict[str, dict[str, MediaBucket]] = {}
    jobs: list[Callable[[], Awaitable[None]]] = [partial(_list_region, api_for_region, r, buckets) for r in regions]
    await run_bounded(jobs, concurrency)
    return buckets


async def _list_region(api_for_region: ApiForRegion, region: str, into: dict[str, dict[str, MediaBucket]]) -> None:
    listed = await api_for_region(region).list_all_media_buckets()
    into[region] = {b.bucket: b for b in listed}


async def run_bounded(jobs: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Run the jobs with at most `concurrency` in flight; the first failure cancels the rest and is re-raised."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(jobs)))):
                group.create_task(worker())
    except BaseExceptionGroup as failures:
        raise first_leaf(failures) from None


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception in a (possibly nested) group: callers catch CloudError, not groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
