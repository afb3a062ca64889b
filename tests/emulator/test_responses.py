"""The JSON shapes on the wire, as the SDK models read them (API.md sections 4-5)."""

from __future__ import annotations

import json

from reconcile.emulator.app import EmulatorApp
from reconcile.emulator.clock import ManualClock
from tests.emulator.conftest import Caller

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"


async def registered_id(caller: Caller, key: str = "v/a.mp4", **params: str) -> str:
    body = await caller.register(f"{MEDIA}/{key}", **params)
    return str(body["RegisteredMediaList"][0]["MediaId"])


async def test_list_all_media_bucket_shape_and_pagination(caller: Caller) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "in-1", "Referer": "https://www.example.org"})
    await caller.ok("BindOutputBucket", {"Bucket": "out-1"})
    await caller.ok("BindInputBucket", {"Bucket": "in-2"})
    first = await caller.ok("ListAllMediaBucket", {"MaximumPageSize": "2"})
    assert first["MediaBucketList"] == {
        "MediaBucket": [
            {"Bucket": "in-1", "Type": "Input", "Referer": "https://www.example.org"},
            {"Bucket": "out-1", "Type": "Output"},
        ]
    }
    second = await caller.ok("ListAllMediaBucket", {"MaximumPageSize": "2", "NextPageToken": first["NextPageToken"]})
    assert second["MediaBucketList"]["MediaBucket"] == [{"Bucket": "in-2", "Type": "Input"}]
    assert "NextPageToken" not in second
    everything = await caller.ok("ListAllMediaBucket")
    assert len(everything["MediaBucketList"]["MediaBucket"]) == 3


async def test_register_media_always_has_both_flat_arrays(caller: Caller) -> None:
    body = await caller.register(f"{MEDIA}/v/a.mp4")
    assert set(body) == {"RequestId", "RegisteredMediaList", "FailedFileURLs"}
    assert body["FailedFileURLs"] == []
    [entry] = body["RegisteredMediaList"]
    assert set(entry) == {"MediaId", "FileURL", "NewRegister"}


async def test_get_video_info_wraps_snapshots_and_get_video_infos_does_not(caller: Caller) -> None:
    media_id = await registered_id(caller, Description="d", Tags="a,b")
    single = (await caller.ok("GetVideoInfo", {"VideoId": media_id}))["Video"]
    batch = await caller.ok("GetVideoInfos", {"VideoIds": f"{media_id},{'0' * 32}"})
    assert single["Snapshots"] == {"Snapshot": []}
    assert single["RegionId"] == "cn-shanghai"
    [video] = batch["VideoList"]
    assert video["Snapshots"] == []
    assert batch["NonExistVideoIds"] == ["0" * 32]
    assert {k: video[k] for k in ("VideoId", "Title", "Status", "StorageLocation", "CreationTime")} == {
        "VideoId": media_id,
        "Title": "t",
        "Status": "UploadSucc",
        "StorageLocation": "media.oss-cn-shanghai.aliyuncs.com",
        "CreationTime": "2024-05-01T08:00:00Z",
    }
    assert isinstance(video["Size"], int)


async def test_get_video_info_unknown_id_is_404(caller: Caller) -> None:
    status, body = await caller.call("GetVideoInfo", {"VideoId": "0" * 32})
    assert (status, body["Code"], body["Message"]) == (404, "InvalidVideo.NotFound", "The video does not exist.")


async def test_update_video_infos_null_means_unchanged(caller: Caller, app: EmulatorApp, clock: ManualClock) -> None:
    media_id = await caller.register(f"{MEDIA}/v/a.mp4", title="old")
    media_id = media_id["RegisteredMediaList"][0]["MediaId"]
    clock.advance(5)
    content = json.dumps(
        [{"VideoId": media_id, "Title": None, "Description": "new", "CateId": 7}, {"VideoId": "9" * 32}]
    )
    body = await caller.ok("UpdateVideoInfos", {"UpdateContent": content})
    assert body["NonExistVideoIds"] == ["9" * 32]
    assert body["ForbiddenVideoIds"] == []
    video = (await caller.ok("GetVideoInfo", {"VideoId": media_id}))["Video"]
    assert (video["Title"], video["Description"], video["CateId"]) == ("old", "new", 7)
    assert video["ModificationTime"] == "2024-05-01T08:00:05Z"


async def test_update_video_infos_over_twenty_is_count_exceeded(caller: Caller) -> None:
    content = json.dumps([{"VideoId": f"{i:032x}", "Title": "x"} for i in range(21)])
    status, body = await caller.call("UpdateVideoInfos", {"UpdateContent": content})
    assert (status, body["Code"]) == (400, "CountExceededMax")


async def test_delete_video_shape(caller: Caller, app: EmulatorApp) -> None:
    media_id = await registered_id(caller)
    body = await caller.ok("DeleteVideo", {"VideoIds": f"{media_id},{'1' * 32}"})
    assert (body["NonExistVideoIds"], body["ForbiddenVideoIds"]) == (["1" * 32], [])
    assert app.backend.vod.media() == []
    status, body = await caller.call("DeleteVideo", {"VideoIds": ",".join(f"{i:032x}" for i in range(21))})
    assert (status, body["Code"], body["Message"]) == (400, "VideoIdsExceededMax", "The VideoIds exceeded maximum.")


async def test_get_mezzanine_info_shape_and_parameters(caller: Caller) -> None:
    media_id = await registered_id(caller, "v/clip.mp4")
    body = await caller.ok(
        "GetMezzanineInfo", {"VideoId": media_id, "OutputType": "oss", "AuthTimeout": "3600", "AdditionType": "video"}
    )
    mezzanine = body["Mezzanine"]
    assert {k: mezzanine[k] for k in ("VideoId", "FileURL", "FileName", "OutputType", "Status")} == {
        "VideoId": media_id,
        "FileURL": f"{MEDIA}/v/clip.mp4",
        "FileName": "clip.mp4",
        "OutputType": "oss",
        "Status": "Normal",
    }
    assert mezzanine["VideoStreamList"] == []
    assert "AudioStreamList" not in mezzanine
    assert (await caller.ok("GetMezzanineInfo", {"VideoId": media_id}))["Mezzanine"]["OutputType"] == "cdn"
    for bad in (
        {"OutputType": "ftp"},
        {"OutputType": "oss", "AuthTimeout": "129601"},
        {"AuthTimeout": "0"},
        {"AdditionType": "image"},
    ):
        status, error = await caller.call("GetMezzanineInfo", {"VideoId": media_id, **bad})
        assert (status, error["Code"]) == (400, "InvalidParameter"), bad
    status, error = await caller.call("GetMezzanineInfo", {"VideoId": "2" * 32})
    assert (status, error["Code"]) == (404, "InvalidVideo.NotFound")


async def test_search_media_shape(caller: Caller) -> None:
    media_id = await registered_id(caller, "v/a.mp4")
    await registered_id(caller, "v/b.mp4")
    body = await caller.ok("SearchMedia", {"Match": f"VideoId = '{media_id}'", "PageNo": "1", "PageSize": "10"})
    assert body["Total"] == 1
    assert len(body["ScrollToken"]) == 32
    [entry] = body["MediaList"]
    assert (entry["MediaId"], entry["MediaType"], entry["Video"]["VideoId"]) == (media_id, "video", media_id)
    assert entry["Video"]["Snapshots"] == [] and entry["Video"]["SpriteSnapshots"] == []
    status, error = await caller.call("SearchMedia", {"Match": "FileURL = 'x'"})
    assert (status, error["Message"]) == (400, 'The specified parameter "Match" is not valid.')
    status, error = await caller.call("SearchMedia", {"PageSize": "101"})
    assert (status, error["Code"]) == (400, "InvalidParameter")
    status, error = await caller.call("SearchMedia", {"SearchType": "document"})
    assert (status, error["Code"]) == (400, "InvalidParameter")


async def test_search_media_scroll_token_round_trip(caller: Caller) -> None:
    for key in ("a", "b", "c"):
        await registered_id(caller, f"v/{key}.mp4")
    first = await caller.ok("SearchMedia", {"PageSize": "2"})
    second = await caller.ok("SearchMedia", {"PageSize": "2", "ScrollToken": first["ScrollToken"]})
    assert len(first["MediaList"]) == 2 and len(second["MediaList"]) == 1
    seen = {m["MediaId"] for m in first["MediaList"] + second["MediaList"]}
    assert len(seen) == 3
