"""Adaptive pacing: a throttling answer cuts that action's rate, the rate holds, then probes back up; retry-after
hints hold every send of the action; other actions are never slowed; --qps-share caps each limit. The rules run
on `AdaptiveRate` with times as arguments, the pacing through a session in virtual time, and two processes that
share one emulated account (its real sliding-window throttle) in virtual time too."""

from __future__ import annotations

import asyncio
import itertools
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


# --- the rules ----------------------------------------------------------------------------------------


def test_a_throttle_cuts_the_rate_which_holds_then_probes_back_to_the_ceiling_in_doubling_steps() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 10.0, CEILING)

    assert rate.throttled(sent=10.0, now=10.01, retry_after=0.05) == RateCut(CEILING, CEILING * 0.85)

    hold = rate.hold_seconds
    assert 1.125 <= hold <= 1.875  # HOLD_AFTER_CUT, jittered by up to a quarter
    step = 0.04 * CEILING
    assert rate.rate(10.01 + hold - 0.001) == pytest.approx(41.225)
    assert rate.rate(10.01 + hold) == pytest.approx(41.225 + step)
    assert rate.rate(10.01 + hold + 0.5) == pytest.approx(41.225 + 3 * step)
    assert rate.rate(10.01 + hold + 1.0) == CEILING  # the next step would pass it
    assert rate.lowest == pytest.approx(41.225)


def test_calls_sent_before_the_cut_took_effect_do_not_cut_again() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 5.0, CEILING)
    rate.throttled(sent=5.0, now=5.01, retry_after=0.05)

    assert rate.throttled(sent=5.005, now=5.02, retry_after=0.05) is None  # in flight when the first answered
    assert rate.throttled(sent=5.05, now=5.06, retry_after=0.01) is None  # inside the pause the hint asked for
    assert rate.rate(5.03) == pytest.approx(CEILING * 0.85)


def test_a_cut_that_did_not_suffice_is_followed_by_a_deeper_one() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 5.0, CEILING)
    first = rate.throttled(sent=5.0, now=5.01, retry_after=0.05)
    second = rate.throttled(sent=5.2, now=5.21, retry_after=0.01)  # sent after the pause, within REPEAT_WITHIN

    assert first is not None and second is not None
    assert second.after == pytest.approx(first.after * 0.85 * 0.85)
    third = rate.throttled(sent=6.0, now=6.0, retry_after=None)  # later, still holding: an ordinary cut again
    assert third is not None and third.after == pytest.approx(third.before * 0.85)


def test_a_probe_step_that_finds_the_limit_goes_back_to_the_step_before() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 5.0, CEILING)
    rate.throttled(sent=5.0, now=5.0, retry_after=0.05)
    probe = 5.0 + rate.hold_seconds + 0.6  # the second step
    held, first_step, second_step = 41.225, 41.225 + 0.04 * CEILING, 41.225 + 0.12 * CEILING
    assert rate.rate(probe) == pytest.approx(second_step)

    cut = rate.throttled(sent=probe, now=probe, retry_after=None)

    assert cut == RateCut(pytest.approx(second_step), pytest.approx(first_step))
    assert rate.held == pytest.approx(first_step)
    assert rate.held > held


def test_one_throttle_a_window_at_the_ceiling_with_room_within_an_interval_is_taken_for_jitter() -> None:
    """Network jitter bunches a lone process's calls now and then: the window had room again within one
    interval. That is retried without a cut; another pipeline on the account shows up as more throttles."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 5.0, CEILING)

    assert rate.throttled(sent=5.0, now=5.0, retry_after=0.015) is None
    assert rate.throttled(sent=6.5, now=6.5, retry_after=None) is None  # a window later: jitter again
    cut = rate.throttled(sent=6.8, now=6.8, retry_after=0.015)  # a second within a window: the account is busy
    assert cut == RateCut(CEILING, pytest.approx(CEILING * 0.85))


def test_a_long_retry_after_says_the_window_filled_in_a_burst_and_this_process_had_its_part() -> None:
    """Two processes started together at 48.5/s each: the window is full after about half a second, and the
    service answers "retry after 0.48 s". This one had 24 calls admitted of the 50 there (25 sent, less the one
    throttled): the other 26 came in over the 0.52 s the window took to fill, at 50/s, so the two split the
    limit in proportion to their rates, and this one cuts to 97% of its part, about half."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 0.52, CEILING)

    cut = rate.throttled(sent=0.52, now=0.525, retry_after=0.48)

    assert cut is not None and cut.after == pytest.approx(0.97 * 50 * CEILING / (CEILING + 26 / 0.52))


def test_a_late_starter_in_a_burst_window_takes_its_fair_part_not_its_few_calls() -> None:
    """Started 0.3 s after another process, this one had only 16 of the window's 50 calls admitted; cutting to
    those would leave it a third of the limit for good while the other keeps two thirds (neither probe evens
    that out). The other's 34 calls came in at about 51.5/s: half the limit is this one's."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.3, 0.66, CEILING)

    cut = rate.throttled(sent=0.66, now=0.665, retry_after=0.34)

    assert cut is not None and cut.after == pytest.approx(0.97 * 50 * CEILING / (CEILING + 34 / 0.66))


def test_the_first_of_two_in_a_burst_window_gives_the_late_starter_as_much_as_it_keeps() -> None:
    """The other process started later at its ceiling too: 19 of the window's calls are the other's, come in
    over its last 0.4 s, though spread over the whole 0.68 s they look like 28/s. Another process takes at
    least as much as this one's rate, so this one keeps half the limit rather than its 31 calls admitted."""
    rate = AdaptiveRate(CEILING, random.Random(1))
    steady(rate, 0.0, 0.68, CEILING)  # 32 sent

    cut = rate.throttled(sent=0.68, now=0.685, retry_after=0.32)

    assert cut is not None and cut.after == pytest.approx(0.97 * 50 / 2)


def test_quick_cuts_give_up_at_most_half_the_rate_and_no_cut_goes_below_a_fiftieth_of_the_ceiling() -> None:
    rate = AdaptiveRate(CEILING, random.Random(1))
    for n in range(10):  # throttled every 0.1 s: the others sharing the account are throttled too, and cut
        rate.throttled(sent=n * 0.1, now=n * 0.1, retry_after=0.01)
    assert rate.rate(1.0) == pytest.approx(CEILING / 2)

    for n in range(40):  # throttled again and again, 0.6 s apart, while it holds: 15% off each time
        rate.throttled(sent=2 + n * 0.6, now=2 + n * 0.6, retry_after=0.01)
    assert rate.rate(26.0) == pytest.approx(CEILING * 0.02) == rate.lowest


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
    after_cut = [b - a for a, b in itertools.pairwise(registers[4:])]
    assert after_cut == pytest.approx([1 / (CEILING * 0.85)] * len(after_cut))
    assert (paced["RegisterMedia"].throttled, paced["RegisterMedia"].cuts) == (2, 1)  # the first: see below
    assert paced["RegisterMedia"].rate == pytest.approx(CEILING * 0.85)
    assert (paced["UpdateVideoInfos"].cuts, paced["UpdateVideoInfos"].rate) == (0, pytest.approx(29.1))


async def test_a_retry_after_hint_holds_every_send_of_the_action(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    api.then("RegisterMedia", ok(), ok(), api_error("Throttling.User", **{"x-acs-retry-after": "300"}))
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await asyncio.gather(*[register(region, n) for n in range(20)], region.bind_input_bucket("media-in"))
    times = [s.time for s in api.calls("RegisterMedia")]
    throttled_at = times[2]
    assert times[3] == pytest.approx(throttled_at + 0.3)  # nothing went out before the hint had passed
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
    # 1, 2, 4, 8 / 48.5 s (the first throttle at the ceiling is taken for jitter: no cut, the rate's interval)
    assert gaps == pytest.approx([1 / CEILING, 2 / CEILING, 4 / CEILING, 8 / CEILING])
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


@pytest.mark.parametrize("offset", [0.0, 0.1, 0.2, 0.3, 0.4])
async def test_two_processes_on_one_account_share_its_limit_with_few_throttled_calls(
    clock: VirtualClock, offset: float
) -> None:
    app = create_app(EmulatorConfig(auto_objects=True, qps_scale=1.0, clock=_EmulatorTime(clock)))
    network = random.Random(5)
    finished: list[float] = []

    async def process(n: int, start: float) -> CloudSession:
        await asyncio.sleep(start)
        session = CloudSession(
            ClientSettings(endpoint="http://127.0.0.1:8080"),
            StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            transport=_Network(emulator_transport(app), network),
            clock=clock,
            rng=random.Random(n),
        )
        region = session.client("cn-shanghai")
        await asyncio.gather(*(register(region, k, bucket=f"media-{n}") for k in range(150)))
        finished.append(clock.monotonic())
        return session

    sessions = await asyncio.gather(process(1, 0.0), process(2, offset))

    stats = [s.stats.of("RegisterMedia") for s in sessions]
    assert [s.errors for s in stats] == [0, 0]
    assert sum(s.throttled for s in stats) <= 9  # 3% of the 300 calls (without adaptive pacing: ~45%)
    assert app.gateway.stats.to_dict()["actions"]["RegisterMedia"]["successes"] == 300
    assert max(finished) <= 1.2 * 300 / 50  # within 1.2x the account's floor


def test_constants_describe_a_gentle_probe() -> None:
    """The first probe step is a few percent, so a probe that finds the limit costs about one throttled call."""
    assert pacing.FIRST_PROBE * pacing.PROBE_STEP < 0.05
