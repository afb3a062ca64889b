"""The control API under /_emulator/ (in-process)."""

from __future__ import annotations

import json

import httpx
import pytest

from reconcile.emulator.app import EmulatorApp, EmulatorTransport
from tests.emulator.conftest import Caller

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"


@pytest.fixture
async def control(app: EmulatorApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=EmulatorTransport(app), base_url="http://127.0.0.1:8765/_emulator/")


async def test_state_lists_buckets_and_media(caller: Caller, control: httpx.AsyncClient) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "media", "Referer": "r"})
    body = await caller.register(f"{MEDIA}/v/a.mp4", title="A", TemplateGroupId="tg-1")
    state = (await control.get("state")).json()
    assert state["buckets"] == [{"name": "media", "type": "Input", "referer": "r"}]
    [media] = state["media"]
    assert media == {
        "media_id": body["RegisteredMediaList"][0]["MediaId"],
        "file_url": f"{MEDIA}/v/a.mp4",
        "title": "A",
        "description": None,
        "tags": [],
        "cover_url": None,
        "cate_id": None,
        "status": "Transcoding",
        "template_group_id": "tg-1",
        "workflow_id": None,
        "storage_location": "media.oss-cn-shanghai.aliyuncs.com",
        "creation_time": "2024-05-01T08:00:00Z",
        "modification_time": "2024-05-01T08:00:00Z",
    }


async def test_stats_count_outcomes_per_action(caller: Caller, control: httpx.AsyncClient) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "media"})
    await caller.call("BindInputBucket", {"Bucket": "media"})
    stats = (await control.get("stats")).json()
    assert stats["actions"]["BindInputBucket"] == {
        "calls": 2, "successes": 1, "errors": 1, "throttled": 0, "faults": 0, "dropped": 0, "delayed": 0,
    }  # fmt: skip
    assert stats["totals"]["calls"] == 2


async def test_objects_put_and_list(app: EmulatorApp, control: httpx.AsyncClient) -> None:
    app.backend.objects.auto_objects = False
    response = await control.put("objects", json={"urls": [f"{MEDIA}/b.mp4", f"{MEDIA}/a.mp4"]})
    assert response.json() == {"added": 2, "objects": 2}
    assert (await control.get("objects")).json() == {"urls": [f"{MEDIA}/a.mp4", f"{MEDIA}/b.mp4"]}
    response = await control.put("objects", json={"urls": ["https://example.com/x.mp4", f"{MEDIA}/c.mp4"]})
    assert response.status_code == 400
    assert response.json() == {"error": "not OSS object URLs (nothing was added): https://example.com/x.mp4"}
    assert (await control.put("objects", json={"url": "x"})).status_code == 400


async def test_reset_empties_state_and_stats_and_optionally_keeps_objects(
    caller: Caller, control: httpx.AsyncClient, app: EmulatorApp
) -> None:
    await control.put("objects", json={"urls": [f"{MEDIA}/a.mp4"]})
    await caller.register(f"{MEDIA}/a.mp4")
    await control.post("reset", json={"keep_objects": True})
    assert (app.backend.vod.media(), (await control.get("stats")).json()["totals"]["calls"]) == ([], 0)
    assert (await control.get("objects")).json()["urls"] == [f"{MEDIA}/a.mp4"]
    await control.post("reset", json={})
    assert (await control.get("objects")).json()["urls"] == []
    assert (await control.post("reset", json={"keep_objects": "yes"})).status_code == 400


async def test_faults_replace_and_show(control: httpx.AsyncClient, caller: Caller) -> None:
    rules = {"rules": [{"action": "ListAllMediaBucket", "error": {"status": 503, "code": "ServiceUnavailable"}}]}
    response = await control.post("faults", json=rules)
    assert response.status_code == 200
    shown = (await control.get("faults")).json()
    assert shown["rules"][0]["error"]["code"] == "ServiceUnavailable"
    assert (await caller.call("ListAllMediaBucket"))[0] == 503
    await control.post("faults", json={"rules": []})
    assert (await caller.call("ListAllMediaBucket"))[0] == 200


async def test_invalid_fault_rules_are_refused_with_the_reason(control: httpx.AsyncClient) -> None:
    response = await control.post("faults", json={"rules": [{"action": "*", "probability": 2, "latency_ms": 5}]})
    assert response.status_code == 400
    assert response.json() == {"error": "faults: rules[0].probability must be a number from 0 to 1, not 2"}


async def test_unknown_endpoint_and_wrong_method(control: httpx.AsyncClient) -> None:
    assert (await control.get("nothing")).status_code == 404
    response = await control.delete("state")
    assert (response.status_code, response.json()) == (405, {"error": "DELETE /_emulator/state: use GET"})


async def test_control_api_refuses_non_loopback_clients(app: EmulatorApp) -> None:
    async with httpx.AsyncClient(
        transport=EmulatorTransport(app, client_host="10.1.2.3"), base_url="http://e"
    ) as client:
        response = await client.get("/_emulator/state")
    assert (response.status_code, response.json()) == (403, {"error": "the control API answers loopback clients only"})


# --- only this machine, never a web page ------------------------------------------------------------


async def test_a_dns_rebound_host_cannot_read_the_state(app: EmulatorApp) -> None:
    # A page on attacker.example rebinds its name to 127.0.0.1: the request is loopback, its Host is not.
    async with httpx.AsyncClient(transport=EmulatorTransport(app), base_url="http://attacker.example:8765") as page:
        response = await page.get("/_emulator/state")
    assert (response.status_code, response.json()) == (
        403,
        {
            "error": "the control API answers only requests addressed to 127.0.0.1, [::1] or localhost, not Host "
            '"attacker.example:8765" (a web page whose name resolves to this machine must not reach it); use e.g. '
            "http://127.0.0.1:PORT"
        },
    )


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "127.0.0.2", "localhost:8765", "[::1]:8765"])
async def test_loopback_hosts_are_answered(app: EmulatorApp, host: str) -> None:
    async with httpx.AsyncClient(transport=EmulatorTransport(app), base_url=f"http://{host}") as client:
        assert (await client.get("/_emulator/stats")).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0:8765", "evil.localhost:8765", "192.168.1.5:8765"])
async def test_other_hosts_are_refused(app: EmulatorApp, host: str) -> None:
    async with httpx.AsyncClient(transport=EmulatorTransport(app), base_url=f"http://{host}") as client:
        response = await client.get("/_emulator/stats")
    assert response.status_code == 403
    assert response.json()["error"].endswith(
        f'not Host "{host}" (a web page whose name resolves to this machine must not reach it); '
        "use e.g. http://127.0.0.1:PORT"
    )


@pytest.mark.parametrize("origin", ["https://attacker.example", "null", "http://localhost:3000"])
async def test_a_foreign_origin_cannot_reset_or_install_faults(
    app: EmulatorApp, control: httpx.AsyncClient, caller: Caller, origin: str
) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "media"})
    headers = {"origin": origin}
    reset = await control.post("reset", json={}, headers=headers)
    faults = await control.post("faults", json={"rules": [{"action": "*", "latency_ms": 1}]}, headers=headers)
    state = await control.get("state", headers=headers)
    for response in (reset, faults, state):
        refused = f"the control API refuses requests from web pages: Origin {json.dumps(origin)} is not this emulator"
        assert (response.status_code, response.json()) == (403, {"error": refused})
    assert [b.bucket for b in app.backend.mps.bindings()] == ["media"]
    assert app.gateway.faults.rules.to_dict() == {"rules": []}


async def test_its_own_origin_is_answered(control: httpx.AsyncClient) -> None:
    response = await control.post("reset", json={}, headers={"origin": "http://127.0.0.1:8765"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "sent"),
    [("text/plain", '"text/plain"'), ("application/x-www-form-urlencoded", '"application/x-www-form-urlencoded"')],
)
async def test_a_no_preflight_write_is_refused_with_415(
    app: EmulatorApp, control: httpx.AsyncClient, caller: Caller, content_type: str, sent: str
) -> None:
    # What a page can send cross-origin without a CORS preflight: a "simple" content type.
    await caller.ok("BindInputBucket", {"Bucket": "media"})
    headers = {"content-type": content_type}
    reset = await control.post("reset", content=b'{"keep_objects": false}', headers=headers)
    faults = await control.post("faults", content=b'{"rules": [{"action": "*", "latency_ms": 1}]}', headers=headers)
    assert (reset.status_code, reset.json()) == (
        415,
        {"error": f"POST /_emulator/reset takes Content-Type: application/json (this request sent {sent})"},
    )
    assert (faults.status_code, faults.json()) == (
        415,
        {"error": f"POST /_emulator/faults takes Content-Type: application/json (this request sent {sent})"},
    )
    assert [b.bucket for b in app.backend.mps.bindings()] == ["media"]
    assert app.gateway.faults.rules.to_dict() == {"rules": []}


async def test_a_write_without_a_content_type_is_refused_and_json_with_a_charset_is_fine(
    control: httpx.AsyncClient,
) -> None:
    response = await control.post("reset")
    assert (response.status_code, response.json()) == (
        415,
        {"error": "POST /_emulator/reset takes Content-Type: application/json (this request sent none)"},
    )
    response = await control.post("reset", content=b"{}", headers={"content-type": "Application/JSON; charset=utf-8"})
    assert response.status_code == 200
