"""The client against the emulator in process (httpx transport into its ASGI app), in virtual time: every
operation round-trips under both signatures, the gateway's verdicts map to the error tree, its throttle
never fires at the client's pace, and a bind whose answer was lost settles as success."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.errors import AuthenticationError, NotFoundError
from reconcile.cloud.models import MediaBucket, RegisterMediaRequest, RegisterMetadata, VideoUpdate
from reconcile.cloud.operations import video_ids_match
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import EmulatorApp, create_app, emulator_transport
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.faults import FaultRules
from tests.cloud.fakes import KEY_ID, SECRET, VirtualClock

ENDPOINT = "http://127.0.0.1:18080"  # never dialled: the transport calls the app in process
MEDIA = "https://media-in.oss-cn-shanghai.aliyuncs.com"


class EmulatorTime:
    """The emulator's clock on the test's virtual time: wall time starts now and moves with the loop."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._start = time.time()

    def time(self) -> float:
        return self._start + self._clock.monotonic()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@pytest.fixture
def emulator(clock: VirtualClock) -> EmulatorApp:
    return create_app(
        EmulatorConfig(access_keys={KEY_ID: SECRET}, auto_objects=True, clock=EmulatorTime(clock), seed=3)
    )


SessionOn = Callable[..., CloudSession]


@pytest.fixture
async def session_on(emulator: EmulatorApp, clock: VirtualClock) -> AsyncIterator[SessionOn]:
    sessions: list[CloudSession] = []

    def make(
        *, secret: str = SECRET, transport: httpx.AsyncBaseTransport | None = None, **settings: object
    ) -> CloudSession:
        session = CloudSession(
            ClientSettings(endpoint=ENDPOINT, **settings),  # type: ignore[arg-type]
            StaticCredentials(KEY_ID, secret),
            transport=transport or emulator_transport(emulator),
            clock=clock,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.aclose()


@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_every_operation_round_trips(session_on: SessionOn, version: str) -> None:
    region = session_on(signature_version=version).client("cn-shanghai")
    await region.bind_input_bucket("media-in", referer="https://www.example.org")
    assert await region.list_all_media_buckets() == [MediaBucket("media-in", "Input", "https://www.example.org")]

    files = tuple(
        RegisterMetadata(file_url=f"{MEDIA}/video/{n} é.mp4", title=f"title {n} 中文", tags=("a", "b c"))
        for n in range(3)
    )
    registered = await region.register_media(RegisterMediaRequest(files, template_group_id="VOD_NO_TRANSCODE"))
    assert [m.file_url for m in registered.registered] == [f.file_url for f in files]
    assert all(m.new_register for m in registered.registered) and registered.failed_file_urls == ()
    again = await region.register_media(RegisterMediaRequest(files[:1]))
    assert again.registered[0].media_id == registered.registered[0].media_id and not again.registered[0].new_register

    ids = [m.media_id for m in registered.registered]
    missing = "0" * 32
    infos = await region.get_video_infos([*ids, missing])
    assert [v.title for v in infos.videos] == ["title 0 中文", "title 1 中文", "title 2 中文"]
    assert infos.videos[0].tags == ("a", "b c") and infos.non_exist_video_ids == (missing,)

    updated = await region.update_video_infos(
        [VideoUpdate(video_id=ids[0], title="renamed", tags=("x",)), VideoUpdate(video_id=missing, title="t")]
    )
    assert updated.non_exist_video_ids == (missing,)
    (video,) = (await region.get_video_infos([ids[0]])).videos
    assert (video.title, video.tags) == ("renamed", ("x",))

    mezzanine = await region.get_mezzanine_info(ids[1])
    assert (mezzanine.video_id, mezzanine.file_url) == (ids[1], files[1].file_url)

    deleted = await region.delete_video([ids[2], missing])
    assert deleted.non_exist_video_ids == (missing,)
    assert (await region.get_video_infos([ids[2]])).non_exist_video_ids == (ids[2],)

    await region.unbind_input_bucket("media-in")
    assert await region.list_all_media_buckets() == []
    with pytest.raises(NotFoundError):
        await region.unbind_input_bucket("media-in")


@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_search_media_by_ids_and_by_storage_location_with_scroll_tokens(
    session_on: SessionOn, version: str
) -> None:
    session = session_on(signature_version=version)
    region = session.client("cn-shanghai")
    ids: list[str] = []
    for start in range(0, 250, 10):
        files = tuple(
            RegisterMetadata(file_url=f"{MEDIA}/v/{n:03d}.mp4", title=f"V {n}", tags=("a",))
            for n in range(start, start + 10)
        )
        ids += [m.media_id for m in (await region.register_media(RegisterMediaRequest(files))).registered]

    found = await region.search_media(video_ids_match([*ids[:99], "0" * 32]), page_size=100)
    assert (found.total, sorted(v.video_id for v in found.videos)) == (99, sorted(ids[:99]))
    assert found.videos[0].tags == ("a",) and found.videos[0].storage_location == MEDIA.removeprefix("https://")

    match = f"StorageLocation in ('{MEDIA.removeprefix('https://')}')"
    walked: list[str] = []
    page = await region.search_media(match, page_size=100)
    while page.videos:
        walked += [v.video_id for v in page.videos]
        page = await region.search_media(match, page_size=100, scroll_token=page.scroll_token)
    assert page.total == 250 and sorted(walked) == sorted(ids)
    with pytest.raises(ValueError, match="SearchMedia takes 1 to 100 video ids in a Match per call, not 101"):
        video_ids_match(ids[:101])


async def test_list_follows_the_emulators_pages(session_on: SessionOn) -> None:
    session = session_on()
    region = session.client("cn-shanghai")
    names = [f"bucket-{n:03d}" for n in range(230)]
    await asyncio.gather(*(region.bind_input_bucket(name) for name in names))
    listed = await region.list_all_media_buckets()
    assert sorted(b.bucket for b in listed) == names
    assert session.stats.of("ListAllMediaBucket").calls == 3  # pages of 100


@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_a_wrong_secret_is_an_authentication_error_without_the_secret(
    session_on: SessionOn, version: str
) -> None:
    region = session_on(secret="not-the-secret", signature_version=version).client("cn-shanghai")
    with pytest.raises(AuthenticationError) as raised:
        await region.bind_input_bucket("media-in")
    assert raised.value.code == "SignatureDoesNotMatch"
    assert raised.value.attempts == 1
    assert "not-the-secret" not in str(raised.value)


async def test_the_emulators_throttle_never_fires_at_the_clients_pace(
    session_on: SessionOn, emulator: EmulatorApp, clock: VirtualClock
) -> None:
    session = session_on()
    region = session.client("cn-shanghai")
    files = [RegisterMetadata(file_url=f"{MEDIA}/v/{n}.mp4", title=f"t{n}") for n in range(400)]
    binds = [region.bind_input_bucket(f"bucket-{n:03d}") for n in range(300)]
    registers = [region.register_media(RegisterMediaRequest((f,))) for f in files]
    await asyncio.gather(*binds, *registers)
    assert session.stats.of("RegisterMedia").throttled == session.stats.of("BindInputBucket").throttled == 0
    assert session.stats.total_calls == 700
    assert clock.monotonic() <= 1.05 * 400 / 50  # RegisterMedia's 50/s is the slowest: 8 s at the floor


async def test_a_bind_whose_answer_was_dropped_after_commit_settles_as_success(
    session_on: SessionOn, emulator: EmulatorApp
) -> None:
    emulator.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "BindInputBucket", "drop_after_commit": True}]}
    )
    inner = emulator_transport(emulator)

    class DropOnce(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return await inner.handle_async_request(request)
            except httpx.RemoteProtocolError:
                emulator.gateway.faults.rules = FaultRules()  # the retry gets a real answer
                raise

    session = session_on(transport=DropOnce())
    region = session.client("cn-shanghai")
    assert await region.bind_input_bucket("media-in", referer="https://a.example")
    assert await region.list_all_media_buckets() == [MediaBucket("media-in", "Input", "https://a.example")]
    stats = session.stats.of("BindInputBucket")
    assert (stats.calls, stats.retries, stats.errors) == (2, 1, 0)
