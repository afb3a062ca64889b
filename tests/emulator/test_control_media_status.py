"""`PATCH /_emulator/media/{media_id}` {"status": ...}: the service moves a media to a status (issue 16)."""

from __future__ import annotations

import json

import httpx
import pytest

from reconcile.emulator.app import EmulatorApp, EmulatorTransport
from tests.emulator.conftest import Caller

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def control(app: EmulatorApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=EmulatorTransport(app), base_url="http://127.0.0.1:8765/_emulator/")


async def test_patch_sets_the_status_every_read_reports(caller: Caller, control: httpx.AsyncClient) -> None:
    body = await caller.register(f"{MEDIA}/v/a.mp4", title="A", TemplateGroupId="tg-1")  # Transcoding, then Normal
    media_id = body["RegisteredMediaList"][0]["MediaId"]
    response = await control.patch(f"media/{media_id}", json={"status": "TranscodeFail"})
    assert (response.status_code, response.json()) == (200, {"media_id": media_id, "status": "TranscodeFail"})
    infos = await caller.ok("GetVideoInfos", {"VideoIds": media_id})
    assert infos["VideoList"][0]["Status"] == "TranscodeFail"
    search = await caller.ok("SearchMedia", {"Match": f"VideoId = '{media_id}'"})
    assert search["MediaList"][0]["Video"]["Status"] == "TranscodeFail"
    [listed] = (await control.get("state")).json()["media"]
    assert listed["status"] == "TranscodeFail"  # and it stays so: no transcode finishes it later


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "error"),
    [
        ("media/nope", {"status": "Blocked"}, JSON, 404, "no media 'nope' in this emulator"),
        ("media/{id}", {"status": "Broken"}, JSON, 400, "status 'Broken' is not one VOD reports: Uploading, "
         "UploadFail, UploadSucc, Transcoding, TranscodeFail, checking, checkFail, Blocked, Normal, ProduceFail"),
        ("media/{id}", {"status": "Blocked", "title": "x"}, JSON, 400,
         'media/{media_id} takes a body {"status": "TranscodeFail"}'),
        ("media/{id}", None, {"content-type": "text/plain"}, 415,
         "PATCH /_emulator/media/{id} takes Content-Type: application/json (this request sent \"text/plain\")"),
    ],
)  # fmt: skip
async def test_patch_refusals(caller: Caller, control: httpx.AsyncClient, path, body, headers, status, error) -> None:
    media_id = (await caller.register(f"{MEDIA}/v/a.mp4", title="A"))["RegisteredMediaList"][0]["MediaId"]
    content = b'{"status": "Blocked"}' if body is None else json.dumps(body).encode()
    response = await control.request("PATCH", path.replace("{id}", media_id), content=content, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error.replace("{id}", media_id)})


async def test_other_methods_on_media_are_405(caller: Caller, control: httpx.AsyncClient) -> None:
    response = await control.get("media/abc")
    assert (response.status_code, response.json()) == (405, {"error": "GET /_emulator/media/abc: use PATCH"})


async def test_patch_answers_loopback_hosts_only(control: httpx.AsyncClient) -> None:
    response = await control.patch("media/abc", json={"status": "Blocked"}, headers={"host": "attacker.example"})
    assert response.status_code == 403
