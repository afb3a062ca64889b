"""Media health: the managed media VOD reports in a failed state, read from the Status refresh already has.

VOD's `Status` of an audio or video ("Basic data types: Status") is one of Uploading, UploadFail,
UploadSucc, Transcoding, TranscodeFail, checking, checkFail, Blocked, Normal or ProduceFail. The failed ones
need a person: the file did not upload, transcode or pass review, or it was blocked. Plan and drift list
them with their address and, when the manifests declare them, where; `drift` exits 2 when any is unhealthy.
Health is reported, never acted on: no call fixes a failed transcode, and a status change alone does not
make a saved plan stale.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconcile.engine.live import LiveState
from reconcile.engine.plan import UnhealthyMedia
from reconcile.manifest.desired import DesiredState
from reconcile.state.model import StateDocument

# Status values that mean the media is broken, with what each means for the operator.
FAILED_STATUSES: Mapping[str, str] = {
    "UploadFail": "the upload failed",
    "TranscodeFail": "transcoding failed",
    "checkFail": "the content review failed",
    "Blocked": "the media is blocked",
    "ProduceFail": "production (editing) failed",
}


def unhealthy_media(
    state: StateDocument | None, live: LiveState | None, desired: DesiredState | None = None
) -> tuple[UnhealthyMedia, ...]:
    """The state's media that `live` read in a failed status, sorted by address. The address and location
    are the manifests' when they declare the media (a renamed entry shows under its new name)."""
    if state is None or live is None:
        return ()
    failed = {v.video_id: v.status for v in live.media.values() if v.status in FAILED_STATUSES}
    if not failed:  # the common case: one pass over the live media, nothing built (100,000 media: 14 ms)
        return ()
    declared = {m.identity: m for m in desired.media} if desired is not None else {}
    found: list[UnhealthyMedia] = []
    for resource in state.resources:
        status = failed.get(resource.remote_id or "") if resource.kind == "media" else None
        if status is None or resource.remote_id is None:
            continue
        entry = declared.get(resource.identity)
        location = None
        if entry is not None:
            location = entry.location
        found.append(
            UnhealthyMedia(
                address=entry.address if entry is not None else resource.address,
                remote_id=resource.remote_id,
                status=status,
                meaning=FAILED_STATUSES[status],
                location=location,
            )
        )
    return tuple(sorted(found, key=lambda u: u.address))
