"""read_inputs with the manifests loading in a child process (large manifest sets): the same inputs, plans
and errors as loading them first, and a manifest problem stops the refresh already in flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from reconcile.cloud.errors import TransportError
from reconcile.cloud.models import GetVideoInfosResult, MediaBucket, SearchMediaResult
from reconcile.engine.planner import read_inputs
from reconcile.manifest import ManifestError, background, load_desired_state
from reconcile.state.model import ResourceState, StateDocument
from reconcile.state.store import StateError
from tests.cli.test_plan import MANIFEST, cli  # noqa: F401  (the `cli` fixture)
from tests.engine.builders import LINEAGE, write_manifest
from tests.engine.conftest import MemoryState

OSS = "https://media-in.oss-cn-shanghai.aliyuncs.com"
VALID = f"""
region: cn-shanghai
input_buckets:
  - bucket: media-in
media:
  - file_url: {OSS}/a.mp4
    title: A
"""
BEIJING = "region: cn-beijing\ninput_buckets:\n  - bucket: media-bj\n"
INVALID = f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/a.txt\n    title: A\n"


@pytest.fixture
def side_by_side(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Choose whether read_inputs loads every manifest set aside (True) or none (False)."""

    def choose(aside: bool) -> None:
        monkeypatch.setattr(background, "BACKGROUND_MIN_BYTES", 0 if aside else 1 << 60)

    choose(True)
    return choose


def state_with_media(count: int) -> StateDocument:
    media = [
        ResourceState(address=f"media.m{i}", kind="media", identity=f"media-in/m{i}.mp4", region="cn-shanghai",
                      remote_id=f"{i:032x}", attributes={"file_url": f"{OSS}/m{i}.mp4", "title": f"M{i}"})
        for i in range(count)
    ]  # fmt: skip
    bucket = ResourceState(address="input_bucket.media-in", kind="input_bucket", identity="media-in",
                           region="cn-shanghai")  # fmt: skip
    return StateDocument(lineage=LINEAGE, serial=3, resources=[bucket, *media])


class FakeApi:
    """Lists `buckets`; GetVideoInfos waits until cancelled (`stall`), fails (`fail`), or finds nothing."""

    def __init__(self, *, stall: bool = False, fail: bool = False) -> None:
        self.stall, self.fail = stall, fail
        self.listed: list[str] = []
        self.reads_started = 0
        self.reads_cancelled = 0

    def for_region(self, region: str) -> FakeApi.Region:
        return FakeApi.Region(self, region)

    class Region:
        def __init__(self, api: FakeApi, region: str) -> None:
            self.api, self.region = api, region

        async def list_all_media_buckets(self) -> list[MediaBucket]:
            self.api.listed.append(self.region)
            return [MediaBucket(bucket=f"bound-in-{self.region}", type="Input")]

        def qps_limit(self, action: str) -> float:
            return 100.0

        async def search_media(
            self, match: str, *, page_size: int = 100, scroll_token: str | None = None
        ) -> SearchMediaResult:
            await self.get_video_infos([])
            return SearchMediaResult("req", 0, (), None)

        async def get_video_infos(self, video_ids: list[str]) -> GetVideoInfosResult:
            self.api.reads_started += 1
            if self.api.fail:
                raise TransportError("cannot connect to vod.cn-shanghai.aliyuncs.com", action="GetVideoInfos")
            if self.api.stall:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.api.reads_cancelled += 1
                    raise
            return GetVideoInfosResult("req", (), tuple(video_ids))


class BrokenState:
    location = ".reconcile/state.json"

    def read(self) -> StateDocument | None:
        raise StateError("state file .reconcile/state.json is not valid JSON")


async def test_the_inputs_are_those_of_loading_first_and_only_named_regions_are_listed(
    tmp_path, monkeypatch, side_by_side, caplog
):
    monkeypatch.chdir(tmp_path)
    paths = [write_manifest(tmp_path, VALID), write_manifest(tmp_path, BEIJING, "beijing.yaml")]
    state = state_with_media(3)
    inputs = {}
    for aside in (False, True):
        side_by_side(aside)
        api = FakeApi()
        with caplog.at_level(logging.INFO, logger="reconcile.plan"):
            inputs[aside] = await read_inputs(paths, MemoryState(state), api.for_region)
        assert sorted(api.listed) == ["cn-beijing", "cn-shanghai"]
        assert api.reads_started == 1
    assert inputs[True] == inputs[False]
    assert inputs[True].desired == load_desired_state(paths)
    assert "in a child process, alongside the state read and refresh" in caplog.text


async def test_a_manifest_problem_cancels_the_refresh_in_flight(tmp_path, monkeypatch, side_by_side):
    monkeypatch.chdir(tmp_path)
    path = write_manifest(tmp_path, INVALID)
    api = FakeApi(stall=True)
    with pytest.raises(ManifestError) as raised:
        await asyncio.wait_for(read_inputs([path], MemoryState(state_with_media(100)), api.for_region), 30)
    with pytest.raises(ManifestError) as loaded_first:
        load_desired_state([path])
    assert raised.value.diagnostics == loaded_first.value.diagnostics
    assert api.reads_started == 1  # 100 ids, one SearchMedia, in flight when the problem was known
    assert api.reads_cancelled == 1


@pytest.mark.parametrize("failure", ["state", "account"])
async def test_a_state_or_account_error_gives_way_to_manifest_problems(tmp_path, monkeypatch, side_by_side, failure):
    monkeypatch.chdir(tmp_path)
    store = BrokenState() if failure == "state" else MemoryState(state_with_media(3))
    api = FakeApi(fail=failure == "account")
    with pytest.raises(ManifestError):
        await read_inputs([write_manifest(tmp_path, INVALID)], store, api.for_region)
    expected = StateError if failure == "state" else TransportError
    with pytest.raises(expected):
        await read_inputs([write_manifest(tmp_path, VALID)], store, api.for_region)


@pytest.mark.parametrize("manifest", [MANIFEST, INVALID])
def test_the_plan_command_prints_the_same_either_way(cli, side_by_side, manifest):  # noqa: F811
    cli.converge()
    cli.write(manifest)
    results = []
    for aside in (False, True):
        side_by_side(aside)
        results.append(cli.run("plan", "manifests", "--detailed-exitcode"))
    assert results[0] == results[1]
    assert results[0].code == (0 if manifest is MANIFEST else 1)
