"""The interface the engine programs against: one region's MPS and VOD operations.

`reconcile.cloud.client` implements it over HTTP; tests may implement it in memory. Every method
raises the `reconcile.cloud.errors` tree after the client's retries are exhausted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from reconcile.cloud import models


class MediaApi(Protocol):
    """One region's API surface. Batch limits are checked before sending (ValueError when exceeded)."""

    region: str

    def qps_limit(self, action: str) -> float:
        """The account's calls per second for `action` that this client paces to (reads are planned with it)."""
        ...

    # MPS
    async def list_all_media_buckets(self) -> list[models.MediaBucket]:
        """ListAllMediaBucket, following NextPageToken through every page."""
        ...

    async def bind_input_bucket(self, bucket: str, referer: str | None = None) -> str:
        """BindInputBucket; returns the request id."""
        ...

    async def unbind_input_bucket(self, bucket: str) -> str:
        """UnbindInputBucket; returns the request id."""
        ...

    # VOD
    async def register_media(self, request: models.RegisterMediaRequest) -> models.RegisterMediaResult:
        """RegisterMedia: 1-10 files, all in one OSS bucket."""
        ...

    async def get_video_infos(self, video_ids: Sequence[str]) -> models.GetVideoInfosResult:
        """GetVideoInfos: 1-20 ids; unknown ids come back in `non_exist_video_ids`."""
        ...

    async def search_media(
        self, match: str, *, page_size: int = 100, scroll_token: str | None = None, search_type: str = "video"
    ) -> models.SearchMediaResult:
        """SearchMedia over videos (or `search_type` "audio"): one page of up to `page_size` (≤100) hits of
        `match`, continued after the previous page with its `scroll_token`."""
        ...

    async def update_video_infos(self, updates: Sequence[models.VideoUpdate]) -> models.UpdateVideoInfosResult:
        """UpdateVideoInfos: 1-20 items, only the fields set on each item change."""
        ...

    async def delete_video(self, video_ids: Sequence[str]) -> models.DeleteVideoResult:
        """DeleteVideo: 1-20 ids. Deletes the media AND its source file in OSS."""
        ...

    async def get_mezzanine_info(self, video_id: str) -> models.Mezzanine:
        """GetMezzanineInfo with OutputType=oss."""
        ...


# The client for a region: what plan and apply are given, so that each call goes to its resource's region.
ApiForRegion = Callable[[str], MediaApi]
