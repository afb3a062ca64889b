"""The attributes reconcile manages, in one canonical JSON-ready form shared by diff, plan, state and drift.

A resource's attributes are a flat dict holding only what the manifest declares (an undeclared optional
field is absent: reconcile neither sends nor diffs it). `ResourceChange.after` is exactly this dict, and
it is what apply records in state as the last-applied attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.manifest.desired import DesiredBucket, DesiredMedia

# Changed in place by UpdateVideoInfos, and read back by GetVideoInfos.
MEDIA_MUTABLE_FIELDS: tuple[str, ...] = ("title", "description", "tags", "cover_url", "cate_id")
# Sent only with RegisterMedia: changing them later has no effect on a registered file.
MEDIA_REGISTRATION_FIELDS: tuple[str, ...] = ("template_group_id", "workflow_id", "user_data")
MEDIA_FIELDS: tuple[str, ...] = ("file_url", *MEDIA_MUTABLE_FIELDS, *MEDIA_REGISTRATION_FIELDS)
BUCKET_FIELDS: tuple[str, ...] = ("referer",)


def bucket_attributes(bucket: DesiredBucket) -> dict[str, Any]:
    return {} if bucket.referer is None else {"referer": bucket.referer}


def live_bucket_attributes(binding: MediaBucket) -> dict[str, Any]:
    return {"referer": binding.referer}


def media_attributes(media: DesiredMedia) -> dict[str, Any]:
    """The declared attributes of a media entry; tags as a list, as JSON and the state hold them."""
    attrs: dict[str, Any] = {"file_url": media.file_url, "title": media.title}
    if media.description is not None:
        attrs["description"] = media.description
    if media.tags is not None:
        attrs["tags"] = list(media.tags)
    if media.cover_url is not None:
        attrs["cover_url"] = media.cover_url
    if media.cate_id is not None:
        attrs["cate_id"] = media.cate_id
    if media.template_group_id is not None:
        attrs["template_group_id"] = media.template_group_id
    if media.workflow_id is not None:
        attrs["workflow_id"] = media.workflow_id
    if media.user_data is not None:
        attrs["user_data"] = media.user_data
    return attrs


def live_media_attributes(video: VideoInfo) -> dict[str, Any]:
    """What VOD holds for the mutable fields, as GetVideoInfos reported it."""
    return {
        "title": video.title,
        "description": video.description,
        "tags": list(video.tags),
        "cover_url": video.cover_url,
        "cate_id": video.cate_id,
    }


def comparable(field: str, value: Any) -> Any:
    """A value normalised for equality: VOD reports an empty string field as absent, and tags are a set."""
    if field == "tags":
        return frozenset(value or ())
    if field in ("description", "cover_url", "referer") and value is None:
        return ""
    return value


def live_media_matches(video: VideoInfo, declared: Mapping[str, Any]) -> bool:
    """Whether VOD holds every mutable field `declared` declares, compared as `comparable` compares them.

    The same answer as "changed_fields(live_media_attributes(video), declared, MEDIA_MUTABLE_FIELDS) is
    empty", without building the live attributes: the diff asks it for every converged media."""
    return (
        declared.get("title", video.title) == video.title
        and (declared.get("description", video.description) or "") == (video.description or "")
        and ("tags" not in declared or frozenset(declared["tags"] or ()) == frozenset(video.tags))
        and (declared.get("cover_url", video.cover_url) or "") == (video.cover_url or "")
        and declared.get("cate_id", video.cate_id) == video.cate_id
    )
