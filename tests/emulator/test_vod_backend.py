"""VOD media rules of the backend (API.md section 5)."""

from __future__ import annotations

import pytest

from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.exceptions import ServiceError
from reconcile.emulator.vod import RegisterItem, VideoPatch

BUCKET = "https://media.oss-cn-shanghai.aliyuncs.com"


def url(key: str, bucket: str = BUCKET) -> str:
    return f"{bucket}/{key}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> EmulatorBackend:
    backend = EmulatorBackend(clock, seed=3)
    backend.objects.put([url(f"v/{i}.mp4") for i in range(12)] + [url("a/song.mp3"), url("doc.txt")])
    return backend


def register(backend: EmulatorBackend, *keys: str, **kwargs: str) -> list[tuple[str, bool]]:
    result = backend.vod.register_media([RegisterItem(url(k), f"title {k}") for k in keys], **kwargs)
    return [(r.media_id, r.new_register) for r in result.registered]


def code_of(excinfo: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int, str]:
    return excinfo.value.code, excinfo.value.status, excinfo.value.message


# --- RegisterMedia ------------------------------------------------------------------------------------


def test_register_returns_a_32_hex_media_id_per_file_in_request_order(backend: EmulatorBackend) -> None:
    result = backend.vod.register_media([RegisterItem(url("v/0.mp4"), "a"), RegisterItem(url("v/1.mp4"), "b")])
    assert [r.file_url for r in result.registered] == [url("v/0.mp4"), url("v/1.mp4")]
    assert all(len(r.media_id) == 32 and int(r.media_id, 16) >= 0 for r in result.registered)
    assert [r.new_register for r in result.registered] == [True, True]
    assert result.failed_file_urls == []


def test_re_registering_returns_the_same_id_and_changes_nothing(backend: EmulatorBackend, clock: ManualClock) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    before = backend.vod.get_video_info(media_id)
    snapshot = (before.metadata.get("title"), before.status, before.modification_time, before.template_group_id)
    clock.advance(60)
    result = backend.vod.register_media(
        [RegisterItem(url("v/0.mp4"), "another title", description="new")], template_group_id="tg-1"
    )
    assert [(r.media_id, r.new_register) for r in result.registered] == [(media_id, False)]
    after = backend.vod.get_video_info(media_id)
    assert (after.metadata.get("title"), after.status, after.modification_time, after.template_group_id) == snapshot
    assert after.metadata.get("description") is None
    assert len(backend.vod.media()) == 1


def test_a_file_is_identified_by_bucket_and_key_not_url_spelling(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    result = backend.vod.register_media(
        [RegisterItem("http://media.oss-cn-shanghai-internal.aliyuncs.com/v/0.mp4", "t")]
    )
    assert [(r.media_id, r.new_register) for r in result.registered] == [(media_id, False)]


def test_the_same_file_twice_in_one_call_registers_once(backend: EmulatorBackend) -> None:
    registered = register(backend, "v/0.mp4", "v/0.mp4")
    assert registered[0][0] == registered[1][0]
    assert [new for _, new in registered] == [True, False]


def test_failed_file_urls_collect_non_oss_non_media_and_missing_objects(backend: EmulatorBackend) -> None:
    items = [
        RegisterItem(url("v/0.mp4"), "ok"),
        RegisterItem("https://example.com/v/0.mp4", "not oss"),
        RegisterItem(url("doc.txt"), "no media extension"),
        RegisterItem(url("v/missing.mp4"), "no such object"),
        RegisterItem(url("v/"), "a folder"),
    ]
    result = backend.vod.register_media(items)
    assert [r.file_url for r in result.registered] == [url("v/0.mp4")]
    assert result.failed_file_urls == [
        "https://example.com/v/0.mp4",
        url("doc.txt"),
        url("v/missing.mp4"),
        url("v/"),
    ]


def test_auto_objects_makes_every_media_url_exist(clock: ManualClock) -> None:
    backend = EmulatorBackend(clock, auto_objects=True)
    result = backend.vod.register_media(
        [RegisterItem(url("anything/at/all.mov"), "t"), RegisterItem(url("x.pdf"), "t")]
    )
    assert [r.new_register for r in result.registered] == [True]
    assert result.failed_file_urls == [url("x.pdf")]


def test_more_than_ten_files_fail_the_whole_call(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        register(backend, *[f"v/{i}.mp4" for i in range(11)])
    assert code_of(excinfo) == ("InvalidParameter", 400, 'The specified parameter "RegisterMetadatas" is not valid.')
    assert backend.vod.media() == []


def test_ten_files_are_accepted(backend: EmulatorBackend) -> None:
    assert len(register(backend, *[f"v/{i}.mp4" for i in range(10)])) == 10


def test_files_in_two_buckets_fail_the_whole_call(backend: EmulatorBackend) -> None:
    backend.objects.put([url("v/0.mp4", "https://other.oss-cn-shanghai.aliyuncs.com")])
    items = [
        RegisterItem(url("v/0.mp4"), "a"),
        RegisterItem(url("v/0.mp4", "https://other.oss-cn-shanghai.aliyuncs.com"), "b"),
    ]
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.register_media(items)
    assert excinfo.value.code == "InvalidParameter"
    assert backend.vod.media() == []


def test_no_files_is_invalid(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.register_media([])
    assert excinfo.value.code == "InvalidParameter"


@pytest.mark.parametrize(
    ("item", "code", "name"),
    [
        (RegisterItem("", "t"), "MissingParameter", "FileURL"),
        (RegisterItem(url("v/0.mp4"), ""), "MissingParameter", "Title"),
        (RegisterItem(url("v/" + "x" * 1024 + ".mp4"), "t"), "InvalidParameter", "FileURL"),
        (RegisterItem(url("v/0.mp4"), "t" * 129), "InvalidParameter", "Title"),
        (RegisterItem(url("v/0.mp4"), "标" * 43), "InvalidParameter", "Title"),  # 129 bytes
        (RegisterItem(url("v/0.mp4"), "fun 🎬"), "InvalidParameter", "Title"),
        (RegisterItem(url("v/0.mp4"), "t", description="d" * 1025), "InvalidParameter", "Description"),
        (RegisterItem(url("v/0.mp4"), "t", tags=",".join(f"t{i}" for i in range(17))), "InvalidParameter", "Tags"),
        (RegisterItem(url("v/0.mp4"), "t", tags="a," + "x" * 33), "InvalidParameter", "Tags"),
        (RegisterItem(url("v/0.mp4"), "t", cover_url="https://c/" + "x" * 1020), "InvalidParameter", "CoverURL"),
    ],
)
def test_field_limits_fail_the_whole_call(backend: EmulatorBackend, item: RegisterItem, code: str, name: str) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.register_media([RegisterItem(url("v/1.mp4"), "fine"), item])
    assert (excinfo.value.code, excinfo.value.status) == (code, 400)
    assert f'"{name}"' in excinfo.value.message
    assert backend.vod.media() == []


def test_field_limits_at_the_boundary_are_accepted(backend: EmulatorBackend) -> None:
    item = RegisterItem(
        url("v/0.mp4"),
        "t" * 128,
        description="d" * 1024,
        tags=",".join("x" * 32 for _ in range(16)),
        cover_url="https://c/" + "x" * 1014,
        cate_id=1000012,
    )
    [registered] = backend.vod.register_media([item]).registered
    record = backend.vod.get_video_info(registered.media_id)
    assert (record.metadata.get("title"), record.metadata.get("cate_id")) == ("t" * 128, 1000012)


# --- status and processing settings -------------------------------------------------------------------


def test_status_follows_what_the_media_was_registered_with(backend: EmulatorBackend, clock: ManualClock) -> None:
    [(plain, _)] = register(backend, "v/0.mp4")
    [(no_transcode, _)] = register(backend, "v/1.mp4", template_group_id="VOD_NO_TRANSCODE")
    [(templated, _)] = register(backend, "v/2.mp4", template_group_id="tg-hd")
    [(workflow, _)] = register(backend, "v/3.mp4", workflow_id="wf-1")
    statuses = {m: backend.vod.get_video_info(m).status for m in (plain, no_transcode, templated, workflow)}
    assert statuses == {plain: "UploadSucc", no_transcode: "Normal", templated: "Transcoding", workflow: "Transcoding"}

    clock.advance(backend.vod.transcode_seconds - 0.5)
    assert backend.vod.get_video_info(templated).status == "Transcoding"
    clock.advance(0.5)
    finished = backend.vod.get_video_info(templated)
    assert finished.status == "Normal"
    assert finished.modification_time == finished.creation_time + backend.vod.transcode_seconds
    assert backend.vod.get_video_info(plain).status == "UploadSucc"


def test_workflow_id_beats_template_group_id(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4", template_group_id="VOD_NO_TRANSCODE", workflow_id="wf-1")
    record = backend.vod.get_video_info(media_id)
    assert (record.workflow_id, record.template_group_id, record.status) == ("wf-1", None, "Transcoding")


def test_top_level_settings_are_stored(backend: EmulatorBackend) -> None:
    result = backend.vod.register_media(
        [RegisterItem(url("v/0.mp4"), "t")],
        user_data='{"MessageCallback":{"CallbackURL":"https://cb"}}',
        enable_first_frame_cover=True,
        generate_thumbnail=False,
    )
    record = backend.vod.get_video_info(result.registered[0].media_id)
    assert record.user_data == '{"MessageCallback":{"CallbackURL":"https://cb"}}'
    assert (record.enable_first_frame_cover, record.generate_thumbnail) == (True, False)


def test_audio_files_are_audio_media(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "a/song.mp3")
    assert backend.vod.get_video_info(media_id).media_type == "audio"


# --- reads ---------------------------------------------------------------------------------------------


def test_get_video_info_of_an_unknown_id_is_not_found(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_video_info("0" * 32)
    assert code_of(excinfo) == ("InvalidVideo.NotFound", 404, "The video does not exist.")


def test_get_video_info_needs_an_id(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_video_info()
    assert excinfo.value.code == "MissingParameter"


def test_get_video_infos_lists_unknown_ids_instead_of_failing(backend: EmulatorBackend) -> None:
    [(a, _), (b, _)] = register(backend, "v/0.mp4", "v/1.mp4")
    lookup = backend.vod.get_video_infos([b, "f" * 32, a, b])
    assert [r.media_id for r in lookup.videos] == [b, a]
    assert lookup.non_exist_video_ids == ["f" * 32]


def test_get_video_infos_limits(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_video_infos([f"{i:032x}" for i in range(21)])
    assert (excinfo.value.code, excinfo.value.message) == (
        "InvalidParameter",
        'The specified parameter "VideoIds" is not valid.',
    )
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_video_infos([])
    assert excinfo.value.code == "MissingParameter"
    assert backend.vod.get_video_infos([f"{i:032x}" for i in range(20)]).videos == []


def test_reference_ids_are_never_known(backend: EmulatorBackend) -> None:
    lookup = backend.vod.get_video_infos(reference_ids=["ref-000001"])
    assert lookup.non_exist_reference_ids == ["ref-000001"]
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_video_infos(reference_ids=["bad ref"])
    assert excinfo.value.code == "InvalidParameter"


# --- UpdateVideoInfos ----------------------------------------------------------------------------------


def test_update_changes_only_present_fields(backend: EmulatorBackend, clock: ManualClock) -> None:
    item = RegisterItem(url("v/0.mp4"), "old", description="keep me", tags="a,b", cate_id=5)
    media_id = backend.vod.register_media([item]).registered[0].media_id
    clock.advance(30)
    missing = backend.vod.update_video_infos([VideoPatch(media_id, title="new", tags="")])
    record = backend.vod.get_video_info(media_id)
    assert missing == []
    assert (
        record.metadata.get("title"),
        record.metadata.get("description"),
        record.metadata.get("tags"),
        record.metadata.get("cate_id"),
    ) == ("new", "keep me", "", 5)
    assert record.modification_time == record.creation_time + 30


def test_update_lists_unknown_ids_and_updates_the_rest(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    missing = backend.vod.update_video_infos([VideoPatch("e" * 32, title="x"), VideoPatch(media_id, cate_id=9)])
    assert missing == ["e" * 32]
    assert backend.vod.get_video_info(media_id).metadata.get("cate_id") == 9


def test_update_limits(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.update_video_infos([VideoPatch(media_id, title="x")] * 21)
    assert code_of(excinfo) == ("CountExceededMax", 400, 'The count of "UpdateContent" exceeded maximum.')
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.update_video_infos([VideoPatch(media_id, title="fine"), VideoPatch(media_id, title="x" * 129)])
    assert excinfo.value.code == "InvalidParameter"
    assert backend.vod.get_video_info(media_id).metadata.get("title") == "title v/0.mp4"  # nothing applied
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.update_video_infos([VideoPatch(media_id, title="")])
    assert excinfo.value.code == "InvalidParameter"
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.update_video_infos([VideoPatch("", title="x")])
    assert excinfo.value.code == "MissingParameter"


# --- DeleteVideo ---------------------------------------------------------------------------------------


def test_delete_removes_the_record_and_the_source_object(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    assert backend.vod.delete_video([media_id, "d" * 32]) == ["d" * 32]
    with pytest.raises(ServiceError):
        backend.vod.get_video_info(media_id)
    assert url("v/0.mp4") not in backend.objects.urls()
    result = backend.vod.register_media([RegisterItem(url("v/0.mp4"), "again")])
    assert result.failed_file_urls == [url("v/0.mp4")]


def test_delete_under_auto_objects_also_deletes_the_object(clock: ManualClock) -> None:
    backend = EmulatorBackend(clock, auto_objects=True)
    [registered] = backend.vod.register_media([RegisterItem(url("v/0.mp4"), "t")]).registered
    backend.vod.delete_video([registered.media_id])
    assert backend.vod.register_media([RegisterItem(url("v/0.mp4"), "t")]).failed_file_urls == [url("v/0.mp4")]
    backend.objects.put([url("v/0.mp4")])  # uploading it again brings it back
    assert backend.vod.register_media([RegisterItem(url("v/0.mp4"), "t")]).registered[0].new_register is True


def test_delete_limits(backend: EmulatorBackend) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.delete_video([f"{i:032x}" for i in range(21)])
    assert code_of(excinfo) == ("VideoIdsExceededMax", 400, "The VideoIds exceeded maximum.")
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.delete_video([])
    assert excinfo.value.code == "MissingParameter"


# --- GetMezzanineInfo ----------------------------------------------------------------------------------


def test_mezzanine_is_the_registered_source_file(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    record = backend.vod.get_mezzanine_info(media_id)
    assert (record.file_url, record.object_key, record.bucket) == (url("v/0.mp4"), "v/0.mp4", "media")
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_mezzanine_info("a" * 32)
    assert excinfo.value.code == "InvalidVideo.NotFound"


def test_mezzanine_of_a_vanished_object_is_file_not_found(backend: EmulatorBackend) -> None:
    [(media_id, _)] = register(backend, "v/0.mp4")
    backend.objects.clear()
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.get_mezzanine_info(media_id)
    assert code_of(excinfo) == ("InvalidFile.NotFound", 404, "The file does not exist.")


# --- state ---------------------------------------------------------------------------------------------


def test_state_round_trips_through_its_json_form(backend: EmulatorBackend, clock: ManualClock) -> None:
    backend.mps.bind_input_bucket("media", referer="r")
    [(media_id, _)] = register(backend, "v/0.mp4", template_group_id="tg")
    restored = EmulatorBackend(clock)
    restored.restore(backend.to_state())
    assert restored.describe() == backend.describe()
    assert register(restored, "v/0.mp4") == [(media_id, False)]
    restored.mps.bind_input_bucket("other")
    assert [b.bucket for b in restored.mps.bindings()] == ["media", "other"]


def test_reset_keeps_objects_only_when_asked(backend: EmulatorBackend) -> None:
    register(backend, "v/0.mp4")
    backend.mps.bind_input_bucket("media")
    backend.reset(keep_objects=True)
    assert (backend.vod.media(), backend.mps.bindings()) == ([], [])
    assert url("v/1.mp4") in backend.objects.urls()
    backend.reset()
    assert backend.objects.urls() == []
