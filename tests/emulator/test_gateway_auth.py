"""The gateway's request rules: V1 and V3 signatures, replay protection, routing, parameters, envelope."""

from __future__ import annotations

import json
import re

import httpx

from reconcile.cloud.signing import (
    signed_header_names,
    v1_string_to_sign,
    v3_canonical_request,
    v3_string_to_sign,
)
from reconcile.emulator.app import EmulatorApp
from tests.emulator import signer
from tests.emulator.conftest import Caller

REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")


async def test_v3_with_query_parameters_like_the_sdk(caller: Caller, app: EmulatorApp) -> None:
    body = await caller.ok("BindInputBucket", {"Bucket": "media-in"})
    assert REQUEST_ID.match(body["RequestId"])
    assert [b.bucket for b in app.backend.mps.bindings()] == ["media-in"]


async def test_v3_with_a_form_body(caller: Caller, app: EmulatorApp) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "media-in", "Referer": "a b+c"}, form=True)
    assert app.backend.mps.bindings()[0].referer == "a b+c"


async def test_v1_in_the_query(caller: Caller, app: EmulatorApp) -> None:
    response = await caller.send(
        signer.v1_query_request("BindOutputBucket", {"Bucket": "media-out"}, now=caller.clock.time())
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers["x-acs-request-id"] == response.json()["RequestId"]
    assert app.backend.mps.bindings()[0].type == "Output"


async def test_v1_with_a_form_body_and_signature_in_the_query(caller: Caller, app: EmulatorApp) -> None:
    metadatas = json.dumps([{"FileURL": "https://media.oss-cn-shanghai.aliyuncs.com/v/a b.mp4", "Title": "demo video"}])
    request = signer.v1_form_request("RegisterMedia", {"RegisterMetadatas": metadatas}, now=caller.clock.time())
    response = await caller.send(request)
    assert response.status_code == 200, response.text
    assert response.json()["RegisteredMediaList"][0]["NewRegister"] is True


async def test_query_value_wins_over_the_form_value(caller: Caller, app: EmulatorApp) -> None:
    params = signer.v1_params("BindInputBucket", {"Bucket": "from-query"}, now=caller.clock.time(), method="POST")
    request = httpx.Request(
        "POST",
        httpx.URL("http://emulator/", params=params),
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=b"Bucket=from-form",
    )
    response = await caller.send(request)
    assert response.status_code == 200, response.text
    assert [b.bucket for b in app.backend.mps.bindings()] == ["from-query"]


async def test_v3_wrong_secret_reports_the_server_string_to_sign(caller: Caller) -> None:
    request = signer.v3_request("ListAllMediaBucket", {"MaximumPageSize": "5"}, now=caller.clock.time(), secret="wrong")
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    signed = signed_header_names(h for h in headers if h not in ("content-length",))
    expected = v3_string_to_sign(
        v3_canonical_request("POST", "/", {"MaximumPageSize": "5"}, headers, signed, headers["x-acs-content-sha256"])
    )
    response = await caller.send(request)
    body = response.json()
    assert (response.status_code, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert (
        body["Message"]
        == f"Specified signature is not matched with our calculation. server string to sign is:{expected}"
    )
    assert body["HostId"] == signer.HOST
    assert body["Recommend"] == "https://next.api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch&product=Mts"
    assert REQUEST_ID.match(body["RequestId"])


async def test_v1_wrong_secret_reports_the_v1_string_to_sign(caller: Caller) -> None:
    params = signer.v1_params("GetVideoInfo", {"VideoId": "a" * 32}, now=caller.clock.time(), secret="wrong")
    response = await caller.send(httpx.Request("GET", httpx.URL("http://emulator/", params=params)))
    expected = v1_string_to_sign("GET", params)
    assert response.status_code == 400
    assert response.json()["Message"].endswith(f"server string to sign is:{expected}")


async def test_unknown_access_key(caller: Caller) -> None:
    status, body = await caller.call("ListAllMediaBucket", key_id="nobody")
    assert (status, body["Code"], body["Message"]) == (
        404,
        "InvalidAccessKeyId.NotFound",
        "Specified access key is not found.",
    )


async def test_timestamp_window_is_fifteen_minutes_both_ways(caller: Caller) -> None:
    now = caller.clock.time()
    for skew in (-900, 900):
        request = signer.v3_request("ListAllMediaBucket", {}, now=now + skew)
        assert (await caller.send(request)).status_code == 200
    for skew in (-901, 901):
        response = await caller.send(signer.v3_request("ListAllMediaBucket", {}, now=now + skew))
        assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Expired")
        assert response.json()["Message"] == "Specified time stamp or date value is expired."


async def test_malformed_timestamp(caller: Caller) -> None:
    params = signer.v1_params("ListAllMediaBucket", {}, now=caller.clock.time())
    params["Timestamp"] = "2024-05-01 08:00:00"
    params["Signature"] = "irrelevant"
    response = await caller.send(httpx.Request("GET", httpx.URL("http://emulator/", params=params)))
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Format")


async def test_a_reused_nonce_is_rejected(caller: Caller, app: EmulatorApp) -> None:
    await caller.ok("BindInputBucket", {"Bucket": "b-1"}, nonce="n-1")
    status, body = await caller.call("BindInputBucket", {"Bucket": "b-2"}, nonce="n-1")
    assert (status, body["Code"], body["Message"]) == (
        400,
        "SignatureNonceUsed",
        "Specified signature nonce was used already.",
    )
    assert [b.bucket for b in app.backend.mps.bindings()] == ["b-1"]


async def test_a_rejected_request_does_not_burn_its_nonce(caller: Caller) -> None:
    status, _ = await caller.call("ListAllMediaBucket", nonce="n-2", secret="wrong")
    assert status == 400
    await caller.ok("ListAllMediaBucket", nonce="n-2")


async def test_nonces_are_per_access_key(app: EmulatorApp, caller: Caller) -> None:
    app.gateway.auth._access_keys["second"] = "second-secret"
    await caller.ok("ListAllMediaBucket", nonce="shared")
    await caller.ok("ListAllMediaBucket", nonce="shared", key_id="second", secret="second-secret")


async def test_body_that_does_not_match_its_content_sha256(caller: Caller, app: EmulatorApp) -> None:
    request = signer.v3_request(
        "BindInputBucket", {"Bucket": "media-in"}, now=caller.clock.time(), form=True, body_override=b"Bucket=evil"
    )
    response = await caller.send(request)
    assert (response.status_code, response.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert app.backend.mps.bindings() == []


async def test_x_acs_headers_must_be_signed(caller: Caller) -> None:
    request = signer.v3_request("ListAllMediaBucket", {}, now=caller.clock.time())
    request.headers["x-acs-extra"] = "sneaky"
    response = await caller.send(request)
    body = response.json()
    assert (response.status_code, body["Code"]) == (400, "IncompleteSignature")
    assert body["Message"].endswith("missing: x-acs-extra.")


async def test_malformed_authorization_header(caller: Caller) -> None:
    request = signer.v3_request("ListAllMediaBucket", {}, now=caller.clock.time())
    request.headers["authorization"] = "Bearer abc"
    response = await caller.send(request)
    assert response.json()["Code"] == "IncompleteSignature"


async def test_missing_signature_pieces_are_missing_parameters(caller: Caller) -> None:
    params = signer.v1_params("ListAllMediaBucket", {}, now=caller.clock.time())
    del params["Signature"]
    response = await caller.send(httpx.Request("GET", httpx.URL("http://emulator/", params=params)))
    assert (
        response.json()["Message"]
        == 'The input parameter "Signature" that is mandatory for processing this request is not supplied.'
    )
    request = signer.v3_request("ListAllMediaBucket", {}, now=caller.clock.time())
    del request.headers["x-acs-signature-nonce"]
    response = await caller.send(request)
    assert (response.status_code, response.json()["Message"]) == (
        400,
        'The input parameter "x-acs-signature-nonce" that is mandatory for processing this request is not supplied.',
    )


async def test_unknown_action_and_version(caller: Caller) -> None:
    status, body = await caller.call("DescribeRegions", version="2017-03-21")
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    status, body = await caller.call("RegisterMedia", version="2014-06-18")  # right name, other product
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    status, body = await caller.call("RegisterMedia", version="2099-01-01")
    assert (status, body["Code"], body["Message"]) == (
        400,
        "InvalidVersion",
        'Specified parameter Version "2099-01-01" is not valid.',
    )


async def test_missing_action(caller: Caller) -> None:
    response = await caller.send(httpx.Request("GET", "http://emulator/?Version=2017-03-21"))
    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")
    assert '"Action"' in response.json()["Message"]


async def test_missing_and_malformed_operation_parameters(caller: Caller) -> None:
    status, body = await caller.call("BindInputBucket", {})
    assert (status, body["Code"], body["Message"]) == (
        400,
        "MissingParameter",
        'The input parameter "Bucket" that is mandatory for processing this request is not supplied.',
    )
    status, body = await caller.call("RegisterMedia", {"RegisterMetadatas": "[{not json"})
    assert (status, body["Message"]) == (400, 'The specified parameter "RegisterMetadatas" is not valid.')
    status, body = await caller.call("RegisterMedia", {"RegisterMetadatas": '{"FileURL": "x"}'})
    assert (status, body["Code"]) == (400, "InvalidParameter")
    status, body = await caller.call("ListAllMediaBucket", {"MaximumPageSize": "ten"})
    assert (status, body["Message"]) == (400, 'The specified parameter "MaximumPageSize" is not valid.')
    status, body = await caller.call("RegisterMedia", {"RegisterMetadatas": '[{"FileURL": 5, "Title": "t"}]'})
    assert (status, body["Message"]) == (400, 'The specified parameter "FileURL" is not valid.')
    status, body = await caller.call(
        "RegisterMedia",
        {
            "RegisterMetadatas": '[{"FileURL": "https://b.oss-cn-shanghai.aliyuncs.com/a.mp4", "Title": "t"}]',
            "UserData": "{oops",
        },
    )
    assert (status, body["Message"]) == (400, 'The specified parameter "UserData" is not valid.')
    status, body = await caller.call("GetVideoInfos", {})
    assert (status, body["Code"]) == (400, "MissingParameter")
