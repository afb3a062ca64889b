"""The typed MPS and VOD operations: models → wire parameters (with the batch limits checked first),
and response bodies → models.

Wire rules (API.md sections 4-5): every value is a string; parameters that are None are omitted; tags
are comma-joined; `RegisterMetadatas`, `UpdateContent` and `UserData` are compact JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from sys import intern
from typing import Any, cast

from reconcile.cloud.errors import TransportError
from reconcile.cloud.limits import (
    LIST_BUCKETS_PAGE_MAX,
    REGISTER_MEDIA_BATCH,
    SEARCH_PAGE_MAX,
    SEARCH_VIDEO_IDS_MAX,
    VIDEO_IDS_BATCH,
    parse_oss_url,
)
from reconcile.cloud.models import (
    BucketType,
    DeleteVideoResult,
    GetVideoInfosResult,
    MediaBucket,
    Mezzanine,
    RegisteredMedia,
    RegisterMediaRequest,
    RegisterMediaResult,
    RegisterMetadata,
    SearchMediaResult,
    UpdateVideoInfosResult,
    VideoInfo,
    VideoUpdate,
)
from reconcile.model.media import MUTABLE_FIELDS, MediaMetadata, ValueKind

Params = dict[str, str]
Body = Mapping[str, Any]


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _without_none(params: Mapping[str, str | None]) -> Params:
    return {name: value for name, value in params.items() if value is not None}


def _tags(tags: Sequence[str] | None) -> str | None:
    return None if tags is None else ",".join(tags)


# --- requests ---------------------------------------------------------------------------------------


def list_media_buckets_params(next_page_token: str | None) -> Params:
    return _without_none({"MaximumPageSize": str(LIST_BUCKETS_PAGE_MAX), "NextPageToken": next_page_token or None})


def bind_input_bucket_params(bucket: str, referer: str | None) -> Params:
    return _without_none({"Bucket": bucket, "Referer": referer})


def unbind_input_bucket_params(bucket: str) -> Params:
    return {"Bucket": bucket}


def check_batch(action: str, count: int, limit: int, what: str) -> None:
    if not 1 <= count <= limit:
        raise ValueError(f"{action} takes 1 to {limit} {what} per call, not {count}")


def video_ids_param(action: str, video_ids: Sequence[str]) -> str:
    check_batch(action, len(video_ids), VIDEO_IDS_BATCH, "video ids")
    for video_id in video_ids:
        if not video_id or "," in video_id or video_id != video_id.strip():
            raise ValueError(f"{action}: {video_id!r} is not a video id")
    return ",".join(video_ids)


def _media_fields_json(item: MediaMetadata) -> dict[str, Any]:
    """The metadata RegisterMetadatas and UpdateContent items share, by wire name; unset fields are left out."""
    fields: dict[str, Any] = {}
    for spec in MUTABLE_FIELDS:
        value = getattr(item, spec.name)
        if value is not None:
            fields[spec.wire] = _tags(value) if spec.kind is ValueKind.TEXT_LIST else value
    return fields


def _metadata_json(item: RegisterMetadata) -> dict[str, Any]:
    return {"FileURL": item.file_url, **_media_fields_json(item)}


def register_media_params(request: RegisterMediaRequest) -> Params:
    """RegisterMedia: 1-10 files, all in one OSS bucket (checked here, before anything is sent)."""
    check_batch("RegisterMedia", len(request.metadatas), REGISTER_MEDIA_BATCH, "files")
    buckets = set()
    for item in request.metadatas:
        obj = parse_oss_url(item.file_url)
        if obj is None:
            raise ValueError(f"RegisterMedia: {item.file_url!r} is not an OSS object URL")
        buckets.add(obj.bucket)
    if len(buckets) > 1:
        raise ValueError(f"RegisterMedia: one call registers files of one OSS bucket, not {sorted(buckets)}")
    user_data = None
    if request.user_data is not None:
        try:
            user_data = compact_json(json.loads(request.user_data))
        except ValueError:
            raise ValueError(f"RegisterMedia: UserData must be JSON text, not {request.user_data!r}") from None
    return _without_none(
        {
            "RegisterMetadatas": compact_json([_metadata_json(item) for item in request.metadatas]),
            "TemplateGroupId": request.template_group_id,
            "WorkflowId": request.workflow_id,
            "UserData": user_data,
        }
    )


def get_video_infos_params(video_ids: Sequence[str]) -> Params:
    return {"VideoIds": video_ids_param("GetVideoInfos", video_ids)}


def video_ids_match(video_ids: Sequence[str]) -> str:
    """A SearchMedia Match selecting these videos: `VideoId in ('a','b')`, 1-100 ids."""
    check_batch("SearchMedia", len(video_ids), SEARCH_VIDEO_IDS_MAX, "video ids in a Match")
    for video_id in video_ids:
        if not video_id or "'" in video_id or video_id != video_id.strip():
            raise ValueError(f"SearchMedia: {video_id!r} is not a video id")
    return "VideoId in (" + ",".join(f"'{video_id}'" for video_id in video_ids) + ")"


def search_media_params(
    match: str,
    *,
    page_size: int = SEARCH_PAGE_MAX,
    page_no: int | None = None,
    scroll_token: str | None = None,
    sort_by: str | None = None,
    search_type: str = "video",
) -> Params:
    """SearchMedia over videos (or audio). Match is sent as it is (percent-encoded once, by the transport); an
    empty Match is left out: every media of the type."""
    check_batch("SearchMedia", page_size, SEARCH_PAGE_MAX, "results per page")
    return _without_none(
        {
            "SearchType": search_type,
            "Match": match or None,
            "PageSize": str(page_size),
            "PageNo": None if page_no is None else str(page_no),
            "ScrollToken": scroll_token,
            "SortBy": sort_by,
        }
    )


def _update_json(update: VideoUpdate) -> dict[str, Any]:
    return {"VideoId": update.video_id, **_media_fields_json(update)}


def update_video_infos_params(updates: Sequence[VideoUpdate]) -> Params:
    video_ids_param("UpdateVideoInfos", [u.video_id for u in updates])
    return {"UpdateContent": compact_json([_update_json(update) for update in updates])}


def delete_video_params(video_ids: Sequence[str]) -> Params:
    return {"VideoIds": video_ids_param("DeleteVideo", video_ids)}


def get_mezzanine_info_params(video_id: str) -> Params:
    video_ids_param("GetMezzanineInfo", [video_id])
    return {"VideoId": video_id, "OutputType": "oss"}


# --- responses --------------------------------------------------------------------------------------
# Shapes follow the SDK response models; a body that does not fit is not the API's (TransportError).


class ShapeError(TransportError):
    """A successful response whose body does not have the documented shape."""


def _wrong_type(name: str, value: Any, expected: str, action: str) -> ShapeError:
    return ShapeError(f"response field {name} is {type(value).__name__}, not {expected}", action=action)


def _str(body: Body, name: str, action: str) -> str | None:
    value = body.get(name)
    if value is None or type(value) is str:
        return value
    raise _wrong_type(name, value, "str", action)


def _required_str(body: Body, name: str, action: str) -> str:
    value = body.get(name)
    if type(value) is str:
        return value
    if value is None:
        raise ShapeError(f"response has no {name}", action=action)
    raise _wrong_type(name, value, "str", action)


def _int(body: Body, name: str, action: str) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if type(value) is int:
        return value
    if type(value) is not str:
        raise _wrong_type(name, value, "int or str", action)
    try:
        return int(value)
    except ValueError:
        raise ShapeError(f"response field {name} is {value!r}, not a whole number", action=action) from None


def _bool(body: Body, name: str, action: str) -> bool:
    value = body.get(name)
    if value is None or type(value) is bool:
        return bool(value)
    raise _wrong_type(name, value, "bool", action)


def _object(body: Body, name: str, action: str, *, required: bool = False) -> Body:
    value = body.get(name)
    if value is None and not required:
        return {}
    if type(value) is dict:
        return value
    if value is None:
        raise ShapeError(f"response has no {name}", action=action)
    raise _wrong_type(name, value, "object", action)


def _objects(value: Any, name: str, action: str) -> list[Body]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ShapeError(f"response field {name} is not a list of objects", action=action)
    return value


def _strings(body: Body, name: str, action: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ShapeError(f"response field {name} is not a list of strings", action=action)
    return tuple(value)


def split_tags(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(intern(tag) for tag in (t.strip() for t in value.split(",")) if tag)


def _repeated(value: str | None) -> str | None:
    """A value many videos share (status, location, template group, a timestamp): one copy for all of them."""
    return None if value is None else intern(value)


def request_id(body: Body) -> str:
    return str(body["RequestId"])


def parse_media_bucket_page(body: Body) -> tuple[list[MediaBucket], str | None]:
    """One page of ListAllMediaBucket: its buckets and the next page's token (None on the last page)."""
    action = "ListAllMediaBucket"
    wrapper = _object(body, "MediaBucketList", action)
    buckets = []
    for item in _objects(wrapper.get("MediaBucket"), "MediaBucketList.MediaBucket", action):
        kind = _required_str(item, "Type", action)
        if kind not in ("Input", "Output"):
            raise ShapeError(f"bucket Type {kind!r} is neither Input nor Output", action=action)
        buckets.append(
            MediaBucket(
                bucket=_required_str(item, "Bucket", action),
                type=cast(BucketType, kind),
                referer=_str(item, "Referer", action) or None,
            )
        )
    return buckets, _str(body, "NextPageToken", action) or None


def parse_register_media(body: Body) -> RegisterMediaResult:
    action = "RegisterMedia"
    registered = tuple(
        RegisteredMedia(
            media_id=_required_str(item, "MediaId", action),
            file_url=_required_str(item, "FileURL", action),
            new_register=_bool(item, "NewRegister", action),
        )
        for item in _objects(body.get("RegisteredMediaList"), "RegisteredMediaList", action)
    )
    return RegisterMediaResult(request_id(body), registered, _strings(body, "FailedFileURLs", action))


def parse_video(item: Body, action: str) -> VideoInfo:
    return VideoInfo(
        video_id=_required_str(item, "VideoId", action),
        **{spec.name: _READ[spec.kind](item, spec.wire, action) for spec in MUTABLE_FIELDS},
        status=_repeated(_str(item, "Status", action)),
        storage_location=_repeated(_str(item, "StorageLocation", action)),
        template_group_id=_repeated(_str(item, "TemplateGroupId", action)),
        creation_time=_repeated(_str(item, "CreationTime", action)),
        modification_time=_repeated(_str(item, "ModificationTime", action)),
    )


# How a metadata field of each kind is read from an answer; VOD omits an empty text, and a title is never absent.
_READ: dict[ValueKind, Callable[[Body, str, str], Any]] = {
    ValueKind.TEXT: _str,
    ValueKind.JSON_TEXT: _str,
    ValueKind.REQUIRED_TEXT: lambda body, name, action: _str(body, name, action) or "",
    ValueKind.INTEGER: _int,
    ValueKind.TEXT_LIST: lambda body, name, action: split_tags(_str(body, name, action)),
}


def parse_get_video_infos(body: Body) -> GetVideoInfosResult:
    action = "GetVideoInfos"
    videos = tuple(parse_video(item, action) for item in _objects(body.get("VideoList"), "VideoList", action))
    return GetVideoInfosResult(request_id(body), videos, _strings(body, "NonExistVideoIds", action))


def parse_search_media(body: Body, media_type: str = "video") -> SearchMediaResult:
    """A page of a video search: each MediaList entry's `Video` (entries of other types are skipped). For an
    audio search (`media_type` "audio"), each entry's `Audio`, whose `AudioId` stands for the VideoId."""
    action = "SearchMedia"
    key = "Audio" if media_type == "audio" else "Video"
    items = (
        _object(item, key, action, required=True)
        for item in _objects(body.get("MediaList"), "MediaList", action)
        if item.get("MediaType", "video") == media_type
    )
    videos = tuple(
        parse_video(item if "VideoId" in item else {**item, "VideoId": item.get("AudioId")}, action) for item in items
    )
    total = _int(body, "Total", action)
    return SearchMediaResult(
        request_id(body), len(videos) if total is None else total, videos, _str(body, "ScrollToken", action) or None
    )


def _id_lists(body: Body, action: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """RequestId, NonExistVideoIds and ForbiddenVideoIds: the answer of UpdateVideoInfos and DeleteVideo."""
    return (
        request_id(body),
        _strings(body, "NonExistVideoIds", action),
        _strings(body, "ForbiddenVideoIds", action),
    )


def parse_update_video_infos(body: Body) -> UpdateVideoInfosResult:
    return UpdateVideoInfosResult(*_id_lists(body, "UpdateVideoInfos"))


def parse_delete_video(body: Body) -> DeleteVideoResult:
    return DeleteVideoResult(*_id_lists(body, "DeleteVideo"))


def parse_mezzanine(body: Body) -> Mezzanine:
    action = "GetMezzanineInfo"
    item = _object(body, "Mezzanine", action, required=True)
    return Mezzanine(
        video_id=_required_str(item, "VideoId", action),
        file_url=_required_str(item, "FileURL", action),
        file_name=_str(item, "FileName", action),
        status=_str(item, "Status", action),
        size=_int(item, "Size", action),
        creation_time=_str(item, "CreationTime", action),
    )
