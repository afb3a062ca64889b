"""How an emulator is set up: credentials it accepts, the object inventory mode, QPS scale, faults, state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconcile.emulator.auth import DEFAULT_WINDOW_SECONDS
from reconcile.emulator.clock import EmulatorClock, SystemClock
from reconcile.emulator.faults import FaultRules
from reconcile.emulator.vod import DEFAULT_TRANSCODE_SECONDS

DEFAULT_ACCESS_KEY_ID = "emulator"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
# Far above any API request (a RegisterMedia of 10 files at every field's limit is about 100 KiB, form-encoded),
# and room for an OSS PutObject of test media; a larger body is answered 413 before it is read.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


def _default_keys() -> dict[str, str]:
    return {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}


@dataclass
class EmulatorConfig:
    access_keys: dict[str, str] = field(default_factory=_default_keys)  # AccessKeyId -> secret; one account each
    auto_objects: bool = False  # every well-formed OSS media URL names an existing object
    qps_scale: float = 1.0  # multiplies every QPS limit; 0 disables throttling
    faults: FaultRules | None = None
    state_file: Path | None = None  # loaded by create_app; written by the server
    seed: int | None = None  # reproducible ids and fault rolls
    clock: EmulatorClock = field(default_factory=SystemClock)
    transcode_seconds: float = DEFAULT_TRANSCODE_SECONDS  # Transcoding -> Normal after this long
    search_lag_seconds: float = 0.0  # SearchMedia sees the media as they were this long ago
    timestamp_window_seconds: float = DEFAULT_WINDOW_SECONDS  # accepted request clock skew, both ways
    retry_after_header: bool = True  # send x-acs-retry-after (ms) with throttling errors
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # request bodies above this are refused (413) unread
