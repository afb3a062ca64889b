"""alibabacloud-mts20140618 against the emulator: every bucket operation, in the SDK's own models."""

from __future__ import annotations

import pytest
from alibabacloud_mts20140618 import models as mts
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

from reconcile.emulator.process import RunningEmulator, start_emulator
from tests.conformance.conftest import mts_client

pytestmark = pytest.mark.conformance


def test_bind_list_unbind_round_trip(fresh: RunningEmulator) -> None:
    client = mts_client(fresh.url)
    response = client.bind_input_bucket(
        mts.BindInputBucketRequest(bucket="media-in", referer="https://www.example.org")
    )
    assert isinstance(response.body, mts.BindInputBucketResponseBody)
    assert response.status_code == 200 and len(response.body.request_id) == 36
    client.bind_output_bucket(mts.BindOutputBucketRequest(bucket="media-out"))

    listed = client.list_all_media_bucket(mts.ListAllMediaBucketRequest(maximum_page_size=1))
    first = listed.body.media_bucket_list.media_bucket
    assert [(b.bucket, b.type, b.referer) for b in first] == [("media-in", "Input", "https://www.example.org")]
    assert listed.body.next_page_token
    rest = client.list_all_media_bucket(
        mts.ListAllMediaBucketRequest(maximum_page_size=1, next_page_token=listed.body.next_page_token)
    )
    assert [(b.bucket, b.type) for b in rest.body.media_bucket_list.media_bucket] == [("media-out", "Output")]
    assert not rest.body.next_page_token

    client.unbind_input_bucket(mts.UnbindInputBucketRequest(bucket="media-in"))
    client.unbind_output_bucket(mts.UnbindOutputBucketRequest(bucket="media-out"))
    assert fresh.control.state()["buckets"] == []


def test_binding_twice_is_already_bind(fresh: RunningEmulator) -> None:
    client = mts_client(fresh.url)
    client.bind_input_bucket(mts.BindInputBucketRequest(bucket="media"))
    with pytest.raises(ClientException) as excinfo:
        client.bind_output_bucket(mts.BindOutputBucketRequest(bucket="media"))
    error = excinfo.value
    assert (error.status_code, error.code) == (400, "Bucket.AlreadyBind")
    assert error.data["Message"] == 'Bucket "media" already binded to media store,can not bind twice'


def test_unbinding_an_unbound_bucket_and_invalid_names(fresh: RunningEmulator) -> None:
    client = mts_client(fresh.url)
    with pytest.raises(ClientException) as excinfo:
        client.unbind_input_bucket(mts.UnbindInputBucketRequest(bucket="nothing-here"))
    assert (excinfo.value.status_code, excinfo.value.code) == (404, "InvalidParameter.ResourceNotFound")
    with pytest.raises(ClientException) as excinfo:
        client.bind_input_bucket(mts.BindInputBucketRequest(bucket="Bad_Name"))
    assert excinfo.value.code == "InvalidParameter.BucketNameInvalid"


def test_v1_signing_is_accepted_too(fresh: RunningEmulator) -> None:
    client = mts_client(fresh.url, signature_algorithm="v2")
    client.bind_input_bucket(mts.BindInputBucketRequest(bucket="via-v1"))
    listed = client.list_all_media_bucket(mts.ListAllMediaBucketRequest())
    assert [b.bucket for b in listed.body.media_bucket_list.media_bucket] == ["via-v1"]


def test_a_wrong_secret_is_rejected_with_the_server_string_to_sign(fresh: RunningEmulator) -> None:
    for algorithm in (None, "v2"):
        client = mts_client(fresh.url, secret="not-the-secret", signature_algorithm=algorithm)
        with pytest.raises(ClientException) as excinfo:
            client.list_all_media_bucket(mts.ListAllMediaBucketRequest())
        assert (excinfo.value.status_code, excinfo.value.code) == (400, "SignatureDoesNotMatch")
        assert "server string to sign is:" in excinfo.value.data["Message"]


def test_a_burst_over_the_limit_is_throttled_with_503() -> None:
    # ListAllMediaBucket: 10/s, scaled to 1/s so the burst is certain to land within one window.
    with start_emulator(qps_scale=0.1) as emulator:
        client = mts_client(emulator.url)
        client.list_all_media_bucket(mts.ListAllMediaBucketRequest())
        with pytest.raises(ThrottlingException) as excinfo:
            client.list_all_media_bucket(mts.ListAllMediaBucketRequest())
    # x-acs-retry-after turns the SDK's error into ThrottlingException with the wait in milliseconds.
    assert (excinfo.value.status_code, excinfo.value.code) == (503, "Throttling")
    assert 0 < excinfo.value.retry_after <= 1000
