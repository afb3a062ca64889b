"""Typed requests and results of the MPS and VOD operations reconcile uses (wire names in comments).

These are the client's public vocabulary: the engine sees these, never raw JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from reconcile.model.media import MediaMetadata

BucketType = Literal["Input", "Output"]


@dataclass(frozen=True, slots=True)
class MediaBucket:
    """One entry of ListAllMediaBucket's `MediaBucketList.MediaBucket`."""

    bucket: str  # Bucket
    type: BucketType  # Type
    referer: str | None = None  # Referer; None when absent or empty


def input_binding_refusal(listing: Iterable[MediaBucket], bucket: str, referer: str | None) -> str | None:
    """None when ListAllMediaBucket's `listing` shows `bucket` bound as BindInputBucket(bucket, referer) binds
    it; otherwise why not, for the user. The one rule for a Bucket.AlreadyBind answer: the client settles a
    retried bind with it, apply a bind that meets a binding made before it."""
    found = next((b for b in listing if b.bucket == bucket), None)
    if found is None:
        return (
            f"BindInputBucket answered Bucket.AlreadyBind, but ListAllMediaBucket does not list {bucket!r}; "
            "run `reconcile plan` again"
        )
    if found.type != "Input":
        return (
            f"bucket {bucket!r} is bound to MPS as an {found.type.lower()} bucket, not as an input bucket; "
            "reconcile never unbinds it implicitly: unbind it (UnbindOutputBucket) or remove it from the manifests"
        )
    if (found.referer or None) != (referer or None):
        return (
            f"bucket {bucket!r} is already bound as an input bucket with referer {found.referer or '(none)'!r}, "
            f"not {referer or '(none)'!r}: it changed outside reconcile since the plan; run `reconcile plan` again"
        )
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterMetadata(MediaMetadata):
    """One item of RegisterMedia's `RegisterMetadatas` JSON array: the file and the metadata it is registered
    with (wire names in `reconcile.model.media`)."""

    file_url: str  # FileURL


@dataclass(frozen=True, slots=True)
class RegisterMediaRequest:
    """One RegisterMedia call: 1-10 files in one OSS bucket plus the top-level processing settings."""

    metadatas: tuple[RegisterMetadata, ...]
    template_group_id: str | None = None  # TemplateGroupId
    workflow_id: str | None = None  # WorkflowId (wins over TemplateGroupId at the API)
    user_data: str | None = None  # UserData, JSON text


@dataclass(frozen=True, slots=True)
class RegisteredMedia:
    media_id: str  # MediaId
    file_url: str  # FileURL, echoing the request
    new_register: bool  # NewRegister: False means the file was registered before (adoption)


@dataclass(frozen=True, slots=True)
class RegisterMediaResult:
    request_id: str
    registered: tuple[RegisteredMedia, ...]  # RegisteredMediaList
    failed_file_urls: tuple[str, ...]  # FailedFileURLs


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoInfo(MediaMetadata):
    """A video as GetVideoInfos returns it: its metadata (the fields reconcile manages; tags () when it has
    none), plus status and location."""

    video_id: str  # VideoId
    status: str | None = None  # Status
    storage_location: str | None = None  # StorageLocation
    template_group_id: str | None = None  # TemplateGroupId
    creation_time: str | None = None  # CreationTime
    modification_time: str | None = None  # ModificationTime


@dataclass(frozen=True, slots=True)
class GetVideoInfosResult:
    request_id: str
    videos: tuple[VideoInfo, ...]  # VideoList
    non_exist_video_ids: tuple[str, ...]  # NonExistVideoIds


@dataclass(frozen=True, slots=True)
class SearchMediaResult:
    """One page of SearchMedia (SearchType video): the videos on it and where the walk goes on."""

    request_id: str
    total: int  # Total: every hit of the Match, not just this page's
    videos: tuple[VideoInfo, ...]  # MediaList[].Video
    scroll_token: str | None  # ScrollToken: continues after this page (video and audio searches only)


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoUpdate(MediaMetadata):
    """One item of UpdateVideoInfos' `UpdateContent`: only the metadata fields that are not None change."""

    video_id: str  # VideoId


@dataclass(frozen=True, slots=True)
class UpdateVideoInfosResult:
    request_id: str
    non_exist_video_ids: tuple[str, ...] = ()  # NonExistVideoIds
    forbidden_video_ids: tuple[str, ...] = ()  # ForbiddenVideoIds


@dataclass(frozen=True, slots=True)
class DeleteVideoResult:
    request_id: str
    non_exist_video_ids: tuple[str, ...] = ()  # NonExistVideoIds
    forbidden_video_ids: tuple[str, ...] = ()  # ForbiddenVideoIds


@dataclass(frozen=True, slots=True)
class Mezzanine:
    """GetMezzanineInfo's `Mezzanine`: the source file record of a video."""

    video_id: str  # VideoId
    file_url: str  # FileURL
    file_name: str | None = None  # FileName
    status: str | None = None  # Status
    size: int | None = None  # Size
    creation_time: str | None = None  # CreationTime


@dataclass(slots=True)
class ActionStats:
    calls: int = 0  # requests sent, retries included
    retries: int = 0  # attempts after the first
    throttled: int = 0  # attempts answered with a throttling error
    errors: int = 0  # calls that finally failed


@dataclass(slots=True)
class CallStats:
    """Per-action accounting kept by the client; the engine prints it after plan and apply."""

    actions: dict[str, ActionStats] = field(default_factory=dict)

    def of(self, action: str) -> ActionStats:
        return self.actions.setdefault(action, ActionStats())

    @property
    def total_calls(self) -> int:
        return sum(s.calls for s in self.actions.values())
