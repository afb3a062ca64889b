"""The errors the emulated services answer with. Codes, statuses and messages come from the client's
catalogue (`reconcile.cloud.errors.CATALOGUE`), so the emulator and the client never disagree."""

from __future__ import annotations

from reconcile.cloud.errors import CATALOGUE


class ServiceError(Exception):
    """An error envelope the service would answer with: the backend raises it, the gateway serialises it."""

    def __init__(self, code: str, *, status: int | None = None, message: str | None = None, **fields: str) -> None:
        if status is None or message is None:
            spec = CATALOGUE.get(code)
            if spec is None:
                raise KeyError(f"{code} is not in the error catalogue: give its status and message")
            status = spec.status if status is None else status
            message = spec.message.format(**fields) if message is None else message
        self.code = code
        self.status = status
        self.message = message
        self.retry_after_ms: int | None = None  # sent as x-acs-retry-after with throttling errors
        super().__init__(f"{code} ({status}): {message}")


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", name=name)


def invalid_parameter(name: str) -> ServiceError:
    return ServiceError("InvalidParameter", name=name)
