"""The simulated OSS object inventory: whether the object a FileURL names exists.

Objects are identified by (bucket, key), like OSS itself: the scheme and endpoint spelling of a URL do not
matter. With `auto_objects`, every well-formed OSS URL names an existing object, except those deleted
since (DeleteVideo deletes a registered file's source object); adding such an object again restores it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from reconcile.cloud.limits import OssObject, parse_oss_url


class ObjectInventory:
    def __init__(self, *, auto_objects: bool = False) -> None:
        self.auto_objects = auto_objects
        self._urls: dict[str, str] = {}  # identity -> the URL it was added with
        self._deleted: set[str] = set()
        self.revision = 0

    def put(self, urls: Iterable[str]) -> list[str]:
        """Add objects; returns the URLs that are not OSS object URLs (none of the batch is added then)."""
        parsed = [(url, parse_oss_url(url)) for url in urls]
        rejected = [url for url, obj in parsed if obj is None]
        if rejected:
            return rejected
        for url, obj in parsed:
            assert obj is not None
            self._urls.setdefault(obj.identity, url)
            self._deleted.discard(obj.identity)
        self.revision += 1
        return []

    def exists(self, obj: OssObject) -> bool:
        if obj.identity in self._urls:
            return True
        return self.auto_objects and obj.identity not in self._deleted

    def delete(self, obj: OssObject) -> None:
        self._urls.pop(obj.identity, None)
        if self.auto_objects:
            self._deleted.add(obj.identity)
        self.revision += 1

    def urls(self) -> list[str]:
        return sorted(self._urls.values())

    def clear(self) -> None:
        self._urls.clear()
        self._deleted.clear()
        self.revision += 1

    @staticmethod
    def size_of(obj: OssObject) -> int:
        """The emulator holds no bytes: a stable pseudo-size (1-64 MiB) derived from the object's identity."""
        digest = hashlib.sha256(obj.identity.encode()).digest()
        return 1_048_576 + int.from_bytes(digest[:4], "big") % (63 * 1_048_576)

    def to_state(self) -> dict[str, Any]:
        return {"urls": sorted(self._urls.values()), "deleted": sorted(self._deleted)}

    def restore(self, state: dict[str, Any]) -> None:
        self.clear()
        self.put(state.get("urls", []))
        self._deleted = set(state.get("deleted", []))
