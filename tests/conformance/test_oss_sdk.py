"""alibabacloud-oss-v2 against the emulator, unmodified: path-style, plain HTTP, its default V4 signature."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import RunningEmulator
from tests.conformance.conftest import vod_client

pytestmark = pytest.mark.conformance

BUCKET = "sdk-media"


def oss_client(url: str, *, secret: str = DEFAULT_ACCESS_KEY_SECRET) -> Any:
    import alibabacloud_oss_v2 as oss

    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(DEFAULT_ACCESS_KEY_ID, secret)
    config.region = "cn-shanghai"
    config.endpoint = url
    config.use_path_style = True
    config.disable_ssl = True
    config.retry_max_attempts = 1
    return oss.Client(config)


def service_error(call: Any) -> Any:
    import alibabacloud_oss_v2 as oss

    with pytest.raises(oss.exceptions.OperationError) as caught:
        call()
    error = caught.value.unwrap()
    assert isinstance(error, oss.exceptions.ServiceError), error
    return error


def put(client: Any, key: str, body: bytes, **kwargs: Any) -> Any:
    import alibabacloud_oss_v2 as oss

    return client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=body, **kwargs))


@pytest.fixture
def client(fresh: RunningEmulator) -> Any:
    import alibabacloud_oss_v2 as oss

    sdk = oss_client(fresh.url)
    result = sdk.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    assert result.status_code == 200
    return sdk


def test_put_get_head_delete(client: Any, fresh: RunningEmulator) -> None:
    import alibabacloud_oss_v2 as oss

    body = b"frames of episode 3"
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest().upper()
    written = put(client, "raw/ep 3 (final).mp4", body, content_type="video/mp4")
    assert written.status_code == 200
    assert written.etag == f'"{md5}"'
    assert written.request_id

    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="raw/ep 3 (final).mp4"))
    assert got.body.read() == body
    assert (got.etag, got.content_type, got.content_length) == (f'"{md5}"', "video/mp4", len(body))

    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="raw/ep 3 (final).mp4"))
    assert (head.etag, head.content_length, head.object_type) == (f'"{md5}"', len(body), "Normal")
    assert client.is_object_exist(BUCKET, "raw/ep 3 (final).mp4") is True

    deleted = client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="raw/ep 3 (final).mp4"))
    assert deleted.status_code == 204
    assert client.is_object_exist(BUCKET, "raw/ep 3 (final).mp4") is False
    missing = service_error(lambda: client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="raw/ep3.mp4")))
    assert (missing.status_code, missing.code) == (404, "NoSuchKey")
    head_missing = service_error(lambda: client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="raw/x.mp4")))
    assert (head_missing.status_code, head_missing.code) == (404, "NoSuchKey")  # from the x-oss-err header
    # Deleting what is not there succeeds, as on OSS.
    assert client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="raw/x.mp4")).status_code == 204
    assert fresh.control.stats()["actions"]["PutObject"]["successes"] == 1


def test_forbid_overwrite_is_a_create_only_write(client: Any) -> None:
    put(client, "state/v1.json", b"{}", forbid_overwrite=True)
    error = service_error(lambda: put(client, "state/v1.json", b'{"serial": 2}', forbid_overwrite=True))
    assert (error.status_code, error.code) == (409, "FileAlreadyExists")
    assert put(client, "state/v1.json", b'{"serial": 3}', forbid_overwrite=False).status_code == 200


def test_list_objects_v2_paginates_with_prefix_and_delimiter(client: Any) -> None:
    import alibabacloud_oss_v2 as oss

    keys = [f"shows/s1/ep-{i:02d}.mp4" for i in range(7)] + ["shows/s2/ep-00.mp4", "shows/top.mp4", "other/x.mp4"]
    for key in keys:
        put(client, key, key.encode())

    paginator = client.list_objects_v2_paginator(limit=3)
    pages = list(paginator.iter_page(oss.ListObjectsV2Request(bucket=BUCKET, prefix="shows/s1/")))
    assert [[o.key for o in page.contents] for page in pages] == [
        [f"shows/s1/ep-{i:02d}.mp4" for i in (0, 1, 2)],
        [f"shows/s1/ep-{i:02d}.mp4" for i in (3, 4, 5)],
        ["shows/s1/ep-06.mp4"],
    ]
    assert [(p.is_truncated, p.key_count) for p in pages] == [(True, 3), (True, 3), (False, 1)]
    first = pages[0].contents[0]
    assert first.size == len(first.key) and first.etag.startswith('"') and first.storage_class == "Standard"

    grouped = client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, prefix="shows/", delimiter="/"))
    assert [p.prefix for p in grouped.common_prefixes] == ["shows/s1/", "shows/s2/"]
    assert [o.key for o in grouped.contents] == ["shows/top.mp4"]
    assert grouped.key_count == 3 and grouped.is_truncated is False

    bad = service_error(lambda: client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, max_keys=1001)))
    assert (bad.status_code, bad.code) == (400, "InvalidArgument")


def test_missing_bucket_and_existing_bucket(client: Any) -> None:
    import alibabacloud_oss_v2 as oss

    error = service_error(lambda: client.list_objects_v2(oss.ListObjectsV2Request(bucket="nobody-here")))
    assert (error.status_code, error.code) == (404, "NoSuchBucket")
    error = service_error(lambda: client.put_bucket(oss.PutBucketRequest(bucket=BUCKET)))
    assert (error.status_code, error.code) == (409, "BucketAlreadyExists")


def test_wrong_secret_is_signature_does_not_match(fresh: RunningEmulator) -> None:
    import alibabacloud_oss_v2 as oss

    client = oss_client(fresh.url, secret="not-the-secret")
    error = service_error(lambda: client.put_bucket(oss.PutBucketRequest(bucket=BUCKET)))
    assert (error.status_code, error.code) == (403, "SignatureDoesNotMatch")
    assert error.error_fileds["StringToSign"].startswith("OSS4-HMAC-SHA256\n")


def test_register_media_needs_the_uploaded_object(client: Any, fresh: RunningEmulator) -> None:
    from alibabacloud_vod20170321 import models as vod

    put(client, "raw/uploaded.mp4", b"video")
    base = f"https://{BUCKET}.oss-cn-shanghai.aliyuncs.com/raw"
    metadatas = json.dumps([{"FileURL": f"{base}/{name}", "Title": name} for name in ("uploaded.mp4", "ghost.mp4")])
    body = vod_client(fresh.url).register_media(vod.RegisterMediaRequest(register_metadatas=metadatas)).body
    assert [m.file_url for m in body.registered_media_list] == [f"{base}/uploaded.mp4"]
    assert body.failed_file_urls == [f"{base}/ghost.mp4"]
