"""DEBUG logs say what each attempt did, and nothing anywhere (logs, errors) ever shows the secret or the
STS token: not even when the server echoes its string to sign, which contains the token."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, quote_plus

import httpx
import pytest

from reconcile.cloud import signing
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.errors import AuthenticationError, CloudError, TransportError
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import KEY_ID, SECRET, TOKEN, FakeApi, Seen, api_error, ok

VIDEO = "3f9a0c1d2b4e4f6a8b7c6d5e4f3a2b1c"


def secret_forms() -> list[str]:
    forms = []
    for value in (SECRET, TOKEN):
        once = signing.percent_encode(value)
        forms += [value, once, signing.percent_encode(once), quote_plus(value), quote(value)]
    return forms


def assert_nothing_secret(*texts: str) -> None:
    for text in texts:
        for form in secret_forms():
            assert form not in text, f"{form!r} leaked"


def echo_string_to_sign(seen: Seen) -> httpx.Response:
    """What a gateway answers to a bad V1 signature: its own string to sign, with the token in it."""
    params = {k: v for k, v in seen.query.items() if k != "Signature"} | seen.params
    string_to_sign = signing.v1_string_to_sign("POST", params)
    assert signing.percent_encode(signing.percent_encode(TOKEN)) in string_to_sign
    return api_error(
        "SignatureDoesNotMatch",
        message=f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
    )


async def test_debug_log_of_each_attempt(
    make_session: SessionFactory, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.then("DeleteVideo", api_error("Throttling.User", **{"x-acs-retry-after": "200"}), ok())
    with caplog.at_level(logging.DEBUG, logger="reconcile.cloud"):
        async with make_session() as session:
            await session.client("cn-shanghai").delete_video([VIDEO])
    lines = [r.getMessage() for r in caplog.records if r.name == "reconcile.cloud"]
    first_id = api.answered[0].json()["RequestId"]
    second_id = api.answered[1].json()["RequestId"]
    assert re.fullmatch(
        rf"DeleteVideo cn-shanghai attempt 1: HTTP 400 Throttling.User, request id {first_id}, \d+\.\d ms", lines[0]
    )
    # The pacer's cut: a hint of 0.2 s for this process's only call in the window says its share was small.
    assert lines[1] == "DeleteVideo: throttled (Throttling.User, retry after 0.20 s); pacing 29.1 -> 7.1 calls/s"
    assert lines[2] == (
        "DeleteVideo: retrying in 0.20 s (attempt 1 of at most 8 failed: DeleteVideo: Throttling.User (HTTP 400): "
        f"Request was denied due to user flow throttling. (request id {first_id}))"
    )
    assert re.fullmatch(
        rf"DeleteVideo cn-shanghai attempt 2: HTTP 200 OK, request id {second_id}, \d+\.\d ms", lines[3]
    )
    levels = [r.levelname for r in caplog.records if r.name == "reconcile.cloud"]
    assert levels == ["DEBUG", "INFO", "INFO", "DEBUG"]


async def test_transport_failures_are_logged(
    make_session: SessionFactory, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.then("DeleteVideo", httpx.ReadTimeout("timed out"), ok())
    with caplog.at_level(logging.DEBUG, logger="reconcile.cloud"):
        async with make_session() as session:
            await session.client("cn-shanghai").delete_video([VIDEO])
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            "DeleteVideo cn-shanghai attempt 1: no response (timed out after 30 s talking to "
            "vod.cn-shanghai.aliyuncs.com (ReadTimeout)), request id -, "
        )
    )


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test_no_secret_in_any_log_or_error(
    make_session: SessionFactory, api: FakeApi, caplog: pytest.LogCaptureFixture, version: str
) -> None:
    """Everything at DEBUG, every logger (httpx included), a signature error that echoes the token."""
    failures: list[CloudError] = []
    api.then("DeleteVideo", api_error("InternalError"), ok())
    api.then("GetVideoInfos", echo_string_to_sign if version == "v1" else api_error("SignatureDoesNotMatch"))
    api.then("BindInputBucket", *[httpx.ConnectError(f"refused while sending token {TOKEN}")] * 2)
    api.then("GetMezzanineInfo", *[httpx.Response(502, text=f"<html>proxy saw secret {SECRET}</html>")] * 2)
    credentials = StaticCredentials(KEY_ID, SECRET, TOKEN)
    with caplog.at_level(logging.DEBUG):
        async with make_session(credentials=credentials, signature_version=version, max_attempts=2) as session:
            region = session.client("cn-shanghai")
            await region.delete_video([VIDEO])
            for call in (
                region.get_video_infos([VIDEO]),
                region.bind_input_bucket("media-in"),
                region.get_mezzanine_info(VIDEO),
            ):
                try:
                    await call
                except CloudError as exc:
                    failures.append(exc)
    assert [type(f) for f in failures] == [AuthenticationError, TransportError, TransportError]
    signature_error = failures[0]
    assert isinstance(signature_error, AuthenticationError)
    if version == "v1":
        assert "server string to sign is:POST&%2F&AccessKeyId%3DLTAI5tTestKeyId0001" in signature_error.message
        assert "SecurityToken%3D***" in signature_error.message
    assert "HTTP Request: POST" in caplog.text  # httpx's own INFO line was captured...
    assert_nothing_secret(caplog.text, *(str(f) for f in failures), *(repr(f) for f in failures))  # ...and is clean
