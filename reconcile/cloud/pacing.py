"""Client-side pacing: each (access key, action) sends at an even rate, never in bursts, and learns from
throttling how much of the account's limit it may take.

The services count an account's arrivals per action in a sliding one-second window and reject the excess
(`Throttling.User`). Sending in bursts and retrying the rejects wastes calls and time; pacing evenly at
just under the limit never trips the throttle and finishes in about the same time.

The limit is the account's, not this process's: other pipelines, a drift job or the team's own services
may call the same action at the same time. So a throttling answer is a signal, not only something to
retry: `AdaptiveRate` cuts the rate of that one action, then climbs back towards the ceiling while no
throttle comes (see its docstring); a throttle of one action never slows another. A retry-after hint
(`x-acs-retry-after`) holds every send of the action until it has passed (without one, a short and growing
hold). Processes that share an account this way settle on sharing its limit with few throttled calls,
without knowing about each other. `RateSource` is the seam where a rate reserved through a shared state
backend (so that runners need no throttling to find out about each other) could replace the learnt one.

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
from collections.abc import Awaitable, Callable
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
# Adaptive pacing (AdaptiveRate). A throttle cuts the rate to CUT of what it was, or to this process's share of
# the window when the hint says that was smaller, but never below DEEPEST_CUT of the rate in one step.
CUT = 0.85
DEEPEST_CUT = 0.25
SAFE_FRACTION = 0.97  # pace at this fraction of the share that was throttled, as at this fraction of a limit
HOLD = 2.0  # seconds to hold the rate a probe went back to before probing again
HOLD_AFTER_CUT = 1.5  # seconds to hold a cut rate (a first guess at this process's share) before probing
HOLD_JITTER = 0.25  # each hold is HOLD +- this fraction, so processes cut together do not probe together
REPEAT_WITHIN = 0.5  # a throttle this soon (seconds) after a cut squares the cut factor: 0.85, 0.72, 0.52, ...
SERIES_FLOOR = 0.5  # ... but such a series of quick cuts takes the rate down to half of where it began, no lower
BURST_HINT = 0.1  # a hint this long (seconds) means the window filled in a burst rather than over time
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
    """One (account, action)'s rate, learnt from throttling answers: a multiplicative cut on a throttle, a hold
    below the rate that was throttled, then probes back up towards `ceiling` in doubling steps.

    At a throttle the account's window was full, and this process had a share of it:
    - its rate, as far as it can tell, when the window had filled over time (a short or no retry-after hint);
    - less when the service's hint says the window had no room for a while: a window that filled in 1 - H
      seconds was filled by everyone together at 1/(1 - H) times the limit, so this process's share was its
      rate x (1 - H), and no more than its part of the limit in proportion to the rates that filled the window
      (the others' calls came in over those 1 - H seconds, and at least at its own rate if there are any: a
      process started a little later sends at its ceiling too). This is how N processes that start together, or
      a few tenths of a second apart, find 1/N in one step: cutting a late starter to its few calls admitted
      would leave it a small share for good, as equal probe steps never even out a split.

    Then:
    - throttled during a probe step (above the rate it held): the step found the limit. Back to the rate of
      the step before, which no throttle answered, or to 97% of the share if lower; hold it `HOLD` seconds;
    - throttled at or below the rate it held: the account is busier than it was (another pipeline started,
      or another's probe took the room). Cut to `CUT` of the rate, or to 97% of the share if lower; hold it
      `HOLD_AFTER_CUT` seconds. A throttle soon after such a cut (within `REPEAT_WITHIN`) says it did not
      suffice: the next one is deeper (the factor squared: 0.85, 0.72, 0.52, ...), but a series of quick cuts
      stops at half the rate it began from (`SERIES_FLOOR`): the others sharing the account are throttled too,
      and one unlucky process must not give up its whole share while they keep theirs.

    Holds are jittered, so processes cut together do not probe together. A probe is one step every
    `PROBE_STEP` seconds (half a window, about the time the service's sliding window takes to show a step's
    effect), the first adding `FIRST_PROBE` of the ceiling and each next twice as much. A probe that finds the
    limit costs about one throttled call; a process left alone is back at the ceiling about two seconds after
    its hold ends.

    At the ceiling, one throttle a window whose hint says the window had room again within one interval is
    taken for network jitter (a lone process's calls bunched up): retried, no cut. Another pipeline on the
    account shows up as more throttles than that.

    A throttled call sent before the last cut took effect (before the cut, or before the pause its hint asked
    for ended) does not cut again: it tells nothing about the new rate. Pure: time comes in as arguments, so
    every rule is tested without a clock.
    """

    def __init__(self, ceiling: float, rng: random.Random | None = None) -> None:
        if not (ceiling > 0 and math.isfinite(ceiling)):
            raise ValueError(f"pacing rate must be a positive number, not {ceiling!r}")
        self._ceiling = ceiling
        self.lowest_allowed = ceiling * LOWEST_FRACTION
        self._held = ceiling  # the rate held after the last cut; probing starts from it
        self._cut_at = -math.inf
        self._hold = HOLD
        self._cut = CUT  # the fraction the last cut kept
        self._series_from = ceiling  # the rate before the first of the last series of quick cuts
        self._tolerated_at = -math.inf
        self._deepen = False  # the last cut was multiplicative: a throttle soon after it deepens the next
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
        self._series_from = min(self._series_from, ceiling)
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
        probing = now - self._cut_at - self._hold
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
        hint = min(retry_after, WINDOW) if retry_after is not None else 0.0
        share = before * max(1.0 - hint / WINDOW, DEEPEST_CUT)
        burst = hint >= BURST_HINT
        if burst:  # the window filled up quickly: its calls are the recent ones, this process's too
            share = min(share, max(self._burst_share(before, hint, now), before * DEEPEST_CUT))
        hold = HOLD_AFTER_CUT
        repeated = now - self._cut_at < REPEAT_WITHIN
        if not repeated:
            self._series_from = before
        if before >= self._ceiling and hint * before < 1.0 and now - self._tolerated_at >= WINDOW:
            # At the ceiling, the window had room again within one interval: network jitter bunched a few calls.
            # One such throttle a window is retried without a cut; another pipeline shows up as several.
            self._tolerated_at = now
            return None
        if before > self._held:  # a probe step found the limit: back to the step before, which did not
            after = min(last_good, share * SAFE_FRACTION)
            hold = HOLD
            self._deepen = False
        else:  # a multiplicative cut that did not suffice (another throttle soon after it) is followed by a deeper one
            self._cut = self._cut * self._cut if repeated and self._deepen else CUT
            # ... but one series of quick cuts gives up at most half: the others, throttled too, cut as well
            after = min(before, max(before * self._cut, self._series_from * SERIES_FLOOR))
            if burst:
                after = min(after, share * SAFE_FRACTION)
            self._deepen = not burst
        after = max(self.lowest_allowed, after)
        self._held = after
        self._cut_at = now
        self._settled_at = now + (retry_after + SETTLE_MARGIN if retry_after is not None else NO_HINT_SETTLE)
        self._hold = hold * self._rng.uniform(1 - HOLD_JITTER, 1 + HOLD_JITTER)
        self.lowest = min(self.lowest, after)
        return RateCut(before, after)

    def _burst_share(self, before: float, hint: float, now: float) -> float:
        """This process's fair part of a window that filled in a burst: the window's calls (the limit) split in
        proportion to the rates that filled it. The others' calls (the limit less this process's admitted ones)
        came in over the `WINDOW - hint` seconds it took to fill, at least at this process's own rate if there are
        any: another process that started later than this one sends at its ceiling too, and takes as much. None
        when none of its calls was admitted (the deepest cut then, and probes)."""
        admitted = self._admitted_in_window(now)
        if admitted < 1:  # it joined a window the others had already filled: nothing says what they send at
            return 0.0
        limit = self._ceiling / SAFE_FRACTION
        others = limit - admitted
        others_rate = others / max(WINDOW - hint, 1.0 / self._ceiling)  # a window full at once: in one interval
        if others >= 1:
            others_rate = max(others_rate, before)
        return limit * before / (before + max(0.0, others_rate))

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
    of the action until its retry-after hint has passed; without a hint, for one interval at the ceiling, twice
    as long for each throttle in a row (less than a window apart), up to half a window."""

    def __init__(self, source: RateSource | float, clock: Clock, action: str = "") -> None:
        self.source: RateSource = AdaptiveRate(source) if isinstance(source, int | float) else source
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
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        else:  # no hint: the window is full for an unknown while; each throttle in a row waits twice as long
            self._unhinted = self._unhinted + 1 if now - self._last_throttled < WINDOW else 0
            pause = min(WINDOW / 2, 2**self._unhinted / self.source.ceiling)
            self._paused_until = max(self._paused_until, now + pause)
        self._last_throttled = now
        cut = self.source.throttled(sent, now, retry_after)
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
RateSources = Callable[[str, str, float, random.Random], AdaptiveRate]


def adaptive_rates(access_key_id: str, action: str, ceiling: float, rng: random.Random) -> AdaptiveRate:
    """The default: each process learns its rate from its own throttling answers."""
    return AdaptiveRate(ceiling, rng)


class Pacer:
    """Every `ActionPacer` of a session, keyed by (access key id, action): shared by all tasks and regions."""

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._pacers: dict[tuple[str, str], ActionPacer] = {}
        self.sources: RateSources = adaptive_rates

    def for_action(self, access_key_id: str, action: str, rate: float) -> ActionPacer:
        key = (access_key_id, action)
        pacer = self._pacers.get(key)
        if pacer is None:
            source = self.sources(access_key_id, action, rate, self._rng)
            pacer = self._pacers[key] = ActionPacer(source, self._clock, action)
        return pacer

    def actions(self) -> dict[str, ActionPacer]:
        """The pacer of each action used, the last access key's when credentials rotated."""
        return {action: pacer for (_, action), pacer in self._pacers.items()}
