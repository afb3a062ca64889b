"""The state file: atomic writes, loading on start, and errors a user can act on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.persistence import StateFileError, load_state, save_state
from tests.emulator.conftest import Caller


async def test_state_survives_a_new_app_on_the_same_file(tmp_path: Path) -> None:
    clock = ManualClock()
    state_file = tmp_path / "emulator.json"
    config = EmulatorConfig(clock=clock, auto_objects=True, state_file=state_file)
    app = create_app(config)
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        caller = Caller(client, clock)
        await caller.ok("BindInputBucket", {"Bucket": "media"})
        body = await caller.register("https://media.oss-cn-shanghai.aliyuncs.com/a.mp4")
    assert app.save_state() is True
    assert app.save_state() is False  # nothing changed since
    again = create_app(config)
    assert again.backend.describe() == app.backend.describe()
    assert again.backend.vod.media()[0].media_id == body["RegisteredMediaList"][0]["MediaId"]


def test_save_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.json"
    save_state(path, {"format_version": 1, "a": 1})
    save_state(path, {"format_version": 1, "a": 2})
    assert json.loads(path.read_text()) == {"format_version": 1, "a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_missing_file_is_an_empty_start(tmp_path: Path) -> None:
    assert load_state(tmp_path / "absent.json") is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{oops", "is not valid JSON"), ("[1, 2]", "does not hold an emulator state")],
)
def test_unusable_file_says_which_and_what_to_do(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateFileError) as excinfo:
        load_state(path)
    assert str(excinfo.value).startswith(f"emulator state file {path} {reason}")
    assert str(excinfo.value).endswith("move it aside to start with an empty account")


def test_a_state_of_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format_version": 99}')
    with pytest.raises(ValueError, match="unsupported format_version 99"):
        create_app(EmulatorConfig(state_file=path))


async def test_a_state_file_from_before_records_kept_their_metadata_apart_still_loads(tmp_path: Path) -> None:
    """Records saved with their metadata among their other fields (title, tags, ... at the top) read back with
    the same metadata, and GetVideoInfos answers with it."""
    clock = ManualClock()
    state_file = tmp_path / "emulator.json"
    config = EmulatorConfig(clock=clock, auto_objects=True, state_file=state_file)
    app = create_app(config)
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://e") as client:
        body = await Caller(client, clock).register("https://media.oss-cn-shanghai.aliyuncs.com/a.mp4")
    app.save_state()
    saved = json.loads(state_file.read_text())
    [record] = saved["vod"]["media"]
    record.update(record.pop("metadata"), description="old layout", tags="a,b", cate_id=7)  # the flat layout
    state_file.write_text(json.dumps(saved))

    again = create_app(config)
    [media] = again.backend.vod.media()
    media_id = body["RegisteredMediaList"][0]["MediaId"]
    assert (media.media_id, media.metadata) == (
        media_id,
        {"title": record["title"], "description": "old layout", "tags": "a,b", "cate_id": 7},
    )
    async with httpx.AsyncClient(transport=emulator_transport(again), base_url="http://e") as client:
        video = (await Caller(client, clock).ok("GetVideoInfos", {"VideoIds": media_id}))["VideoList"][0]
    assert (video["Description"], video["Tags"], video["CateId"]) == ("old layout", "a,b", 7)
