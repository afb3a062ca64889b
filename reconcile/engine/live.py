"""The live state: what refresh read from the account, as the pure parts of the engine (diff, drift, health,
the saved plan's freshness check) take it. Kept apart from `reconcile.engine.refresh`, which does the reading,
so that those parts never import the network side."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.model.media import MUTABLE_FIELDS, FieldSpec, ValueKind, comparable, metadata_values

DIGEST_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class LiveState:
    """The account as refresh saw it: bucket bindings per listed region, and the state's media by remote id."""

    buckets: Mapping[str, Mapping[str, MediaBucket]] = field(default_factory=dict)  # region → name → binding
    media: Mapping[str, VideoInfo] = field(default_factory=dict)  # remote id → video
    gone: frozenset[str] = frozenset()  # remote ids VOD no longer knows (NonExistVideoIds)

    def binding(self, region: str, bucket: str) -> MediaBucket | None:
        return self.buckets.get(region, {}).get(bucket)

    def with_buckets(self, more: Mapping[str, Mapping[str, MediaBucket]]) -> LiveState:
        """This live state with the bindings of more regions."""
        return LiveState(buckets={**self.buckets, **more}, media=self.media, gone=self.gone)

    def digest(self, bucket_names: Iterable[str]) -> str:
        """sha256 of a canonical dump of what the plan depends on: the named buckets' bindings in every listed
        region, and the managed fields of every media read. Unrelated buckets and status changes do not count."""
        names = frozenset(bucket_names)
        bindings = [
            [region, b.bucket, b.type, b.referer or ""]
            for region in sorted(self.buckets)
            for b in sorted(self.buckets[region].values(), key=lambda b: b.bucket)
            if b.bucket in names
        ]
        # The dump of {"bindings": ..., "media": [...], "gone": [...]}, hashed a thousand media at a time: at
        # 1,000,000 media the whole dump and its bytes would be 300 MB at the plan's peak.
        dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        hasher = hashlib.sha256(f'{{"bindings":{dump(bindings)},"media":['.encode())
        ids = sorted(self.media)
        for start in range(0, len(ids), DIGEST_CHUNK):
            chunk = [
                [v.video_id, *map(_digested, MUTABLE_FIELDS, metadata_values(v))]
                for v in (self.media[i] for i in ids[start : start + DIGEST_CHUNK])
            ]
            hasher.update(("," if start else "").encode() + dump(chunk)[1:-1].encode())
        hasher.update(f'],"gone":{dump(sorted(self.gone))}}}'.encode())
        return hasher.hexdigest()


def _digested(spec: FieldSpec, value: Any) -> Any:
    """A metadata value as the digest dumps it: normalised as the diff compares it (tags sorted, not a set)."""
    if spec.kind is ValueKind.TEXT_LIST:
        return sorted(value or ())
    return comparable(spec, value)
