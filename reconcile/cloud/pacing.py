"""Client-side pacing: each (access key, action) sends at an even rate, never in bursts.

The services count a caller's arrivals per action in a sliding one-second window and reject the excess
(`Throttling.User`). Sending in bursts and retrying the rejects wastes calls and time; pacing evenly at
just under the limit never trips the throttle and finishes in about the same time.

`ActionPacer` is a GCRA ("virtual scheduling") limiter over the *actual* send times: the next send is
due one interval after the previous one was due, as long as that one went out at most a small tolerance
late (timer lateness is made up, so the rate does not drift); a send later than that shifts the schedule
to its actual time minus the tolerance (a backlog is never "caught up" in a burst). Waiters queue in FIFO order
on a lock, so only one task per action sleeps at a time. The concurrency slot is taken while holding
that lock, and the send time is recorded only once the slot is held: a task that waited for a slot
shifts the schedule rather than bursting, and waiting actions share freed slots fairly (at most one
waiter per action). The first call of each action goes alone (see `answered`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable

from reconcile.cloud.clock import Clock
from reconcile.cloud.errors import RequestNotSent

# Timer lateness up to this much is made up on the next send instead of shifting the schedule. Two sends
# are then never closer than interval - tolerance.
MAX_TOLERANCE = 0.005


class SendGate:
    """Open until `close()`: from then on, a request still waiting to go out (for its pacing turn, a
    concurrency slot or its next retry) raises `RequestNotSent` at once instead of being sent."""

    def __init__(self) -> None:
        self.closed = False
        self._closed = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._closed.set()

    def check(self, action: str) -> None:
        if self.closed:
            raise RequestNotSent(action)

    async def wait(self, awaitable: Awaitable[object], action: str) -> None:
        """Wait for `awaitable`, or raise RequestNotSent as soon as the gate closes (cancelling the wait)."""
        self.check(action)
        waiting = asyncio.ensure_future(awaitable)
        closing = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((waiting, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not waiting.done():
                waiting.cancel()
        if waiting.done() and not waiting.cancelled():
            waiting.result()  # its own exception, if any
        self.check(action)

    async def acquire(self, semaphore: asyncio.Semaphore, action: str) -> None:
        """Take a slot of `semaphore` unless the gate closes first; never leaves a slot taken when it raises."""
        if not semaphore.locked():
            self.check(action)
            await semaphore.acquire()  # a free slot: returns without waiting
            return
        acquiring = asyncio.ensure_future(semaphore.acquire())
        try:
            await self.wait(acquiring, action)
        except BaseException:
            if acquiring.done() and not acquiring.cancelled() and acquiring.exception() is None:
                semaphore.release()
            raise


class ActionPacer:
    """Paces one action of one account at `rate` calls per second."""

    def __init__(self, rate: float, clock: Clock) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"pacing rate must be a positive number, not {rate!r}")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = min(self.interval / 4, MAX_TOLERANCE)
        self._clock = clock
        self._due = -math.inf  # the theoretical time of the next send
        self._lock = asyncio.Lock()
        self._first_sent = False
        self._first_answered = asyncio.Event()

    async def turn(self, concurrency: asyncio.Semaphore, gate: SendGate, action: str) -> None:
        """Wait for this action's next send time and a concurrency slot; the caller must release the slot,
        and call `answered()` once its request got an answer or failed. Raises RequestNotSent, holding no
        slot and leaving the schedule as it was, when `gate` closes first."""
        first = not self._first_sent
        self._first_sent = True
        try:
            if not first and not self._first_answered.is_set():
                await gate.wait(self._first_answered.wait(), action)
            await self._paced(concurrency, gate, action)
        except BaseException:
            if first:  # cancelled before sending: never keep the others waiting for an answer
                self.answered()
            raise

    async def _paced(self, concurrency: asyncio.Semaphore, gate: SendGate, action: str) -> None:
        async with self._lock:
            gate.check(action)
            now = self._clock.monotonic()
            if self._due > now:
                await gate.wait(self._clock.sleep(self._due - now), action)
                scheduled = self._due
            else:  # idle until now: the schedule starts over
                scheduled = now
            await gate.acquire(concurrency, action)
            sent = self._clock.monotonic()
            # A little late (a timer firing late): keep the schedule, so the rate holds. Later than that
            # (a stalled loop, a wait for a concurrency slot): shift the schedule so this send counts as
            # only `tolerance` late; the next is then never closer than interval - tolerance (no catch-up).
            self._due = max(scheduled, sent - self.tolerance) + self.interval

    def answered(self) -> None:
        """The first call of an action goes alone: it opens the connection and wakes the service up, which
        makes it slower than the calls after it. Sent together, those would arrive bunched up behind it
        and overfill the service's first one-second window; after it, they arrive as evenly as they leave.
        """
        self._first_answered.set()


class Pacer:
    """Every `ActionPacer` of a session, keyed by (access key id, action): shared by all tasks and regions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pacers: dict[tuple[str, str], ActionPacer] = {}

    def for_action(self, access_key_id: str, action: str, rate: float) -> ActionPacer:
        key = (access_key_id, action)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = ActionPacer(rate, self._clock)
        return pacer
