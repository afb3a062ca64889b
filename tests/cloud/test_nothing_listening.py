"""A loopback endpoint where nothing listens (the emulator is not running) fails fast and says so."""

from __future__ import annotations

import socket

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.errors import NothingListeningError
from reconcile.cloud.settings import ClientSettings


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_loopback_port_is_tried_twice_then_named() -> None:
    endpoint = f"http://127.0.0.1:{closed_loopback_port()}"
    settings = ClientSettings(endpoint=endpoint)
    async with CloudSession(settings, credentials=StaticCredentials("id", "secret")) as session:
        with pytest.raises(NothingListeningError) as raised:
            await session.client("cn-shanghai").list_all_media_buckets()
        stats = session.stats.of("ListAllMediaBucket")
    assert str(raised.value) == (
        f"ListAllMediaBucket: nothing is listening at {endpoint} (start the emulator with `reconcile emulator`, "
        "or fix --endpoint / RECONCILE_ENDPOINT): connection refused after 2 attempts"
    )
    assert (stats.calls, stats.retries, stats.errors) == (2, 1, 1)
