"""The client end to end over httpx.MockTransport: the exact requests each operation sends, and what it
makes of the answers."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest

from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.errors import TransportError
from reconcile.cloud.models import (
    DeleteVideoResult,
    GetVideoInfosResult,
    MediaBucket,
    Mezzanine,
    RegisteredMedia,
    RegisterMediaRequest,
    RegisterMediaResult,
    RegisterMetadata,
    UpdateVideoInfosResult,
    VideoInfo,
    VideoUpdate,
)
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import KEY_ID, SECRET, TOKEN, FakeApi, ok

BUCKET_URL = "https://media-in.oss-cn-shanghai.aliyuncs.com"
VIDEO_A = "3f9a0c1d2b4e4f6a8b7c6d5e4f3a2b1c"
VIDEO_B = "7c6b5a4f3e2d4c1b9a8f7e6d5c4b3a29"
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")


# --- the envelope of every request -----------------------------------------------------------------


async def test_v3_request_line_and_headers(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        await session.client("cn-shanghai").bind_input_bucket("media-in")
    (seen,) = api.seen
    request = seen.request
    assert (request.method, str(request.url)) == ("POST", "https://mts.cn-shanghai.aliyuncs.com/")
    assert request.content == b"Bucket=media-in"
    headers = request.headers
    assert headers["host"] == "mts.cn-shanghai.aliyuncs.com"
    assert headers["x-acs-action"] == "BindInputBucket"
    assert headers["x-acs-version"] == "2014-06-18"
    assert DATE_RE.match(headers["x-acs-date"])
    assert NONCE_RE.match(headers["x-acs-signature-nonce"])
    assert headers["x-acs-content-sha256"] == hashlib.sha256(b"Bucket=media-in").hexdigest()
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("reconcile/")
    assert re.fullmatch(
        rf"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;"
        r"x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=[0-9a-f]{64}",
        headers["authorization"],
    )
    assert "x-acs-security-token" not in headers
    assert "Action" not in seen.query and "Version" not in seen.query and "Format" not in seen.query


async def test_v1_request_line_query_and_body(make_session: SessionFactory, api: FakeApi) -> None:
    credentials = StaticCredentials(KEY_ID, SECRET, TOKEN)
    async with make_session(
        credentials=credentials, signature_version="v1", endpoint="http://127.0.0.1:8080"
    ) as session:
        await session.client("cn-beijing").get_video_infos([VIDEO_A, VIDEO_B])
    (seen,) = api.seen
    assert seen.request.url.host == "127.0.0.1" and seen.request.url.port == 8080 and seen.request.url.path == "/"
    assert seen.request.headers["host"] == "127.0.0.1:8080"
    assert list(seen.query) == [
        "AccessKeyId",
        "Action",
        "Format",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureVersion",
        "Timestamp",
        "Version",
        "SecurityToken",
        "Signature",
    ]
    assert {
        k: seen.query[k] for k in ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureVersion", "Version")
    } == {
        "AccessKeyId": KEY_ID,
        "Action": "GetVideoInfos",
        "Format": "json",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "Version": "2017-03-21",
    }
    assert seen.query["SecurityToken"] == TOKEN
    assert DATE_RE.match(seen.query["Timestamp"]) and NONCE_RE.match(seen.query["SignatureNonce"])
    assert seen.params == {"VideoIds": f"{VIDEO_A},{VIDEO_B}"}
    assert "authorization" not in seen.request.headers


async def test_v3_sts_token_is_sent_and_signed(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session(credentials=StaticCredentials(KEY_ID, SECRET, TOKEN)) as session:
        await session.client("cn-shanghai").delete_video([VIDEO_A])
    headers = api.seen[0].headers
    assert headers["x-acs-security-token"] == TOKEN
    assert headers["x-acs-accesskey-id"] == KEY_ID
    assert (
        "x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;"
        in headers["authorization"]
    )


async def test_one_pool_per_endpoint_shared_by_regions(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        for region in ("cn-shanghai", "cn-beijing"):
            await session.client(region).bind_input_bucket("media-in")
            await session.client(region).delete_video([VIDEO_A])
            await session.client(region).delete_video([VIDEO_B])
        assert session.client("cn-shanghai") is session.client("cn-shanghai")
        assert sorted(session.pooled_endpoints) == [
            "https://mts.cn-beijing.aliyuncs.com",
            "https://mts.cn-shanghai.aliyuncs.com",
            "https://vod.cn-beijing.aliyuncs.com",
            "https://vod.cn-shanghai.aliyuncs.com",
        ]
    assert session.pooled_endpoints == ()  # closed on exit
    async with make_session(endpoint="http://127.0.0.1:8080") as emulated:
        await emulated.client("cn-shanghai").bind_input_bucket("media-in")
        await emulated.client("cn-beijing").delete_video([VIDEO_A])
        assert emulated.pooled_endpoints == ("http://127.0.0.1:8080",)


# --- MPS -------------------------------------------------------------------------------------------


async def test_list_all_media_buckets_follows_every_page(make_session: SessionFactory, api: FakeApi) -> None:
    page = lambda names, token: ok(  # noqa: E731
        {
            "MediaBucketList": {"MediaBucket": [{"Bucket": n, "Type": t, **r} for n, t, r in names]},
            **({"NextPageToken": token} if token is not None else {}),
        }
    )
    api.then(
        "ListAllMediaBucket",
        page([("in-a", "Input", {"Referer": "https://www.example.org"}), ("out-b", "Output", {})], "tok-2"),
        page([("in-c", "Input", {"Referer": ""})], "tok/3+=="),
        page([], ""),
    )
    async with make_session() as session:
        buckets = await session.client("cn-shanghai").list_all_media_buckets()
    assert buckets == [
        MediaBucket("in-a", "Input", "https://www.example.org"),
        MediaBucket("out-b", "Output", None),
        MediaBucket("in-c", "Input", None),
    ]
    assert [s.params for s in api.seen] == [
        {"MaximumPageSize": "100"},
        {"MaximumPageSize": "100", "NextPageToken": "tok-2"},
        {"MaximumPageSize": "100", "NextPageToken": "tok/3+=="},
    ]


async def test_list_all_media_buckets_refuses_a_token_loop(make_session: SessionFactory, api: FakeApi) -> None:
    api.default = lambda seen: ok({"MediaBucketList": {"MediaBucket": []}, "NextPageToken": "same"})
    async with make_session() as session:
        with pytest.raises(TransportError, match="NextPageToken 'same' came back twice"):
            await session.client("cn-shanghai").list_all_media_buckets()
    assert len(api.seen) == 2


async def test_bind_and_unbind_input_bucket(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        region = session.client("cn-shanghai")
        first = await region.bind_input_bucket("media-in", referer="https://www.example.org")
        await region.bind_input_bucket("media-two")
        third = await region.unbind_input_bucket("media-in")
    assert [(s.action, s.params) for s in api.seen] == [
        ("BindInputBucket", {"Bucket": "media-in", "Referer": "https://www.example.org"}),
        ("BindInputBucket", {"Bucket": "media-two"}),
        ("UnbindInputBucket", {"Bucket": "media-in"}),
    ]
    assert re.fullmatch(r"[0-9A-F-]{36}", first) and first != third


# --- VOD -------------------------------------------------------------------------------------------


async def test_register_media_wire_format_and_result(make_session: SessionFactory, api: FakeApi) -> None:
    api.then(
        "RegisterMedia",
        ok(
            {
                "RegisteredMediaList": [
                    {"MediaId": VIDEO_A, "FileURL": f"{BUCKET_URL}/video/a.mp4", "NewRegister": True},
                    {"MediaId": VIDEO_B, "FileURL": f"{BUCKET_URL}/video/b.mp4", "NewRegister": False},
                ],
                "FailedFileURLs": [f"{BUCKET_URL}/video/c.mp4"],
            }
        ),
    )
    request = RegisterMediaRequest(
        (
            RegisterMetadata(
                file_url=f"{BUCKET_URL}/video/a.mp4",
                title="Demo é",
                description="d",
                tags=("a", "b c"),
                cover_url=None,
                cate_id=1000012,
            ),
            RegisterMetadata(file_url=f"{BUCKET_URL}/video/b.mp4", title="B"),
            RegisterMetadata(file_url=f"{BUCKET_URL}/video/c.mp4", title="C", tags=()),
        ),
        template_group_id="VOD_NO_TRANSCODE",
        user_data='{ "Extend": { "k": "v" } }',
    )
    async with make_session() as session:
        result = await session.client("cn-shanghai").register_media(request)
    (seen,) = api.seen
    assert seen.params == {
        "RegisterMetadatas": (
            f'[{{"FileURL":"{BUCKET_URL}/video/a.mp4","Title":"Demo é","Description":"d","Tags":"a,b c","CateId":1000012}},'
            f'{{"FileURL":"{BUCKET_URL}/video/b.mp4","Title":"B"}},'
            f'{{"FileURL":"{BUCKET_URL}/video/c.mp4","Title":"C","Tags":""}}]'
        ),
        "TemplateGroupId": "VOD_NO_TRANSCODE",
        "UserData": '{"Extend":{"k":"v"}}',
    }
    assert seen.request.content.startswith(b"RegisterMetadatas=%5B%7B%22FileURL%22%3A%22https%3A%2F%2Fmedia-in.")
    assert result == RegisterMediaResult(
        api.last_request_id,
        (
            RegisteredMedia(VIDEO_A, f"{BUCKET_URL}/video/a.mp4", True),
            RegisteredMedia(VIDEO_B, f"{BUCKET_URL}/video/b.mp4", False),
        ),
        (f"{BUCKET_URL}/video/c.mp4",),
    )


async def test_register_media_workflow_and_no_optional_parameters(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        await session.client("cn-shanghai").register_media(
            RegisterMediaRequest((RegisterMetadata(file_url=f"{BUCKET_URL}/x.mov", title="X"),), workflow_id="wf-1")
        )
    assert api.seen[0].params == {
        "RegisterMetadatas": f'[{{"FileURL":"{BUCKET_URL}/x.mov","Title":"X"}}]',
        "WorkflowId": "wf-1",
    }


async def test_get_video_infos(make_session: SessionFactory, api: FakeApi) -> None:
    api.then(
        "GetVideoInfos",
        ok(
            {
                "VideoList": [
                    {
                        "VideoId": VIDEO_A,
                        "Title": "demo video",
                        "Status": "Normal",
                        "Size": 1048576,
                        "Duration": 12.5,
                        "CateId": 1000012,
                        "Tags": "a, b,",
                        "Snapshots": [],
                        "StorageLocation": "media-in.oss-cn-shanghai.aliyuncs.com",
                        "TemplateGroupId": "VOD_NO_TRANSCODE",
                        "CreationTime": "2024-05-01T08:00:01Z",
                        "ModificationTime": "2024-05-01T08:00:02Z",
                    }
                ],
                "NonExistVideoIds": [VIDEO_B],
            }
        ),
    )
    async with make_session() as session:
        result = await session.client("cn-shanghai").get_video_infos([VIDEO_A, VIDEO_B])
    assert api.seen[0].params == {"VideoIds": f"{VIDEO_A},{VIDEO_B}"}
    assert result == GetVideoInfosResult(
        api.last_request_id,
        (
            VideoInfo(
                video_id=VIDEO_A,
                title="demo video",
                description=None,
                tags=("a", "b"),
                cover_url=None,
                cate_id=1000012,
                status="Normal",
                storage_location="media-in.oss-cn-shanghai.aliyuncs.com",
                template_group_id="VOD_NO_TRANSCODE",
                creation_time="2024-05-01T08:00:01Z",
                modification_time="2024-05-01T08:00:02Z",
            ),
        ),
        (VIDEO_B,),
    )


async def test_update_video_infos_sends_only_the_fields_set(make_session: SessionFactory, api: FakeApi) -> None:
    api.then(
        "UpdateVideoInfos", ok({"NonExistVideoIds": [VIDEO_B], "ForbiddenVideoIds": [], "NonExistReferenceIds": []})
    )
    async with make_session() as session:
        result = await session.client("cn-shanghai").update_video_infos(
            [
                VideoUpdate(video_id=VIDEO_A, title="New", tags=("x", "y"), description=""),
                VideoUpdate(video_id=VIDEO_B, cate_id=7),
            ]
        )
    assert json.loads(api.seen[0].params["UpdateContent"]) == [
        {"VideoId": VIDEO_A, "Title": "New", "Description": "", "Tags": "x,y"},
        {"VideoId": VIDEO_B, "CateId": 7},
    ]
    assert api.seen[0].params["UpdateContent"] == (
        f'[{{"VideoId":"{VIDEO_A}","Title":"New","Description":"","Tags":"x,y"}},{{"VideoId":"{VIDEO_B}","CateId":7}}]'
    )
    assert result == UpdateVideoInfosResult(api.last_request_id, (VIDEO_B,), ())


async def test_delete_video(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("DeleteVideo", ok({"NonExistVideoIds": [], "ForbiddenVideoIds": [VIDEO_B]}))
    async with make_session() as session:
        result = await session.client("cn-shanghai").delete_video([VIDEO_A, VIDEO_B])
    assert api.seen[0].params == {"VideoIds": f"{VIDEO_A},{VIDEO_B}"}
    assert result == DeleteVideoResult(api.last_request_id, (), (VIDEO_B,))


async def test_get_mezzanine_info(make_session: SessionFactory, api: FakeApi) -> None:
    api.then(
        "GetMezzanineInfo",
        ok(
            {
                "Mezzanine": {
                    "VideoId": VIDEO_A,
                    "FileURL": f"{BUCKET_URL}/video/a.mp4",
                    "FileName": "a.mp4",
                    "Status": "Normal",
                    "Size": "2048",
                    "Duration": "12.5",
                    "CreationTime": "2024-05-01T08:00:01Z",
                }
            }
        ),
    )
    async with make_session() as session:
        result = await session.client("cn-shanghai").get_mezzanine_info(VIDEO_A)
    assert api.seen[0].params == {"VideoId": VIDEO_A, "OutputType": "oss"}
    assert result == Mezzanine(VIDEO_A, f"{BUCKET_URL}/video/a.mp4", "a.mp4", "Normal", 2048, "2024-05-01T08:00:01Z")


# --- batch limits, checked before sending ----------------------------------------------------------


def files(count: int, bucket: str = "media-in") -> tuple[RegisterMetadata, ...]:
    return tuple(
        RegisterMetadata(file_url=f"https://{bucket}.oss-cn-shanghai.aliyuncs.com/v/{n}.mp4", title=f"t{n}")
        for n in range(count)
    )


@pytest.mark.parametrize(
    ("metadatas", "message"),
    [
        (files(11), "RegisterMedia takes 1 to 10 files per call, not 11"),
        ((), "RegisterMedia takes 1 to 10 files per call, not 0"),
        (
            files(2) + files(1, "other-bucket"),
            "RegisterMedia: one call registers files of one OSS bucket, not ['media-in', 'other-bucket']",
        ),
        (
            (RegisterMetadata(file_url="https://example.com/a.mp4", title="t"),),
            "RegisterMedia: 'https://example.com/a.mp4' is not an OSS object URL",
        ),
    ],
)
async def test_register_media_limits(
    make_session: SessionFactory, api: FakeApi, metadatas: tuple[RegisterMetadata, ...], message: str
) -> None:
    async with make_session() as session:
        with pytest.raises(ValueError) as raised:
            await session.client("cn-shanghai").register_media(RegisterMediaRequest(metadatas))
    assert str(raised.value) == message
    assert api.seen == []


async def test_register_media_ten_files_of_one_bucket_is_fine(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        await session.client("cn-shanghai").register_media(RegisterMediaRequest(files(10)))
    assert len(json.loads(api.seen[0].params["RegisterMetadatas"])) == 10


async def test_user_data_must_be_json(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        with pytest.raises(ValueError, match="RegisterMedia: UserData must be JSON text, not 'callback'"):
            await session.client("cn-shanghai").register_media(RegisterMediaRequest(files(1), user_data="callback"))
    assert api.seen == []


@pytest.mark.parametrize(("count", "ok_"), [(0, False), (1, True), (20, True), (21, False)])
async def test_video_id_batches(make_session: SessionFactory, api: FakeApi, count: int, ok_: bool) -> None:
    ids = [f"{n:032x}" for n in range(count)]
    async with make_session() as session:
        region = session.client("cn-shanghai")
        calls = [
            ("GetVideoInfos", region.get_video_infos(ids)),
            ("DeleteVideo", region.delete_video(ids)),
            ("UpdateVideoInfos", region.update_video_infos([VideoUpdate(video_id=i, title="t") for i in ids])),
        ]
        for action, call in calls:
            if ok_:
                await call
            else:
                with pytest.raises(ValueError, match=f"^{action} takes 1 to 20 video ids per call, not {count}$"):
                    await call
    assert len(api.seen) == (3 if ok_ else 0)


async def test_a_video_id_with_a_comma_is_refused(make_session: SessionFactory, api: FakeApi) -> None:
    async with make_session() as session:
        with pytest.raises(ValueError, match="DeleteVideo: 'a,b' is not a video id"):
            await session.client("cn-shanghai").delete_video(["a,b"])
    assert api.seen == []


# --- answers that are not the API's ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"}),
            "DeleteVideo: HTTP 502 with a body that is not the API's JSON (text/html): '<html>Bad Gateway</html>'",
        ),
        (
            httpx.Response(200, text="OK"),
            "DeleteVideo: HTTP 200 with a body that is not the API's JSON (text/plain; charset=utf-8): 'OK'",
        ),
        (
            httpx.Response(200, json=["RequestId"]),
            "DeleteVideo: HTTP 200 with a body that is not the API's JSON (application/json): '[\"RequestId\"]'",
        ),
        (
            httpx.Response(200, json={"Deleted": True}),
            "DeleteVideo: HTTP 200 JSON without a RequestId: not an API response",
        ),
        (
            httpx.Response(404, json={"error": "no route"}),
            "DeleteVideo: HTTP 404 JSON without an error Code: not an API response",
        ),
        (
            httpx.Response(200, json={"RequestId": "R", "NonExistVideoIds": "x"}),
            "DeleteVideo: response field NonExistVideoIds is not a list of strings",
        ),
    ],
)
async def test_foreign_responses_are_transport_errors(
    make_session: SessionFactory, api: FakeApi, response: httpx.Response, message: str
) -> None:
    api.then("DeleteVideo", response)
    async with make_session(max_attempts=1) as session:
        with pytest.raises(TransportError) as raised:
            await session.client("cn-shanghai").delete_video([VIDEO_A])
    assert str(raised.value) == message


async def test_bad_shapes_in_a_successful_answer(make_session: SessionFactory, api: FakeApi) -> None:
    api.then("ListAllMediaBucket", ok({"MediaBucketList": {"MediaBucket": [{"Bucket": "b", "Type": "Both"}]}}))
    api.then("GetVideoInfos", ok({"VideoList": [{"VideoId": VIDEO_A, "CateId": "x"}]}))
    api.then("RegisterMedia", ok({"RegisteredMediaList": [{"MediaId": 5}]}))
    async with make_session(max_attempts=1) as session:
        region = session.client("cn-shanghai")
        with pytest.raises(TransportError, match="ListAllMediaBucket: bucket Type 'Both' is neither Input nor Output"):
            await region.list_all_media_buckets()
        with pytest.raises(TransportError, match="GetVideoInfos: response field CateId is 'x', not a whole number"):
            await region.get_video_infos([VIDEO_A])
        with pytest.raises(TransportError, match="RegisterMedia: response field MediaId is int, not str"):
            await region.register_media(RegisterMediaRequest(files(1)))
