"""One region's MPS and VOD operations over a session: the HTTP implementation of `MediaApi`.

Batch limits are checked before anything is sent (ValueError). Two calls settle a retry whose earlier
attempt may have been carried out although its answer was lost (a timeout, a reset, a 5xx):
- UnbindInputBucket then meets "not bound": the bucket is unbound, which is what was asked;
- BindInputBucket then meets `Bucket.AlreadyBind`: the listing tells whether the binding is the one
  asked for (input, same referer); only then is it success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from reconcile.cloud import operations as ops
from reconcile.cloud.errors import CloudError, ConflictError, NotFoundError, TransportError
from reconcile.cloud.limits import SEARCH_PAGE_MAX
from reconcile.cloud.models import (
    DeleteVideoResult,
    GetVideoInfosResult,
    MediaBucket,
    Mezzanine,
    RegisterMediaRequest,
    RegisterMediaResult,
    SearchMediaResult,
    UpdateVideoInfosResult,
    VideoUpdate,
    input_binding_refusal,
)
from reconcile.cloud.settings import ClientSettings

MAX_BUCKET_PAGES = 10_000  # a guard against a service that hands out tokens forever


Settle = Callable[[CloudError], Awaitable[dict[str, Any] | None]]


class Caller(Protocol):
    @property
    def settings(self) -> ClientSettings: ...

    async def call(
        self, product: str, region: str, action: str, params: dict[str, str], *, settle: Settle | None = None
    ) -> dict[str, Any]: ...


class RegionClient:
    """`reconcile.cloud.api.MediaApi` for one region; get it from `CloudSession.client(region)`."""

    def __init__(self, session: Caller, region: str) -> None:
        self._session = session
        self.region = region

    def __repr__(self) -> str:
        return f"RegionClient(region={self.region!r})"

    def qps_limit(self, action: str) -> float:
        return self._session.settings.qps_limit(action)

    async def _mts(self, action: str, params: dict[str, str], settle: Settle | None = None) -> dict[str, Any]:
        return await self._session.call("mts", self.region, action, params, settle=settle)

    async def _vod(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._session.call("vod", self.region, action, params)

    # --- MPS -----------------------------------------------------------------------------------------

    async def list_all_media_buckets(self) -> list[MediaBucket]:
        buckets: list[MediaBucket] = []
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_BUCKET_PAGES):
            body = await self._mts("ListAllMediaBucket", ops.list_media_buckets_params(token))
            page, token = ops.parse_media_bucket_page(body)
            buckets.extend(page)
            if token is None:
                return buckets
            if token in seen:
                raise TransportError(
                    f"NextPageToken {token!r} came back twice: paging would never end", action="ListAllMediaBucket"
                )
            seen.add(token)
        raise TransportError(f"more than {MAX_BUCKET_PAGES} pages of media buckets", action="ListAllMediaBucket")

    async def bind_input_bucket(self, bucket: str, referer: str | None = None) -> str:
        async def settle(error: CloudError) -> dict[str, Any] | None:
            if not isinstance(error, ConflictError):
                return None
            refusal = input_binding_refusal(await self.list_all_media_buckets(), bucket, referer)
            return {"RequestId": error.request_id or ""} if refusal is None else None

        body = await self._mts("BindInputBucket", ops.bind_input_bucket_params(bucket, referer), settle)
        return ops.request_id(body)

    async def unbind_input_bucket(self, bucket: str) -> str:
        async def settle(error: CloudError) -> dict[str, Any] | None:
            return {"RequestId": error.request_id or ""} if isinstance(error, NotFoundError) else None

        body = await self._mts("UnbindInputBucket", ops.unbind_input_bucket_params(bucket), settle)
        return ops.request_id(body)

    # --- VOD -----------------------------------------------------------------------------------------

    async def register_media(self, request: RegisterMediaRequest) -> RegisterMediaResult:
        return ops.parse_register_media(await self._vod("RegisterMedia", ops.register_media_params(request)))

    async def get_video_infos(self, video_ids: Sequence[str]) -> GetVideoInfosResult:
        return ops.parse_get_video_infos(await self._vod("GetVideoInfos", ops.get_video_infos_params(video_ids)))

    async def search_media(
        self,
        match: str,
        *,
        page_size: int = SEARCH_PAGE_MAX,
        scroll_token: str | None = None,
        search_type: str = "video",
    ) -> SearchMediaResult:
        params = ops.search_media_params(match, page_size=page_size, scroll_token=scroll_token, search_type=search_type)
        return ops.parse_search_media(await self._vod("SearchMedia", params), search_type)

    async def update_video_infos(self, updates: Sequence[VideoUpdate]) -> UpdateVideoInfosResult:
        body = await self._vod("UpdateVideoInfos", ops.update_video_infos_params(updates))
        return ops.parse_update_video_infos(body)

    async def delete_video(self, video_ids: Sequence[str]) -> DeleteVideoResult:
        return ops.parse_delete_video(await self._vod("DeleteVideo", ops.delete_video_params(video_ids)))

    async def get_mezzanine_info(self, video_id: str) -> Mezzanine:
        return ops.parse_mezzanine(await self._vod("GetMezzanineInfo", ops.get_mezzanine_info_params(video_id)))
