"""How refresh reads the state's media: which ids go to SearchMedia and which to GetVideoInfos, and the
confirmation that keeps the result exactly what GetVideoInfos alone would have read.

- `SearchMedia` with `Match: VideoId in (...)` reads up to 100 given media per call; `GetVideoInfos` reads
  20. Each has its own 100/s limit, so both run side by side: `plan_reads` splits the ids so the two finish
  together (the least time, then the fewest calls). With 100/s each, 5 of every 6 media go to search: 50,000
  media take 417 searches and 417 GetVideoInfos, about 4.3 s at the paced rate, against 25 s for 2,500
  GetVideoInfos. Unmanaged media in the same buckets cost nothing: only the state's ids are asked for.
- The search index may lag behind writes. A media the search did not return (registered or deleted a
  moment ago, or an audio file, which a video search never returns) and a media whose search record
  differs from what the state last applied (stale after reconcile's own update, or changed outside
  reconcile) are read again with GetVideoInfos, whose answer is the one kept. A record that matches the
  state is the answer GetVideoInfos would give unless the media changed outside reconcile within the index
  lag: such a change shows on a plan made once the index has caught up.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from reconcile.cloud.api import MediaApi
from reconcile.cloud.limits import SEARCH_VIDEO_IDS_MAX, VIDEO_IDS_BATCH
from reconcile.cloud.models import VideoInfo
from reconcile.cloud.operations import video_ids_match
from reconcile.engine.attributes import media_of
from reconcile.model.media import MUTABLE_NAMES, MediaAttributes, metadata_matches, metadata_values
from reconcile.state.model import ResourceState

SEARCH = "SearchMedia"
GET = "GetVideoInfos"


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How `count` media ids are read: the first `searched` by SearchMedia, the rest by GetVideoInfos."""

    count: int
    searched: int

    @property
    def search_calls(self) -> int:
        return math.ceil(self.searched / SEARCH_VIDEO_IDS_MAX)

    @property
    def get_calls(self) -> int:
        return math.ceil((self.count - self.searched) / VIDEO_IDS_BATCH)

    def seconds(self, limits: Mapping[str, float]) -> float:
        """The floor at these rates: both actions run side by side, each at its own limit."""
        return max(self.search_calls / limits[SEARCH], self.get_calls / limits[GET])


def plan_reads(count: int, limits: Mapping[str, float], *, searchable: int | None = None) -> ReadPlan:
    """The split of `count` ids (of which the first `searchable`, default all, may be searched) with the
    least time at `limits` (calls per second by action), then the fewest calls, then the fewest searches."""
    searchable = count if searchable is None else min(searchable, count)
    best = ReadPlan(count, 0)
    best_key = (best.seconds(limits), best.get_calls)
    for pages in range(1, math.ceil(searchable / SEARCH_VIDEO_IDS_MAX) + 1):
        candidate = ReadPlan(count, min(searchable, pages * SEARCH_VIDEO_IDS_MAX))
        key = (candidate.seconds(limits), candidate.search_calls + candidate.get_calls)
        if key < best_key:
            best, best_key = candidate, key
    return best


@dataclass(slots=True)
class MediaReads:
    """What the reads found: videos by id, and the ids VOD does not know (NonExistVideoIds)."""

    videos: dict[str, VideoInfo]
    gone: set[str]


Job = Callable[[], Awaitable[None]]


async def read_media(
    api: MediaApi,
    ids: Sequence[str],
    recorded: Mapping[str, ResourceState],
    into: MediaReads,
    *,
    searchable: int,
    concurrency: int,
) -> None:
    """Read `ids` (the first `searchable` of them are videos a search can return) into `into`.

    `recorded` maps each id to its resource in state: a search record that differs from its attributes is read
    again with GetVideoInfos. Calls: the read plan's searches and GetVideoInfos side by side, then one
    GetVideoInfos per 20 media the search missed or found different."""
    limits = {SEARCH: api.qps_limit(SEARCH), GET: api.qps_limit(GET)}
    split = plan_reads(len(ids), limits, searchable=searchable)
    confirm: list[str] = []

    async def get(batch: Sequence[str]) -> None:
        result = await api.get_video_infos(batch)
        for video in result.videos:
            into.videos[video.video_id] = video
        into.gone.update(result.non_exist_video_ids)

    async def search(batch: Sequence[str]) -> None:
        result = await api.search_media(video_ids_match(batch), page_size=len(batch))
        found = {video.video_id: video for video in result.videos}
        for video_id in batch:
            video = found.get(video_id)
            declared = media_of(recorded[video_id].attributes)
            if video is not None and metadata_matches(video, declared):
                into.videos[video_id] = _held_once(video, video_id, declared)
            else:
                confirm.append(video_id)

    searches: list[Job] = [
        partial(search, ids[start : min(start + SEARCH_VIDEO_IDS_MAX, split.searched)])
        for start in range(0, split.searched, SEARCH_VIDEO_IDS_MAX)
    ]
    gets: list[Job] = [
        partial(get, ids[start : start + VIDEO_IDS_BATCH]) for start in range(split.searched, len(ids), VIDEO_IDS_BATCH)
    ]
    await _side_by_side(searches, gets, concurrency)
    confirm.sort()
    confirmations: list[Job] = [
        partial(get, confirm[start : start + VIDEO_IDS_BATCH]) for start in range(0, len(confirm), VIDEO_IDS_BATCH)
    ]
    await run_bounded(confirmations, concurrency)


def _held_once(video: VideoInfo, video_id: str, declared: MediaAttributes) -> VideoInfo:
    """`video` (just parsed from an answer, held nowhere else yet), made to hold the state's copies of its id and
    of the metadata equal to the state's: at scale the live state would otherwise hold a second copy of each
    (150 MB at 1,000,000 media). Set in place: a copy would cost as much again as the parse, per media."""
    _set_attribute(video, "video_id", video_id)
    for name, mine, theirs in zip(MUTABLE_NAMES, metadata_values(declared), metadata_values(video), strict=True):
        if mine is not None and mine is not theirs and mine == theirs:
            _set_attribute(video, name, mine)
    return video


_set_attribute = object.__setattr__  # VideoInfo is frozen for its readers; this one object is not shared yet


async def _side_by_side(searches: list[Job], gets: list[Job], concurrency: int) -> None:
    """Both lists at once, each with its own `concurrency` workers (each action is paced on its own)."""
    await run_bounded([partial(run_bounded, searches, concurrency), partial(run_bounded, gets, concurrency)], 2)


async def run_bounded(jobs: list[Job], concurrency: int) -> None:
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
