"""Coordinated pacing through a PostgreSQL state, against the real test server: runners of one account see each
other and take an equal share of each limit; an expired or withdrawn registration drops out; the pacer never
touches the database per call; two sessions on one emulated account throttle (almost) never."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from reconcile.state.location import PostgresLocation, parse_postgres
from reconcile.state.pg_pacing import SharedPacing, SharedRate, account_key
from tests.cloud import conftest as cloud_fixtures
from tests.cloud.fakes import VirtualClock
from tests.cloud.test_pacing_adaptive import CEILING, register
from tests.cloud.test_pacing_adaptive import _EmulatorTime as EmulatorTime
from tests.postgres_server import PostgresServer

KEY_ID = "LTAI5tCoordinatedPacing"
clock = cloud_fixtures.clock  # the fixture: virtual time for the event loop


@pytest.fixture
def location(postgres_server: PostgresServer) -> PostgresLocation:
    return parse_postgres(postgres_server.url(postgres_server.new_schema()))


@pytest.fixture
def runners(location: PostgresLocation) -> Iterator[list[SharedPacing]]:
    made = [SharedPacing(location), SharedPacing(location)]
    yield made
    for runner in made:
        runner.close()


def test_two_runners_of_one_account_see_each_other_and_take_half_each(
    runners: list[SharedPacing], postgres_server: PostgresServer, location: PostgresLocation
) -> None:
    a, b = runners
    rate_a = a.sources(KEY_ID, "RegisterMedia", CEILING, random.Random(1))
    other_action = a.sources(KEY_ID, "UpdateMediaStorageClass", 29.1, random.Random(1))
    rate_b = b.sources(KEY_ID, "RegisterMedia", CEILING, random.Random(2))
    other_account = b.sources("LTAI5tSomeoneElse", "RegisterMedia", CEILING, random.Random(2))
    for runner in (a, b, a):
        runner.refresh()

    assert (rate_a.rate(0.0), rate_b.rate(0.0)) == (CEILING / 2, CEILING / 2)
    assert (rate_a.ceiling, rate_b.ceiling) == (CEILING / 2, CEILING / 2)
    assert (other_action.rate(0.0), other_account.rate(0.0)) == (29.1, CEILING)  # nobody shares those
    assert a.queries == 3 + 2 * 2 * 2  # table once; per heartbeat, one UPSERT and one SELECT per action
    with postgres_server.admin() as admin:
        rows = admin.execute(
            f"SELECT DISTINCT account FROM {location.schema}.reconcile_pacing ORDER BY account"
        ).fetchall()
    assert sorted(row[0] for row in rows) == sorted({account_key(KEY_ID), account_key("LTAI5tSomeoneElse")})
    assert all(KEY_ID not in row[0] for row in rows)  # a hash, never the AccessKey ID


def test_an_expired_registration_drops_out_and_a_closed_runner_withdraws_at_once(
    runners: list[SharedPacing], postgres_server: PostgresServer, location: PostgresLocation
) -> None:
    a, b = runners
    c = SharedPacing(location)
    rate_a = a.sources(KEY_ID, "RegisterMedia", CEILING, random.Random(1))
    b.sources(KEY_ID, "RegisterMedia", CEILING, random.Random(2))
    c.sources(KEY_ID, "RegisterMedia", CEILING, random.Random(3))
    for runner in (a, b, c, a):
        runner.refresh()
    assert rate_a.rate(0.0) == pytest.approx(CEILING / 3)

    # b was kill -9'd: its registration is no longer renewed and, once expired, no longer counts
    with postgres_server.admin() as admin:
        admin.execute(
            f"UPDATE {location.schema}.reconcile_pacing SET expires = now() - interval '1 second' WHERE runner = %s",
            [b.runner],
        )
    a.refresh()
    assert rate_a.rate(0.0) == pytest.approx(CEILING / 2)

    c.close()  # ended normally: withdrawn, the others take its share on their next heartbeat
    a.refresh()
    assert rate_a.rate(0.0) == CEILING


async def _two_sessions(clock: VirtualClock, shared: list[SharedPacing] | None) -> tuple[int, float, int]:
    """Two sessions register 150 media each on one emulated account at its real limit; (throttled calls, when
    the last finished, successes)."""
    app = create_app(EmulatorConfig(auto_objects=True, qps_scale=1.0, clock=EmulatorTime(clock)))
    finished: list[float] = []

    async def process(n: int) -> CloudSession:
        session = CloudSession(
            ClientSettings(endpoint="http://127.0.0.1:8080"),
            StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            transport=emulator_transport(app),
            clock=clock,
            rng=random.Random(n),
        )
        if shared is not None:
            session.use_rate_sources(shared[n].sources)
        region = session.client("cn-shanghai")
        await asyncio.gather(*(register(region, k, bucket=f"media-{n}") for k in range(150)))
        finished.append(clock.monotonic())
        return session

    sessions = await asyncio.gather(process(0), process(1))
    throttled = sum(s.stats.of("RegisterMedia").throttled for s in sessions)
    successes = app.gateway.stats.to_dict()["actions"]["RegisterMedia"]["successes"]
    return throttled, max(finished), successes


async def test_two_sessions_sharing_an_account_through_the_state_are_not_throttled_to_find_each_other(
    clock: VirtualClock, runners: list[SharedPacing]
) -> None:
    # Both runners registered (as their heartbeat does within milliseconds of their first call of the action).
    for runner in runners:
        runner.sources(DEFAULT_ACCESS_KEY_ID, "RegisterMedia", CEILING, random.Random(0))
    for runner in (*runners, runners[0]):
        runner.refresh()
    queries = [runner.queries for runner in runners]

    coordinated, finished, successes = await _two_sessions(clock, runners)

    assert successes == 300
    assert coordinated <= 1  # adaptive pacing alone: several (each runner learns the other from throttles)
    assert finished <= 1.2 * 300 / 50  # within 1.2x the account's floor
    assert [runner.queries for runner in runners] == queries  # 300 paced calls, not one query
    adaptive, _, _ = await _two_sessions(clock, None)
    assert adaptive > coordinated


async def test_the_heartbeat_thread_registers_at_once_and_the_calls_never_query(
    clock: VirtualClock, location: PostgresLocation
) -> None:
    app = create_app(EmulatorConfig(auto_objects=True, qps_scale=1.0, clock=EmulatorTime(clock)))
    with SharedPacing(location, heartbeat=3600.0) as runner:
        session = CloudSession(
            ClientSettings(endpoint="http://127.0.0.1:8080"),
            StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
            transport=emulator_transport(app),
            clock=clock,
            rng=random.Random(1),
        )
        session.use_rate_sources(runner.sources)
        region = session.client("cn-shanghai")
        await asyncio.gather(*(register(region, k, bucket="media") for k in range(100)))
        deadline = time.monotonic() + 10  # the heartbeat thread runs in real time, the calls in virtual time
        while runner.queries < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert session.stats.of("RegisterMedia").calls == 100
    assert runner.queries == 3 + 2  # the table once, then one UPSERT and one SELECT: none for the 100 calls


def test_the_shared_share_caps_an_adaptive_rate_that_throttling_still_cuts() -> None:
    rate = SharedRate(CEILING, random.Random(1))
    rate.runners = 2  # as the heartbeat thread leaves it
    assert rate.rate(0.0) == CEILING / 2

    # Someone who does not register: one throttle a window at the ceiling is jitter, the second cuts.
    assert rate.throttled(sent=0.9, now=0.9, retry_after=None) is None
    cut = rate.throttled(sent=1.0, now=1.0, retry_after=None)
    assert cut is not None and (cut.before, cut.after) == (CEILING / 2, pytest.approx(CEILING / 2 * 0.85))

    rate.runners = 1  # the other runner ended: the cut rate holds, then probes up to the whole ceiling
    assert rate.rate(1.1) == pytest.approx(CEILING / 2 * 0.85)
    assert rate.ceiling == CEILING
    assert rate.rate(60.0) == CEILING
