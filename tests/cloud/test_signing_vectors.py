"""Every signature test vector of API.md section 3.4, through the shared signing rules and through the
client's wire builder (which must produce the V1-d and V3-c requests byte for byte)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from reconcile.cloud import signing
from reconcile.cloud.credentials import Credentials
from reconcile.cloud.wire import sign_v1, sign_v3

REGISTER_PARAMS = {
    "RegisterMetadatas": '[{"FileURL":"https://example-bucket.oss-cn-shanghai.aliyuncs.com/video/demo.mp4",'
    '"Title":"demo video"}]',
    "TemplateGroupId": "VOD_NO_TRANSCODE",
}
EXAMPLE = Credentials("LTAI5tExampleKeyId", "ExampleSecret0123456789")
NONCE = "6a1f0c2d9b8e4f7a8c3d2e1f0a9b8c7d"
DATE = "2024-05-01T08:00:00Z"


def test_v1_a_rpc_mechanism_doc() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    string_to_sign = signing.v1_string_to_sign("GET", params)
    assert string_to_sign == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
        "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    )
    assert signing.v1_signature("testsecret", string_to_sign) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_v1_b_mps_signature_doc_with_and_without_signature_parameters() -> None:
    params = {
        "AccessKeyId": "testId",
        "Action": "SearchTemplate",
        "Format": "XML",
        "PageSize": "2",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "4902260a-516a-4b6a-a455-45b653cf6150",
        "SignatureVersion": "1.0",
        "Timestamp": "2015-05-14T09:03:45Z",
        "Version": "2014-06-18",
    }
    assert (
        signing.v1_signature("testKeySecret", signing.v1_string_to_sign("GET", params))
        == "kmDv4mWo806GWPjQMy2z4VhBBDQ="
    )
    bare = {k: v for k, v in params.items() if k not in ("SignatureMethod", "SignatureVersion")}
    assert (
        signing.v1_signature("testKeySecret", signing.v1_string_to_sign("GET", bare)) == "ToOV/vGIgT52KpGQnuHLgPL49ug="
    )


def test_v1_c_openapi_util_unit_test() -> None:
    string_to_sign = signing.v1_string_to_sign("GET", {"query": "test", "body": "test"})
    assert signing.v1_signature("secret", string_to_sign) == "XlUyV4sXjOuX5FnjUz9IF9tm5rU="


def test_v1_signature_parameter_itself_is_never_signed() -> None:
    params = {"query": "test", "body": "test"}
    assert signing.v1_string_to_sign("GET", {**params, "Signature": "anything"}) == signing.v1_string_to_sign(
        "GET", params
    )


def test_v1_d_register_media_is_what_the_client_sends() -> None:
    request = sign_v1(
        "https://vod.cn-shanghai.aliyuncs.com",
        "RegisterMedia",
        "2017-03-21",
        REGISTER_PARAMS,
        EXAMPLE,
        nonce=NONCE,
        timestamp=DATE,
    )
    query = dict(parse_qsl(urlsplit(request.url).query))
    signed = {k: v for k, v in query.items() if k != "Signature"} | dict(parse_qsl(request.content.decode()))
    assert signing.v1_string_to_sign("POST", signed) == (
        "POST&%2F&AccessKeyId%3DLTAI5tExampleKeyId%26Action%3DRegisterMedia%26Format%3Djson%26RegisterMetadatas"
        "%3D%255B%257B%2522FileURL%2522%253A%2522https%253A%252F%252Fexample-bucket.oss-cn-shanghai.aliyuncs.com"
        "%252Fvideo%252Fdemo.mp4%2522%252C%2522Title%2522%253A%2522demo%2520video%2522%257D%255D%26SignatureMethod"
        "%3DHMAC-SHA1%26SignatureNonce%3D6a1f0c2d9b8e4f7a8c3d2e1f0a9b8c7d%26SignatureVersion%3D1.0%26TemplateGroupId"
        "%3DVOD_NO_TRANSCODE%26Timestamp%3D2024-05-01T08%253A00%253A00Z%26Version%3D2017-03-21"
    )
    assert query["Signature"] == "86jDTFVqtQHyk6FZvVQIfdkD2Ww="
    assert request.url.endswith("&Signature=86jDTFVqtQHyk6FZvVQIfdkD2Ww%3D")  # last, and encoded


def test_v3_a_official_doc_example() -> None:
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-content-sha256": signing.EMPTY_SHA256,
    }
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
    signed = signing.signed_header_names(headers)
    assert ";".join(signed) == "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    canonical = signing.v3_canonical_request("POST", "/", query, headers, signed, signing.EMPTY_SHA256)
    assert signing.sha256_hex(canonical.encode()) == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    signature = signing.v3_signature("YourAccessKeySecret", signing.v3_string_to_sign(canonical))
    assert signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"


def test_v3_b_openapi_util_unit_test_with_a_repeated_header() -> None:
    headers = {"x-acs-test": ["http", "https"]}  # sent as x-acs-test: http and x-acs-TEST: https
    query = {"test": "ok", "empty": ""}
    assert signing.canonical_query(query) == "empty=&test=ok"
    assert signing.canonical_headers(headers, ["x-acs-test"]) == "x-acs-test:http,https\n"
    payload = "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
    canonical = signing.v3_canonical_request("GET", "/", query, headers, ["x-acs-test"], payload)
    authorization = signing.v3_authorization(
        "acesskey", ["x-acs-test"], signing.v3_signature("secret", signing.v3_string_to_sign(canonical))
    )
    assert authorization == (
        "ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,"
        "Signature=d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
    )


def test_v3_b_encoding_of_reserved_characters() -> None:
    assert signing.canonical_query({"test": " ~/*-+"}) == "test=%20~%2F%2A-%2B"


def test_v3_c_register_media_is_what_the_client_sends() -> None:
    request = sign_v3(
        "https://vod.cn-shanghai.aliyuncs.com",
        "RegisterMedia",
        "2017-03-21",
        REGISTER_PARAMS,
        EXAMPLE,
        nonce=NONCE,
        timestamp=DATE,
    )
    assert request.url == "https://vod.cn-shanghai.aliyuncs.com/"  # empty query
    assert request.content == (
        b"RegisterMetadatas=%5B%7B%22FileURL%22%3A%22https%3A%2F%2Fexample-bucket.oss-cn-shanghai.aliyuncs.com"
        b"%2Fvideo%2Fdemo.mp4%22%2C%22Title%22%3A%22demo+video%22%7D%5D&TemplateGroupId=VOD_NO_TRANSCODE"
    )
    assert request.headers["x-acs-content-sha256"] == "2344f6bafe5cbcdc6b986b562da4692dacface3925676e1c94cef80d8d680d51"
    signed = signing.signed_header_names(k for k in request.headers if k != "authorization")
    canonical = signing.v3_canonical_request(
        "POST", "/", {}, request.headers, signed, request.headers["x-acs-content-sha256"]
    )
    assert signing.sha256_hex(canonical.encode()) == "a478a597ef8223b7b5ff658274402b504cfcf7f6d68ecb86c0b22d84680b80ef"
    assert request.headers["authorization"] == (
        "ACS3-HMAC-SHA256 Credential=LTAI5tExampleKeyId,"
        "SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
        "x-acs-version,Signature=c3d19e697a13cc4d8ca0d57da87d8f37ae0eb6ea28538440d9e3d6c4ed00330b"
    )


def test_v3_authorization_round_trips_through_the_parser() -> None:
    value = signing.v3_authorization("AK", ["host", "x-acs-date"], "abc123")
    assert signing.parse_v3_authorization(value) == ("AK", ["host", "x-acs-date"], "abc123")
    assert signing.parse_v3_authorization("HMAC-SHA1 Credential=AK") is None
    assert signing.parse_v3_authorization("ACS3-HMAC-SHA256 Credential=AK") is None
