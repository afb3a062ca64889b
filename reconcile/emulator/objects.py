"""The emulated OSS: buckets and their objects, shared by the OSS API (`oss_api`), VOD and the control API.

Objects are identified by (bucket, key), like OSS itself: the scheme and endpoint spelling of a URL do not
matter. With `auto_objects`, every key with an audio/video extension names an existing (empty) object in any
bucket, except those deleted since (DeleteObject, or DeleteVideo, which deletes a registered file's source
object); uploading such an object again restores it. Auto objects answer HeadObject and GetObject but are
not listed: only objects that were put are (a listing cannot enumerate "every media key").

The verbs raise `OssError` with the codes OSS answers with; the wire adapter turns them into XML documents.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from reconcile.cloud.limits import BUCKET_NAME_RE, OssObject, has_media_extension, parse_oss_url
from reconcile.cloud.oss_wire import OSS_ERRORS, etag_of, oss_host

DEFAULT_REGION = "cn-shanghai"  # the region of a bucket created by naming one of its objects' URLs without one
EMPTY_ETAG = etag_of(b"")


class OssError(Exception):
    """An OSS error document: the backend raises it, the OSS adapter serialises it. A code outside the
    catalogue (a fault rule's) needs its status."""

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None, **fields: str) -> None:
        spec = OSS_ERRORS.get(code)
        if spec is None and status is None:
            raise KeyError(f"{code} is not in the OSS error catalogue: give its status")
        self.code = code
        self.status = status if status is not None else spec.status if spec is not None else 500
        self.message = message or (spec.message if spec is not None else code)
        self.fields = fields  # extra elements of the error document (BucketName, Key, StringToSign, ...)
        super().__init__(f"{code} ({self.status}): {self.message}")


@dataclass(slots=True)
class StoredObject:
    body: bytes
    etag: str
    last_modified: float
    content_type: str = "application/octet-stream"
    url: str | None = None  # the URL it was added with through the control API, if any

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True, slots=True)
class ListedPage:
    keys: list[tuple[str, StoredObject]]
    common_prefixes: list[str]
    truncated: bool
    next_token: str | None


@dataclass(slots=True)
class OssBucket:
    name: str
    region: str
    created: float
    objects: dict[str, StoredObject] = field(default_factory=dict)
    _sorted: list[str] | None = None  # the keys in order, rebuilt after a write

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def changed(self) -> None:
        self._sorted = None


class ObjectInventory:
    def __init__(self, *, auto_objects: bool = False, clock_time: Callable[[], float] | None = None) -> None:
        self.auto_objects = auto_objects
        self._time: Callable[[], float] = clock_time if clock_time is not None else (lambda: 0.0)
        self._buckets: dict[str, OssBucket] = {}
        self._deleted: set[str] = set()  # auto objects deleted since (bucket/key identities)
        self.revision = 0

    # --- the control API and VOD -----------------------------------------------------------------------

    def put(self, urls: Iterable[str]) -> list[str]:
        """Add empty objects named by URLs, creating their buckets when needed; returns the URLs that are not
        OSS object URLs (none of the batch is added then). An object that exists already is kept as it is."""
        parsed = [(url, parse_oss_url(url)) for url in urls]
        rejected = [url for url, obj in parsed if obj is None]
        if rejected:
            return rejected
        now = self._time()
        for url, obj in parsed:
            assert obj is not None
            bucket = self._buckets.get(obj.bucket)
            if bucket is None:
                bucket = self._buckets[obj.bucket] = OssBucket(obj.bucket, obj.region or DEFAULT_REGION, now)
            if obj.key not in bucket.objects:
                bucket.objects[obj.key] = StoredObject(b"", EMPTY_ETAG, now, url=url)
                bucket.changed()
            self._deleted.discard(obj.identity)
        self.revision += 1
        return []

    def exists(self, obj: OssObject) -> bool:
        return self.exists_key(obj.bucket, obj.key)

    def exists_key(self, bucket: str, key: str) -> bool:
        stored = self._buckets.get(bucket)
        if stored is not None and key in stored.objects:
            return True
        return self._auto(bucket, key)

    def delete(self, obj: OssObject) -> None:
        """DeleteVideo deletes the source object."""
        self._remove(obj.bucket, obj.key)
        self.revision += 1

    def urls(self) -> list[str]:
        """Every stored object as a URL: the one it was added with, else its virtual-hosted https URL."""
        return sorted(
            stored.url or f"https://{oss_host(bucket.name, bucket.region)}/{quote(key)}"
            for bucket in self._buckets.values()
            for key, stored in bucket.objects.items()
        )

    def clear(self) -> None:
        self._buckets.clear()
        self._deleted.clear()
        self.revision += 1

    @staticmethod
    def size_of(obj: OssObject) -> int:
        """VOD's media size: the emulator holds no media bytes, so a stable pseudo-size (1-64 MiB) derived
        from the object's identity."""
        digest = hashlib.sha256(obj.identity.encode()).digest()
        return 1_048_576 + int.from_bytes(digest[:4], "big") % (63 * 1_048_576)

    # --- the OSS API verbs -----------------------------------------------------------------------------

    def create_bucket(self, name: str, region: str) -> None:
        if not BUCKET_NAME_RE.match(name) or len(name) < 3:
            raise OssError("InvalidBucketName", BucketName=name)
        if name in self._buckets:
            raise OssError("BucketAlreadyExists", BucketName=name)
        self._buckets[name] = OssBucket(name, region, self._time())
        self.revision += 1

    def delete_bucket(self, name: str) -> None:
        bucket = self._bucket(name)
        if bucket.objects:
            raise OssError("BucketNotEmpty", BucketName=name)
        del self._buckets[name]
        self.revision += 1

    def bucket_region(self, name: str) -> str | None:
        bucket = self._buckets.get(name)
        return bucket.region if bucket is not None else None

    def put_object(
        self, bucket_name: str, key: str, body: bytes, *, content_type: str | None, forbid_overwrite: bool
    ) -> StoredObject:
        _check_key(key)
        bucket = self._bucket(bucket_name)
        if forbid_overwrite and (key in bucket.objects or self._auto(bucket_name, key)):
            raise OssError("FileAlreadyExists", Key=key)
        stored = StoredObject(body, etag_of(body), self._time(), content_type or "application/octet-stream")
        if key not in bucket.objects:
            bucket.changed()
        bucket.objects[key] = stored
        self._deleted.discard(f"{bucket_name}/{key}")
        self.revision += 1
        return stored

    def get_object(self, bucket_name: str, key: str) -> StoredObject:
        _check_key(key)
        bucket = self._buckets.get(bucket_name)
        stored = bucket.objects.get(key) if bucket is not None else None
        if stored is not None:
            return stored
        if self._auto(bucket_name, key):
            return StoredObject(b"", EMPTY_ETAG, bucket.created if bucket is not None else 0.0)
        if bucket is None:
            raise OssError("NoSuchBucket", BucketName=bucket_name)
        raise OssError("NoSuchKey", Key=key)

    def delete_object(self, bucket_name: str, key: str) -> None:
        """Succeeds whether or not the object exists, as OSS does (204)."""
        _check_key(key)
        if bucket_name not in self._buckets and not self.auto_objects:
            raise OssError("NoSuchBucket", BucketName=bucket_name)
        self._remove(bucket_name, key)
        self.revision += 1

    def list_objects_v2(
        self,
        bucket_name: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int,
        start_after: str = "",
        continuation_token: str | None = None,
    ) -> ListedPage:
        bucket = self._bucket(bucket_name)
        after = start_after
        if continuation_token is not None:
            after = max(after, decode_token(continuation_token))
        keys = bucket.sorted_keys()
        index = bisect.bisect_right(keys, after) if after else bisect.bisect_left(keys, prefix)
        index = max(index, bisect.bisect_left(keys, prefix))
        listed: list[tuple[str, StoredObject]] = []
        prefixes: list[str] = []
        last = ""
        while index < len(keys) and keys[index].startswith(prefix):
            if len(listed) + len(prefixes) >= max_keys:
                return ListedPage(listed, prefixes, True, encode_token(last))
            key = keys[index]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                prefixes.append(common)
                last = common + "\U0010ffff"  # skip the rest of this common prefix
                index = bisect.bisect_left(keys, last)
                continue
            listed.append((key, bucket.objects[key]))
            last = key
            index += 1
        return ListedPage(listed, prefixes, False, None)

    # --- persistence ------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": {
                bucket.name: {
                    "region": bucket.region,
                    "created": bucket.created,
                    "objects": {
                        key: {
                            "body": base64.b64encode(stored.body).decode("ascii"),
                            "etag": stored.etag,
                            "last_modified": stored.last_modified,
                            "content_type": stored.content_type,
                            **({"url": stored.url} if stored.url else {}),
                        }
                        for key, stored in sorted(bucket.objects.items())
                    },
                }
                for bucket in sorted(self._buckets.values(), key=lambda b: b.name)
            },
            "deleted": sorted(self._deleted),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.clear()
        self.put(state.get("urls", []))  # state files written before the emulator served OSS
        for name, saved in state.get("buckets", {}).items():
            bucket = self._buckets[name] = OssBucket(name, saved["region"], float(saved.get("created", 0.0)))
            for key, item in saved.get("objects", {}).items():
                bucket.objects[key] = StoredObject(
                    base64.b64decode(item["body"]),
                    item["etag"],
                    float(item["last_modified"]),
                    item.get("content_type", "application/octet-stream"),
                    item.get("url"),
                )
        self._deleted = set(state.get("deleted", []))

    # --- helpers --------------------------------------------------------------------------------------

    def _bucket(self, name: str) -> OssBucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            raise OssError("NoSuchBucket", BucketName=name)
        return bucket

    def _auto(self, bucket: str, key: str) -> bool:
        return self.auto_objects and has_media_extension(key) and f"{bucket}/{key}" not in self._deleted

    def _remove(self, bucket_name: str, key: str) -> None:
        bucket = self._buckets.get(bucket_name)
        if bucket is not None and bucket.objects.pop(key, None) is not None:
            bucket.changed()
        if self.auto_objects:
            self._deleted.add(f"{bucket_name}/{key}")


def encode_token(after: str) -> str:
    """A continuation token: opaque to clients (base64 of the key or common prefix the page ended at)."""
    return base64.urlsafe_b64encode(after.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        raise OssError("InvalidArgument", "The continuation-token is not valid.") from None


def _check_key(key: str) -> None:
    if not key or len(key.encode("utf-8")) > 1023 or key.startswith(("/", "\\")):
        raise OssError("InvalidObjectName", Key=key)
