"""Pacing and concurrency in virtual time: even spacing at just under each limit, shared by every task
and region of a session, and zero throttles from a server that counts a sliding one-second window even
when network jitter bunches the arrivals."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
from collections.abc import Awaitable, Callable

import httpx
import pytest

from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata, VideoUpdate
from reconcile.cloud.region_client import RegionClient
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import FakeApi, Seen, VirtualClock, api_error, ok


def register(region: RegionClient, n: int) -> Awaitable[object]:
    url = f"https://media-in.oss-cn-shanghai.aliyuncs.com/v/{n}.mp4"
    return region.register_media(RegisterMediaRequest((RegisterMetadata(file_url=url, title=f"t{n}"),)))


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals in any half-open window [t, t + window)."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


async def run_all(calls: list[Awaitable[object]]) -> None:
    await asyncio.gather(*calls)


async def test_500_calls_at_50_qps_take_about_10_seconds_and_never_exceed_50_in_a_second(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await run_all([register(region, n) for n in range(500)])
    times = [s.time for s in api.seen]
    assert len(times) == 500
    assert 10.0 <= clock.monotonic() <= 10.5  # the floor is 500/50 = 10 s; pacing at 97% of it costs 3%
    assert max_in_any_window(times) <= 50
    spacing = [b - a for a, b in itertools.pairwise(times)]
    assert min(spacing) == pytest.approx(max(spacing))  # evenly: no burst, no gap
    assert session.stats.of("RegisterMedia").calls == 500


async def test_pacing_is_shared_by_every_region_of_the_account(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    async with make_session() as session:
        regions = [session.client(r) for r in ("cn-shanghai", "cn-beijing", "ap-southeast-1")]
        await run_all([register(regions[n % 3], n) for n in range(300)])
    assert {s.request.url.host for s in api.seen} == {
        "vod.cn-shanghai.aliyuncs.com",
        "vod.cn-beijing.aliyuncs.com",
        "vod.ap-southeast-1.aliyuncs.com",
    }
    assert max_in_any_window([s.time for s in api.seen]) <= 50
    assert 6.0 <= clock.monotonic() <= 6.3


async def test_actions_are_paced_independently(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    async with make_session() as session:
        region = session.client("cn-shanghai")
        updates = [region.update_video_infos([VideoUpdate(video_id=f"{n:032x}", title="t")]) for n in range(60)]
        await run_all([register(region, n) for n in range(100)] + updates)
    assert max_in_any_window([s.time for s in api.calls("RegisterMedia")]) <= 50
    assert max_in_any_window([s.time for s in api.calls("UpdateVideoInfos")]) <= 30
    assert clock.monotonic() <= 2.1  # together, not one after the other (that would be 4 s)


async def test_qps_override(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    async with make_session(qps={"RegisterMedia": 10}) as session:
        await run_all([register(session.client("cn-shanghai"), n) for n in range(50)])
    assert max_in_any_window([s.time for s in api.seen]) <= 10
    assert 4.9 <= clock.monotonic() <= 5.2


async def test_no_burst_after_a_pause(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await run_all([register(region, n) for n in range(20)])
        await clock.sleep(30)  # idle: a token bucket would have filled up here
        await run_all([register(region, n) for n in range(20, 60)])
    later = [s.time for s in api.seen[20:]]
    assert later[-1] - later[0] == pytest.approx(39 / 48.5)


async def test_concurrency_is_bounded(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    in_flight = 0
    peak = 0

    async def slow(seen: Seen) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(2.0)
        in_flight -= 1
        return ok()

    api.default = slow
    async with make_session(max_concurrency=5) as session:
        region = session.client("cn-shanghai")
        await run_all([region.bind_input_bucket(f"bucket-{n:03d}") for n in range(40)])
    assert peak == 5
    assert 18.0 <= clock.monotonic() <= 18.5  # the first call alone, then 39 calls 5 at a time, 2 s each


async def test_a_full_concurrency_bound_does_not_turn_a_backlog_into_a_burst(
    make_session: SessionFactory, api: FakeApi
) -> None:
    """Slots free up together (a slow batch returns at once); the waiting calls still go out one pace apart."""

    async def slow_then_fast(seen: Seen) -> httpx.Response:
        if len(api.seen) <= 4:
            await asyncio.sleep(3.0)
        return ok()

    api.default = slow_then_fast
    async with make_session(max_concurrency=4) as session:
        await run_all([register(session.client("cn-shanghai"), n) for n in range(100)])
    times = [s.time for s in api.seen]
    spacing = [b - a for a, b in itertools.pairwise(times)]
    assert min(spacing) >= 1 / 48.5 - 0.0052
    assert max_in_any_window(times) <= 50


async def test_the_first_call_of_an_action_goes_alone(make_session: SessionFactory, api: FakeApi) -> None:
    """It opens the connection and wakes the service; calls sent behind it would arrive bunched up."""

    async def cold_then_warm(seen: Seen) -> httpx.Response:
        await asyncio.sleep(0.3 if len(api.seen) == 1 else 0.005)
        return ok()

    api.default = cold_then_warm
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await run_all([register(region, n) for n in range(5)] + [region.bind_input_bucket("media-in")])
    registers = [s.time for s in api.calls("RegisterMedia")]
    assert registers[1] - registers[0] == pytest.approx(0.3)  # after the first answer, not one interval later
    assert [b - a for a, b in itertools.pairwise(registers[1:])] == pytest.approx([1 / 48.5] * 3)
    assert api.calls("BindInputBucket")[0].time == 0  # another action does not wait for it


async def test_a_cancelled_first_call_does_not_hold_up_the_others(make_session: SessionFactory, api: FakeApi) -> None:
    async def slow(seen: Seen) -> httpx.Response:
        await asyncio.sleep(1.0)
        return ok()

    api.then("BindInputBucket", slow)
    async with make_session(max_concurrency=1) as session:
        region = session.client("cn-shanghai")
        blocker = asyncio.ensure_future(region.bind_input_bucket("blocker"))
        await asyncio.sleep(0.5)  # the blocker holds the only concurrency slot for a second
        first = asyncio.ensure_future(register(region, 0))  # the first RegisterMedia: waits for that slot
        rest = asyncio.gather(*(register(region, n) for n in range(1, 4)))  # wait for the first's answer
        await asyncio.sleep(0.1)
        first.cancel()
        await blocker
        await asyncio.wait_for(rest, timeout=60)  # a deadlock fails here (in virtual seconds) instead of hanging
    assert first.cancelled()
    assert len(api.calls("RegisterMedia")) == 3


# --- a server that throttles like the real one, behind a jittery network ----------------------------


class SlidingWindowServer:
    """Counts arrivals per action in a sliding one-second window and throttles past the limit.

    Each request reaches it after a random network delay of 0-`jitter` seconds, so arrivals bunch up
    and spread out compared with the order and spacing the client sent them in.
    """

    def __init__(self, limit: int, jitter: float, seed: int = 7) -> None:
        self.limit = limit
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.arrivals: list[float] = []
        self.throttled = 0

    def handler(self, clock: Callable[[], float]) -> Callable[[Seen], Awaitable[httpx.Response]]:
        async def handle(seen: Seen) -> httpx.Response:
            await asyncio.sleep(self.rng.uniform(0, self.jitter))
            now = clock()
            self.arrivals.append(now)
            if len(self.arrivals) - bisect.bisect_right(self.arrivals, now - 1.0) > self.limit:  # in (now-1, now]
                self.throttled += 1
                return api_error("Throttling.User")
            await asyncio.sleep(self.rng.uniform(0, self.jitter))  # the way back
            return ok()

        return handle


async def test_long_apply_at_the_ceiling_with_network_jitter_sees_no_throttle(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    server = SlidingWindowServer(limit=50, jitter=0.025)
    api.default = server.handler(clock.monotonic)
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await run_all([register(region, n) for n in range(2000)])
    assert server.throttled == 0
    assert session.stats.of("RegisterMedia").throttled == 0
    assert clock.monotonic() <= 1.05 * 2000 / 50  # within 5% of the floor


async def test_pacing_at_exactly_the_limit_would_be_throttled_by_the_same_jitter(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    """Why the safety factor: at 100% of the limit, jitter alone pushes 51 arrivals into some second."""
    server = SlidingWindowServer(limit=50, jitter=0.025)
    api.default = server.handler(clock.monotonic)
    async with make_session(qps_safety_factor=1.0) as session:
        region = session.client("cn-shanghai")
        await run_all([register(region, n) for n in range(500)])
    assert server.throttled > 0
    assert session.stats.of("RegisterMedia").throttled == server.throttled
    assert session.stats.of("RegisterMedia").errors == 0  # every throttled call was retried to success
