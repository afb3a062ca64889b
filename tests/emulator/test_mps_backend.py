"""MPS media-bucket rules of the backend (API.md section 4)."""

from __future__ import annotations

import pytest

from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.exceptions import ServiceError


@pytest.fixture
def backend() -> EmulatorBackend:
    return EmulatorBackend(ManualClock(), seed=1)


def error_of(excinfo: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int, str]:
    return excinfo.value.code, excinfo.value.status, excinfo.value.message


def test_bind_input_then_list_shows_type_and_referer(backend: EmulatorBackend) -> None:
    backend.mps.bind_input_bucket("media-in", referer="https://www.example.org")
    backend.mps.bind_output_bucket("media-out")
    page = backend.mps.list_all_media_bucket()
    assert [(b.bucket, b.type, b.referer) for b in page.buckets] == [
        ("media-in", "Input", "https://www.example.org"),
        ("media-out", "Output", None),
    ]
    assert page.next_page_token is None


@pytest.mark.parametrize("second", ["input", "output"])
def test_a_bucket_is_bound_once_whatever_the_type(backend: EmulatorBackend, second: str) -> None:
    backend.mps.bind_input_bucket("media-in")
    bind = backend.mps.bind_input_bucket if second == "input" else backend.mps.bind_output_bucket
    with pytest.raises(ServiceError) as excinfo:
        bind("media-in")
    assert error_of(excinfo) == (
        "Bucket.AlreadyBind",
        400,
        'Bucket "media-in" already binded to media store,can not bind twice',
    )


def test_unbinding_an_unbound_bucket_is_resource_not_found(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.mps.unbind_input_bucket("media-in")
    assert error_of(excinfo) == (
        "InvalidParameter.ResourceNotFound",
        404,
        'The resource operated "media-in" cannot be found.',
    )


def test_unbinding_with_the_wrong_type_is_resource_not_found(backend: EmulatorBackend) -> None:
    backend.mps.bind_output_bucket("media-out")
    with pytest.raises(ServiceError) as excinfo:
        backend.mps.unbind_input_bucket("media-out")
    assert excinfo.value.code == "InvalidParameter.ResourceNotFound"
    backend.mps.unbind_output_bucket("media-out")
    assert backend.mps.bindings() == []


def test_unbind_then_bind_again_is_allowed(backend: EmulatorBackend) -> None:
    backend.mps.bind_input_bucket("media-in")
    backend.mps.unbind_input_bucket("media-in", role_arn="acs:ram::1:role/x")
    backend.mps.bind_output_bucket("media-in")
    assert [(b.bucket, b.type) for b in backend.mps.bindings()] == [("media-in", "Output")]


@pytest.mark.parametrize("name", ["Media", "-media", "media-", "me_dia", "a" * 65, "media.bucket", "médias"])
def test_invalid_bucket_names_are_rejected(backend: EmulatorBackend, name: str) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.mps.bind_input_bucket(name)
    assert error_of(excinfo) == (
        "InvalidParameter.BucketNameInvalid",
        400,
        'The specified parameter "Bucket" is not valid.',
    )


@pytest.mark.parametrize("name", ["a", "a1", "media-in-2024", "a" * 64])
def test_valid_bucket_names_bind(backend: EmulatorBackend, name: str) -> None:
    backend.mps.bind_input_bucket(name)
    assert [b.bucket for b in backend.mps.bindings()] == [name]


def test_pagination_walks_every_bucket_in_bind_order(backend: EmulatorBackend) -> None:
    names = [f"bucket-{i:03d}" for i in range(7)]
    for name in names:
        backend.mps.bind_input_bucket(name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = backend.mps.list_all_media_bucket(token, maximum_page_size=3)
        seen += [b.bucket for b in page.buckets]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == names
    assert pages == 3


def test_a_page_token_survives_unbinding_between_pages(backend: EmulatorBackend) -> None:
    for name in ["b-1", "b-2", "b-3", "b-4"]:
        backend.mps.bind_input_bucket(name)
    first = backend.mps.list_all_media_bucket(maximum_page_size=2)
    backend.mps.unbind_input_bucket("b-3")
    second = backend.mps.list_all_media_bucket(first.next_page_token, maximum_page_size=2)
    assert [b.bucket for b in second.buckets] == ["b-4"]
    assert second.next_page_token is None


def test_exactly_full_last_page_has_no_token(backend: EmulatorBackend) -> None:
    for name in ["b-1", "b-2"]:
        backend.mps.bind_input_bucket(name)
    page = backend.mps.list_all_media_bucket(maximum_page_size=2)
    assert page.next_page_token is None


@pytest.mark.parametrize("size", [0, 101, -1])
def test_page_size_out_of_range_is_invalid(backend: EmulatorBackend, size: int) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.mps.list_all_media_bucket(maximum_page_size=size)
    assert error_of(excinfo) == ("InvalidParameter", 400, 'The specified parameter "MaximumPageSize" is not valid.')


@pytest.mark.parametrize("token", ["garbage!", "bm90LWEtdG9rZW4", ""])
def test_unknown_page_token_is_invalid(backend: EmulatorBackend, token: str) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.mps.list_all_media_bucket(token)
    assert excinfo.value.code == "InvalidParameter"
    assert "NextPageToken" in excinfo.value.message
