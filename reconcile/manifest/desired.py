"""Desired state: what the manifests declare, validated, with every entry's source location.

This is the manifest package's output and the engine's input. `None` on an optional attribute means
"not declared": reconcile neither sends nor diffs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.model.media import MediaAttributes


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A 1-based position in a manifest file, printed as `path:line:col`."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


def bucket_address(bucket: str) -> str:
    return f"input_bucket.{bucket}"


def media_address(name: str | None, identity: str) -> str:
    """`media.<name>` when the entry is named, else `media["<oss-bucket>/<object-key>"]`."""
    return f"media.{name}" if name else f'media["{identity}"]'


@dataclass(frozen=True, slots=True)
class DesiredBucket:
    """An OSS bucket bound to MPS as an input media bucket (BindInputBucket)."""

    address: str  # input_bucket.<bucket>
    region: str
    bucket: str  # identity
    referer: str | None
    prevent_destroy: bool
    location: SourceLocation  # the entry's `bucket:` key


@dataclass(frozen=True, slots=True)
class DesiredMedia:
    """An OSS media file registered in VOD (RegisterMedia). Identity: the OSS object (bucket, key)."""

    address: str
    region: str
    identity: str  # "<oss-bucket>/<object-key>": http and https URLs of one object are one media
    oss_bucket: str
    storage_location: str  # the bucket host; RegisterMedia batches never mix two
    attributes: MediaAttributes  # what the manifests declare; user_data as canonical JSON text (sorted, compact)
    prevent_destroy: bool
    name: str | None
    location: SourceLocation  # the entry's `file_url:` key

    @property
    def file_url(self) -> str:
        return self.attributes.file_url


@dataclass(frozen=True, slots=True)
class Warning_:
    """A valid but questionable declaration, e.g. both template_group_id and workflow_id set."""

    location: SourceLocation
    message: str

    def __str__(self) -> str:
        return f"{self.location}: warning: {self.message}"


@dataclass(frozen=True, slots=True)
class DesiredState:
    buckets: tuple[DesiredBucket, ...]  # sorted by address
    media: tuple[DesiredMedia, ...]  # sorted by address
    files: tuple[str, ...]  # the manifest files read, in order
    digest: str  # sha256 over the files' paths and bytes: a saved plan refuses changed manifests
    warnings: tuple[Warning_, ...] = ()
