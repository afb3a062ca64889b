"""Refresh: read what the account holds right now for everything the manifests or the state name.

- Buckets: `ListAllMediaBucket`, every page, once per region that a desired or managed bucket lives in.
- Media: every media in state, by id, with `SearchMedia` (100 per call) and `GetVideoInfos` (20 per call)
  side by side, and GetVideoInfos again for what the search missed or found different from the state
  (`reconcile.engine.reads`): the result is what GetVideoInfos alone would read. Unknown ids come back in
  `NonExistVideoIds`: the media is gone. VOD cannot look media up by FileURL, so media that are not in
  state are not read at all: the diff plans them as registrations (which adopt an existing file).

Reads run concurrently, `concurrency` at a time per action; the client paces each action to its QPS limit.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from reconcile.cloud.api import ApiForRegion
from reconcile.cloud.limits import AUDIO_EXTENSIONS
from reconcile.cloud.models import MediaBucket
from reconcile.engine.live import LiveState
from reconcile.engine.reads import MediaReads, read_media, run_bounded
from reconcile.manifest.desired import DesiredState
from reconcile.state.model import ResourceState, StateDocument

# Reads in flight at once, per read action. The account paces each at 100/s, so 8 reach that rate up to 80 ms
# of latency; on a fast link more only make the HTTP pool scan more idle connections per request (at 100k media on
# loopback, 16 in flight cost 40% more CPU than 8).
DEFAULT_CONCURRENCY = 8


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


def media_by_region(state: StateDocument | None) -> dict[str, dict[str, ResourceState]]:
    """The state's media with a remote id, per region, by remote id (regions sorted)."""
    found: dict[str, dict[str, ResourceState]] = {}
    for resource in state.resources if state else ():
        if resource.kind == "media" and resource.remote_id:
            found.setdefault(resource.region, {})[resource.remote_id] = resource
    return dict(sorted(found.items()))


def is_audio(resource: ResourceState) -> bool:
    """An audio file: a video search never returns it, so it is read with GetVideoInfos only."""
    return posixpath.splitext(resource.identity)[1].lstrip(".").lower() in AUDIO_EXTENSIONS


async def refresh(
    api_for_region: ApiForRegion,
    desired: DesiredState | None,
    state: StateDocument | None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """Read the live bindings and media the plan depends on. Calls: one list per region (all its pages), and
    per region the read plan's SearchMedia and GetVideoInfos for its media in state, plus one GetVideoInfos
    per 20 media the search missed or found different. Raises the client's CloudError on failure."""
    buckets: dict[str, dict[str, MediaBucket]] = {}
    reads = MediaReads(videos={}, gone=set())
    in_state = media_by_region(state)
    jobs: list[Callable[[], Awaitable[None]]] = [
        partial(_list_region, api_for_region, r, buckets) for r in bucket_regions(desired, state)
    ]
    for region, resources in in_state.items():
        videos = sorted(i for i, r in resources.items() if not is_audio(r))
        audio = sorted(i for i, r in resources.items() if is_audio(r))
        jobs.append(
            partial(
                read_media,
                api_for_region(region),
                videos + audio,
                resources,
                reads,
                searchable=len(videos),
                concurrency=concurrency,
            )
        )
    await run_bounded(jobs, len(jobs))
    # An id neither listed nor reported missing was dropped by the service: treat it as gone, never as present.
    for resources in in_state.values():
        reads.gone.update(i for i in resources if i not in reads.videos)
    return LiveState(buckets=buckets, media=reads.videos, gone=frozenset(reads.gone))


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
