"""Requests the client actually sends verify with the official SDK's signing utilities
(alibabacloud_tea_openapi.utils.Utils), for V1 and V3, with and without an STS token, with Unicode and
reserved characters in the parameters."""

from __future__ import annotations

import hashlib

import pytest
from alibabacloud_tea_openapi.utils import Utils
from darabonba.request import DaraRequest

from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata, VideoUpdate
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import KEY_ID, SECRET, TOKEN, FakeApi, Seen, ok

AWKWARD = "a*b ~c/d+e é 中文 😀 100% & =?#"
URL = "https://media-in.oss-cn-shanghai.aliyuncs.com/dir/a%20b+c~d*e%C3%A9.mp4"


def sdk_v3_authorization(seen: Seen, secret: str) -> str:
    """What the SDK computes for the headers this request signed (it signs every header it is given)."""
    signed_names = seen.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = DaraRequest()
    request.method = seen.request.method
    request.pathname = seen.request.url.path
    request.query = dict(seen.query)
    request.headers = {name: seen.headers[name] for name in signed_names}
    payload = Utils.hex_encode(Utils.hash(seen.request.content, "ACS3-HMAC-SHA256"))
    assert payload == seen.headers["x-acs-content-sha256"]
    return str(Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, KEY_ID, secret))


def sdk_v1_signature(seen: Seen, secret: str) -> str:
    signed = {k: v for k, v in seen.query.items() if k != "Signature"} | seen.params
    return str(Utils.get_rpcsignature(signed, seen.request.method, secret))


async def make_awkward_calls(make_session: SessionFactory, *, sts: bool, version: str) -> None:
    credentials = StaticCredentials(KEY_ID, SECRET, TOKEN if sts else None)
    async with make_session(credentials=credentials, signature_version=version) as session:
        region = session.client("cn-shanghai")
        await region.bind_input_bucket("media-in", referer=f"https://example.org/{AWKWARD}")
        metadata = RegisterMetadata(file_url=URL, title=AWKWARD, description=AWKWARD, tags=("中文", "a b", "x*y"))
        await region.register_media(
            RegisterMediaRequest((metadata,), template_group_id="VOD_NO_TRANSCODE", user_data='{"k": "é 😀"}')
        )
        await region.update_video_infos([VideoUpdate(video_id="0" * 32, title=AWKWARD, tags=("~",))])


@pytest.mark.parametrize("sts", [False, True], ids=["ak", "sts"])
async def test_v3_requests_verify_with_the_sdk(make_session: SessionFactory, api: FakeApi, sts: bool) -> None:
    api.default = lambda seen: ok({"RegisteredMediaList": [], "FailedFileURLs": []})
    await make_awkward_calls(make_session, sts=sts, version="v3")
    assert [s.action for s in api.seen] == ["BindInputBucket", "RegisterMedia", "UpdateVideoInfos"]
    for seen in api.seen:
        assert seen.headers["authorization"] == sdk_v3_authorization(seen, SECRET)
        assert hashlib.sha256(seen.request.content).hexdigest() == seen.headers["x-acs-content-sha256"]
        signed = seen.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        if sts:
            assert seen.headers["x-acs-security-token"] == TOKEN
            assert {"x-acs-security-token", "x-acs-accesskey-id"} <= set(signed)
        else:
            assert "x-acs-security-token" not in seen.headers
    assert api.seen[0].params["Referer"] == f"https://example.org/{AWKWARD}"


@pytest.mark.parametrize("sts", [False, True], ids=["ak", "sts"])
async def test_v1_requests_verify_with_the_sdk(make_session: SessionFactory, api: FakeApi, sts: bool) -> None:
    api.default = lambda seen: ok({"RegisteredMediaList": [], "FailedFileURLs": []})
    await make_awkward_calls(make_session, sts=sts, version="v1")
    for seen in api.seen:
        assert seen.query["Signature"] == sdk_v1_signature(seen, SECRET)
        assert seen.query.get("SecurityToken") == (TOKEN if sts else None)
    assert api.seen[1].params["RegisterMetadatas"].count(AWKWARD) == 2


async def test_a_wrong_secret_does_not_verify(make_session: SessionFactory, api: FakeApi) -> None:
    """The cross-check can fail: the SDK with another secret disagrees."""
    await make_awkward_calls(make_session, sts=False, version="v3")
    assert api.seen[0].headers["authorization"] != sdk_v3_authorization(api.seen[0], SECRET + "x")
