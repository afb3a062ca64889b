"""Wire adapter for the backends (moto's `responses.py`): string parameters in, the services' JSON shapes out.

Each handler parses its action's parameters, calls the backend verb of the same name and builds the body
exactly as the official SDK models (`<Action>ResponseBody`) read it. `RequestId` is added by the gateway.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from reconcile.cloud.limits import LIST_BUCKETS_PAGE_DEFAULT, MTS_VERSION, VOD_VERSION
from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import iso_utc
from reconcile.emulator.exceptions import invalid_parameter, missing_parameter
from reconcile.emulator.search import SEARCH_TYPES, SearchQuery, parse_scroll_token, parse_sort_by
from reconcile.emulator.vod import MediaRecord, RegisterItem, VideoPatch
from reconcile.model.media import MUTABLE_FIELDS, ValueKind

Body = dict[str, Any]
Handler = Callable[[EmulatorBackend, "Params"], Body]

OSS_AUTH_TIMEOUT_MAX = 129_600  # OutputType=oss for the caller's own buckets (registered media live there)


class Params:
    """An action's parameters, all strings on the wire. An empty value counts as absent."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        return self._values.get(name) or None

    def require(self, name: str) -> str:
        value = self._values.get(name)
        if not value:
            raise missing_parameter(name)
        return value

    def integer(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid_parameter(name) from None

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise invalid_parameter(name)
        return value.lower() == "true"

    def json(self, name: str, *, required: bool = True) -> Any:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise invalid_parameter(name) from None

    def id_list(self, name: str) -> list[str]:
        return [v.strip() for v in (self.get(name) or "").split(",") if v.strip()]


# --- MPS ---------------------------------------------------------------------------------------------


def bind_input_bucket(backend: EmulatorBackend, params: Params) -> Body:
    backend.mps.bind_input_bucket(params.require("Bucket"), params.get("Referer"))
    return {}


def unbind_input_bucket(backend: EmulatorBackend, params: Params) -> Body:
    backend.mps.unbind_input_bucket(params.require("Bucket"), params.get("RoleArn"))
    return {}


def bind_output_bucket(backend: EmulatorBackend, params: Params) -> Body:
    backend.mps.bind_output_bucket(params.require("Bucket"))
    return {}


def unbind_output_bucket(backend: EmulatorBackend, params: Params) -> Body:
    backend.mps.unbind_output_bucket(params.require("Bucket"))
    return {}


def list_all_media_bucket(backend: EmulatorBackend, params: Params) -> Body:
    page = backend.mps.list_all_media_bucket(
        params.get("NextPageToken"), params.integer("MaximumPageSize", LIST_BUCKETS_PAGE_DEFAULT)
    )
    buckets: list[Body] = []
    for binding in page.buckets:
        entry: Body = {"Bucket": binding.bucket, "Type": binding.type}
        if binding.referer is not None:
            entry["Referer"] = binding.referer
        buckets.append(entry)
    body: Body = {"MediaBucketList": {"MediaBucket": buckets}}
    if page.next_page_token is not None:
        body["NextPageToken"] = page.next_page_token
    return body


# --- VOD ---------------------------------------------------------------------------------------------


def register_media(backend: EmulatorBackend, params: Params) -> Body:
    metadatas = _json_objects(params, "RegisterMetadatas")
    user_data = params.get("UserData")
    if user_data is not None:
        params.json("UserData")  # must be JSON text
    result = backend.vod.register_media(
        [_register_item(m) for m in metadatas],
        template_group_id=params.get("TemplateGroupId"),
        workflow_id=params.get("WorkflowId"),
        user_data=user_data,
        enable_first_frame_cover=params.boolean("EnableFirstFrameCover"),
        generate_thumbnail=params.boolean("GenerateThumbnail"),
    )
    return {
        "RegisteredMediaList": [
            {"MediaId": r.media_id, "FileURL": r.file_url, "NewRegister": r.new_register} for r in result.registered
        ],
        "FailedFileURLs": result.failed_file_urls,
    }


def get_video_info(backend: EmulatorBackend, params: Params) -> Body:
    record = backend.vod.get_video_info(params.get("VideoId"), params.get("ReferenceId"))
    video = video_fields(record)
    video["Snapshots"] = {"Snapshot": []}
    if record.region is not None:
        video["RegionId"] = record.region
    return {"Video": video}


def get_video_infos(backend: EmulatorBackend, params: Params) -> Body:
    lookup = backend.vod.get_video_infos(params.id_list("VideoIds"), params.id_list("ReferenceIds"))
    videos = []
    for record in lookup.videos:
        video = video_fields(record)
        video["Snapshots"] = []
        videos.append(video)
    body: Body = {"VideoList": videos, "NonExistVideoIds": lookup.non_exist_video_ids}
    if lookup.non_exist_reference_ids:
        body["NonExistReferenceIds"] = lookup.non_exist_reference_ids
    return body


def update_video_infos(backend: EmulatorBackend, params: Params) -> Body:
    content = _json_objects(params, "UpdateContent")
    missing = backend.vod.update_video_infos([_video_patch(item) for item in content])
    return {"NonExistVideoIds": missing, "ForbiddenVideoIds": [], "NonExistReferenceIds": []}


def delete_video(backend: EmulatorBackend, params: Params) -> Body:
    missing = backend.vod.delete_video(params.id_list("VideoIds"))
    return {"NonExistVideoIds": missing, "ForbiddenVideoIds": []}


def get_mezzanine_info(backend: EmulatorBackend, params: Params) -> Body:
    output_type = (params.get("OutputType") or "cdn").lower()
    if output_type not in ("oss", "cdn"):
        raise invalid_parameter("OutputType")
    auth_timeout = params.integer("AuthTimeout", 3600)
    if auth_timeout < 1 or (output_type == "oss" and auth_timeout > OSS_AUTH_TIMEOUT_MAX):
        raise invalid_parameter("AuthTimeout")
    additions = set(params.id_list("AdditionType"))
    if not additions <= {"video", "audio"}:
        raise invalid_parameter("AdditionType")
    record = backend.vod.get_mezzanine_info(params.get("VideoId") or "")
    mezzanine: Body = {
        "VideoId": record.media_id,
        "FileURL": record.file_url,
        "FileName": posixpath.basename(record.object_key),
        "Status": "Normal",
        "CreationTime": iso_utc(record.creation_time),
        "OutputType": output_type,
        "Size": record.size,
        "StorageClass": "Standard",
    }
    if "video" in additions:
        mezzanine["VideoStreamList"] = []
    if "audio" in additions:
        mezzanine["AudioStreamList"] = []
    return {"Mezzanine": mezzanine}


def search_media(backend: EmulatorBackend, params: Params) -> Body:
    search_type = (params.get("SearchType") or "video").lower()
    if search_type not in SEARCH_TYPES:
        raise invalid_parameter("SearchType")
    scroll_token = params.get("ScrollToken")
    query = SearchQuery(
        match=params.get("Match"),
        search_type=search_type,
        sort_by=parse_sort_by(params.get("SortBy")),
        page_no=params.integer("PageNo", 1),
        page_size=params.integer("PageSize", 10),
        scroll_offset=parse_scroll_token(scroll_token) if scroll_token else None,
    )
    page = backend.vod.search_media(query)
    media_list = []
    for record in page.media:
        fields_ = video_fields(record)
        fields_["Snapshots"] = []
        fields_["SpriteSnapshots"] = []
        key = "Video"
        if record.media_type == "audio":
            fields_["AudioId"] = fields_.pop("VideoId")
            key = "Audio"
        media_list.append(
            {
                "MediaId": record.media_id,
                "MediaType": record.media_type,
                "CreationTime": fields_["CreationTime"],
                key: fields_,
            }
        )
    body: Body = {"Total": page.total, "MediaList": media_list}
    if search_type in ("video", "audio"):
        body["ScrollToken"] = page.scroll_token
    return body


def video_fields(record: MediaRecord) -> Body:
    """The fields GetVideoInfo, GetVideoInfos and SearchMedia share; absent optional fields are omitted."""
    video: Body = {"VideoId": record.media_id}
    optional = {
        **{spec.wire: record.metadata.get(spec.name) for spec in MUTABLE_FIELDS},
        "TemplateGroupId": record.template_group_id,
        "UserData": record.user_data,
    }
    video.update({k: v for k, v in optional.items() if v is not None})
    video.update(
        {
            "Status": record.status,
            "Size": record.size,
            "StorageLocation": record.storage_location,
            "StorageClass": "Standard",
            "DownloadSwitch": "on",
            "AppId": record.app_id,
            "CreationTime": iso_utc(record.creation_time),
            "ModificationTime": iso_utc(record.modification_time),
        }
    )
    return video


def _register_item(raw: dict[str, Any]) -> RegisterItem:
    return RegisterItem(_text(raw, "FileURL") or "", **_metadata(raw))


def _video_patch(raw: dict[str, Any]) -> VideoPatch:
    return VideoPatch(_text(raw, "VideoId") or "", **_metadata(raw))


def _metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """The metadata fields of a RegisterMetadatas or UpdateContent item, by field name (tags as the wire's text)."""
    return {
        spec.name: (_integer if spec.kind is ValueKind.INTEGER else _text)(raw, spec.wire) for spec in MUTABLE_FIELDS
    }


def _json_objects(params: Params, name: str) -> list[dict[str, Any]]:
    """A parameter holding a JSON array of objects (RegisterMetadatas, UpdateContent); InvalidParameter if not."""
    value = params.json(name)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_parameter(name)
    return value


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value
    raise invalid_parameter(name)


def _integer(raw: dict[str, Any], name: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid_parameter(name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise invalid_parameter(name)


# (version, action) -> handler: one port serves both products.
_MTS_HANDLERS: dict[str, Handler] = {
    "BindInputBucket": bind_input_bucket,
    "UnbindInputBucket": unbind_input_bucket,
    "BindOutputBucket": bind_output_bucket,
    "UnbindOutputBucket": unbind_output_bucket,
    "ListAllMediaBucket": list_all_media_bucket,
}
_VOD_HANDLERS: dict[str, Handler] = {
    "RegisterMedia": register_media,
    "GetVideoInfo": get_video_info,
    "GetVideoInfos": get_video_infos,
    "UpdateVideoInfos": update_video_infos,
    "DeleteVideo": delete_video,
    "GetMezzanineInfo": get_mezzanine_info,
    "SearchMedia": search_media,
}
HANDLERS: dict[tuple[str, str], Handler] = {
    **{(MTS_VERSION, action): handler for action, handler in _MTS_HANDLERS.items()},
    **{(VOD_VERSION, action): handler for action, handler in _VOD_HANDLERS.items()},
}
PRODUCTS = {MTS_VERSION: "mts", VOD_VERSION: "vod"}
