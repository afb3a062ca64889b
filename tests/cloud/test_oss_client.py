"""The OSS client: its V4 signature equals the official SDK's signer; its calls against the in-process
emulator (paced, counted, retried like the RPC calls); endpoints follow the bucket or the override."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest

from reconcile.cloud import oss_signing
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.errors import AuthenticationError, ConflictError, ForbiddenError, NotFoundError
from reconcile.cloud.oss_client import OssClient, OssExchange, oss_endpoint
from reconcile.cloud.settings import ClientSettings, InvalidSettingsError
from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from reconcile.emulator.faults import FaultRules

EMULATOR = "http://127.0.0.1:8765"
SIGNED_AT = dt.datetime(2026, 12, 4, 8, 30, 0, tzinfo=dt.UTC)


def sdk_authorization(method: str, url: str, bucket: str, key: str | None, headers: dict[str, str]) -> str:
    from alibabacloud_oss_v2.credentials import Credentials as SdkCredentials
    from alibabacloud_oss_v2.signer import SignerV4
    from alibabacloud_oss_v2.types import HttpRequest, SigningContext

    request = HttpRequest(method=method, url=url, headers=dict(headers))
    context = SigningContext(
        product="oss",
        region="cn-shanghai",
        bucket=bucket,
        key=key,
        request=request,
        credentials=SdkCredentials("LTAI5tExample", "the-secret"),
        signing_time=SIGNED_AT,
    )
    SignerV4().sign(context)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("method", "key", "query", "headers"),
    [
        ("HEAD", "raw/ep 3 (final).mp4", {}, {}),
        ("PUT", "state/v-0001.json", {}, {"x-oss-forbid-overwrite": "true", "content-type": "application/json"}),
        ("GET", None, {"list-type": "2", "encoding-type": "url", "max-keys": "1000", "prefix": "raw/ä/"}, {}),
        ("GET", None, {"list-type": "2", "prefix": "", "continuation-token": "cmF3L2EubXA0"}, {}),
    ],
)
def test_signature_equals_the_official_sdk_signer(
    method: str, key: str | None, query: dict[str, str], headers: dict[str, str]
) -> None:
    exchange = OssExchange(
        action="X",
        region="cn-shanghai",
        method=method,
        bucket="media-in",
        key=key,
        endpoint_override=None,
        query=query,
        headers=headers,
        timestamp=lambda: SIGNED_AT.strftime(oss_signing.DATE_FORMAT),
    )
    signed = exchange.sign(StaticCredentials("LTAI5tExample", "the-secret").get())
    sdk_headers = {k: v for k, v in signed.headers.items() if k not in ("authorization", "x-oss-date")}
    sdk_headers.pop("x-oss-content-sha256")
    assert signed.headers["authorization"] == sdk_authorization(method, signed.url, "media-in", key, sdk_headers)
    assert signed.url.startswith("https://media-in.oss-cn-shanghai.aliyuncs.com/")


def test_endpoint_override_from_the_environment() -> None:
    assert oss_endpoint({}, None) is None
    assert oss_endpoint({}, EMULATOR) == EMULATOR
    assert oss_endpoint({"RECONCILE_OSS_ENDPOINT": "http://localhost:9000"}, EMULATOR) == "http://localhost:9000"
    with pytest.raises(InvalidSettingsError, match="RECONCILE_OSS_ENDPOINT"):
        oss_endpoint({"RECONCILE_OSS_ENDPOINT": "http://oss.example.com"}, None)


@pytest.fixture
async def emulated() -> AsyncIterator[tuple[OssClient, CloudSession]]:
    app = create_app(EmulatorConfig(qps_scale=0, seed=3))
    app.backend.objects.create_bucket("media-in", "cn-shanghai")
    session = CloudSession(
        ClientSettings(endpoint=EMULATOR),
        StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
        transport=emulator_transport(app),
    )
    async with session:
        yield OssClient(session, endpoint=EMULATOR), session


async def test_calls_against_the_emulator(emulated: tuple[OssClient, CloudSession]) -> None:
    oss, session = emulated
    etag = await oss.put_object("media-in", "cn-shanghai", "raw/ep 1.mp4", b"abc", forbid_overwrite=True)
    assert etag == '"900150983CD24FB0D6963F7D28E17F72"'
    with pytest.raises(ConflictError, match="FileAlreadyExists"):
        await oss.put_object("media-in", "cn-shanghai", "raw/ep 1.mp4", b"x", forbid_overwrite=True)
    info = await oss.head_object("media-in", "cn-shanghai", "raw/ep 1.mp4")
    assert info is not None and (info.size, info.etag) == (3, etag)
    assert await oss.head_object("media-in", "cn-shanghai", "raw/ep 2.mp4") is None
    assert (await oss.get_object("media-in", "cn-shanghai", "raw/ep 1.mp4")).body == b"abc"
    for index in range(4):
        await oss.put_object("media-in", "cn-shanghai", f"raw/more-{index}.mp4", b"")
    first = await oss.list_objects_v2("media-in", "cn-shanghai", prefix="raw/", max_keys=3)
    assert [o.key for o in first.objects] == ["raw/ep 1.mp4", "raw/more-0.mp4", "raw/more-1.mp4"]
    rest = await oss.list_objects_v2("media-in", "cn-shanghai", prefix="raw/", continuation_token=first.next_token)
    assert [o.key for o in rest.objects] == ["raw/more-2.mp4", "raw/more-3.mp4"] and rest.next_token is None
    await oss.delete_object("media-in", "cn-shanghai", "raw/ep 1.mp4")
    assert await oss.get_object("media-in", "cn-shanghai", "raw/ep 1.mp4") is None
    with pytest.raises(NotFoundError, match="NoSuchBucket"):
        await oss.head_object("elsewhere", "cn-shanghai", "a.mp4")
    counted = {action: session.stats.of(action).calls for action in ("PutObject", "HeadObject", "ListObjectsV2")}
    assert counted == {"PutObject": 6, "HeadObject": 3, "ListObjectsV2": 2}


async def test_wrong_secret_unknown_key_and_denied_access_are_typed_errors() -> None:
    app = create_app(EmulatorConfig(qps_scale=0, access_keys={"ak": "right-secret"}))
    app.backend.objects.create_bucket("media-in", "cn-shanghai")
    app.control.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "ListObjectsV2", "error": {"status": 403, "code": "AccessDenied"}}]}
    )
    cases = [
        ("ak", "wrong-secret", "head", AuthenticationError, "SignatureDoesNotMatch"),
        ("nobody", "some-secret", "head", AuthenticationError, "InvalidAccessKeyId"),
        ("ak", "right-secret", "list", ForbiddenError, "AccessDenied"),
    ]
    for key_id, secret, operation, error, code in cases:
        session = CloudSession(
            ClientSettings(endpoint=EMULATOR), StaticCredentials(key_id, secret), transport=emulator_transport(app)
        )
        async with session:
            oss = OssClient(session, endpoint=EMULATOR)
            with pytest.raises(error) as caught:
                if operation == "head":
                    await oss.head_object("media-in", "cn-shanghai", "a.mp4")
                else:
                    await oss.list_objects_v2("media-in", "cn-shanghai")
        assert (caught.value.code, caught.value.status, caught.value.attempts) == (code, 403, 1)  # not retried
        assert secret not in str(caught.value)


async def test_a_server_error_is_retried() -> None:
    answers = [httpx.Response(503, content=b"<Error><Code>ServiceUnavailable</Code></Error>"), httpx.Response(200)]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-oss-date"])
        return answers.pop(0)

    session = CloudSession(
        ClientSettings(endpoint=EMULATOR, max_retry_seconds=60),
        StaticCredentials("ak", "s"),
        transport=httpx.MockTransport(handler),
    )
    async with session:
        info = await OssClient(session, endpoint=EMULATOR).head_object("b-1", "cn-shanghai", "a.mp4")
    assert info is not None and len(seen) == 2
    assert session.stats.of("HeadObject").retries == 1
