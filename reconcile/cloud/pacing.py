"""Client-side pacing: each (access key, action) sends at an even rate, never in bursts, and learns from
throttling how much of the account's limit it may take.

The services count an account's arrivals per action in a sliding one-second window and reject the excess
(`Throttling.User`). Sending in bursts and retrying the rejects wastes calls and time; pacing evenly at
just under the limit never trips the throttle and finishes in about the same time.

The limit is the account's, not this process's: other pipelines, a drift job or the team's own services
may call the same action at the same time. So a throttling answer is a signal, not only something to
retry: `AdaptiveRate` cuts the rate of that one action to this process's part of the account's window, then
climbs back towards the ceiling while no throttle comes (see its docstring); a throttle of one action never
slows another. A retry-after hint (`x-acs-retry-after`) holds every send of the action until it has passed
(without one, a short and growing hold). Processes that share an account this way settle on sharing its
limit with few throttled calls, without knowing about each other. `RateSource` is the seam where a rate
reserved through a shared state backend (so that runners need no throttling to find out about each other)
could replace the learnt one.

`ActionPacer` is a GCRA ("virtual scheduling") limiter over the *actual* send times: the next send is
due one interval (at the current rate) after the previous one was due, as long as that one went out at most
a small tolerance late (timer lateness is made up, so the rate does not drift); a send later than that
shifts the schedule to its actual time minus the tolerance (a backlog is never "caught up" in a burst).
Waiters queue in FIFO order on a lock, so only one task per action sleeps at a time. The concurrency slot
is taken while holding that lock, and the send time is recorded only once the slot is held: a task that
waited for a slot shifts the schedule rather than bursting, and waiting actions share freed slots fairly
(at most one waiter per action). The first call of each action goes alone (see `answered`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from reconcile.cloud.clock import Clock
from reconcile.cloud.errors import RequestNotSent

log = logging.getLogger("reconcile.cloud")

# Timer lateness up to this much is made up on the next send instead of shifting the schedule. Two sends
# are then never closer than interval - tolerance.
MAX_TOLERANCE = 0.005

# The services' window (seconds): a retry-after hint is a fraction of it.
WINDOW = 1.0
# Adaptive pacing (AdaptiveRate). A throttle cuts the rate to this process's part of the window the service found
# full (`SAFE_FRACTION` of it), but never below DEEPEST_CUT of the rate in one step; CUT when nothing says what its
# part was (none of its calls in the window).
CUT = 0.85
DEEPEST_CUT = 0.25
SAFE_FRACTION = 0.97  # pace at this fraction of the share that was throttled, as at this fraction of a limit
HOLD = 2.5  # seconds to hold a cut rate before probing above it
HOLD_JITTER = 0.25  # each hold is HOLD +- this fraction, so processes cut together do not probe together
BURST_HINT = 0.1  # a hint this long (seconds) means the window filled in a burst rather than over time
RESIDUE_THROTTLES = 3  # throttles in the window after a cut that are taken for its residue; the next one cuts
EVEN_SPLIT = 0.25  # others that filled the window at this fraction of this process's rate or more: a peer
SELF_CLOCK_GAP = 0.01  # a held rate is a whole number of calls per 1 + this many seconds (see AdaptiveRate)
PROBE_STEP = 0.5  # then one probe step up every this many seconds while no throttle comes
FIRST_PROBE = 0.04  # the first step adds this fraction of the ceiling; each next step twice as much
LOWEST_FRACTION = 0.02  # never pace below this fraction of the ceiling
SETTLE_MARGIN = 0.02  # a call sent this soon after the hint's pause ended meets the others' calls held as long
NO_HINT_SETTLE = 0.2  # without a hint, a throttle of a call sent this soon after a cut does not cut again


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


class RateSource(Protocol):
    """Where an `ActionPacer` gets its rate, and what it reports back. `AdaptiveRate` learns the rate from the
    throttling answers of this process alone; a rate reserved through a shared state backend (so that runners
    of one account need no throttling to find out about each other) would plug in here, renewing its
    reservation off the hot path: the pacer asks `rate` before every send."""

    @property
    def ceiling(self) -> float:
        """The most this source ever paces at (calls per second)."""
        ...

    def rate(self, now: float) -> float:
        """Calls per second to pace at, at `now`."""
        ...

    def sent(self, at: float) -> None:
        """A call of this action left at `at`."""
        ...

    def throttled(self, sent: float, now: float, retry_after: float | None) -> RateCut | None:
        """A call sent at `sent` was throttled (answered at `now`, with the service's retry-after hint in
        seconds, if any); the cut this makes, or None when the rate stays."""
        ...


@dataclass(frozen=True, slots=True)
class RateCut:
    before: float
    after: float


class AdaptiveRate:
    """One (account, action)'s rate, learnt from throttling answers: a cut on a throttle to this process's part of
    the account's window, a hold, then probes back up towards `ceiling` in doubling steps.

    At a throttle the account's window was full: `limit` calls (the ceiling over the safety factor) admitted in the
    last 1 - H seconds, where H is the service's retry-after hint (when the oldest of them leaves the window). This
    process knows which of them were its own (`sent`, less the throttled ones), so the others' calls are the rest,
    come in over those 1 - H seconds. Its part of the limit is its rate's proportion of the rates that filled the
    window; and when the others sent at a quarter of its rate or more (a peer, not a trickle of other traffic: a
    peer's throttled calls are not in the window, so its rate there can look lower than it is), or the window
    filled in a burst (a process started a little later sends at its ceiling too), they are taken to send at least
    at its own rate, so that no process keeps more than half. This is how N processes that start together, or a few
    tenths of a second apart, find 1/N in one step, and how, of two processes, the one that probed above half is
    brought back to half by its next throttle, while the one holding its half loses only a few percent: cutting
    one by a fixed factor again and again while the other probes up would leave it a small share for good.

    Then:
    - throttled during a probe step (above the rate it held): the step found the limit. Back to the rate of
      the step before, which no throttle answered, or to 97% of its part if lower;
    - throttled at or below the rate it held: the account is busier than it was (another pipeline started,
      or another's probe took the room). To 97% of its part (at least 3% less), or to `CUT` of the rate when none
      of its calls was in the window (nothing says what its part was).
    Either way it holds the new rate `HOLD` seconds (jittered, so processes cut together do not probe together).
    For one window after a cut, a throttle of a call at or below the held rate does not cut again: the window
    still holds the calls sent before the cut, which the new rates have not yet replaced. It only starts the hold
    again: someone else is probing, and probing at the same time would double the cost. Past `RESIDUE_THROTTLES`
    such throttles in that window the account is overfull now, not only a window ago: the next one cuts.

    A held rate is rounded down to a whole number of calls per `1 + SELF_CLOCK_GAP` seconds, so each call arrives
    just after the call a window before it has left the service's sliding window: a process holding its rate
    takes back its own room, and the throttles of an overfull window fall on whoever sends more than a window
    ago (the prober, who then learns it), not on a process that holds still.

    A probe is one step every `PROBE_STEP` seconds (half a window, about the time the service's sliding window
    takes to show a step's effect), the first adding `FIRST_PROBE` of the ceiling and each next twice as much. A
    probe that finds the limit costs about one throttled call; a process left alone is back at the ceiling about
    two seconds after its hold ends.

    At the ceiling, one throttle a window whose hint says the window had room again within one interval is
    taken for network jitter (a lone process's calls bunched up): retried, no cut. Another pipeline on the
    account shows up as more throttles than that.

    A throttled call sent before the last cut took effect (before the cut, or before the pause its hint asked
    for ended) does not cut again: it tells nothing about the new rate. Pure: time comes in as arguments, so
    every rule is tested without a clock.
    """

    def __init__(self, ceiling: float, rng: random.Random | None = None, *, window: float | None = None) -> None:
        if not (ceiling > 0 and math.isfinite(ceiling)):
            raise ValueError(f"pacing rate must be a positive number, not {ceiling!r}")
        self._ceiling = ceiling
        # The calls the service's window holds: the account's limit for the action, when given (with --qps-share
        # the ceiling is only this process's share of it, and the others' calls would look fewer than they are);
        # else the ceiling over the safety factor. A shared reservation's `set_ceiling` does not change it.
        self.limit = window if window is not None else ceiling / SAFE_FRACTION
        self.lowest_allowed = ceiling * LOWEST_FRACTION
        self._held = ceiling  # the rate held after the last cut; probing starts from it
        self._cut_at = -math.inf
        self._hold_from = -math.inf  # the hold runs from here
        self._residue = 0
        self._hold = HOLD
        self._tolerated_at = -math.inf
        self._rng = rng if rng is not None else random.Random()
        self._settled_at = -math.inf  # sends from here on were paced at the last cut's rate
        self.lowest = ceiling  # the lowest rate this source was ever cut to
        self._sends: deque[float] = deque()  # send times in the last window
        self._throttled_sends: deque[float] = deque()  # send times of the throttled ones among them

    @property
    def ceiling(self) -> float:
        return self._ceiling

    def set_ceiling(self, ceiling: float) -> None:
        """The most this source may pace at changed (a shared reservation was renewed): a rate above it comes
        down to it at once; a rate that was at the old ceiling goes to the new one (no probe needed)."""
        if not (ceiling > 0 and math.isfinite(ceiling)) or ceiling == self._ceiling:
            return
        at_ceiling = self._held >= self._ceiling
        self._ceiling = ceiling
        self.lowest_allowed = ceiling * LOWEST_FRACTION
        self._held = ceiling if at_ceiling else min(self._held, ceiling)
        self.lowest = min(self.lowest, self._held)

    @property
    def held(self) -> float:
        """The rate held after the last cut: probing above it starts once `hold_seconds` have passed."""
        return self._held

    @property
    def hold_seconds(self) -> float:
        return self._hold

    def rate(self, now: float) -> float:
        return self._probe(now)[1]

    def _probe(self, now: float) -> tuple[float, float]:
        """(the rate of the previous probe step, the rate now): the held rate until the hold ends, then one
        step up every PROBE_STEP seconds, each twice the size of the one before, up to the ceiling."""
        probing = now - self._hold_from - self._hold
        previous = rate = self._held
        step = FIRST_PROBE * self._ceiling
        while probing >= 0 and rate < self._ceiling:
            previous, rate = rate, min(self._ceiling, rate + step)
            step *= 2
            probing -= PROBE_STEP
        return previous, rate

    def sent(self, at: float) -> None:
        """A call left at `at` (counted for this process's share of the window)."""
        self._sends.append(at)
        while self._sends[0] <= at - WINDOW:
            self._sends.popleft()

    def throttled(self, sent: float, now: float, retry_after: float | None) -> RateCut | None:
        self._throttled_sends.append(sent)
        while self._throttled_sends[0] <= now - WINDOW:
            self._throttled_sends.popleft()
        if sent < self._settled_at:
            return None
        last_good, before = self._probe(now)
        if before <= self._held and now - self._cut_at < WINDOW and self._residue < RESIDUE_THROTTLES:
            # The window still holds calls sent before the last cut: not this rate's doing. Someone is probing.
            self._residue += 1
            self._hold_from = now
            return None
        hint = min(retry_after, WINDOW) if retry_after is not None else 0.0
        if before >= self._ceiling and hint * before < 1.0 and now - self._tolerated_at >= WINDOW:
            # At the ceiling, the window had room again within one interval: network jitter bunched a few calls.
            # One such throttle a window is retried without a cut; another pipeline shows up as several.
            self._tolerated_at = now
            return None
        burst = hint >= BURST_HINT
        part = self._window_part(before, hint, now)
        if part is None and not burst:  # none of its calls in the window: nothing says what its part was
            after = max(self.lowest_allowed, before * CUT)
        else:
            # its rate x (1 - H) at most: the window filled in 1 - H seconds; a burst with none of its calls in it:
            # the deepest cut, then probes
            share = before * max(1.0 - hint / WINDOW, DEEPEST_CUT)
            share = min(share, max(part if part is not None else 0.0, before * DEEPEST_CUT))
            after = max(self.lowest_allowed, share * SAFE_FRACTION)
            if before > self._held:  # a probe step found the limit: no higher than the step before, which did not
                after = min(last_good, after)
            if part is not None:
                after = self._self_clocked(after)
        self._held = after
        self._cut_at = self._hold_from = now
        self._residue = 0
        self._settled_at = now + (retry_after + SETTLE_MARGIN if retry_after is not None else NO_HINT_SETTLE)
        self._hold = HOLD * self._rng.uniform(1 - HOLD_JITTER, 1 + HOLD_JITTER)
        self.lowest = min(self.lowest, after)
        return RateCut(before, after)

    def _self_clocked(self, rate: float) -> float:
        """`rate` rounded down to a whole number of calls per 1 + SELF_CLOCK_GAP seconds (the ceiling, and a rate
        under one call a second, as they are). Only a rate cut to this process's part of a window that held its
        calls is: without calls in the window, there is nothing to take back."""
        whole = math.floor(rate * (1 + SELF_CLOCK_GAP))
        return whole / (1 + SELF_CLOCK_GAP) if rate < self._ceiling and whole >= 1 else rate

    def _window_part(self, before: float, hint: float, now: float) -> float | None:
        """This process's part of the window the service found full: the limit split in proportion to the rates
        that filled it. The others' calls (the limit less this process's admitted ones) came in over the `WINDOW -
        hint` seconds it took to fill, at least at this process's own rate when they filled it in a burst or at
        `EVEN_SPLIT` of its rate or more. None when none of its calls was admitted (it joined a window the others
        had already filled: nothing says what they send at)."""
        admitted = self._admitted_in_window(now)
        if admitted < 1:
            return None
        others = self.limit - admitted
        if others < 1:  # the window was all its own
            return self.limit
        others_rate = others / max(WINDOW - hint, 1.0 / self._ceiling)  # a window full at once: in one interval
        if hint >= BURST_HINT or others_rate >= EVEN_SPLIT * before:
            others_rate = max(others_rate, before)
        return self.limit * before / (before + others_rate)

    def _admitted_in_window(self, now: float) -> float:
        """Calls sent in the last window that were not throttled (those still unanswered included): this
        process's part of a window the service found full."""
        start = now - WINDOW
        for times in (self._sends, self._throttled_sends):
            while times and times[0] <= start:
                times.popleft()
        return float(len(self._sends) - len(self._throttled_sends))


class ActionPacer:
    """Paces one action of one account at the rate its `RateSource` gives. A throttling answer holds every send
    of the action until its retry-after hint has passed (and a random part of an interval more when other calls
    wait for their turn); without a hint, for one interval at the ceiling, twice as long for each throttle in a
    row (less than a window apart), up to half a window."""

    def __init__(
        self, source: RateSource | float, clock: Clock, action: str = "", rng: random.Random | None = None
    ) -> None:
        self.source: RateSource = AdaptiveRate(source) if isinstance(source, int | float) else source
        self._rng = rng if rng is not None else random.Random()
        self.action = action
        self.throttled_answers = 0
        self.cuts = 0
        self._clock = clock
        self._prev = -math.inf  # the theoretical time of the previous send
        self._paused_until = -math.inf  # no send before this (the service's retry-after)
        self._logged_rate = self.source.ceiling
        self._last_throttled = -math.inf
        self._unhinted = 0  # throttles without a retry-after hint in a row (each less than a window apart)
        self._lock = asyncio.Lock()
        self._first_sent = False
        self._first_answered = asyncio.Event()

    @property
    def rate(self) -> float:
        return self.source.rate(self._clock.monotonic())

    async def turn(self, concurrency: asyncio.Semaphore, gate: SendGate, action: str) -> float:
        """Wait for this action's next send time and a concurrency slot; returns the send time. The caller must
        release the slot, and call `answered()` (or `throttled()`) once its request got an answer or failed.
        Raises RequestNotSent, holding no slot and leaving the schedule as it was, when `gate` closes first."""
        first = not self._first_sent
        self._first_sent = True
        try:
            if not first and not self._first_answered.is_set():
                await gate.wait(self._first_answered.wait(), action)
            return await self._paced(concurrency, gate, action)
        except BaseException:
            if first:  # cancelled before sending: never keep the others waiting for an answer
                self.answered()
            raise

    async def _paced(self, concurrency: asyncio.Semaphore, gate: SendGate, action: str) -> float:
        async with self._lock:
            gate.check(action)
            waited = False
            while True:  # the rate may be cut, or a pause begin, while this task sleeps: look again
                now = self._clock.monotonic()
                rate = self.source.rate(now)
                due = max(self._prev + 1.0 / rate, self._paused_until)
                if due <= now:
                    break
                waited = True
                await gate.wait(self._clock.sleep(due - now), action)
            scheduled = due if waited else now  # not waited: idle until now, the schedule starts over
            await gate.acquire(concurrency, action)
            sent = self._clock.monotonic()
            self.source.sent(sent)
            if rate != self._logged_rate:
                self._rate_changed(rate)
            # A little late (a timer firing late): keep the schedule, so the rate holds. Later than that
            # (a stalled loop, a wait for a concurrency slot): shift the schedule so this send counts as
            # only `tolerance` late; the next is then never closer than interval - tolerance (no catch-up).
            self._prev = max(scheduled, sent - min(0.25 / rate, MAX_TOLERANCE))
            return sent

    def _rate_changed(self, rate: float) -> None:
        if rate > self._logged_rate:
            log.info("%s: no throttling lately; pacing %.1f -> %.1f calls/s", self.action, self._logged_rate, rate)
        self._logged_rate = rate

    def answered(self) -> None:
        """The first call of an action goes alone: it opens the connection and wakes the service up, which
        makes it slower than the calls after it. Sent together, those would arrive bunched up behind it
        and overfill the service's first one-second window; after it, they arrive as evenly as they leave.
        """
        self._first_answered.set()

    def throttled(self, sent: float, retry_after: float | None, code: str) -> None:
        """The call sent at `sent` was throttled: honour the hint (no send of this action before it has passed)
        and let the rate source cut the rate."""
        self.answered()
        self.throttled_answers += 1
        now = self._clock.monotonic()
        if retry_after is None:
            # The window is full for an unknown while; each throttle in a row waits twice as long.
            self._unhinted = self._unhinted + 1 if now - self._last_throttled < WINDOW else 0
            pause = min(WINDOW / 2, 2**self._unhinted / self.source.ceiling)
            self._paused_until = max(self._paused_until, now + pause)
        self._last_throttled = now
        cut = self.source.throttled(sent, now, retry_after)
        if retry_after is not None:
            # The hint is when the first room comes, the same for every process throttled then: one with calls
            # waiting for their turn waits a random part of an interval more, so that they do not all send into
            # that one room at once.
            spread = self._rng.uniform(0.0, 1.0 / self.source.rate(now)) if self._lock.locked() else 0.0
            self._paused_until = max(self._paused_until, now + retry_after + spread)
        if cut is not None:
            self.cuts += 1
            self._logged_rate = cut.after
            hint = f", retry after {retry_after:.2f} s" if retry_after is not None else ""
            log.info(
                "%s: throttled (%s%s); pacing %.1f -> %.1f calls/s", self.action, code, hint, cut.before, cut.after
            )

    def report(self, limit: float, share: float) -> ActionPacing:
        source = self.source
        return ActionPacing(
            action=self.action,
            limit=limit,
            share=share,
            ceiling=source.ceiling,
            rate=source.rate(self._clock.monotonic()),
            lowest=source.lowest if isinstance(source, AdaptiveRate) else source.ceiling,
            throttled=self.throttled_answers,
            cuts=self.cuts,
        )


@dataclass(frozen=True, slots=True)
class ActionPacing:
    """How one action was paced, for the apply summary."""

    action: str
    limit: float  # the account's limit (calls per second)
    share: float  # the share of it this process may take (--qps-share)
    ceiling: float  # the most it paced at: limit x share x the safety factor
    rate: float  # the rate at the end
    lowest: float  # the lowest it was cut to
    throttled: int  # throttled answers
    cuts: int  # how many of them cut the rate


# Makes the rate source of one (access key id, action) from its ceiling; called once per pair, on the loop.
class RateSources(Protocol):
    """Makes the rate source of one (access key, action): `ceiling` is the most it may pace at, `window` the
    account's limit for the action (the calls the service's window holds)."""

    def __call__(
        self, access_key_id: str, action: str, ceiling: float, rng: random.Random, *, window: float | None = None
    ) -> AdaptiveRate: ...


def adaptive_rates(
    access_key_id: str, action: str, ceiling: float, rng: random.Random, *, window: float | None = None
) -> AdaptiveRate:
    """The default: each process learns its rate from its own throttling answers."""
    return AdaptiveRate(ceiling, rng, window=window)


class Pacer:
    """Every `ActionPacer` of a session, keyed by (access key id, action): shared by all tasks and regions."""

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._pacers: dict[tuple[str, str], ActionPacer] = {}
        self.sources: RateSources = adaptive_rates

    def for_action(self, access_key_id: str, action: str, rate: float, window: float | None = None) -> ActionPacer:
        """The pacer of (access key, action), made on first use: at most `rate` calls a second, of an account
        whose window holds `window` calls of the action (its limit)."""
        key = (access_key_id, action)
        pacer = self._pacers.get(key)
        if pacer is None:
            source = self.sources(access_key_id, action, rate, self._rng, window=window)
            pacer = self._pacers[key] = ActionPacer(source, self._clock, action, self._rng)
        return pacer

    def actions(self) -> dict[str, ActionPacer]:
        """The pacer of each action used, the last access key's when credentials rotated."""
        return {action: pacer for (_, action), pacer in self._pacers.items()}
