"""alibabacloud-vod20170321 against the emulator: every media operation, in the SDK's own models."""

from __future__ import annotations

import json

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_vod20170321 import models as vod

from reconcile.emulator.process import RunningEmulator, start_emulator
from tests.conformance.conftest import MEDIA, vod_client

pytestmark = pytest.mark.conformance


def metadatas(*keys: str, **extra: object) -> str:
    return json.dumps([{"FileURL": f"{MEDIA}/{key}", "Title": f"title {key}", **extra} for key in keys])


def register(client: object, *keys: str, **kwargs: object) -> vod.RegisterMediaResponseBody:
    request = vod.RegisterMediaRequest(register_metadatas=metadatas(*keys), **kwargs)
    body = client.register_media(request).body  # type: ignore[attr-defined]
    assert isinstance(body, vod.RegisterMediaResponseBody)
    return body


def test_register_media_new_adopted_and_failed(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4", f"{MEDIA}/v/b.mp4", f"{MEDIA}/v/notes.txt"])
    client = vod_client(fresh.url)
    first = register(client, "v/a.mp4", template_group_id="VOD_NO_TRANSCODE")
    [created] = first.registered_media_list
    assert created.new_register is True and len(created.media_id) == 32
    assert first.failed_file_urls == []

    second = register(client, "v/a.mp4", "v/b.mp4", "v/notes.txt", "v/missing.mp4")
    assert [(m.file_url, m.new_register) for m in second.registered_media_list] == [
        (f"{MEDIA}/v/a.mp4", False),
        (f"{MEDIA}/v/b.mp4", True),
    ]
    assert second.registered_media_list[0].media_id == created.media_id
    assert second.failed_file_urls == [f"{MEDIA}/v/notes.txt", f"{MEDIA}/v/missing.mp4"]


def test_register_media_rejects_more_than_ten_files(fresh: RunningEmulator) -> None:
    client = vod_client(fresh.url)
    with pytest.raises(ClientException) as excinfo:
        register(client, *[f"v/{i}.mp4" for i in range(11)])
    assert (excinfo.value.status_code, excinfo.value.code) == (400, "InvalidParameter")


def test_get_video_info_and_infos(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4"])
    client = vod_client(fresh.url)
    media_id = register(client, "v/a.mp4", workflow_id="wf-1", template_group_id="VOD_NO_TRANSCODE")
    media_id = media_id.registered_media_list[0].media_id

    single = client.get_video_info(vod.GetVideoInfoRequest(video_id=media_id)).body
    assert isinstance(single, vod.GetVideoInfoResponseBody)
    assert (single.video.video_id, single.video.title, single.video.status) == (
        media_id,
        "title v/a.mp4",
        "Transcoding",
    )
    assert single.video.snapshots.snapshot == []
    assert single.video.storage_location == "media.oss-cn-shanghai.aliyuncs.com"

    batch = client.get_video_infos(vod.GetVideoInfosRequest(video_ids=f"{media_id},{'0' * 32}")).body
    assert [v.video_id for v in batch.video_list] == [media_id]
    assert batch.video_list[0].snapshots == []
    assert batch.non_exist_video_ids == ["0" * 32]

    with pytest.raises(ClientException) as excinfo:
        client.get_video_info(vod.GetVideoInfoRequest(video_id="0" * 32))
    assert (excinfo.value.status_code, excinfo.value.code) == (404, "InvalidVideo.NotFound")


def test_update_video_infos_changes_only_present_fields(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4"])
    client = vod_client(fresh.url)
    request = vod.RegisterMediaRequest(register_metadatas=metadatas("v/a.mp4", Description="keep", CateId=3))
    media_id = client.register_media(request).body.registered_media_list[0].media_id
    content = json.dumps([{"VideoId": media_id, "Title": "renamed", "Tags": "x,y"}, {"VideoId": "9" * 32}])
    body = client.update_video_infos(vod.UpdateVideoInfosRequest(update_content=content)).body
    assert isinstance(body, vod.UpdateVideoInfosResponseBody)
    assert body.non_exist_video_ids == ["9" * 32]
    [media] = fresh.control.state()["media"]
    assert (media["title"], media["description"], media["tags"], media["cate_id"]) == ("renamed", "keep", ["x", "y"], 3)


def test_delete_video_removes_media_and_object(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4"])
    client = vod_client(fresh.url)
    media_id = register(client, "v/a.mp4").registered_media_list[0].media_id
    body = client.delete_video(vod.DeleteVideoRequest(video_ids=f"{media_id},{'8' * 32}")).body
    assert isinstance(body, vod.DeleteVideoResponseBody)
    assert body.non_exist_video_ids == ["8" * 32]
    assert fresh.control.state()["media"] == []
    assert fresh.control.objects() == []
    assert register(client, "v/a.mp4").failed_file_urls == [f"{MEDIA}/v/a.mp4"]


def test_get_mezzanine_info(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/clip.mp4"])
    client = vod_client(fresh.url)
    media_id = register(client, "v/clip.mp4").registered_media_list[0].media_id
    body = client.get_mezzanine_info(vod.GetMezzanineInfoRequest(video_id=media_id, output_type="oss")).body
    assert isinstance(body, vod.GetMezzanineInfoResponseBody)
    assert (body.mezzanine.video_id, body.mezzanine.file_url, body.mezzanine.file_name) == (
        media_id,
        f"{MEDIA}/v/clip.mp4",
        "clip.mp4",
    )
    assert body.mezzanine.size > 0


def test_search_media(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4", f"{MEDIA}/v/b.mp4"])
    client = vod_client(fresh.url)
    ids = [m.media_id for m in register(client, "v/a.mp4", "v/b.mp4").registered_media_list]
    request = vod.SearchMediaRequest(
        match=f"VideoId in ('{ids[0]}','{ids[1]}') and Title = 'v/b' and Status = 'UploadSucc'",
        page_no=1,
        page_size=10,
        search_type="video",
    )
    body = client.search_media(request).body
    assert isinstance(body, vod.SearchMediaResponseBody)
    assert body.total == 1
    assert [(m.media_id, m.media_type, m.video.title) for m in body.media_list] == [(ids[1], "video", "title v/b.mp4")]
    with pytest.raises(ClientException) as excinfo:
        client.search_media(vod.SearchMediaRequest(match="FileURL = 'x'"))
    assert excinfo.value.code == "InvalidParameter"


def test_v1_signing_is_accepted_too(fresh: RunningEmulator) -> None:
    fresh.control.put_objects([f"{MEDIA}/v/a.mp4"])
    client = vod_client(fresh.url, signature_algorithm="v2")
    body = register(client, "v/a.mp4")
    assert body.registered_media_list[0].new_register is True


def test_a_wrong_secret_is_rejected(fresh: RunningEmulator) -> None:
    client = vod_client(fresh.url, secret="wrong")
    with pytest.raises(ClientException) as excinfo:
        client.get_video_infos(vod.GetVideoInfosRequest(video_ids="a" * 32))
    assert (excinfo.value.status_code, excinfo.value.code) == (400, "SignatureDoesNotMatch")
    assert excinfo.value.data["Message"].startswith(
        "Specified signature is not matched with our calculation. server string to sign is:ACS3-HMAC-SHA256\n"
    )


def test_a_burst_over_the_limit_is_throttled_user() -> None:
    # RegisterMedia: 50/s, scaled to 5/s so six quick calls certainly share one window.
    with start_emulator(qps_scale=0.1, auto_objects=True) as emulator:
        client = vod_client(emulator.url)
        for i in range(5):
            register(client, f"v/{i}.mp4")
        with pytest.raises(ThrottlingException) as excinfo:
            register(client, "v/5.mp4")
    assert (excinfo.value.status_code, excinfo.value.code) == (400, "Throttling.User")
    assert excinfo.value.data["Message"] == "Request was denied due to user flow throttling."
