"""The emulated OSS behind the wire: objects put over the API, through the control API and by --auto-objects
are one inventory, which VOD consults and the state file keeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.oss_client import OssClient
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from reconcile.emulator.objects import ObjectInventory, OssError
from reconcile.emulator.vod import RegisterItem

URL = "http://127.0.0.1:8765"
REGION = "cn-shanghai"


async def client_for(app: EmulatorApp) -> AsyncIterator[OssClient]:
    session = CloudSession(
        ClientSettings(endpoint=URL),
        StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
        transport=emulator_transport(app),
    )
    async with session:
        yield OssClient(session, endpoint=URL)


async def test_objects_survive_a_restart_on_the_state_file(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "emulator.json")
    app = create_app(config)
    app.backend.objects.put(["https://media-in.oss-cn-shanghai.aliyuncs.com/raw/control.mp4"])
    async for oss in client_for(app):
        etag = await oss.put_object("media-in", REGION, "state/v1.json", b'{"serial": 1}', forbid_overwrite=True)
    assert app.save_state() is True
    saved = json.loads((tmp_path / "emulator.json").read_text())
    assert sorted(saved["objects"]["buckets"]["media-in"]["objects"]) == ["raw/control.mp4", "state/v1.json"]

    again = create_app(config)
    async for oss in client_for(again):
        assert (await oss.get_object("media-in", REGION, "state/v1.json")).body == b'{"serial": 1}'
        info = await oss.head_object("media-in", REGION, "state/v1.json")
        listed = await oss.list_objects_v2("media-in", REGION)
    assert info is not None and info.etag == etag
    assert [o.key for o in listed.objects] == ["raw/control.mp4", "state/v1.json"]
    assert again.backend.objects.urls() == [
        "https://media-in.oss-cn-shanghai.aliyuncs.com/raw/control.mp4",
        "https://media-in.oss-cn-shanghai.aliyuncs.com/state/v1.json",
    ]


def test_a_state_file_from_before_oss_restores_its_urls() -> None:
    inventory = ObjectInventory()
    inventory.restore({"urls": ["https://old.oss-cn-beijing.aliyuncs.com/a/b.mp4"], "deleted": []})
    assert inventory.bucket_region("old") == "cn-beijing"
    assert inventory.get_object("old", "a/b.mp4").body == b""


async def test_auto_objects_answer_head_and_get_but_are_not_listed() -> None:
    app = create_app(EmulatorConfig(auto_objects=True))
    async for oss in client_for(app):
        assert await oss.head_object("any-bucket", REGION, "raw/never-uploaded.mp4") is not None
        app.backend.objects.create_bucket("any-bucket", REGION)
        assert await oss.head_object("any-bucket", REGION, "raw/notes.txt") is None  # media keys only
        assert (await oss.list_objects_v2("any-bucket", REGION)).objects == ()
        await oss.delete_object("any-bucket", REGION, "raw/never-uploaded.mp4")
        assert await oss.head_object("any-bucket", REGION, "raw/never-uploaded.mp4") is None
        await oss.put_object("any-bucket", REGION, "raw/never-uploaded.mp4", b"now it is")
        assert (await oss.get_object("any-bucket", REGION, "raw/never-uploaded.mp4")).body == b"now it is"


async def test_register_media_follows_uploads_and_deletes() -> None:
    app = create_app(EmulatorConfig())
    app.backend.objects.create_bucket("media-in", REGION)
    url = "https://media-in.oss-cn-shanghai.aliyuncs.com/raw/ep1.mp4"
    item = RegisterItem(file_url=url, title="Ep 1")
    assert app.backend.vod.register_media([item]).failed_file_urls == [url]
    async for oss in client_for(app):
        await oss.put_object("media-in", REGION, "raw/ep1.mp4", b"video")
    result = app.backend.vod.register_media([item])
    assert result.failed_file_urls == [] and result.registered[0].new_register is True


def test_listing_with_a_delimiter_pages_over_common_prefixes() -> None:
    inventory = ObjectInventory()
    inventory.create_bucket("media-in", REGION)
    for key in ["a/1.mp4", "a/2.mp4", "b/1.mp4", "c.mp4", "d/x/1.mp4"]:
        inventory.put_object("media-in", key, b"", content_type=None, forbid_overwrite=False)
    pages, token = [], None
    while True:
        page = inventory.list_objects_v2("media-in", delimiter="/", max_keys=2, continuation_token=token)
        pages.append(([k for k, _ in page.keys], page.common_prefixes))
        token = page.next_token
        if token is None:
            break
    assert pages == [([], ["a/", "b/"]), (["c.mp4"], ["d/"])]
    with pytest.raises(OssError) as caught:
        inventory.list_objects_v2("media-in", max_keys=10, continuation_token="%%%")
    assert caught.value.code == "InvalidArgument"


async def test_unsigned_and_v1_requests_are_refused_with_oss_error_documents() -> None:
    app = create_app(EmulatorConfig())
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url=URL) as client:
        anonymous = await client.get("/media-in/a.mp4")
        v1 = await client.get("/media-in/a.mp4", headers={"authorization": "OSS emulator:c2lnbmF0dXJl"})
        head = await client.head("/media-in/a.mp4")
    assert anonymous.status_code == 403 and b"<Code>AccessDenied</Code>" in anonymous.content
    assert b"V4 signatures only" in v1.content
    assert head.content == b"" and head.headers["x-oss-err"]
    assert anonymous.headers["x-oss-request-id"] and anonymous.headers["server"] == "AliyunOSS"
