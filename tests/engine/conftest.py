"""Planning against the in-process emulator: an emulated account, a client session on virtual time, and
the state a converging apply would have written."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EmulatorConfig
from reconcile.emulator.vod import RegisterItem, VideoPatch
from reconcile.engine.attributes import applied_state
from reconcile.engine.plan import Plan
from reconcile.engine.planner import build_plan
from reconcile.manifest import load_desired_state
from reconcile.manifest.desired import DesiredState
from reconcile.model.media import REGISTRATION_NAMES, metadata_of
from reconcile.state.model import ResourceState, StateDocument
from tests.cloud.fakes import VirtualClock
from tests.engine.builders import LINEAGE, write_manifest

CREATED = dt.datetime(2026, 5, 1, 8, 0, 0, tzinfo=dt.UTC)
DEFAULT_MANIFEST = "manifests/prod.yaml"


class MemoryState:
    """A read-only state store holding one document (the planner needs nothing more)."""

    location = ".reconcile/state.json"

    def __init__(self, document: StateDocument | None = None) -> None:
        self.document = document

    def read(self) -> StateDocument | None:
        return self.document


class Account:
    """The emulated account: seed and edit it directly through the emulator's backend (no API calls)."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.backend = app.backend

    def bind(self, bucket: str, referer: str | None = None) -> None:
        self.backend.mps.bind_input_bucket(bucket, referer)

    def bind_output(self, bucket: str) -> None:
        self.backend.mps.bind_output_bucket(bucket)

    def unbind(self, bucket: str) -> None:
        self.backend.mps.unbind_input_bucket(bucket)

    def register(self, file_url: str, title: str, **settings: Any) -> str:
        tags = settings.pop("tags", None)
        item = RegisterItem(
            file_url=file_url,
            title=title,
            description=settings.pop("description", None),
            tags=",".join(tags) if tags is not None else None,
            cover_url=settings.pop("cover_url", None),
            cate_id=settings.pop("cate_id", None),
        )
        result = self.backend.vod.register_media([item], **settings)
        assert not result.failed_file_urls, result
        return result.registered[0].media_id

    def edit(self, media_id: str, **fields: Any) -> None:
        if "tags" in fields:
            fields["tags"] = ",".join(fields["tags"])
        self.backend.vod.update_video_infos([VideoPatch(video_id=media_id, **fields)])

    def delete(self, media_id: str) -> None:
        self.backend.vod.delete_video([media_id])

    def stats(self) -> dict[str, int]:
        """Calls the emulator answered, per action."""
        counters = self.app.gateway.stats.to_dict()["actions"]
        return {action: c["calls"] for action, c in sorted(counters.items()) if c["calls"]}

    def converge(self, desired: DesiredState, *, serial: int = 4) -> StateDocument:
        """Bind and register everything `desired` declares, and return the state apply would have written."""
        resources: list[ResourceState] = []
        for b in desired.buckets:
            self.bind(b.bucket, b.referer)
            resources.append(applied_state(b))
        for m in desired.media:
            a = m.attributes
            settings = dict(zip(REGISTRATION_NAMES, a.registration, strict=True))
            fields = {k: v for k, v in metadata_of(a).items() if v and k != "title"}
            media_id = self.register(m.file_url, a.title, **settings, **fields)
            resources.append(applied_state(m, media_id))
        return StateDocument(lineage=LINEAGE, serial=serial, resources=resources)


class Planner:
    """Writes manifests and plans them against the account through a real client session."""

    def __init__(self, directory: Path, session: CloudSession) -> None:
        self.directory = directory
        self.session = session

    def manifest(self, text: str, name: str = "prod.yaml") -> str:
        return write_manifest(self.directory, text, name)

    def desired(self, *paths: str) -> DesiredState:
        return load_desired_state(list(paths) or [DEFAULT_MANIFEST])

    async def plan(self, state: StateDocument | None, *paths: str, **options: Any) -> Plan:
        chosen = list(paths) or [DEFAULT_MANIFEST]
        return await build_plan(chosen, MemoryState(state), self.session.client, created=CREATED, **options)

    def calls(self) -> dict[str, int]:
        """Calls the client made (retries included), per action."""
        return {action: s.calls for action, s in sorted(self.session.stats.actions.items()) if s.calls}


@pytest.fixture
def emulator_app() -> EmulatorApp:
    return create_app(EmulatorConfig(auto_objects=True, qps_scale=0, seed=11))


@pytest.fixture
def account(emulator_app: EmulatorApp) -> Account:
    return Account(emulator_app)


@pytest.fixture
async def virtual_clock() -> AsyncIterator[VirtualClock]:
    clock = VirtualClock(asyncio.get_running_loop())
    clock.install()
    try:
        yield clock
    finally:
        clock.uninstall()


@pytest.fixture
async def cloud_session(emulator_app: EmulatorApp, virtual_clock: VirtualClock) -> AsyncIterator[CloudSession]:
    settings = ClientSettings(endpoint="http://127.0.0.1:8080")
    credentials = StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    async with CloudSession(
        settings, credentials, transport=emulator_transport(emulator_app), clock=virtual_clock
    ) as s:
        yield s


@pytest.fixture
def planner(tmp_path: Path, cloud_session: CloudSession, monkeypatch: pytest.MonkeyPatch) -> Planner:
    monkeypatch.chdir(tmp_path)  # manifest paths in locations are printed as given: keep them short
    return Planner(tmp_path, cloud_session)
