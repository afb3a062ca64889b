"""The whole emulated account: MPS bucket bindings, VOD media and the OSS object inventory they share."""

from __future__ import annotations

from typing import Any

from reconcile.emulator.clock import EmulatorClock, iso_utc
from reconcile.emulator.ids import IdFactory
from reconcile.emulator.mps import MpsBackend
from reconcile.emulator.objects import ObjectInventory
from reconcile.emulator.vod import DEFAULT_TRANSCODE_SECONDS, VodBackend
from reconcile.model.media import MUTABLE_NAMES

STATE_FORMAT_VERSION = 1


class EmulatorBackend:
    def __init__(
        self,
        clock: EmulatorClock,
        *,
        auto_objects: bool = False,
        seed: int | None = None,
        transcode_seconds: float = DEFAULT_TRANSCODE_SECONDS,
        search_lag: float = 0.0,
    ) -> None:
        self.clock = clock
        self.ids = IdFactory(seed)
        self.objects = ObjectInventory(auto_objects=auto_objects, clock_time=clock.time)
        self.mps = MpsBackend()
        self.vod = VodBackend(self.objects, clock, self.ids, transcode_seconds=transcode_seconds, search_lag=search_lag)
        self._reset_count = 0

    @property
    def revision(self) -> int:
        """Changes whenever the persisted state may have changed; the server saves when it moves."""
        return self.mps.revision + self.vod.revision + self.objects.revision + self._reset_count

    def reset(self, *, keep_objects: bool = False) -> None:
        self.mps.clear()
        self.vod.clear()
        if not keep_objects:
            self.objects.clear()
        self._reset_count += 1

    def to_state(self) -> dict[str, Any]:
        """Everything a restart must keep, as JSON-ready data (the `--state-file` format)."""
        return {
            "format_version": STATE_FORMAT_VERSION,
            "mps": self.mps.to_state(),
            "vod": self.vod.to_state(),
            "objects": self.objects.to_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        version = state.get("format_version")
        if version != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {version!r} (this emulator writes {STATE_FORMAT_VERSION})")
        self.objects.restore(state.get("objects", {}))
        self.mps.restore(state.get("mps", {}))
        self.vod.restore(state.get("vod", {}))

    def describe(self) -> dict[str, Any]:
        """The control API's view of the account (`GET /_emulator/state`)."""
        return {
            "buckets": [{"name": b.bucket, "type": b.type, "referer": b.referer} for b in self.mps.bindings()],
            "media": [
                {
                    "media_id": m.media_id,
                    "file_url": m.file_url,
                    **{name: m.metadata.get(name) for name in MUTABLE_NAMES},
                    "tags": [t.strip() for t in str(m.metadata.get("tags") or "").split(",") if t.strip()],
                    "status": m.status,
                    "template_group_id": m.template_group_id,
                    "workflow_id": m.workflow_id,
                    "storage_location": m.storage_location,
                    "creation_time": iso_utc(m.creation_time),
                    "modification_time": iso_utc(m.modification_time),
                }
                for m in self.vod.media()
            ],
            "objects": len(self.objects.urls()),
            "auto_objects": self.objects.auto_objects,
        }
