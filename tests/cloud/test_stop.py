"""CloudSession.stop_new_requests in virtual time: nothing goes on the wire after it, whatever a call was
waiting for (its pacing turn, a concurrency slot, its next retry); requests already sent complete."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import httpx
import pytest

from reconcile.cloud.errors import RequestNotSent, ThrottledError
from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata
from reconcile.cloud.region_client import RegionClient
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import FakeApi, Seen, VirtualClock, api_error, ok


def register(region: RegionClient, n: int) -> Awaitable[object]:
    url = f"https://media-in.oss-cn-shanghai.aliyuncs.com/v/{n}.mp4"
    return region.register_media(RegisterMediaRequest((RegisterMetadata(file_url=url, title=f"t{n}"),)))


async def test_calls_waiting_for_their_pacing_turn_are_not_sent_after_the_stop(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    async def answer_after_a_second(seen: Seen) -> httpx.Response:
        await asyncio.sleep(1.0)
        return ok({"RegisterMediaInfoList": [], "FailedFileURLs": []})

    api.default = answer_after_a_second
    async with make_session() as session:
        region = session.client("cn-shanghai")
        calls = [asyncio.ensure_future(register(region, n)) for n in range(200)]
        await asyncio.sleep(1.5)  # the first alone (1 s), then one every 1/48.5 s
        session.stop_new_requests()
        stopped_at = clock.monotonic()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    sent = len(api.seen)
    assert sent == 1 + 25  # 1 at 0 s, then 1.0, 1.0206, ... up to 1.5 s
    assert all(s.time <= stopped_at for s in api.seen)
    # the requests on the wire at the stop were answered; every other call raised without being sent
    assert [o for o in outcomes if not isinstance(o, BaseException)] == outcomes[:sent]
    assert all(isinstance(o, RequestNotSent) for o in outcomes[sent:])
    assert str(outcomes[-1]) == "RegisterMedia: not sent: the session stopped sending new requests"
    assert clock.monotonic() == pytest.approx(api.seen[-1].time + 1.0)  # no waiting beyond the last one in flight


async def test_calls_waiting_for_a_concurrency_slot_are_not_sent_after_the_stop(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    async def slow(seen: Seen) -> httpx.Response:
        await asyncio.sleep(2.0)
        return ok()

    api.default = slow
    async with make_session(max_concurrency=2) as session:
        region = session.client("cn-shanghai")
        calls = [asyncio.ensure_future(region.bind_input_bucket(f"bucket-{n}")) for n in range(6)]
        await asyncio.sleep(2.5)  # the first alone (0-2 s), then two on the wire and the rest waiting for a slot
        session.stop_new_requests()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert session._concurrency._value == 2  # every slot given back
    assert [s.params["Bucket"] for s in api.seen] == ["bucket-0", "bucket-1", "bucket-2"]
    assert [type(o).__name__ for o in outcomes] == ["str", "str", "str"] + ["RequestNotSent"] * 3


async def test_a_call_stopped_between_retries_reports_the_error_its_sent_attempt_got(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    api.then("BindInputBucket", api_error("Throttling"))
    async with make_session() as session:
        call = asyncio.ensure_future(session.client("cn-shanghai").bind_input_bucket("media-in"))
        await asyncio.sleep(0.1)  # the first attempt was throttled; the retry waits 0.25-0.5 s
        session.stop_new_requests()
        with pytest.raises(ThrottledError) as failed:
            await call
    assert len(api.seen) == 1  # the retry was not sent
    assert failed.value.attempts == 1


async def test_after_the_stop_no_call_is_sent_at_all(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        session.stop_new_requests()
        with pytest.raises(RequestNotSent):
            await session.client("cn-shanghai").list_all_media_buckets()
    assert api.seen == []
