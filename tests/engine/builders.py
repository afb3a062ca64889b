"""Desired, state and live documents built directly, for tests of the pure parts (diff, batching, views)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

from reconcile.cloud.limits import parse_oss_url
from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.engine.live import LiveState
from reconcile.manifest.desired import (
    DesiredBucket,
    DesiredMedia,
    DesiredState,
    SourceLocation,
    bucket_address,
    media_address,
)
from reconcile.model.media import MediaAttributes, metadata_of
from reconcile.state.model import ResourceState, StateDocument

REGION = "cn-shanghai"
HOST = "media.oss-cn-shanghai.aliyuncs.com"
MANIFEST = "manifests/prod.yaml"
LINEAGE = "6f1c1f9e-0d7a-4f0e-9a57-1c9b8f3d2e10"


def url(key: str, host: str = HOST) -> str:
    return f"https://{host}/{key}"


def bucket(name: str, *, referer: str | None = None, line: int = 3, prevent_destroy: bool = False,
           region: str = REGION) -> DesiredBucket:  # fmt: skip
    return DesiredBucket(
        address=bucket_address(name),
        region=region,
        bucket=name,
        referer=referer,
        prevent_destroy=prevent_destroy,
        location=SourceLocation(MANIFEST, line, 7),
    )


def media(key: str, *, name: str | None = None, title: str | None = None, line: int = 10, host: str = HOST,
          region: str = REGION, **fields: Any) -> DesiredMedia:  # fmt: skip
    file_url = url(key, host)
    parsed = parse_oss_url(file_url)
    assert parsed is not None
    user_data = fields.pop("user_data", None)
    prevent_destroy = fields.pop("prevent_destroy", False)
    attributes = MediaAttributes(
        file_url=file_url,
        title=title if title is not None else key,
        user_data=None if user_data is None else json.dumps(user_data, sort_keys=True, separators=(",", ":")),
        **fields,
    )
    return DesiredMedia(
        address=media_address(name, parsed.identity),
        region=region,
        identity=parsed.identity,
        oss_bucket=parsed.bucket,
        storage_location=parsed.host,
        attributes=attributes,
        prevent_destroy=prevent_destroy,
        name=name,
        location=SourceLocation(MANIFEST, line, 7),
    )


def desired(*items: DesiredBucket | DesiredMedia, digest: str = "digest-1") -> DesiredState:
    return DesiredState(
        buckets=tuple(sorted((i for i in items if isinstance(i, DesiredBucket)), key=lambda b: b.address)),
        media=tuple(sorted((i for i in items if isinstance(i, DesiredMedia)), key=lambda m: m.address)),
        files=(MANIFEST,),
        digest=digest,
    )


def state(*resources: ResourceState, serial: int = 4, lineage: str = LINEAGE) -> StateDocument:
    return StateDocument(lineage=lineage, serial=serial, resources=list(resources))


def managed_bucket(name: str, *, referer: str | None = None, prevent_destroy: bool = False,
                   region: str = REGION) -> ResourceState:  # fmt: skip
    return ResourceState(
        address=bucket_address(name),
        kind="input_bucket",
        identity=name,
        region=region,
        attributes={} if referer is None else {"referer": referer},
        prevent_destroy=prevent_destroy,
    )


def managed_media(declared: DesiredMedia, remote_id: str, *, address: str | None = None,
                  **attributes: Any) -> ResourceState:  # fmt: skip
    """The state entry apply would have written for `declared`, with `attributes` overriding."""
    return ResourceState(
        address=address or declared.address,
        kind="media",
        identity=declared.identity,
        region=declared.region,
        remote_id=remote_id,
        attributes=replace(declared.attributes, **attributes),
        prevent_destroy=declared.prevent_destroy,
    )


def video(remote_id: str, declared: DesiredMedia, **overrides: Any) -> VideoInfo:
    """The VOD video for `declared` as GetVideoInfos reports it, with `overrides`."""
    fields: dict[str, Any] = {
        **metadata_of(declared.attributes),
        "tags": declared.attributes.tags or (),
        "status": "Normal",
        "storage_location": declared.storage_location,
    }
    return VideoInfo(video_id=remote_id, **(fields | overrides))


def live(
    *items: MediaBucket | VideoInfo, gone: tuple[str, ...] = (), regions: tuple[str, ...] = (REGION,)
) -> LiveState:
    buckets: dict[str, dict[str, MediaBucket]] = {region: {} for region in regions}
    for item in items:
        if isinstance(item, MediaBucket):
            buckets[REGION][item.bucket] = item
    videos = {i.video_id: i for i in items if isinstance(i, VideoInfo)}
    return LiveState(buckets=buckets, media=videos, gone=frozenset(gone))


def bound(name: str, referer: str | None = None, type_: str = "Input") -> MediaBucket:
    return MediaBucket(bucket=name, type=type_, referer=referer)  # type: ignore[arg-type]


def write_manifest(directory: Path, text: str, name: str = "prod.yaml") -> str:
    """Write `manifests/<name>` under `directory` (the working directory, so locations print short)."""
    path = directory / "manifests" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return f"manifests/{name}"
