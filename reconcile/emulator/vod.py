"""The VOD media backend (vod 2017-03-21): register OSS files as media, read, update, delete and search them.

Rules (API.md section 5), with the emulator's documented choices where the service's are unconfirmed:
- RegisterMedia takes 1-10 files, all in one OSS bucket; a field over its limit or a mixed batch fails the
  whole call. A file is identified by (bucket, object key): registering it again returns its MediaId with
  `NewRegister: false` and changes nothing. URLs that are not OSS object URLs, lack a media extension or
  name an object missing from the inventory are listed in `FailedFileURLs`; the rest succeed.
- WorkflowId beats TemplateGroupId. Status after registration: `Normal` with `VOD_NO_TRANSCODE`,
  `UploadSucc` with neither, otherwise `Transcoding`, which becomes `Normal` `transcode_seconds` after
  registration (evaluated whenever the media is read, so it is exact in virtual time).
- UpdateVideoInfos changes only the fields present in an item; DeleteVideo removes the record and its
  source object from the inventory; unknown ids are listed, never an error, for the batch calls.
- SearchMedia answers from an index that lags `search_lag` seconds behind writes (default 0: immediately
  consistent), as the real index may: a media registered, updated or deleted less than that long ago is
  found as it was before (or not found). The lag applies from when it is set: changes older than that
  setting are not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from reconcile.cloud.limits import (
    AUDIO_EXTENSIONS,
    COVER_URL_MAX,
    DESCRIPTION_MAX,
    EMOJI_RE,
    FILE_URL_MAX,
    REGISTER_MEDIA_BATCH,
    SEARCH_DEPTH_MAX,
    SEARCH_PAGE_MAX,
    SEARCH_SCROLL_WINDOW,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    VIDEO_IDS_BATCH,
    OssObject,
    has_media_extension,
    parse_oss_url,
    utf8_len,
)
from reconcile.emulator.clock import EmulatorClock
from reconcile.emulator.exceptions import ServiceError, invalid_parameter, missing_parameter
from reconcile.emulator.ids import IdFactory
from reconcile.emulator.objects import ObjectInventory
from reconcile.emulator.search import Predicate, SearchQuery, compile_match
from reconcile.model.media import MUTABLE_NAMES

NO_TRANSCODE = "VOD_NO_TRANSCODE"
APP_ID = "app-1000000"  # every account's default VOD application
DEFAULT_TRANSCODE_SECONDS = 2.0
REFERENCE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


# A media's metadata as the wire carries it (tags comma-joined), by the model's field names
# (reconcile.model.media.MUTABLE_FIELDS): the fields set, and nothing else.
WireMetadata = dict[str, str | int]


def wire_metadata(**values: str | int | None) -> WireMetadata:
    """The metadata set among `values`; TypeError for a name that is not a media metadata field."""
    unknown = sorted(set(values) - set(MUTABLE_NAMES))
    if unknown:
        raise TypeError(f"not media metadata fields: {', '.join(unknown)}")
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True, init=False)
class RegisterItem:
    """One RegisterMetadata object: the file and the metadata sent with it."""

    file_url: str
    metadata: WireMetadata

    def __init__(self, file_url: str, title: str | None = None, **metadata: str | int | None) -> None:
        object.__setattr__(self, "file_url", file_url)
        object.__setattr__(self, "metadata", wire_metadata(title=title, **metadata))


@dataclass(frozen=True, slots=True, init=False)
class VideoPatch:
    """One UpdateVideoInfos item: a field not sent is left unchanged; an empty string empties it."""

    video_id: str
    metadata: WireMetadata

    def __init__(self, video_id: str, **metadata: str | int | None) -> None:
        object.__setattr__(self, "video_id", video_id)
        object.__setattr__(self, "metadata", wire_metadata(**metadata))


@dataclass(slots=True)
class MediaRecord:
    media_id: str
    file_url: str  # as first registered
    bucket: str
    object_key: str
    storage_location: str  # the bucket host, e.g. media.oss-cn-shanghai.aliyuncs.com
    region: str | None
    media_type: str  # video or audio, by extension
    metadata: WireMetadata  # replaced, never changed in place: a copy of the record keeps its own
    template_group_id: str | None
    workflow_id: str | None
    user_data: str | None
    enable_first_frame_cover: bool | None
    generate_thumbnail: bool | None
    status: str
    creation_time: float
    modification_time: float
    transcode_done_at: float | None  # when a Transcoding media becomes Normal
    size: int
    sequence: int

    @property
    def app_id(self) -> str:
        return APP_ID

    @property
    def oss_object(self) -> OssObject:
        return OssObject(bucket=self.bucket, host=self.storage_location, region=self.region, key=self.object_key)


@dataclass(frozen=True, slots=True)
class Registration:
    media_id: str
    file_url: str  # echoes the request
    new_register: bool


@dataclass(frozen=True, slots=True)
class RegisterResult:
    registered: list[Registration]
    failed_file_urls: list[str]


@dataclass(frozen=True, slots=True)
class VideoLookup:
    videos: list[MediaRecord]
    non_exist_video_ids: list[str]
    non_exist_reference_ids: list[str]


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    media: list[MediaRecord]
    scroll_token: str


# Every Status VOD reports for audio and video ("Basic data types: Status").
MEDIA_STATUSES = (
    "Uploading",
    "UploadFail",
    "UploadSucc",
    "Transcoding",
    "TranscodeFail",
    "checking",
    "checkFail",
    "Blocked",
    "Normal",
    "ProduceFail",
)


class VodBackend:
    def __init__(
        self,
        objects: ObjectInventory,
        clock: EmulatorClock,
        ids: IdFactory,
        *,
        transcode_seconds: float = DEFAULT_TRANSCODE_SECONDS,
        search_lag: float = 0.0,
    ) -> None:
        self._objects = objects
        self._clock = clock
        self._ids = ids
        self.transcode_seconds = transcode_seconds
        self._media: dict[str, MediaRecord] = {}
        self._by_object: dict[str, str] = {}  # (bucket/key) identity -> media id
        self._sequence = 0
        self.revision = 0
        self._search_lag = 0.0
        # While the index lags: (when, media id, the record before that change or None if it did not exist).
        self._changes: list[tuple[float, str, MediaRecord | None]] = []
        self._pending_changes = 0  # changes the index had not seen at the last search
        self._scan: tuple[tuple[object, ...], list[MediaRecord]] | None = None  # the last full scan's sorted hits
        self.search_lag = search_lag

    @property
    def search_lag(self) -> float:
        """Seconds the search index lags behind writes."""
        return self._search_lag

    @search_lag.setter
    def search_lag(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the search lag cannot be negative")
        self._search_lag = float(seconds)
        if not seconds:
            self._changes.clear()

    # --- API verbs ---------------------------------------------------------------------------------

    def register_media(
        self,
        items: Sequence[RegisterItem],
        *,
        template_group_id: str | None = None,
        workflow_id: str | None = None,
        user_data: str | None = None,
        enable_first_frame_cover: bool | None = None,
        generate_thumbnail: bool | None = None,
    ) -> RegisterResult:
        if not items or len(items) > REGISTER_MEDIA_BATCH:
            raise invalid_parameter("RegisterMetadatas")
        for item in items:
            _check_register_item(item)
        parsed = [parse_oss_url(item.file_url) for item in items]
        if len({obj.bucket for obj in parsed if obj is not None}) > 1:
            raise invalid_parameter("RegisterMetadatas")
        if workflow_id:
            template_group_id = None  # the workflow wins; the template group is ignored
        registered: list[Registration] = []
        failed: list[str] = []
        for item, obj in zip(items, parsed, strict=True):
            if obj is None or not has_media_extension(obj.key):
                failed.append(item.file_url)
                continue
            existing = self._by_object.get(obj.identity)
            if existing is not None:
                registered.append(Registration(existing, item.file_url, new_register=False))
                continue
            if not self._objects.exists(obj):
                failed.append(item.file_url)
                continue
            record = self._create(item, obj, template_group_id, workflow_id, user_data)
            record.enable_first_frame_cover = enable_first_frame_cover
            record.generate_thumbnail = generate_thumbnail
            registered.append(Registration(record.media_id, item.file_url, new_register=True))
        return RegisterResult(registered=registered, failed_file_urls=failed)

    def get_video_info(self, video_id: str | None = None, reference_id: str | None = None) -> MediaRecord:
        if not video_id:
            if not reference_id:
                raise missing_parameter("VideoId")
            _check_reference_id(reference_id)
            raise ServiceError("InvalidVideo.NotFound")  # registered media carry no ReferenceId
        record = self._media.get(video_id)
        if record is None:
            raise ServiceError("InvalidVideo.NotFound")
        return self._settled(record)

    def get_video_infos(self, video_ids: Sequence[str] = (), reference_ids: Sequence[str] = ()) -> VideoLookup:
        if not video_ids and not reference_ids:
            raise missing_parameter("VideoIds")
        if len(video_ids) > VIDEO_IDS_BATCH:
            raise invalid_parameter("VideoIds")
        if len(reference_ids) > VIDEO_IDS_BATCH:
            raise invalid_parameter("ReferenceIds")
        for reference_id in reference_ids:
            _check_reference_id(reference_id)
        found: list[MediaRecord] = []
        missing: list[str] = []
        for video_id in _unique(video_ids):
            record = self._media.get(video_id)
            if record is None:
                missing.append(video_id)
            else:
                found.append(self._settled(record))
        return VideoLookup(found, missing, list(_unique(reference_ids)))

    def update_video_infos(self, patches: Sequence[VideoPatch]) -> list[str]:
        """Returns the ids that do not exist (NonExistVideoIds); the others are updated."""
        if not patches:
            raise invalid_parameter("UpdateContent")
        if len(patches) > VIDEO_IDS_BATCH:
            raise ServiceError("CountExceededMax", name="UpdateContent")
        for patch in patches:
            if not patch.video_id:
                raise missing_parameter("VideoId")
            _check_fields(patch.metadata)
        now = self._clock.time()
        missing: list[str] = []
        for patch in patches:
            record = self._media.get(patch.video_id)
            if record is None:
                if patch.video_id not in missing:
                    missing.append(patch.video_id)
                continue
            self._settled(record)
            self._changed(now, record.media_id, replace(record))
            record.metadata = {**record.metadata, **patch.metadata}
            record.modification_time = now
        self.revision += 1
        return missing

    def delete_video(self, video_ids: Sequence[str]) -> list[str]:
        """Deletes the media and their source objects; returns the ids that do not exist (NonExistVideoIds)."""
        if not video_ids:
            raise missing_parameter("VideoIds")
        if len(video_ids) > VIDEO_IDS_BATCH:
            raise ServiceError("VideoIdsExceededMax")
        missing: list[str] = []
        now = self._clock.time()
        for video_id in _unique(video_ids):
            record = self._media.pop(video_id, None)
            if record is None:
                missing.append(video_id)
                continue
            self._changed(now, video_id, self._settled(record))
            obj = record.oss_object
            self._by_object.pop(obj.identity, None)
            self._objects.delete(obj)
        self.revision += 1
        return missing

    def get_mezzanine_info(self, video_id: str) -> MediaRecord:
        if not video_id:
            raise missing_parameter("VideoId")
        record = self._media.get(video_id)
        if record is None:
            raise ServiceError("InvalidVideo.NotFound")
        if not self._objects.exists(record.oss_object):
            raise ServiceError("InvalidFile.NotFound")
        return self._settled(record)

    def search_media(self, query: SearchQuery) -> SearchPage:
        if not 1 <= query.page_size <= SEARCH_PAGE_MAX:
            raise invalid_parameter("PageSize")
        if query.page_no < 1:
            raise invalid_parameter("PageNo")
        wanted_type = {"video": "video", "audio": "audio"}.get(query.search_type)
        if query.scroll_offset is not None:
            if wanted_type is None:
                raise invalid_parameter("ScrollToken")  # video and audio searches only
            if query.page_no * query.page_size > SEARCH_SCROLL_WINDOW:
                raise invalid_parameter("PageNo")  # a token moves at most 1,200 records from its page
            start = query.scroll_offset + (query.page_no - 1) * query.page_size
        else:
            start = (query.page_no - 1) * query.page_size
            if start + query.page_size > SEARCH_DEPTH_MAX:
                raise invalid_parameter("PageNo")
        match = compile_match(query.match)
        if match.video_ids is not None:
            for video_id in match.video_ids:
                if video_id in self._media:
                    self._settled(self._media[video_id])
            view = self._search_view()
            candidates: Iterable[MediaRecord] = (view[i] for i in match.video_ids if i in view)
            hits = self._sorted_hits(candidates, match.predicate, wanted_type, query.sort_by)
        else:
            hits = self._scan_hits(query, match.predicate, wanted_type)
        page = hits[start : start + query.page_size]
        return SearchPage(total=len(hits), media=page, scroll_token=f"{start + len(page):032x}")

    def _scan_hits(self, query: SearchQuery, predicate: Predicate, wanted_type: str | None) -> list[MediaRecord]:
        """Every hit of a Match without a VideoId condition, sorted; kept while the index does not change, so
        walking a large result page by page does not filter and sort everything again for each page."""
        for record in self._media.values():
            self._settled(record)
        view = self._search_view()
        key = (query.match, wanted_type, query.sort_by, self.revision, self._pending_changes)
        if self._scan is None or self._scan[0] != key:
            self._scan = (key, self._sorted_hits(view.values(), predicate, wanted_type, query.sort_by))
        return self._scan[1]

    @staticmethod
    def _sorted_hits(
        records: Iterable[MediaRecord], predicate: Predicate, wanted_type: str | None, sort_by: tuple[str, bool]
    ) -> list[MediaRecord]:
        hits = [r for r in records if r.media_type == wanted_type and predicate(r)]
        sort_field, descending = sort_by
        hits.sort(key=lambda r: (getattr(r, sort_field), r.sequence), reverse=descending)
        return hits

    def _search_view(self) -> Mapping[str, MediaRecord]:
        """The media as the index sees them: as of `search_lag` seconds ago."""
        if not self._changes:
            self._pending_changes = 0
            return self._media
        as_of = self._clock.time() - self._search_lag
        self._changes = [change for change in self._changes if change[0] > as_of]
        self._pending_changes = len(self._changes)
        view = dict(self._media)
        for _, media_id, before in reversed(self._changes):  # undo the newest first
            if before is None:
                view.pop(media_id, None)
            else:
                view[media_id] = before
        return view

    def _changed(self, when: float, media_id: str, before: MediaRecord | None) -> None:
        """Remember a change the lagging index has not seen yet."""
        if self._search_lag:
            self._changes.append((when, media_id, before))

    # --- state -------------------------------------------------------------------------------------

    def media(self) -> list[MediaRecord]:
        return [self._settled(r) for r in sorted(self._media.values(), key=lambda r: r.sequence)]

    def clear(self) -> None:
        self._media.clear()
        self._by_object.clear()
        self._changes.clear()
        self.revision += 1

    def to_state(self) -> dict[str, Any]:
        return {"sequence": self._sequence, "media": [asdict(r) for r in self.media()]}

    def restore(self, state: dict[str, Any]) -> None:
        records = [_record(m) for m in state.get("media", [])]
        self._media = {r.media_id: r for r in records}
        self._by_object = {r.oss_object.identity: r.media_id for r in records}
        self._sequence = int(state.get("sequence", len(records)))
        self._changes.clear()
        self.revision += 1

    # --- rules -------------------------------------------------------------------------------------

    def _create(
        self,
        item: RegisterItem,
        obj: OssObject,
        template_group_id: str | None,
        workflow_id: str | None,
        user_data: str | None,
    ) -> MediaRecord:
        now = self._clock.time()
        if workflow_id or (template_group_id and template_group_id != NO_TRANSCODE):
            status, done_at = "Transcoding", now + self.transcode_seconds
        elif template_group_id == NO_TRANSCODE:
            status, done_at = "Normal", None
        else:
            status, done_at = "UploadSucc", None
        self._sequence += 1
        record = MediaRecord(
            media_id=self._ids.media_id(),
            file_url=item.file_url,
            bucket=obj.bucket,
            object_key=obj.key,
            storage_location=obj.host,
            region=obj.region,
            media_type="audio" if obj.extension in AUDIO_EXTENSIONS else "video",
            metadata=dict(item.metadata),
            template_group_id=template_group_id,
            workflow_id=workflow_id,
            user_data=user_data,
            enable_first_frame_cover=None,
            generate_thumbnail=None,
            status=status,
            creation_time=now,
            modification_time=now,
            transcode_done_at=done_at,
            size=ObjectInventory.size_of(obj),
            sequence=self._sequence,
        )
        self._media[record.media_id] = record
        self._by_object[obj.identity] = record.media_id
        self._changed(now, record.media_id, None)
        self.revision += 1
        return record

    def set_status(self, media_id: str, status: str) -> MediaRecord:
        """The control API's `PATCH /_emulator/media/{id}`: the service moved the media to `status` (a failed
        transcode, a review, a block). KeyError for an unknown id, ValueError for a status VOD does not report."""
        if status not in MEDIA_STATUSES:
            raise ValueError(f"status {status!r} is not one VOD reports: {', '.join(MEDIA_STATUSES)}")
        record = self._settled(self._media[media_id])
        self._changed(self._clock.time(), media_id, replace(record))
        record.status = status
        record.transcode_done_at = None
        self.revision += 1
        return record

    def _settled(self, record: MediaRecord) -> MediaRecord:
        """Finish a transcode whose time has come: status Normal, modified when it finished."""
        done_at = record.transcode_done_at
        if record.status == "Transcoding" and done_at is not None and done_at <= self._clock.time():
            self._changed(done_at, record.media_id, replace(record))
            record.status = "Normal"
            record.modification_time = done_at
            record.transcode_done_at = None
            self.revision += 1
        return record


def _text(metadata: WireMetadata, name: str) -> str | None:
    value = metadata.get(name)
    return None if value is None else str(value)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _check_reference_id(reference_id: str) -> None:
    if REFERENCE_ID_RE.fullmatch(reference_id) is None:
        raise invalid_parameter("ReferenceId")


def _check_register_item(item: RegisterItem) -> None:
    if not item.file_url:
        raise missing_parameter("FileURL")
    if not item.metadata.get("title"):
        raise missing_parameter("Title")
    if utf8_len(item.file_url) > FILE_URL_MAX:
        raise invalid_parameter("FileURL")
    _check_fields(item.metadata)


def _check_fields(metadata: WireMetadata) -> None:
    """The RegisterMetadata byte limits, also applied to UpdateVideoInfos. A title may not be emptied."""
    title, description, tags, cover_url = (
        _text(metadata, name) for name in ("title", "description", "tags", "cover_url")
    )
    if title is not None and (not title or utf8_len(title) > TITLE_MAX or EMOJI_RE.search(title)):
        raise invalid_parameter("Title")
    if description is not None and (utf8_len(description) > DESCRIPTION_MAX or EMOJI_RE.search(description)):
        raise invalid_parameter("Description")
    if tags is not None:
        parts = [t.strip() for t in tags.split(",") if t.strip()]
        if len(parts) > TAGS_MAX or any(utf8_len(t) > TAG_MAX for t in parts) or EMOJI_RE.search(tags):
            raise invalid_parameter("Tags")
    if cover_url is not None and utf8_len(cover_url) > COVER_URL_MAX:
        raise invalid_parameter("CoverURL")


def _record(saved: dict[str, Any]) -> MediaRecord:
    """A saved record; one saved before records kept their metadata apart has it among its other fields."""
    known = {f.name for f in fields(MediaRecord)}
    values = {k: v for k, v in saved.items() if k in known}
    if "metadata" not in values:
        values["metadata"] = wire_metadata(**{k: v for k, v in saved.items() if k in MUTABLE_NAMES})
    return MediaRecord(**values)
