"""Time as the emulator sees it: wall time for signatures and record timestamps, a monotonic clock for
throttling windows and a sleep for injected latency. Tests substitute `ManualClock` and run in virtual time."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class EmulatorClock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch (UTC): checked against request timestamps, stamped on records."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards. Throttling windows use it."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for `seconds` (injected latency)."""
        ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Virtual time: it moves only when `advance` is called, or when something sleeps on it."""

    def __init__(self, start: float = 1_714_550_400.0) -> None:  # 2024-05-01T08:00:00Z
        self._now = start
        self._origin = start

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._origin

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


def iso_utc(seconds: float) -> str:
    """`YYYY-MM-DDThh:mm:ssZ`, the services' timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
