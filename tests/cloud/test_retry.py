"""Retries in virtual time: what is retried, how long the client waits, the bounds, re-signing, and
how a retried bind or unbind settles when an earlier attempt may have been carried out."""

from __future__ import annotations

import asyncio
import itertools
import json

import httpx
import pytest

from reconcile.cloud.credentials import CredentialsError
from reconcile.cloud.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import FakeApi, Seen, VirtualClock, api_error, ok

VIDEO = "3f9a0c1d2b4e4f6a8b7c6d5e4f3a2b1c"


def gaps(api: FakeApi) -> list[float]:
    times = [s.time for s in api.seen]
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


async def test_throttled_call_is_retried_after_the_servers_retry_after(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("DeleteVideo", api_error("Throttling.User", **{"x-acs-retry-after": "1500"}), ok({"NonExistVideoIds": []}))
    async with make_session() as session:
        result = await session.client("cn-shanghai").delete_video([VIDEO])
    assert result.request_id == api.last_request_id
    assert gaps(api) == [1.5]
    stats = session.stats.of("DeleteVideo")
    assert (stats.calls, stats.retries, stats.throttled, stats.errors) == (2, 1, 1, 0)


async def test_retry_after_is_capped_at_two_minutes(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("DeleteVideo", api_error("Throttling", **{"x-acs-retry-after": "900000"}), ok())
    async with make_session(max_retry_seconds=300) as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    assert gaps(api) == [120.0]


async def test_a_retry_that_would_end_past_the_time_budget_is_not_started(
    make_session: SessionFactory, api: FakeApi, clock: VirtualClock
) -> None:
    api.then("DeleteVideo", api_error("Throttling", **{"x-acs-retry-after": "90000"}))
    async with make_session(max_retry_seconds=60) as session:
        with pytest.raises(ThrottledError):
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert len(api.seen) == 1
    assert clock.monotonic() < 1


async def test_server_errors_back_off_exponentially_with_jitter(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("DeleteVideo", *[api_error("InternalError")] * 4, ok())
    async with make_session() as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    waits = gaps(api)
    assert len(waits) == 4
    for attempt, wait in enumerate(waits, start=1):
        step = 0.5 * 2 ** (attempt - 1)
        assert step / 2 <= wait <= step, (attempt, wait)


async def test_jitter_spreads_callers_that_failed_together(make_session: SessionFactory, api: FakeApi) -> None:
    first_attempts: set[str] = set()

    def fail_once(seen: Seen) -> httpx.Response:
        video = seen.params["VideoIds"]
        if video not in first_attempts:
            first_attempts.add(video)
            return api_error("ServiceUnAvailable")
        return ok()

    api.default = fail_once
    async with make_session() as session:
        region = session.client("cn-shanghai")
        await asyncio.gather(*(region.delete_video([f"{n:032x}"]) for n in range(10)))
    retry_times = sorted(s.time for s in api.seen[10:])
    assert len(set(retry_times)) == 10


async def test_client_errors_fail_at_once(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    api.then("DeleteVideo", api_error("InvalidParameter", message='The specified parameter "VideoIds" is not valid.'))
    async with make_session() as session:
        with pytest.raises(InvalidRequestError):
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert len(api.seen) == 1
    assert clock.monotonic() == 0


async def test_attempts_are_bounded(make_session: SessionFactory, api: FakeApi) -> None:
    api.default = lambda seen: api_error("ServiceUnavailable")
    async with make_session(max_attempts=4) as session:
        with pytest.raises(ServerError) as raised:
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert len(api.seen) == 4
    assert str(raised.value).endswith(" after 4 attempts")


async def test_total_time_is_bounded(make_session: SessionFactory, api: FakeApi, clock: VirtualClock) -> None:
    api.default = lambda seen: api_error("Throttling.User")
    async with make_session(max_attempts=1000, max_retry_seconds=45) as session:
        with pytest.raises(ThrottledError) as raised:
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert api.seen[-1].time <= 45
    assert clock.monotonic() <= 45
    assert 5 <= len(api.seen) == raised.value.attempts < 20  # backoff grows to 20 s per wait


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "cannot connect to vod.cn-shanghai.aliyuncs.com: [Errno 111] Connection refused",
        ),
        (httpx.ConnectTimeout("timed out"), "timed out after 30 s connecting to vod.cn-shanghai.aliyuncs.com"),
        (httpx.ReadTimeout("timed out"), "timed out after 30 s talking to vod.cn-shanghai.aliyuncs.com (ReadTimeout)"),
        (
            httpx.ReadError("[Errno 104] Connection reset by peer"),
            "connection to vod.cn-shanghai.aliyuncs.com failed: [Errno 104] Connection reset by peer",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "connection to vod.cn-shanghai.aliyuncs.com failed: Server disconnected without sending a response.",
        ),
    ],
)
async def test_transport_failures_are_retried(
    make_session: SessionFactory, api: FakeApi, failure: Exception, message: str
) -> None:
    api.then("DeleteVideo", failure, ok())
    async with make_session() as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    assert len(api.seen) == 2
    api.seen.clear()
    api.default = lambda seen: (_ for _ in ()).throw(failure)
    async with make_session(max_attempts=3) as session:
        with pytest.raises(TransportError) as raised:
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert str(raised.value) == f"DeleteVideo: {message} after 3 attempts"
    assert len(api.seen) == 3


async def test_every_attempt_is_signed_afresh(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("DeleteVideo", api_error("InternalError"), api_error("Throttling"), ok())
    async with make_session() as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    nonces = [s.headers["x-acs-signature-nonce"] for s in api.seen]
    signatures = [s.headers["authorization"] for s in api.seen]
    assert len(set(nonces)) == len(set(signatures)) == 3


async def test_v1_attempts_are_signed_afresh_too(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("DeleteVideo", api_error("InternalError"), ok())
    async with make_session(signature_version="v1") as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    assert api.seen[0].query["SignatureNonce"] != api.seen[1].query["SignatureNonce"]
    assert api.seen[0].query["Signature"] != api.seen[1].query["Signature"]


async def test_signature_nonce_used_gets_one_more_try_with_a_fresh_nonce(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("DeleteVideo", api_error("SignatureNonceUsed"), ok())
    async with make_session() as session:
        await session.client("cn-shanghai").delete_video([VIDEO])
    assert gaps(api)[0] < 0.035  # no backoff: only DeleteVideo's pacing interval (30 QPS) between the two
    assert api.seen[0].headers["x-acs-signature-nonce"] != api.seen[1].headers["x-acs-signature-nonce"]
    api.seen.clear()
    api.default = lambda seen: api_error("SignatureNonceUsed")
    async with make_session() as session:
        with pytest.raises(AuthenticationError):
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert len(api.seen) == 2


async def test_credentials_failure_sends_nothing_and_is_not_retried(make_session: SessionFactory, api: FakeApi) -> None:
    class Broken:
        def get(self) -> object:
            raise CredentialsError("no Alibaba Cloud credentials found.")

    async with make_session(credentials=Broken()) as session:  # type: ignore[arg-type]
        with pytest.raises(CredentialsError):
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert api.seen == []
    assert (session.stats.of("DeleteVideo").calls, session.stats.of("DeleteVideo").errors) == (0, 1)


# --- a retry that meets its own earlier attempt's effect --------------------------------------------


def bucket_list(*entries: dict[str, str]) -> httpx.Response:
    return ok({"MediaBucketList": {"MediaBucket": list(entries)}})


async def test_bind_retried_after_a_lost_answer_accepts_its_own_binding(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("BindInputBucket", httpx.ReadTimeout("timed out"), api_error("Bucket.AlreadyBind"))
    api.then("ListAllMediaBucket", bucket_list({"Bucket": "media-in", "Type": "Input", "Referer": "https://a.example"}))
    async with make_session() as session:
        request_id = await session.client("cn-shanghai").bind_input_bucket("media-in", referer="https://a.example")
    assert [s.action for s in api.seen] == ["BindInputBucket", "BindInputBucket", "ListAllMediaBucket"]
    assert request_id == json.loads(api.answered[0].content)["RequestId"]  # the AlreadyBind answer (the first was lost)


async def test_bind_retried_after_a_lost_answer_still_conflicts_with_a_different_binding(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("BindInputBucket", api_error("InternalError"), api_error("Bucket.AlreadyBind"))
    api.then(
        "ListAllMediaBucket", bucket_list({"Bucket": "media-in", "Type": "Input", "Referer": "https://other.example"})
    )
    async with make_session() as session:
        with pytest.raises(ConflictError) as raised:
            await session.client("cn-shanghai").bind_input_bucket("media-in", referer="https://a.example")
    assert raised.value.earlier_attempt_may_have_succeeded


async def test_bind_conflict_stands_when_the_listing_fails(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("BindInputBucket", api_error("InternalError"), api_error("Bucket.AlreadyBind"))
    api.then("ListAllMediaBucket", api_error("Forbidden"))
    async with make_session() as session:
        with pytest.raises(ConflictError):
            await session.client("cn-shanghai").bind_input_bucket("media-in")
    assert session.stats.of("BindInputBucket").errors == 1


async def test_bind_conflict_without_an_ambiguous_attempt_is_a_conflict(
    make_session: SessionFactory, api: FakeApi
) -> None:
    api.then("BindInputBucket", api_error("Throttling.User"), api_error("Bucket.AlreadyBind"))
    async with make_session() as session:
        with pytest.raises(ConflictError) as raised:
            await session.client("cn-shanghai").bind_input_bucket("media-in")
    assert not raised.value.earlier_attempt_may_have_succeeded
    assert [s.action for s in api.seen] == ["BindInputBucket", "BindInputBucket"]  # no listing


async def test_connect_failure_is_not_ambiguous(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("BindInputBucket", httpx.ConnectError("refused"), api_error("Bucket.AlreadyBind"))
    async with make_session() as session:
        with pytest.raises(ConflictError):
            await session.client("cn-shanghai").bind_input_bucket("media-in")
    assert [s.action for s in api.seen] == ["BindInputBucket", "BindInputBucket"]


async def test_unbind_retried_after_a_lost_answer_accepts_not_bound(make_session: SessionFactory, api: FakeApi) -> None:
    api.then(
        "UnbindInputBucket",
        httpx.RemoteProtocolError("Server disconnected"),
        api_error("InvalidParameter.ResourceNotFound"),
    )
    async with make_session() as session:
        assert await session.client("cn-shanghai").unbind_input_bucket("media-in") == api.last_request_id
    api.then("UnbindInputBucket", api_error("InvalidParameter.ResourceNotFound"))
    async with make_session() as session:
        with pytest.raises(NotFoundError):
            await session.client("cn-shanghai").unbind_input_bucket("media-in")
