"""Error mapping for every code of API.md section 6 and of the shared CATALOGUE: the exception the
caller gets, what it carries, and whether the client retried it."""

from __future__ import annotations

import httpx
import pytest

from reconcile.cloud.errors import (
    CATALOGUE,
    ApiError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
)
from tests.cloud.conftest import SessionFactory
from tests.cloud.fakes import FakeApi, api_error

# code → (HTTP status, exception class, attempts made with max_attempts=3)
EXPECTED: dict[str, tuple[int, type[ApiError], int]] = {
    "MissingParameter": (400, InvalidRequestError, 1),
    "InvalidParameter": (400, InvalidRequestError, 1),
    "InvalidVersion": (400, InvalidRequestError, 1),
    "InvalidParameter.BucketNameInvalid": (400, InvalidRequestError, 1),
    "InvalidParameter.NullValue": (400, InvalidRequestError, 1),
    "InvalidParameter.EmptyValue": (400, InvalidRequestError, 1),
    "InvalidParameter.JsonFormatInvalid": (400, InvalidRequestError, 1),
    "CountExceededMax": (400, InvalidRequestError, 1),
    "VideoIdsExceededMax": (400, InvalidRequestError, 1),
    "SignatureDoesNotMatch": (400, AuthenticationError, 1),
    "InvalidAccessKeyId.NotFound": (404, AuthenticationError, 1),
    "InvalidAccessKeySecret": (400, AuthenticationError, 1),
    "InvalidTimeStamp.Expired": (400, AuthenticationError, 1),
    "InvalidTimeStamp.Format": (400, AuthenticationError, 1),
    "IncompleteSignature": (400, AuthenticationError, 1),
    "InvalidSecurityToken.Expired": (400, AuthenticationError, 1),
    "SignatureNonceUsed": (400, AuthenticationError, 2),  # one more try with a fresh nonce
    "Forbidden": (403, ForbiddenError, 1),
    "OperationDenied": (403, ForbiddenError, 1),
    "OperationDenied.Suspended": (403, ForbiddenError, 1),
    "PermissionDenied.ResourceAccess": (403, ForbiddenError, 1),
    "InvalidIdentity.ServiceDisabled": (403, ForbiddenError, 1),
    "InvalidAction.NotFound": (404, NotFoundError, 1),
    "InvalidVideo.NotFound": (404, NotFoundError, 1),
    "InvalidFile.NotFound": (404, NotFoundError, 1),
    "InvalidParameter.ResourceNotFound": (404, NotFoundError, 1),
    "Bucket.AlreadyBind": (400, ConflictError, 1),
    "Throttling.User": (400, ThrottledError, 3),
    "Throttling": (503, ThrottledError, 3),
    "Throttling.Api": (400, ThrottledError, 3),
    "Rejected.Throttling": (400, ThrottledError, 3),
    "InternalError": (500, ServerError, 3),
    "ServiceUnavailable": (503, ServerError, 3),
    "ServiceUnAvailable": (503, ServerError, 3),  # VOD's spelling
    "DeleteVideoFailed": (503, ServerError, 3),
    "SomeUnlistedFailure": (502, ServerError, 3),  # any 5xx
    "SomeUnlistedRefusal": (400, InvalidRequestError, 1),
}


def test_every_catalogue_code_is_covered_with_its_status() -> None:
    assert set(CATALOGUE) <= set(EXPECTED)
    for code, spec in CATALOGUE.items():
        assert EXPECTED[code][0] == spec.status, code


@pytest.mark.parametrize("code", sorted(EXPECTED))
async def test_error_mapping(make_session: SessionFactory, api: FakeApi, code: str) -> None:
    status, error_class, attempts = EXPECTED[code]
    api.default = lambda seen: api_error(code, status, message=f"{code} message.")
    async with make_session(max_attempts=3) as session:
        with pytest.raises(ApiError) as raised:
            await session.client("cn-shanghai").delete_video(["3f9a0c1d2b4e4f6a8b7c6d5e4f3a2b1c"])
    error = raised.value
    assert type(error) is error_class
    assert (error.code, error.status, error.message, error.action) == (code, status, f"{code} message.", "DeleteVideo")
    assert error.request_id == api.last_request_id
    assert len(api.seen) == attempts == error.attempts
    suffix = f" after {attempts} attempts" if attempts > 1 else ""
    assert str(error) == f"DeleteVideo: {code} (HTTP {status}): {code} message. (request id {error.request_id}){suffix}"
    stats = session.stats.of("DeleteVideo")
    assert (stats.calls, stats.retries, stats.errors) == (attempts, attempts - 1, 1)
    assert stats.throttled == (attempts if error_class is ThrottledError else 0)


async def test_request_id_from_the_header_when_the_body_has_none(make_session: SessionFactory, api: FakeApi) -> None:
    api.default = lambda seen: httpx.Response(
        404,
        json={"Code": "InvalidVideo.NotFound", "Message": "The video does not exist."},
        headers={"x-acs-request-id": "HDR-1"},
    )
    async with make_session() as session:
        with pytest.raises(NotFoundError) as raised:
            await session.client("cn-shanghai").get_mezzanine_info("3f9a0c1d2b4e4f6a8b7c6d5e4f3a2b1c")
    assert raised.value.request_id == "HDR-1"
