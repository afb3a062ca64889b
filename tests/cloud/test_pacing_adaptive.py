"""Adaptive pacing: a throttling answer cuts that action's rate, the rate holds, then probes back up; retry-after
hints hold every send of the action; other actions are never slowed; --qps-share caps each limit. The rules run
on `AdaptiveRate` with times as arguments, the pacing through a session in virtual time, and two processes that
share one emulated account (its real sliding-window throttle) in virtual time too."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable

import httpx
import pytest

from reconcile.cloud import pacing
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata, VideoUpdate
from reconcile.cloud.pacing import AdaptiveRate, RateCut
from reconcile.cloud.region_client import RegionClient
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import FakeApi, VirtualClock, api_error, ok

CEILING = 48.5  # RegisterMedia: 50/s x 0.97


def register(region: RegionClient, n: int, bucket: str = "media-in") -> Awaitable[object]:
    url = f"https://{bucket}.oss-cn-shanghai.aliyuncs.com/v/{n}.mp4"
    return region.register_media(RegisterMediaRequest((RegisterMetadata(file_url=url, title=f"t{n}"),)))


def steady(rate: AdaptiveRate, start: float, end: float, per_second: float) -> None:
    """Calls sent evenly from `start` to `end`."""
    for i in range(int((end - start) * per_second)):
        rate.sent(start + i / per_second)


def throttle(rate: AdaptiveRate, at: float, retry_after: float | None) -> RateCut | None:
    """A call sent at `at` and throttled at once."""
    rate.sent(at)
    return rate.throttled(sent=at, now=at, retry_after=retry_after)


def clocked(rate: float) -> float:
    """A held rate as the pacer keeps it: a whole number of calls per 1.01 s."""
    return math.floor(rate * 1.01) / 1.01


def part(mine: float, others: float) -> float:
    """This process's part of the 50 calls of a full window: in proportion to its rate and the others'."""
    return 50 * mine / (mine + others)


# --- the rules ----------------------------------------------------------------------------------------


def test_a_throttle_cuts_to_this_process_part_of_the_full_window_which_holds_then_probes_back() -> None:
    """Alone at 48.5/s but for a trickle of other traffic: the window's 50 calls at the throttle were 47 of its
    own (48 sent, less the one throttled) and 3 of others, come in over the 0.97 s the window took to fill. It
    takes 97% of its part, as a whole number of calls per 1.01 s, not half: the others send at a fraction of its
    rate."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 9.02, 10.0, CEILING)  # 47 calls

    cut = throttle(rate, 10.0, retry_after=0.03)

    held = clocked(0.97 * part(CEILING, 3 / 0.97))
    assert cut == RateCut(CEILING, pytest.approx(held))
    assert held == pytest.approx(46 / 1.01)
    hold = rate.hold_seconds
    assert 1.875 <= hold <= 3.125  # HOLD, jittered by up to a quarter
    step = 0.04 * CEILING
    assert rate.rate(10.0 + hold - 0.001) == pytest.approx(held)
    assert rate.rate(10.0 + hold) == pytest.approx(held + step)
    assert rate.rate(10.0 + hold + 0.5) == CEILING  # the next step would pass it
    assert rate.lowest == pytest.approx(held)


def test_calls_sent_before_the_cut_took_effect_do_not_cut_again() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 4.02, 5.0, CEILING)
    first = throttle(rate, 5.0, retry_after=0.03)
    assert first is not None

    assert rate.throttled(sent=4.99, now=5.01, retry_after=0.03) is None  # in flight when the first answered
    assert throttle(rate, 5.03, retry_after=0.01) is None  # inside the pause the hint asked for
    assert rate.rate(5.04) == first.after


def test_for_a_window_after_a_cut_a_throttle_does_not_cut_again_but_starts_the_hold_again() -> None:
    """The window still holds calls sent before the cut (the others' too): a throttle then says nothing about the
    rates now. It says someone is probing, so this process waits a whole hold before probing too."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 4.02, 5.0, CEILING)
    first = throttle(rate, 5.0, retry_after=0.03)
    assert first is not None
    held = first.after
    steady(rate, 5.05, 5.9, held)

    assert throttle(rate, 5.9, retry_after=0.01) is None
    hold = rate.hold_seconds
    assert rate.rate(5.0 + hold + 0.1) == held  # the hold started again at 5.9
    assert rate.rate(5.9 + hold) > held
    steady(rate, 5.95, 7.0, held)
    second = throttle(rate, 7.0, retry_after=0.01)  # a window later: its part of that window
    assert second is not None and second.after < held


def test_more_throttles_in_the_window_after_a_cut_than_its_residue_cut_again() -> None:
    """Three throttles in the window after a cut are taken for the calls still in it from before; a fourth says the
    account is overfull now (another process probing up takes this one's room): it cuts to its part."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 4.02, 5.0, CEILING)
    first = throttle(rate, 5.0, retry_after=0.03)
    assert first is not None
    steady(rate, 5.05, 5.5, first.after)

    assert [throttle(rate, at, retry_after=0.01) for at in (5.5, 5.6, 5.7)] == [None, None, None]
    fourth = throttle(rate, 5.8, retry_after=0.01)
    assert fourth is not None and fourth.after < first.after


def test_a_probe_step_that_finds_the_limit_goes_back_to_the_step_before() -> None:
    """Alone again but for a trickle: the step before, which no throttle answered, is below its part."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    cut = rate.throttled(sent=5.0, now=5.0, retry_after=0.05)  # none of its calls in the window: 15% off
    assert cut == RateCut(CEILING, pytest.approx(CEILING * 0.85))
    held = cut.after
    probe = 5.0 + rate.hold_seconds + 0.6  # the second step
    first_step, second_step = held + 0.04 * CEILING, held + 0.12 * CEILING
    assert rate.rate(probe) == pytest.approx(second_step)
    steady(rate, probe - 0.98, probe, second_step)  # 46 calls: 4 of the window's 50 were others'

    back = throttle(rate, probe, retry_after=None)

    assert back == RateCut(pytest.approx(second_step), pytest.approx(clocked(first_step)))
    assert rate.held > held


def test_of_two_processes_the_one_that_probed_above_half_is_brought_back_to_half() -> None:
    """It sent 37.8/s, the other 20/s: the window's 50 calls were 31 of its own and 19 of the other's. A peer
    (half its rate or more) is taken to send at least as much as it does: it takes half, not its 31."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 1.0, CEILING)
    throttle(rate, 1.0, retry_after=0.45)
    probe = 1.0 + rate.hold_seconds + 1.1  # the third step: 37.5/s
    steady(rate, probe - 0.82, probe, 37.8)  # 31 calls

    cut = throttle(rate, probe, retry_after=None)

    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * 25))


def test_a_process_holding_half_while_the_other_probes_gives_up_a_few_percent_not_its_share() -> None:
    """The failure of squaring the cut for each throttle soon after the last: the process holding its half is
    throttled every 0.3 s while the other probes up (the other's calls fill the window), and was cut to 0.85, then
    0.72, then 0.52 of its rate, while the other, never throttled, climbed to the ceiling. Now a throttle within a
    window of a cut does not cut again, and one after it takes the process to its part of that window: the
    other's calls came in at about its own rate or more, so it gives up about a tenth."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 1.0, CEILING)
    first = throttle(rate, 1.0, retry_after=0.45)
    assert first is not None and first.after == pytest.approx(clocked(0.97 * 25))
    held, sent_until, cuts = first.after, 1.05, []
    for at in (1.3, 1.6, 1.9, 2.2, 2.5, 2.8, 3.1):
        steady(rate, sent_until, at, held)
        sent_until = at + 1 / held
        cut = throttle(rate, at, retry_after=0.01)
        if cut is not None:
            cuts.append(cut)
            held = cut.after

    assert [round(c.before, 2) for c in cuts] == [round(first.after, 2)]  # once, at 2.2: a window after the first
    assert held >= 0.85 * first.after  # (its throttled calls were not in the window: its part there was smaller)
    assert rate.lowest == held


def test_one_throttle_a_window_at_the_ceiling_with_room_within_an_interval_is_taken_for_jitter() -> None:
    """Network jitter bunches a lone process's calls now and then: the window had room again within one
    interval. That is retried without a cut; another pipeline on the account shows up as more throttles."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 5.0, CEILING)

    assert rate.throttled(sent=5.0, now=5.0, retry_after=0.015) is None
    steady(rate, 5.0, 6.8, CEILING)
    assert rate.throttled(sent=6.5, now=6.5, retry_after=None) is None  # a window later: jitter again
    cut = rate.throttled(sent=6.8, now=6.8, retry_after=0.015)  # a second within a window: the account is busy
    assert cut is not None and cut.before == CEILING and cut.after < CEILING


def test_a_long_retry_after_says_the_window_filled_in_a_burst_and_this_process_had_its_part() -> None:
    """Two processes started together at 48.5/s each: the window is full after about half a second, and the
    service answers "retry after 0.48 s". This one had 25 calls admitted of the 50 there (26 sent, less the one
    throttled): the other 25 came in over the 0.52 s the window took to fill, at 48/s, at least this one's rate
    (a burst): the two split the limit, and this one cuts to 97% of its half."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 0.52, CEILING)

    cut = throttle(rate, 0.52, retry_after=0.48)

    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * 25))


def test_a_late_starter_in_a_burst_window_takes_its_fair_part_not_its_few_calls() -> None:
    """Started 0.3 s after another process, this one had only 17 of the window's 50 calls admitted; cutting to
    those would leave it a third of the limit for good while the other keeps two thirds (neither probe evens
    that out). The other's 33 calls came in at about 50/s: half the limit is this one's."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.3, 0.66, CEILING)

    cut = throttle(rate, 0.66, retry_after=0.34)

    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * part(CEILING, 33 / 0.66)))


def test_the_first_of_two_in_a_burst_window_gives_the_late_starter_as_much_as_it_keeps() -> None:
    """The other process started later at its ceiling too: 18 of the window's calls are the other's, come in
    over its last 0.4 s, though spread over the whole 0.68 s they look like 27/s. Another process takes at
    least as much as this one's rate, so this one keeps half the limit rather than its 32 calls admitted."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 0.68, CEILING)  # 32 sent

    cut = throttle(rate, 0.68, retry_after=0.32)

    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * 25))


def test_without_its_calls_in_the_window_a_throttle_cuts_by_a_fixed_fraction_and_never_below_a_fiftieth() -> None:
    """A process that sends now and then has no part of the window to go by: 15% off each time."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    for n in range(40):  # throttled again and again, 1.1 s apart, while it holds
        rate.throttled(sent=n * 1.1, now=n * 1.1, retry_after=0.05)
    assert rate.rate(44.0) == pytest.approx(CEILING * 0.02) == rate.lowest
    assert rate.throttled(sent=45.0, now=45.0, retry_after=None) == RateCut(
        pytest.approx(CEILING * 0.02), pytest.approx(CEILING * 0.02)
    )


def test_a_shared_reservation_halves_the_ceiling_not_the_window_a_throttle_is_read_against() -> None:
    """Coordinated pacing sets the ceiling to this runner's share (24.25/s of two); the service's window still
    holds 50 calls. Its 23 of them leave 27 to others, a peer: its part is about half, not all of a 25-call
    window that its own calls nearly filled."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    rate.set_ceiling(CEILING / 2)
    steady(rate, 4.04, 5.0, CEILING / 2)  # 23 calls

    cut = throttle(rate, 5.0, retry_after=0.05)

    assert rate.limit == 50
    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * part(CEILING / 2, 27 / 0.95)))


def test_with_a_share_of_the_limit_a_throttle_is_read_against_the_accounts_window() -> None:
    """--qps-share 0.8: the ceiling is 38.8/s, but the service's window holds the account's 50 calls. Its 34 calls
    there leave 16 to another process, sending at more than a quarter of its rate: a peer, so its part is half of
    the account's limit. Read against a 40-call window (its share), the others looked like 6 calls, and the cut went
    to 18.8/s, below its fair part."""
    ceiling = 0.8 * CEILING
    rate = AdaptiveRate(ceiling, random.Random(1), window=50)
    steady(rate, 4.12, 5.0, ceiling)  # 34 calls

    cut = throttle(rate, 5.0, retry_after=0.1)

    assert rate.limit == 50
    assert cut is not None and cut.after == pytest.approx(clocked(0.97 * 25))


async def test_the_client_gives_each_pacer_the_accounts_limit_as_its_window(
    make_session: SessionFactory, api: FakeApi
) -> None:
    async with make_session(qps_share={"RegisterMedia": 0.5}) as session:
        await register(session.client("cn-shanghai"), 0)
        [paced] = [p for p in session.pacing() if p.action == "RegisterMedia"]
        source = session._pacer.actions()["RegisterMedia"].source
    assert (paced.ceiling, paced.limit) == (pytest.approx(24.25), 50)
    assert isinstance(source, AdaptiveRate) and source.limit == 50


def test_held_rates_are_self_clocked_whole_calls_per_window() -> None:
    """A held rate is a whole number of calls per 1.01 s: each call arrives just after the one a window before it
    has left the service's window, so a process holding its rate takes back its own room, and an overfull window
    throttles whoever sends more than a window ago. A probe goes back to such a rate too."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 0.52, CEILING)
    cut = throttle(rate, 0.52, retry_after=0.48)
    assert cut is not None
    assert cut.after * 1.01 == pytest.approx(round(cut.after * 1.01))
    assert 0.97 * 25 - 1 < cut.after < 0.97 * 25


# --- through a session, in virtual time -----------------------------------------------------------


async def test_a_throttle_slows_that_action_only(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("RegisterMedia", ok(), api_error("Throttling.User"), api_error("Throttling.User"))
    async with make_session() as session:
        region = session.client("cn-shanghai")
        updates = [region.update_video_infos([VideoUpdate(video_id=f"{n:032x}", title="t")]) for n in range(30)]
        await asyncio.gather(*[register(region, n) for n in range(30)], *updates)
        paced = {p.action: p for p in session.pacing()}
    registers = [s.time for s in api.calls("RegisterMedia")]
    update_times = [s.time for s in api.calls("UpdateVideoInfos")]
    assert [b - a for a, b in itertools.pairwise(update_times[1:])] == pytest.approx([1 / 29.1] * 28)
    # The second throttle cuts (the first at the ceiling is taken for jitter: see below). The window was full and
    # held 2 of this process's calls: the others filled it at about its rate or more, so it takes half.
    half = clocked(0.97 * 25)
    after_cut = [b - a for a, b in itertools.pairwise(registers[4:])]
    assert after_cut == pytest.approx([1 / half] * len(after_cut))
    assert (paced["RegisterMedia"].throttled, paced["RegisterMedia"].cuts) == (2, 1)
    assert paced["RegisterMedia"].rate == pytest.approx(half)
    assert (paced["UpdateVideoInfos"].cuts, paced["UpdateVideoInfos"].rate) == (0, pytest.approx(29.1))


async def test_a_retry_after_hint_holds_every_send_of_the_action(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    api.then("RegisterMedia", ok(), ok(), api_error("Throttling.User", **{"x-acs-retry-after": "300"}))
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await asyncio.gather(*[register(region, n) for n in range(20)], region.bind_input_bucket("media-in"))
        cut_rate = {p.action: p for p in session.pacing()}["RegisterMedia"].rate
    times = [s.time for s in api.calls("RegisterMedia")]
    throttled_at = times[2]
    # nothing went out before the hint had passed, and then within a random part of the (cut) rate's interval,
    # so that processes throttled together do not all send into the first room at once
    assert throttled_at + 0.3 <= times[3] <= throttled_at + 0.3 + 1 / cut_rate
    assert len(times) == 21  # the throttled call was retried once
    assert api.calls("BindInputBucket")[0].time == 0  # another action is not held


async def test_without_a_hint_throttles_in_a_row_hold_the_action_twice_as_long_each_time(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("RegisterMedia", ok(), *[api_error("Throttling.User") for _ in range(5)])
    async with make_session() as session:
        await asyncio.gather(*[register(session.client("cn-shanghai"), n) for n in range(10)])
    times = [s.time for s in api.calls("RegisterMedia")]
    gaps = [b - a for a, b in itertools.pairwise(times[1:6])]
    # 1, 2, 4, 8 / 48.5 s (the first throttle at the ceiling is taken for jitter: no cut, the rate's interval; the
    # second cuts to half, whose interval is longer than its pause)
    assert gaps == pytest.approx([1 / CEILING, 1 / clocked(0.97 * 25), 4 / CEILING, 8 / CEILING])
    assert len(times) == 15  # each throttled call retried once


async def test_qps_share_caps_each_limit(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session(qps_share={"*": 0.5, "RegisterMedia": 0.2}) as session:
        region = session.client("cn-shanghai")
        deletes = [region.delete_video([f"{n:032x}"]) for n in range(20)]
        await asyncio.gather(*[register(region, n) for n in range(20)], *deletes)
        paced = {p.action: (p.share, p.ceiling) for p in session.pacing()}
    registers = [s.time for s in api.calls("RegisterMedia")]
    removes = [s.time for s in api.calls("DeleteVideo")]
    assert [b - a for a, b in itertools.pairwise(registers[1:])] == pytest.approx([1 / 9.7] * 18)
    assert [b - a for a, b in itertools.pairwise(removes[1:])] == pytest.approx([1 / 14.55] * 18)
    assert paced == {"DeleteVideo": (0.5, pytest.approx(14.55)), "RegisterMedia": (0.2, pytest.approx(9.7))}


# --- two processes, one account ------------------------------------------------------------------


class _EmulatorTime:
    """The emulator's clock in the test's virtual time (wall time stays real: signatures carry it)."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class _Network(httpx.AsyncBaseTransport):
    """1-6 ms each way, so answers arrive in a different order than requests left."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rng: random.Random) -> None:
        self._inner = inner
        self._rng = rng

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self._rng.uniform(0.001, 0.006))
        response = await self._inner.handle_async_request(request)
        await asyncio.sleep(self._rng.uniform(0.001, 0.006))
        return response


# (second process's start in seconds, seed of the network's delays and of the processes' jitter). All but the
# first failed before held rates were self-clocked and a throttle cut to the process's part of the window: a
# process holding its half was cut again and again (each cut squared) while the other probed up, so 10 to 12 of
# the 300 calls were throttled, or one was left at a third of the limit, or the pair took 1.26x the floor.
SHARED = [(0.0, 1), (0.1, 1), (0.05, 5), (0.2, 3), (0.2, 5), (0.3, 3), (0.3, 5), (0.4, 4)]


@pytest.mark.parametrize(("offset", "seed"), SHARED)
async def test_two_processes_on_one_account_share_its_limit_with_few_throttled_calls(
    clock: VirtualClock, offset: float, seed: int
) -> None:
    app = create_app(EmulatorConfig(auto_objects=True, qps_scale=1.0, clock=_EmulatorTime(clock)))
    network = random.Random(seed)
    finished: list[float] = []

    async def process(n: int, start: float) -> CloudSession:
        await asyncio.sleep(start)
        session = CloudSession(
            ClientSettings(endpoint="http://127.0.0.1:8080"),
            StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            transport=_Network(emulator_transport(app), network),
            clock=clock,
            rng=random.Random(seed * 10 + n),
        )
        region = session.client("cn-shanghai")
        await asyncio.gather(*(register(region, k, bucket=f"media-{n}") for k in range(150)))
        finished.append(clock.monotonic())
        return session

    sessions = await asyncio.gather(process(0, 0.0), process(1, offset))

    stats = [s.stats.of("RegisterMedia") for s in sessions]
    paced = [{p.action: p for p in s.pacing()}["RegisterMedia"] for s in sessions]
    assert [s.errors for s in stats] == [0, 0]
    assert sum(s.throttled for s in stats) <= 9  # 3% of the 300 calls (without adaptive pacing: ~45%)
    assert app.gateway.stats.to_dict()["actions"]["RegisterMedia"]["successes"] == 300
    assert max(finished) <= 1.2 * 300 / 50  # within 1.2x the account's floor
    assert min(p.lowest for p in paced) >= 0.4 * 50  # neither gave up its half


def test_constants_describe_a_gentle_probe() -> None:
    """The first probe step is a few percent, so a probe that finds the limit costs about one throttled call."""
    assert pacing.FIRST_PROBE * pacing.PROBE_STEP < 0.05
