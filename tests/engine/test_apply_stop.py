"""Ctrl-C during apply, through the real client in virtual time: once the session is stopped, the calls
waiting for their pacing turn are never sent (not attempted), and those on the wire finish and are recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.engine.apply import apply_plan
from tests.cloud.fakes import KEY_ID, SECRET, FakeApi, Seen, VirtualClock, ok
from tests.engine.test_apply import MemoryStore, Recorder, plan_of, registers

ON_THE_WIRE = 0.2  # seconds each RegisterMedia takes to answer
STOP_AT = 0.5  # virtual seconds into the apply when Ctrl-C comes


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    virtual = VirtualClock(asyncio.get_running_loop())
    virtual.install()
    try:
        yield virtual
    finally:
        virtual.uninstall()


async def registered(seen: Seen) -> httpx.Response:
    await asyncio.sleep(ON_THE_WIRE)
    urls = [item["FileURL"] for item in json.loads(seen.params["RegisterMetadatas"])]
    media = [{"MediaId": f"m-{u.rsplit('/', 1)[1]}", "FileURL": u, "NewRegister": True} for u in urls]
    return ok({"RegisteredMediaList": media, "FailedFileURLs": []})


async def test_ctrl_c_sends_no_call_still_waiting_for_its_pacing_turn(clock: VirtualClock) -> None:
    api = FakeApi(clock.monotonic, default=registered)
    store = MemoryStore()
    media, calls = registers([f"v{i:03}.mp4" for i in range(300)])
    stop = asyncio.Event()
    async with CloudSession(
        ClientSettings(), StaticCredentials(KEY_ID, SECRET), transport=api.transport(), clock=clock
    ) as session:

        def ctrl_c() -> None:  # what the CLI's SIGINT handler does on the first Ctrl-C
            stop.set()
            session.stop_new_requests()

        asyncio.get_running_loop().call_later(STOP_AT, ctrl_c)
        hooks = Recorder()
        result = await apply_plan(
            plan_of(media, calls), session.client, store, hooks=hooks, stop=stop, qps=session.settings.qps_limit
        )

    # all 30 calls were started at once (waiting in the client's pacer); only those sent by the stop went out:
    # the first alone at 0 s, then after its answer (0.2 s) one every 1/48.5 s up to 0.5 s
    assert sum(1 for e in hooks.events if type(e).__name__ == "BatchStarted") == 30
    sent = [s.time for s in api.calls("RegisterMedia")]
    assert len(sent) == 16 and max(sent) <= STOP_AT
    assert result.calls_made == {"RegisterMedia": 16}
    assert result.outcome_counts == {"done": 160, "adopted": 0, "failed": 0, "not_attempted": 140}
    assert result.stopped_on_request and result.aborted == "stopped on request"
    assert {r.message for r in result.resources if r.outcome == "not_attempted"} == {
        "not attempted: the apply was stopped"
    }
    assert len(store.resources()) == 160  # everything on the wire at the stop finished and was recorded
    assert clock.monotonic() == pytest.approx(max(sent) + ON_THE_WIRE, abs=0.01)
