"""A small synchronous client for the control API (`/_emulator/...`), for tests, the demo and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx


class EmulatorControlError(Exception):
    """The control API refused a request; the message is its explanation."""


class EmulatorControl:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=f"{self.url}/_emulator/", timeout=timeout, trust_env=False)

    def state(self) -> dict[str, Any]:
        """Bound buckets and registered media."""
        return self._call("GET", "state")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        """Per-action counters (`calls`, `successes`, `errors`, `throttled`, `faults`, ...) and totals."""
        return self._call("GET", "stats")  # type: ignore[no-any-return]

    def reset(self, keep_objects: bool = False) -> None:
        self._call("POST", "reset", {"keep_objects": keep_objects})

    def put_objects(self, urls: Iterable[str]) -> None:
        self._call("PUT", "objects", {"urls": list(urls)})

    def objects(self) -> list[str]:
        return list(self._call("GET", "objects")["urls"])

    def set_faults(self, rules: dict[str, Any]) -> None:
        """Replace the fault rules: `{"rules": [...]}`; `{"rules": []}` clears them."""
        self._call("POST", "faults", rules)

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")  # type: ignore[no-any-return]

    def set_media_status(self, media_id: str, status: str) -> None:
        """`PATCH /_emulator/media/{media_id}`: VOD now reports the media in `status` (e.g. TranscodeFail)."""
        self._call("PATCH", f"media/{media_id}", {"status": status})

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._client.request(method, path, json=body)
        payload = response.json()
        if response.status_code != 200:
            raise EmulatorControlError(f"{method} /_emulator/{path}: {payload.get('error', response.text)}")
        return payload
