"""Per-account, per-action flow control over a sliding window, as the services enforce their QPS limits.

The limit of an action is `qps_limit(action) * qps_scale` requests per second (API.md section 7). It is
enforced as "at most `capacity` admitted requests in any `window` seconds" with capacity = max(1, floor(rate))
and window = capacity / rate: exactly one second for whole rates, and still exact on average for fractional
or sub-1 rates (0.5/s admits one request per 2 s). Rejected requests do not count. A scale of 0 disables it.
"""

from __future__ import annotations

import math
from collections import deque

from reconcile.cloud.limits import qps_limit
from reconcile.emulator.clock import EmulatorClock


class SlidingWindowThrottle:
    def __init__(self, clock: EmulatorClock, scale: float = 1.0) -> None:
        if scale < 0 or math.isnan(scale):
            raise ValueError(f"qps scale must be 0 (unlimited) or positive, not {scale}")
        self._clock = clock
        self.scale = scale
        self._admitted: dict[tuple[str, str], deque[float]] = {}
        self._shapes: dict[str, tuple[int, float]] = {}

    def shape(self, action: str) -> tuple[int, float]:
        """(capacity, window seconds) for an action."""
        shape = self._shapes.get(action)
        if shape is None:
            rate = qps_limit(action) * self.scale
            capacity = max(1, math.floor(rate))
            shape = self._shapes[action] = (capacity, capacity / rate)
        return shape

    def acquire(self, account: str, action: str) -> float | None:
        """Admit the request (None), or return the seconds until the window has room for it."""
        if self.scale == 0:
            return None
        capacity, window = self.shape(action)
        now = self._clock.monotonic()
        admitted = self._admitted.setdefault((account, action), deque())
        while admitted and admitted[0] <= now - window:
            admitted.popleft()
        if len(admitted) >= capacity:
            return admitted[0] + window - now
        admitted.append(now)
        return None
