"""Per-account, per-action throttling over a sliding second (virtual time), and fault injection."""

from __future__ import annotations

import json

import httpx
import pytest

from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.faults import FaultRules
from tests.emulator import signer
from tests.emulator.conftest import Caller

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"


def metadatas(*keys: str) -> dict[str, str]:
    return {"RegisterMetadatas": json.dumps([{"FileURL": f"{MEDIA}/{k}", "Title": "t"} for k in keys])}


async def burst(caller: Caller, action: str, count: int, params: dict[str, str] | None = None) -> list[int]:
    return [(await caller.call(action, params or {}))[0] for _ in range(count)]


# --- throttling ---------------------------------------------------------------------------------------


async def test_vod_allows_its_limit_in_a_second_then_answers_throttling_user(caller: Caller) -> None:
    statuses = await burst(caller, "GetVideoInfo", 100, {"VideoId": "a" * 32})
    assert statuses == [404] * 100  # admitted (and answered by the backend)
    response = await caller.send(signer.v3_request("GetVideoInfo", {"VideoId": "a" * 32}, now=caller.clock.time()))
    body = response.json()
    assert (response.status_code, body["Code"], body["Message"]) == (
        400,
        "Throttling.User",
        "Request was denied due to user flow throttling.",
    )
    assert response.headers["x-acs-retry-after"] == "1000"


async def test_mps_answers_throttling_with_503(caller: Caller) -> None:
    assert await burst(caller, "ListAllMediaBucket", 10) == [200] * 10
    status, body = await caller.call("ListAllMediaBucket")
    assert (status, body["Code"], body["Message"]) == (
        503,
        "Throttling",
        "Request was denied due to request throttling.",
    )


async def test_the_window_slides_with_time(caller: Caller, clock: ManualClock) -> None:
    assert await burst(caller, "ListAllMediaBucket", 5) == [200] * 5
    clock.advance(0.6)
    assert await burst(caller, "ListAllMediaBucket", 5) == [200] * 5
    assert await burst(caller, "ListAllMediaBucket", 1) == [503]
    clock.advance(0.4)  # the first five are now a second old
    assert await burst(caller, "ListAllMediaBucket", 5) == [200] * 5
    assert await burst(caller, "ListAllMediaBucket", 1) == [503]
    clock.advance(0.6)
    assert await burst(caller, "ListAllMediaBucket", 5) == [200] * 5


async def test_retry_after_says_when_a_slot_frees(caller: Caller, clock: ManualClock) -> None:
    await burst(caller, "ListAllMediaBucket", 1)
    clock.advance(0.25)
    await burst(caller, "ListAllMediaBucket", 9)
    response = await caller.send(signer.v3_request("ListAllMediaBucket", {}, now=clock.time()))
    assert response.headers["x-acs-retry-after"] == "750"


async def test_limits_are_per_action_and_per_account(caller: Caller, app: EmulatorApp) -> None:
    app.gateway.auth._access_keys["second"] = "second-secret"
    assert await burst(caller, "ListAllMediaBucket", 11) == [200] * 10 + [503]
    status, _ = await caller.call("ListAllMediaBucket", key_id="second", secret="second-secret")
    assert status == 200
    status, _ = await caller.call("BindInputBucket", {"Bucket": "media"})
    assert status == 200


async def test_qps_scale_multiplies_the_limits(clock: ManualClock) -> None:
    app = create_app(EmulatorConfig(clock=clock, qps_scale=0.1, auto_objects=True))
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        caller = Caller(client, clock)
        statuses = [(await caller.call("RegisterMedia", metadatas(f"{i}.mp4")))[0] for i in range(6)]
        assert statuses == [200] * 5 + [400]
        # ListAllMediaBucket: 10/s * 0.1 = 1 request per second
        assert await burst(caller, "ListAllMediaBucket", 2) == [200, 503]


async def test_sub_one_rates_admit_one_request_per_period(clock: ManualClock) -> None:
    app = create_app(EmulatorConfig(clock=clock, qps_scale=0.05))  # ListAllMediaBucket: 0.5/s
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        caller = Caller(client, clock)
        assert await burst(caller, "ListAllMediaBucket", 2) == [200, 503]
        clock.advance(1.9)
        assert await burst(caller, "ListAllMediaBucket", 1) == [503]
        clock.advance(0.1)
        assert await burst(caller, "ListAllMediaBucket", 1) == [200]


async def test_qps_scale_zero_disables_throttling(clock: ManualClock) -> None:
    app = create_app(EmulatorConfig(clock=clock, qps_scale=0))
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        assert await burst(Caller(client, clock), "ListAllMediaBucket", 30) == [200] * 30


async def test_throttled_requests_are_counted(caller: Caller, app: EmulatorApp) -> None:
    await burst(caller, "ListAllMediaBucket", 12)
    counters = app.gateway.stats.to_dict()["actions"]["ListAllMediaBucket"]
    assert counters == {
        "calls": 12,
        "successes": 10,
        "errors": 0,
        "throttled": 2,
        "faults": 0,
        "dropped": 0,
        "delayed": 0,
    }


# --- faults -------------------------------------------------------------------------------------------


def faulty_app(clock: ManualClock, rules: dict[str, object]) -> EmulatorApp:
    return create_app(EmulatorConfig(clock=clock, seed=11, auto_objects=True, faults=FaultRules.from_dict(rules)))


async def test_an_injected_error_replaces_processing(clock: ManualClock) -> None:
    rules = {"rules": [{"action": "RegisterMedia", "error": {"status": 503, "code": "ServiceUnavailable"}}]}
    app = faulty_app(clock, rules)
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        caller = Caller(client, clock)
        status, body = await caller.call("RegisterMedia", metadatas("a.mp4"))
        assert (status, body["Code"], body["Message"]) == (
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
        assert app.backend.vod.media() == []
        assert (await caller.call("ListAllMediaBucket"))[0] == 200  # other actions untouched
    assert app.gateway.stats.to_dict()["actions"]["RegisterMedia"]["faults"] == 1


async def test_latency_delays_the_answer_in_virtual_time(clock: ManualClock) -> None:
    app = faulty_app(clock, {"rules": [{"action": "*", "latency_ms": 250}]})
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        before = clock.time()
        assert (await Caller(client, clock).call("ListAllMediaBucket"))[0] == 200
        assert clock.time() - before == pytest.approx(0.25)
    assert app.gateway.stats.to_dict()["totals"]["delayed"] == 1


async def test_drop_after_commit_applies_the_change_then_hangs_up(clock: ManualClock) -> None:
    app = faulty_app(clock, {"rules": [{"action": "RegisterMedia", "drop_after_commit": True}]})
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        caller = Caller(client, clock)
        with pytest.raises(httpx.RemoteProtocolError, match=r"^Server disconnected without sending a response\.$"):
            await caller.call("RegisterMedia", metadatas("a.mp4"))
        assert [m.file_url for m in app.backend.vod.media()] == [f"{MEDIA}/a.mp4"]
        app.gateway.faults.rules = FaultRules()
        body = await caller.ok("RegisterMedia", metadatas("a.mp4"))
        assert body["RegisteredMediaList"][0]["NewRegister"] is False  # the retry adopts the committed media
    counters = app.gateway.stats.to_dict()["actions"]["RegisterMedia"]
    assert (counters["faults"], counters["dropped"], counters["successes"]) == (1, 1, 1)


async def test_the_first_rule_that_fires_is_the_only_one_applied(clock: ManualClock) -> None:
    rules = {
        "rules": [
            {"action": "GetVideoInfo", "probability": 0.0, "error": {"code": "InternalError"}},
            {"action": "*", "probability": 1.0, "error": {"status": 500, "code": "InternalError", "message": "boom"}},
            {"action": "*", "latency_ms": 1000},
        ]
    }
    app = faulty_app(clock, rules)
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        before = clock.time()
        status, body = await Caller(client, clock).call("GetVideoInfo", {"VideoId": "a" * 32})
        assert (status, body["Code"], body["Message"]) == (500, "InternalError", "boom")
        assert clock.time() == before


async def test_probability_is_honoured_reproducibly_with_a_seed(clock: ManualClock) -> None:
    rules = {"rules": [{"action": "*", "probability": 0.3, "error": {"code": "ServiceUnavailable"}}]}
    outcomes = []
    for _ in range(2):
        app = create_app(EmulatorConfig(clock=clock, seed=5, qps_scale=0, faults=FaultRules.from_dict(rules)))
        async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
            caller = Caller(client, clock)
            outcomes.append([(await caller.call("ListAllMediaBucket"))[0] for _ in range(200)])
    assert outcomes[0] == outcomes[1]
    assert 40 <= outcomes[0].count(503) <= 80


async def test_faults_come_after_authentication_and_throttling(clock: ManualClock) -> None:
    app = faulty_app(clock, {"rules": [{"action": "*", "error": {"code": "InternalError"}}]})
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        status, body = await Caller(client, clock).call("ListAllMediaBucket", secret="wrong")
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
