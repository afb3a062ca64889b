"""Test doubles for the cloud client: virtual time and a scripted API behind httpx.MockTransport."""

from __future__ import annotations

import asyncio
import itertools
import json
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from reconcile.cloud.errors import CATALOGUE

KEY_ID = "LTAI5tTestKeyId0001"
SECRET = "TestSecret-s3cr3t-VALUE-0123456789"
TOKEN = "CAIS+sts/token==with*odd~chars and spaces"


class VirtualClock:
    """Virtual time for the running event loop: it jumps to the next timer whenever every task waits.

    The loop's `time()` and its selector are patched, so `asyncio.sleep`, `call_later` and this clock's
    `monotonic()` all read the same virtual seconds, and a test of minutes of pacing runs in milliseconds.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.now = 0.0
        self._loop = loop
        self._selector: selectors.BaseSelector = loop._selector  # type: ignore[attr-defined]
        self._real_select = self._selector.select

    def install(self) -> None:
        self._loop.time = self.monotonic  # type: ignore[method-assign]
        self._selector.select = self._select  # type: ignore[method-assign]

    def uninstall(self) -> None:
        del self._loop.time
        self._selector.select = self._real_select  # type: ignore[method-assign]

    def _select(self, timeout: float | None = None) -> list[Any]:
        events = self._real_select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # no timer at all: only another thread can wake the loop
            return self._real_select(None)
        self.now += timeout
        return []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass
class Seen:
    """One request as the fake API received it, decoded."""

    time: float
    request: httpx.Request
    action: str
    params: dict[str, str]  # operation parameters (form body)
    query: dict[str, str]

    @property
    def headers(self) -> httpx.Headers:
        return self.request.headers


def decode_request(request: httpx.Request, now: float) -> Seen:
    query = dict(parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True))
    params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    action = request.headers.get("x-acs-action") or query.get("Action", "")
    return Seen(now, request, action, params, query)


request_ids = (f"{n:08X}-0000-4000-8000-000000000000" for n in itertools.count(1))


def ok(body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"RequestId": next(request_ids), **(body or {})}, headers=headers)


def api_error(code: str, status: int | None = None, message: str | None = None, **headers: str) -> httpx.Response:
    spec = CATALOGUE.get(code)
    body = {
        "RequestId": next(request_ids),
        "HostId": "vod.cn-shanghai.aliyuncs.com",
        "Code": code,
        "Message": message if message is not None else (spec.message if spec else f"{code} happened."),
    }
    return httpx.Response(status or (spec.status if spec else 400), json=body, headers=headers)


Reply = httpx.Response | BaseException | Callable[[Seen], Any]


@dataclass
class FakeApi:
    """Answers each request with the next scripted reply for its action (or `default`), and records it.

    A reply may be a response, an exception to raise (a transport failure), or a function of the
    request (sync or async) returning a response.
    """

    clock: Callable[[], float]
    default: Callable[[Seen], httpx.Response] = field(default=lambda seen: ok())
    script: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    answered: list[httpx.Response] = field(default_factory=list)

    @property
    def last_request_id(self) -> str:
        return str(json.loads(self.answered[-1].content)["RequestId"])

    def then(self, action: str, *replies: Reply) -> FakeApi:
        self.script.setdefault(action, []).extend(replies)
        return self

    def calls(self, action: str | None = None) -> list[Seen]:
        return [s for s in self.seen if action is None or s.action == action]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._reply(request)
        self.answered.append(response)
        return response

    async def _reply(self, request: httpx.Request) -> httpx.Response:
        seen = decode_request(request, self.clock())
        self.seen.append(seen)
        queue = self.script.get(seen.action)
        reply: Reply = queue.pop(0) if queue else self.default
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            result = reply(seen)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, httpx.Response)
            return result
        return reply

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def body_json(seen: Seen, name: str) -> Any:
    return json.loads(seen.params[name])
