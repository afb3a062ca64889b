"""The search read path is exact: refresh() equals a refresh that reads every media with GetVideoInfos, under
a lagging search index, after changes made outside reconcile, and with unmanaged media in the same buckets.

The emulator runs on a manual clock with `search_lag` seconds of index lag; the reference refresh is the same
code told that SearchMedia is too slow to use, so it reads every id with GetVideoInfos."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconcile.cloud.api import MediaApi
from reconcile.cloud.client import CloudSession
from reconcile.cloud.models import GetVideoInfosResult
from reconcile.emulator.app import EmulatorApp, create_app
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.search import SearchQuery
from reconcile.engine.apply import apply_plan
from reconcile.engine.live import LiveState
from reconcile.engine.refresh import refresh
from reconcile.model.media import MUTABLE_NAMES, MediaAttributes, metadata_values
from reconcile.state import open_store
from reconcile.state.model import StateDocument
from tests.engine.conftest import Account

LAG = 30.0  # seconds the search index lags behind writes


class GetVideoInfosOnly:
    """A region's API that reports SearchMedia as far too slow to use: refresh reads every id with
    GetVideoInfos, as it did before the search path (the reference every test compares with)."""

    def __init__(self, api: MediaApi) -> None:
        self._api = api
        self.region = api.region

    def qps_limit(self, action: str) -> float:
        return 1e-9 if action == "SearchMedia" else self._api.qps_limit(action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    async def get_video_infos(self, video_ids: Sequence[str]) -> GetVideoInfosResult:
        return await self._api.get_video_infos(video_ids)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=time.time())  # request timestamps are checked against it


@pytest.fixture
def emulator_app(clock: ManualClock) -> EmulatorApp:
    config = EmulatorConfig(auto_objects=True, qps_scale=0, seed=11, clock=clock, search_lag_seconds=LAG)
    return create_app(config)


def media_manifest(count: int, recut: int = 0) -> str:
    """`count` media; the first `recut` titled "Recut i" instead of "Episode i"."""
    lines = ["region: cn-shanghai", "media:"]
    for i in range(count):
        lines.append(f"  - file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/v/{i:04d}.mp4")
        lines.append(f"    title: {'Recut' if i < recut else 'Episode'} {i}")
        if i % 3 == 0:
            lines.append("    tags: [catalog, featured]")
    return "\n".join(lines) + "\n"


def managed_view(live: LiveState) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    """What a plan reads from a refresh: each media's managed fields, and the ids gone."""
    return {i: dict(zip(MUTABLE_NAMES, metadata_values(v), strict=True)) for i, v in live.media.items()}, live.gone


async def both_refreshes(
    session: CloudSession, recorded: StateDocument, account: Account
) -> tuple[LiveState, dict[str, int], LiveState]:
    """(the refresh, the calls it made as the emulator counted them, the GetVideoInfos-only refresh)."""
    before = account.stats()
    live = await refresh(session.client, None, recorded)
    after = account.stats()
    calls = {a: n - before.get(a, 0) for a, n in after.items() if n != before.get(a, 0)}
    reference = await refresh(lambda region: GetVideoInfosOnly(session.client(region)), None, recorded)
    return live, calls, reference


def assert_same(live: LiveState, reference: LiveState) -> None:
    assert managed_view(live) == managed_view(reference)
    assert live.digest(()) == reference.digest(())


async def test_unmanaged_media_in_the_same_bucket_cost_nothing(planner, account, cloud_session, clock):
    recorded = account.converge(planner.desired(planner.manifest(media_manifest(120))))
    for i in range(500):  # registered outside reconcile, in the bucket the state's media live in
        account.register(f"https://media-in.oss-cn-shanghai.aliyuncs.com/other/{i:04d}.mp4", f"Other {i}")
    clock.advance(LAG + 1)

    live, calls, reference = await both_refreshes(cloud_session, recorded, account)

    assert calls == {"SearchMedia": 1, "GetVideoInfos": 1}  # 100 ids searched + 20 read: the 500 never asked for
    assert len(live.media) == 120 and not live.gone
    assert_same(live, reference)


async def test_media_deleted_and_edited_outside_reconcile(planner, account, cloud_session, clock):
    recorded = account.converge(planner.desired(planner.manifest(media_manifest(120))))
    ids = sorted(r.remote_id for r in recorded.resources if r.remote_id)
    for gone in ids[:3]:
        account.delete(gone)
    account.edit(ids[3], title="Renamed in the console")
    account.edit(ids[4], tags=("catalog",))
    clock.advance(LAG + 1)  # the index has caught up with those changes

    live, calls, reference = await both_refreshes(cloud_session, recorded, account)

    # 1 search (ids 0-99, 3 missing and 2 different) + 1 GetVideoInfos (ids 100-119), then 1 GetVideoInfos
    # confirming the 5: the deleted ones come back in NonExistVideoIds, the edited ones as they are now.
    assert calls == {"SearchMedia": 1, "GetVideoInfos": 2}
    assert live.gone == frozenset(ids[:3])
    assert live.media[ids[3]].title == "Renamed in the console"
    assert live.media[ids[4]].tags == ("catalog",)
    assert_same(live, reference)


async def test_a_lagging_index_misses_new_media_and_shows_old_values_yet_the_refresh_is_exact(
    planner, account, cloud_session, clock
):
    desired = planner.desired(planner.manifest(media_manifest(120)))
    recorded = account.converge(desired)
    clock.advance(LAG + 1)
    search = emulator_app_search(account)
    # What an apply does: retitle one media and register another, and record both in the state.
    first = recorded.resources[0]
    assert first.remote_id is not None
    account.edit(first.remote_id, title="Recut")
    fresh = account.register("https://media-in.oss-cn-shanghai.aliyuncs.com/v/new.mp4", "New")
    assert [r.metadata.get("title") for r in search([first.remote_id])] == [first.attributes.title]  # the old title
    assert search([fresh]) == []  # not indexed yet
    new = first.model_copy(
        update={"address": 'media["media-in/v/new.mp4"]', "identity": "media-in/v/new.mp4", "remote_id": fresh,
                "attributes": MediaAttributes(file_url="https://media-in.oss-cn-shanghai.aliyuncs.com/v/new.mp4",
                                              title="New")}
    )  # fmt: skip
    retitled = first.model_copy(update={"attributes": replace(first.attributes, title="Recut")})
    recorded = recorded.model_copy(update={"resources": [retitled, *recorded.resources[1:], new]})

    live, calls, reference = await both_refreshes(cloud_session, recorded, account)

    assert (live.media[first.remote_id].title, live.media[fresh].title) == ("Recut", "New")
    # 121 ids: 2 searches (as soon done as 1 search and 2 GetVideoInfos, in fewer calls), then 1 GetVideoInfos
    # for the media whose search record was stale and the one the index did not have yet
    assert calls == {"SearchMedia": 2, "GetVideoInfos": 1}
    assert_same(live, reference)


async def test_a_change_outside_reconcile_within_the_lag_shows_once_the_index_has_it(
    planner, account, cloud_session, clock
):
    recorded = account.converge(planner.desired(planner.manifest(media_manifest(120))))
    clock.advance(LAG + 1)
    resource = min(recorded.resources, key=lambda r: r.remote_id or "")  # the first id: read by the search
    edited = resource.remote_id
    assert edited is not None
    account.edit(edited, title="Renamed in the console a moment ago")

    soon = await refresh(cloud_session.client, None, recorded)
    clock.advance(LAG)
    later, _, reference = await both_refreshes(cloud_session, recorded, account)

    # The index still had the title the state recorded: the plan reads as it would have LAG seconds earlier.
    assert soon.media[edited].title == resource.attributes.title
    assert later.media[edited].title == "Renamed in the console a moment ago"
    assert_same(later, reference)


def emulator_app_search(account: Account) -> Any:
    """The emulator's index as a `VideoId in (...)` search sees it (no API call)."""

    def search(video_ids: Sequence[str]) -> list[Any]:
        match = "VideoId in (" + ",".join(f"'{i}'" for i in video_ids) + ")"
        return account.backend.vod.search_media(SearchQuery(match=match, page_size=100)).media

    return search


async def test_a_plan_right_after_an_apply_sees_what_the_apply_did(
    planner, account, cloud_session, clock, tmp_path: Path
):
    store = open_store(str(tmp_path / "state.json"))
    planner.manifest(media_manifest(150))
    assert (await apply_plan(await planner.plan(None), cloud_session.client, store)).ok
    clock.advance(LAG + 1)
    # Retitle 40 media and add 30 more: the apply registers and updates, and the next plan comes at once,
    # while the index still has the old titles and none of the new media.
    planner.manifest(media_manifest(180, recut=40))
    changed = await planner.plan(store.read())
    assert changed.call_counts() == {"RegisterMedia": 3, "UpdateVideoInfos": 2}  # 30 new, 40 retitled
    assert (await apply_plan(changed, cloud_session.client, store)).ok
    recorded = store.read()
    assert recorded is not None

    live, calls, reference = await both_refreshes(cloud_session, recorded, account)
    assert_same(live, reference)
    plan = await planner.plan(recorded)
    assert not plan.needs_apply
    assert {c.action for c in plan.changes} == {"no-op"}
    # 2 searches (180 ids: 100 + 80) miss the 30 new media and find the 40 retitled ones stale: 70 confirmed.
    assert calls == {"SearchMedia": 2, "GetVideoInfos": 4}
