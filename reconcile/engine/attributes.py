"""The attributes of the resources reconcile manages, as the engine compares them: declared (the manifests),
recorded (the state's last applied) and live (the account). The fields and the comparison rule are the
model's (`reconcile.model.media`); this module only says where each form comes from.

`ResourceChange.after` is the declared attributes, and what apply records in state as the last applied.
"""

from __future__ import annotations

from dataclasses import replace

from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.manifest.desired import DesiredBucket, DesiredMedia
from reconcile.model.media import MUTABLE_NAMES, Attributes, BucketAttributes, MediaAttributes, metadata_values
from reconcile.state.model import ResourceState


def bucket_attributes(bucket: DesiredBucket) -> BucketAttributes:
    return BucketAttributes(referer=bucket.referer)


def applied_state(declared: DesiredBucket | DesiredMedia, remote_id: str | None = None) -> ResourceState:
    """The state entry of a declared resource as apply records it once applied (a media's MediaId given)."""
    if isinstance(declared, DesiredBucket):
        return ResourceState(
            address=declared.address,
            kind="input_bucket",
            identity=declared.bucket,
            region=declared.region,
            attributes=bucket_attributes(declared),
            prevent_destroy=declared.prevent_destroy,
        )
    return ResourceState(
        address=declared.address,
        kind="media",
        identity=declared.identity,
        region=declared.region,
        remote_id=remote_id,
        attributes=declared.attributes,
        prevent_destroy=declared.prevent_destroy,
    )


def live_bucket_attributes(binding: MediaBucket) -> BucketAttributes:
    return BucketAttributes(referer=binding.referer)


def live_media_attributes(video: VideoInfo, recorded: MediaAttributes) -> MediaAttributes:
    """The media as it is: the metadata VOD holds (GetVideoInfos), the file and registration settings recorded
    (VOD does not report them back)."""
    return replace(recorded, **dict(zip(MUTABLE_NAMES, metadata_values(video), strict=True)))


def media_of(attributes: Attributes | None) -> MediaAttributes:
    """The attributes of a media resource (a state entry's, a change's): the model gives a media these."""
    if not isinstance(attributes, MediaAttributes):
        raise TypeError(f"a media resource holds MediaAttributes, not {type(attributes).__name__}")
    return attributes


def bucket_of(attributes: Attributes | None) -> BucketAttributes:
    """The attributes of an input bucket resource; a change that destroys it has none (no referer)."""
    if attributes is None:
        return BucketAttributes()
    if not isinstance(attributes, BucketAttributes):
        raise TypeError(f"an input bucket resource holds BucketAttributes, not {type(attributes).__name__}")
    return attributes
