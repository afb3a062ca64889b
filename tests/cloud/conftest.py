"""Fixtures for the cloud client: virtual time, a scripted API behind httpx.MockTransport, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from tests.cloud.fakes import KEY_ID, SECRET, FakeApi, VirtualClock


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    virtual = VirtualClock(asyncio.get_running_loop())
    virtual.install()
    try:
        yield virtual
    finally:
        virtual.uninstall()


@pytest.fixture
def api(clock: VirtualClock) -> FakeApi:
    return FakeApi(clock.monotonic)


SessionFactory = Callable[..., CloudSession]


@pytest.fixture
def make_session(api: FakeApi, clock: VirtualClock) -> SessionFactory:
    """A session over the fake API in virtual time; keyword arguments become ClientSettings fields."""

    def make(*, credentials: StaticCredentials | None = None, **settings: Any) -> CloudSession:
        return CloudSession(
            ClientSettings(**settings),
            credentials or StaticCredentials(KEY_ID, SECRET),
            transport=api.transport(),
            clock=clock,
        )

    return make
