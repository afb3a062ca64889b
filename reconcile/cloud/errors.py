"""The error catalogue of the MPS and VOD APIs and the exception tree the client raises.

    CloudError                      anything that went wrong talking to the cloud
    ├── ApiError                    the service answered with an error envelope (code, message, request id, status)
    │   ├── NotFoundError           InvalidVideo.NotFound, InvalidParameter.ResourceNotFound, ...
    │   ├── ConflictError           Bucket.AlreadyBind
    │   ├── ThrottledError          Throttling, Throttling.User, Throttling.Api, Rejected.Throttling (retried)
    │   ├── AuthenticationError     SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, InvalidTimeStamp.Expired, ...
    │   ├── ForbiddenError          Forbidden, OperationDenied, PermissionDenied.*
    │   ├── InvalidRequestError     MissingParameter, InvalidParameter.*, CountExceededMax, ...
    │   └── ServerError             any HTTP 5xx: InternalError, ServiceUnavailable, DeleteVideoFailed (retried)
    ├── TransportError              connect, timeout, reset, or a response that is not the API's (retried)
    │   └── NothingListeningError   a loopback endpoint refused the connection: no emulator there (retried once)
    └── RequestNotSent              the session stopped sending before this request went out (not retried)

The catalogue (`CATALOGUE`) is also what the emulator answers with, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    status: int
    message: str  # a str.format template; placeholders are named


CATALOGUE: dict[str, ErrorSpec] = {
    spec.code: spec
    for spec in [
        # Gateway (both products)
        ErrorSpec(
            "MissingParameter",
            400,
            'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
        ),
        ErrorSpec("InvalidParameter", 400, 'The specified parameter "{name}" is not valid.'),
        ErrorSpec(
            "SignatureDoesNotMatch",
            400,
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
        ),
        ErrorSpec("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
        ErrorSpec("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
        ErrorSpec("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
        ErrorSpec("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
        ErrorSpec("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards. {detail}"),
        ErrorSpec("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
        ErrorSpec("InvalidVersion", 400, 'Specified parameter Version "{version}" is not valid.'),
        ErrorSpec("Forbidden", 403, "User not authorized to operate on the specified resource."),
        ErrorSpec("OperationDenied", 403, "The service is not activated."),
        ErrorSpec("OperationDenied.Suspended", 403, "Your account has been suspended."),
        ErrorSpec("InternalError", 500, "The request processing has failed due to some unknown error."),
        ErrorSpec("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."),
        # Throttling: VOD answers Throttling.User with 400; MPS answers Throttling (emulator: 503).
        ErrorSpec("Throttling.User", 400, "Request was denied due to user flow throttling."),
        ErrorSpec("Throttling", 503, "Request was denied due to request throttling."),
        ErrorSpec("Throttling.Api", 400, "Request was denied due to api flow throttling."),
        # MPS
        ErrorSpec("InvalidParameter.BucketNameInvalid", 400, 'The specified parameter "Bucket" is not valid.'),
        ErrorSpec("InvalidParameter.NullValue", 400, 'The specified parameter "{name}" must not be null.'),
        ErrorSpec("InvalidParameter.EmptyValue", 400, 'The specified parameter "{name}" must not be empty.'),
        ErrorSpec("InvalidParameter.JsonFormatInvalid", 400, 'The specified parameter "{name}" is not a valid JSON.'),
        ErrorSpec("InvalidParameter.ResourceNotFound", 404, 'The resource operated "{name}" cannot be found.'),
        ErrorSpec("Bucket.AlreadyBind", 400, 'Bucket "{name}" already binded to media store,can not bind twice'),
        ErrorSpec("PermissionDenied.ResourceAccess", 403, "The resource operated cannot be accessed."),
        ErrorSpec("InvalidIdentity.ServiceDisabled", 403, "The service is disabled."),
        # VOD
        ErrorSpec("InvalidVideo.NotFound", 404, "The video does not exist."),
        ErrorSpec("InvalidFile.NotFound", 404, "The file does not exist."),
        ErrorSpec("CountExceededMax", 400, 'The count of "{name}" exceeded maximum.'),
        ErrorSpec("VideoIdsExceededMax", 400, "The VideoIds exceeded maximum."),
        ErrorSpec("DeleteVideoFailed", 503, "Delete video failed."),
    ]
}

THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling"})
AUTHENTICATION_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId",
        "InvalidAccessKeySecret",
        "InvalidTimeStamp.Expired",
        "InvalidTimeStamp.Format",
        "IncompleteSignature",
        "SignatureNonceUsed",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "InvalidSecurityToken.Malformed",
    }
)
CONFLICT_CODES = frozenset({"Bucket.AlreadyBind"})
FORBIDDEN_CODES = frozenset(
    {"Forbidden", "OperationDenied", "OperationDenied.Suspended", "PermissionDenied.ResourceAccess"}
)


class CloudError(Exception):
    """Anything that went wrong talking to the cloud."""

    # Set by the client on the error a call finally fails with.
    attempts: int = 1  # attempts made, the first included
    # True when an earlier attempt failed in a way that leaves open whether the service acted on it
    # (timeout, reset, 5xx): a later Bucket.AlreadyBind may then be this call's own doing.
    earlier_attempt_may_have_succeeded: bool = False

    def _attempts_note(self) -> str:
        return f" after {self.attempts} attempts" if self.attempts > 1 else ""


@dataclass(eq=False, repr=False)  # compared and shown as the exception it is
class ApiError(CloudError):
    """The service answered with an error envelope."""

    code: str
    message: str
    _: KW_ONLY
    request_id: str | None = None
    status: int = 400
    action: str | None = None
    retry_after_ms: int | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.action}: " if self.action else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{where}{self.code} (HTTP {self.status}): {self.message}{rid}{self._attempts_note()}"


class NotFoundError(ApiError):
    """The resource, action or access key named by the request does not exist."""


class ConflictError(ApiError):
    """The request conflicts with existing state, e.g. Bucket.AlreadyBind."""


class ThrottledError(ApiError):
    """The service's flow control rejected the request; retried with backoff."""


class AuthenticationError(ApiError):
    """Signature, access key, timestamp, nonce or token was rejected."""


class ForbiddenError(ApiError):
    """The caller is not allowed to do this."""


class InvalidRequestError(ApiError):
    """A parameter is missing, malformed or over a limit."""


class ServerError(ApiError):
    """HTTP 5xx from the service; retried with backoff."""


class TransportError(CloudError):
    """The request got no valid API response: connect failure, timeout, reset or a foreign response."""

    def __init__(self, message: str, *, action: str | None = None, may_have_reached_server: bool = True) -> None:
        self.action = action
        # False only when the request surely never left (the connection could not be made).
        self.may_have_reached_server = may_have_reached_server
        super().__init__(f"{action}: {message}" if action else message)

    def __str__(self) -> str:
        return f"{super().__str__()}{self._attempts_note()}"


class NothingListeningError(TransportError):
    """A loopback endpoint refused the connection: nothing listens there (the emulator is not running, or
    the port is wrong). Retried once, in case it was still starting, instead of for the whole backoff budget."""


class RequestNotSent(CloudError):
    """The session was told to stop sending (`CloudSession.stop_new_requests`) before this request went out:
    the service never saw it. Never retried."""

    def __init__(self, action: str | None = None) -> None:
        self.action = action
        where = f"{action}: " if action else ""
        super().__init__(f"{where}not sent: the session stopped sending new requests")


def classify(code: str, status: int) -> type[ApiError]:
    """The exception class for an error envelope with this code and HTTP status."""
    if code in THROTTLING_CODES or "Throttling" in code:
        return ThrottledError
    if status >= 500 or code.lower() == "serviceunavailable":
        return ServerError
    if code in AUTHENTICATION_CODES:
        return AuthenticationError
    if code in CONFLICT_CODES:
        return ConflictError
    if code in FORBIDDEN_CODES or status == 403:
        return ForbiddenError
    if code.endswith("NotFound") or status == 404:
        return NotFoundError
    return InvalidRequestError


def is_retryable(error: CloudError) -> bool:
    """Throttling, any 5xx and transport failures are worth another attempt; nothing else is."""
    return isinstance(error, ThrottledError | ServerError | TransportError)
