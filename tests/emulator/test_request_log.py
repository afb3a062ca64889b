"""At DEBUG the emulator logs one line per request: action, AccessKeyId, status and code, latency. Never the
secret, the signature, a security token, or an error message (SignatureDoesNotMatch's holds the string to
sign)."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from reconcile.emulator.app import EmulatorApp
from reconcile.emulator.faults import FaultRules
from tests.emulator import signer
from tests.emulator.conftest import Caller

LATENCY = re.compile(r" in [0-9]+\.[0-9] ms$")
TOKEN = "sts-token-must-not-be-logged"


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    # main() (run by other tests) stops "reconcile" propagating to the root logger, where caplog listens.
    monkeypatch.setattr(logging.getLogger("reconcile"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="reconcile.emulator")
    return caplog


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The logged lines, each with its latency checked and replaced by `in N ms`."""
    found = []
    for record in caplog.records:
        assert (record.name, record.levelno) == ("reconcile.emulator", logging.DEBUG)
        message = record.getMessage()
        assert LATENCY.search(message), message
        found.append(LATENCY.sub(" in N ms", message))
    return found


async def test_each_request_is_one_line(caller: Caller, app: EmulatorApp, request_log: pytest.LogCaptureFixture):
    now = caller.clock.time()
    await caller.ok("BindInputBucket", {"Bucket": "media-in"})
    await caller.call("BindInputBucket", {"Bucket": "media-in"})
    await caller.send(signer.v1_query_request("ListAllMediaBucket", {}, now=now))
    await caller.send(signer.v3_request("GetVideoInfos", {"VideoIds": "a" * 32}, now=now, secret="wrong-secret"))
    await caller.send(httpx.Request("POST", "http://emulator/", params={"SecurityToken": TOKEN}))
    await caller.client.get("/_emulator/stats")

    assert lines(request_log) == [
        "BindInputBucket by emulator: 200 in N ms",
        "BindInputBucket by emulator: 400 Bucket.AlreadyBind in N ms",
        "ListAllMediaBucket by emulator: 200 in N ms",
        "GetVideoInfos by emulator: 400 SignatureDoesNotMatch in N ms",
        "(no action) by (no key): 400 MissingParameter in N ms",
        "GET /_emulator/stats (control API): 200 in N ms",
    ]
    logged = request_log.text
    for secret in (signer.SECRET, "wrong-secret", TOKEN, "string to sign", "POST&"):
        assert secret not in logged


async def test_throttled_and_dropped_requests_say_so(app: EmulatorApp, caller: Caller, request_log):
    app.gateway.faults.rules = FaultRules.from_dict({"rules": [{"action": "DeleteVideo", "drop_after_commit": True}]})
    for _ in range(11):
        await caller.call("ListAllMediaBucket")
    with pytest.raises(httpx.RemoteProtocolError):
        await caller.call("DeleteVideo", {"VideoIds": "a" * 32})

    assert lines(request_log)[-2:] == [
        "ListAllMediaBucket by emulator: 503 Throttling in N ms",
        "DeleteVideo by emulator: connection dropped after the change was made in N ms",
    ]


async def test_nothing_is_logged_above_debug(caller: Caller, caplog: pytest.LogCaptureFixture, monkeypatch):
    monkeypatch.setattr(logging.getLogger("reconcile"), "propagate", True)
    caplog.set_level(logging.INFO, logger="reconcile.emulator")
    await caller.ok("BindInputBucket", {"Bucket": "media-in"})
    assert caplog.records == []
