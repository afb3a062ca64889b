"""BackgroundLoad: the manifests loaded by a child process are exactly what load_desired_state gives here,
problems included; a child that cannot answer is made up for in-process; a child no longer wanted is killed."""

from __future__ import annotations

import io
import pickle
import stat
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from reconcile.manifest import ManifestError, background, load_desired_state
from reconcile.manifest.background import BackgroundLoad, worth_loading_aside
from tests.manifest.conftest import OSS, Write

RICH = (
    "region: cn-shanghai\n"
    "input_buckets:\n"
    "  - bucket: media-in-${MEDIA_ENV}\n"
    '    referer: "https://example.com"\n'
    "    prevent_destroy: true\n"
    "media_defaults:\n"
    "  template_group_id: VOD_NO_TRANSCODE\n"
    "  user_data: {Extend: {team: growth}}\n"
    "media:\n"
    f"  - file_url: {OSS}/raw/intro.mp4\n"
    "    name: intro\n"
    "    title: Intro ${MEDIA_ENV}\n"
    "    description: First episode\n"
    "    tags: [launch, promo]\n"
    f"    cover_url: {OSS}/covers/intro.jpg\n"
    "    cate_id: 1000\n"
    "    prevent_destroy: true\n"
    f"  - file_url: {OSS}/raw/%E8%A7%86%E9%A2%91.mp4\n"
    "    title: 视频\n"
    "    tags: []\n"
    "    workflow_id: wf-1\n"
    f"  - file_url: {OSS}/raw/outro.mp4\n"
    "    title: Outro\n"
    "    template_group_id: ~\n"
    "    user_data: ~\n"
)
INVALID = f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/a.txt\n    title: A\n  - title: no file\n"
INVALID_PROBLEMS = (
    "bad.yaml:3:15: `file_url` must name an audio or video file: `.txt` is not a media file extension VOD accepts "
    "(.mp4, .mov, .mkv, .mp3 or .m4a)\n"
    "bad.yaml:5:5: a media entry is missing the required key `file_url`"
)
ENV = {"MEDIA_ENV": "staging"}


def executable(path: Path, script: str) -> str:
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_the_child_loads_what_this_process_would(write: Write) -> None:
    write("a.yaml", RICH)
    write(
        "more/b.yml",
        f"region: cn-beijing\nmedia:\n  - file_url: {OSS.replace('shanghai', 'beijing')}/b.mp4\n    title: B\n",
    )
    expected = load_desired_state(["a.yaml", "more"], env=ENV)
    assert expected.warnings  # workflow_id beside the defaults' template_group_id
    async with BackgroundLoad(["a.yaml", "more"], ENV) as load:
        assert await load.result() == expected
    assert load.cpu is not None and load.cpu > 0
    assert load.elapsed is not None and load.elapsed > 0


async def test_text_the_caller_holds_for_a_media_is_shared_not_copied(write: Write) -> None:
    write("a.yaml", RICH)
    expected = load_desired_state(["a.yaml"], env=ENV)
    intro, other = expected.media[0], expected.media[1]
    # What a state would hold: for the intro, equal attributes in other objects; for the other, an old title.
    held = {
        m.identity: SimpleNamespace(
            address="".join(m.address), identity="".join(m.identity), attributes=replace(m.attributes, **change)
        )
        for m, change in ((intro, {}), (other, {"title": "Old title"}))
    }
    async with BackgroundLoad(["a.yaml"], ENV) as load:
        desired = await load.result(lambda: held)
    assert desired == expected
    shared, own = desired.media[0], desired.media[1]
    assert shared.address is held[intro.identity].address and shared.identity is held[intro.identity].identity
    assert shared.attributes is held[intro.identity].attributes  # one object for the state and the manifests
    assert own.attributes == other.attributes  # differs from what is held: its own


def test_the_rows_come_in_chunks_that_make_the_same_desired_state(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.yaml", RICH)
    monkeypatch.setattr(background, "ROWS_PER_CHUNK", 2)
    answers = io.BytesIO()
    background.serve(io.BytesIO(pickle.dumps((["a.yaml"], ENV))), answers)
    answers.seek(0)
    kind, header, _ = pickle.load(answers)
    chunks = [pickle.load(answers), pickle.load(answers)]
    assert (kind, header[1], [len(c) for c in chunks], answers.read()) == ("loaded", 3, [2, 1], b"")
    assert background.unpack(header, chunks) == load_desired_state(["a.yaml"], env=ENV)


async def test_without_env_the_child_reads_the_environment_it_inherits(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.yaml", RICH)
    monkeypatch.setenv("MEDIA_ENV", "prod")
    async with BackgroundLoad(["a.yaml"]) as load:
        desired = await load.result()
    assert desired == load_desired_state(["a.yaml"])
    assert desired.buckets[0].bucket == "media-in-prod"


async def test_problems_are_the_same_manifest_error(write: Write) -> None:
    write("bad.yaml", INVALID)
    with pytest.raises(ManifestError) as here:
        load_desired_state(["bad.yaml"], env=ENV)
    async with BackgroundLoad(["bad.yaml"], ENV) as load:
        with pytest.raises(ManifestError) as there:
            await load.result()
    assert there.value.diagnostics == here.value.diagnostics
    assert str(there.value) == str(here.value) == INVALID_PROBLEMS


async def test_a_child_that_cannot_start_is_made_up_for_here(
    write: Write, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write("a.yaml", RICH)
    monkeypatch.setattr(background.sys, "executable", "/nonexistent/python3")
    caplog.set_level("DEBUG", logger="reconcile.manifest")
    async with BackgroundLoad(["a.yaml"], ENV) as load:
        assert await load.result() == load_desired_state(["a.yaml"], env=ENV)
    assert "cannot start a process to load the manifests" in caplog.text


async def test_a_child_that_fails_is_made_up_for_here(
    workdir: Path, write: Write, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write("bad.yaml", INVALID)
    monkeypatch.setattr(background.sys, "executable", executable(workdir / "crash", "echo boom >&2; exit 3"))
    caplog.set_level("DEBUG", logger="reconcile.manifest")
    async with BackgroundLoad(["bad.yaml"], ENV) as load:
        with pytest.raises(ManifestError) as raised:
            await load.result()
    assert str(raised.value) == INVALID_PROBLEMS
    assert "the manifest process exited 3 (boom): loading them here" in caplog.text


async def test_a_child_no_longer_wanted_is_killed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background.sys, "executable", executable(workdir / "slow", "exec sleep 60"))
    started = time.monotonic()
    async with BackgroundLoad(["a.yaml"], ENV) as load:
        pass
    assert load._process is not None and load._process.returncode == -9
    assert time.monotonic() - started < 10


def test_only_large_manifest_sets_are_loaded_aside(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    write("a.yaml", RICH)
    write("b.yaml", RICH.replace("intro", "intro-2"))
    assert not worth_loading_aside(["a.yaml", "b.yaml", "missing.yaml"])
    monkeypatch.setattr(background, "BACKGROUND_MIN_BYTES", 2 * len(RICH.encode()))
    assert worth_loading_aside(["a.yaml", "b.yaml", "missing.yaml"])
    assert not worth_loading_aside(["a.yaml"])


async def test_the_child_imports_this_package_not_one_the_working_directory_holds(
    workdir: Path, write: Write, caplog: pytest.LogCaptureFixture
) -> None:
    """(An editable install's import hook finds this package first anyway; a regular install would not.)"""
    write("a.yaml", RICH)
    write("reconcile/__init__.py", "raise ImportError('another reconcile, found first on the path')\n")
    caplog.set_level("DEBUG", logger="reconcile.manifest")
    async with BackgroundLoad(["a.yaml"], ENV) as load:
        assert await load.result() == load_desired_state(["a.yaml"], env=ENV)
    assert "loading them here" not in caplog.text  # the child answered
