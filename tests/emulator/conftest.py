"""In-process emulator fixtures: an app on a virtual clock, and a client that signs with V3 by default."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.config import EmulatorConfig
from tests.emulator import signer


class Caller:
    """Signs and sends API calls to an in-process emulator; returns (status, JSON body)."""

    def __init__(self, client: httpx.AsyncClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self.client.send(request)

    async def call(self, action: str, params: Mapping[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
        request = signer.v3_request(action, params or {}, now=self.clock.time(), **kwargs)
        response = await self.client.send(request)
        return response.status_code, response.json()

    async def ok(self, action: str, params: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        status, body = await self.call(action, params, **kwargs)
        assert status == 200, body
        return body

    async def register(self, *urls: str, title: str = "t", **params: str) -> Any:
        metadatas = json.dumps([{"FileURL": url, "Title": title} for url in urls])
        return await self.ok("RegisterMedia", {"RegisterMetadatas": metadatas, **params})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(clock: ManualClock) -> EmulatorConfig:
    return EmulatorConfig(clock=clock, seed=7, auto_objects=True)


@pytest.fixture
def app(config: EmulatorConfig) -> EmulatorApp:
    return create_app(config)


@pytest.fixture
async def caller(app: EmulatorApp, clock: ManualClock) -> AsyncIterator[Caller]:
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://127.0.0.1:8765") as client:
        yield Caller(client, clock)
