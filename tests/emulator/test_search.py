"""SearchMedia: the Match grammar, paging, sorting and scroll tokens."""

from __future__ import annotations

import pytest

from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import ManualClock
from reconcile.emulator.exceptions import ServiceError
from reconcile.emulator.search import SearchQuery, parse_sort_by
from reconcile.emulator.vod import RegisterItem, VideoPatch

HOST = "media.oss-cn-shanghai.aliyuncs.com"


@pytest.fixture
def backend() -> EmulatorBackend:
    clock = ManualClock()
    backend = EmulatorBackend(clock, auto_objects=True, seed=5)
    rows = [
        ("intro.mp4", "Intro to Cats", 10, "cats,pets", None),
        ("dogs.mp4", "All about DOGS", 20, "dogs,pets", "VOD_NO_TRANSCODE"),
        ("birds.mp4", "Birds", 10, "birds", "tg-hd"),
        ("theme.mp3", "Theme song", 30, "music", None),
    ]
    for key, title, cate, tags, template in rows:
        backend.vod.register_media(
            [RegisterItem(f"https://{HOST}/{key}", title, tags=tags, cate_id=cate)], template_group_id=template
        )
        clock.advance(10)
    backend.objects.put(["https://other.oss-cn-beijing.aliyuncs.com/x.mp4"])
    backend.vod.register_media([RegisterItem("https://other.oss-cn-beijing.aliyuncs.com/x.mp4", "Other place")])
    return backend


def titles(backend: EmulatorBackend, match: str | None, **kwargs: object) -> list[str]:
    page = backend.vod.search_media(SearchQuery(match=match, **kwargs))  # type: ignore[arg-type]
    return [m.metadata.get("title") for m in page.media]


def ids_by_title(backend: EmulatorBackend) -> dict[str, str]:
    return {m.metadata.get("title"): m.media_id for m in backend.vod.media()}


def test_no_match_returns_all_videos_newest_first(backend: EmulatorBackend) -> None:
    assert titles(backend, None) == ["Other place", "Birds", "All about DOGS", "Intro to Cats"]


def test_video_id_exact_and_multi_value(backend: EmulatorBackend) -> None:
    ids = ids_by_title(backend)
    assert titles(backend, f"VideoId = '{ids['Birds']}'") == ["Birds"]
    assert titles(backend, f"VideoId in ('{ids['Birds']}','{ids['Intro to Cats']}','{'0' * 32}')") == [
        "Birds",
        "Intro to Cats",
    ]


def test_title_is_a_case_insensitive_fuzzy_match(backend: EmulatorBackend) -> None:
    assert titles(backend, "Title = 'dogs'") == ["All about DOGS"]
    assert titles(backend, "Title in ('cat','bird')") == ["Birds", "Intro to Cats"]


def test_cate_id_storage_location_and_status(backend: EmulatorBackend) -> None:
    assert titles(backend, "CateId = '10'") == ["Birds", "Intro to Cats"]
    assert titles(backend, "StorageLocation = 'other.oss-cn-beijing.aliyuncs.com'") == ["Other place"]
    assert titles(backend, "Status in ('Normal','Transcoding')") == ["Birds", "All about DOGS"]


def test_and_or_with_parentheses(backend: EmulatorBackend) -> None:
    match = f"StorageLocation = '{HOST}' and (CateId = '20' or Tags = 'birds')"
    assert titles(backend, match) == ["Birds", "All about DOGS"]
    assert titles(backend, "Tags = 'pets' AND Title = 'intro'") == ["Intro to Cats"]


def test_time_ranges_open_and_closed(backend: EmulatorBackend) -> None:
    # registrations at 08:00:00, :10, :20 (audio, not a video), :30 ... ModificationTime is registration time
    assert titles(backend, "CreationTime = ('2024-05-01T08:00:00Z','2024-05-01T08:00:20Z']") == [
        "Birds",
        "All about DOGS",
    ]
    assert titles(backend, "CreationTime = ['2024-05-01T08:00:00Z','2024-05-01T08:00:10Z')") == ["Intro to Cats"]
    assert titles(backend, "CreationTime = ['2024-05-01T08:00:30Z','']") == ["Other place"]


def test_audio_is_searched_with_search_type_audio(backend: EmulatorBackend) -> None:
    assert titles(backend, None, search_type="audio") == ["Theme song"]
    assert titles(backend, None, search_type="image") == []


@pytest.mark.parametrize(
    "match",
    [
        "FileURL = 'https://x'",  # not matchable
        "CoverURL = 'x'",
        "Title = dogs",  # unquoted
        "Title = 'a' or Title = 'b'",  # or outside parentheses
        "(Title = 'a'",
        "Title in ()",
        "CreationTime = '2024-05-01T08:00:00Z'",  # range field needs a range
        "Title = ('a','b')",  # not a range field
        "CreationTime = ('yesterday','today')",
        "Title = 'a' and",
        "Title == 'a'",
    ],
)
def test_bad_match_is_invalid_parameter(backend: EmulatorBackend, match: str) -> None:
    with pytest.raises(ServiceError) as excinfo:
        titles(backend, match)
    assert (excinfo.value.code, excinfo.value.message) == (
        "InvalidParameter",
        'The specified parameter "Match" is not valid.',
    )


def test_paging_and_sort_order(backend: EmulatorBackend) -> None:
    ascending = parse_sort_by("CreationTime:Asc")
    assert titles(backend, None, sort_by=ascending, page_size=2) == ["Intro to Cats", "All about DOGS"]
    assert titles(backend, None, sort_by=ascending, page_size=2, page_no=2) == ["Birds", "Other place"]
    assert titles(backend, None, sort_by=ascending, page_size=2, page_no=3) == []
    page = backend.vod.search_media(SearchQuery(page_size=2))
    assert page.total == 4


def test_scroll_token_continues_after_the_page(backend: EmulatorBackend) -> None:
    first = backend.vod.search_media(SearchQuery(page_size=3))
    assert len(first.scroll_token) == 32
    second = backend.vod.search_media(SearchQuery(page_size=3, scroll_offset=int(first.scroll_token, 16)))
    assert [m.metadata.get("title") for m in second.media] == ["Intro to Cats"]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("PageSize", {"page_size": 101}),
        ("PageSize", {"page_size": 0}),
        ("PageNo", {"page_no": 0}),
        ("PageNo", {"page_no": 51, "page_size": 100}),
    ],
)
def test_paging_limits(backend: EmulatorBackend, field: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.search_media(SearchQuery(**kwargs))  # type: ignore[arg-type]
    assert excinfo.value.message == f'The specified parameter "{field}" is not valid.'


@pytest.mark.parametrize("value", ["Title:Asc", "CreationTime:Sideways"])
def test_bad_sort_by_is_invalid(value: str) -> None:
    with pytest.raises(ServiceError):
        parse_sort_by(value)


def test_a_video_id_condition_takes_at_most_100_ids(backend: EmulatorBackend) -> None:
    ids = ",".join(f"'{i:032x}'" for i in range(101))
    with pytest.raises(ServiceError) as excinfo:
        titles(backend, f"VideoId in ({ids})")
    assert excinfo.value.message == 'The specified parameter "Match" is not valid.'
    assert titles(backend, f"VideoId in ({ids[: ids.rindex(',')]})") == []  # 100 unknown ids: no hit, no error


def test_a_video_id_condition_inside_or_still_matches_the_other_side(backend: EmulatorBackend) -> None:
    ids = ids_by_title(backend)
    assert titles(backend, f"(VideoId = '{ids['Birds']}' or Title = 'cats')") == ["Birds", "Intro to Cats"]
    assert titles(backend, f"VideoId = '{ids['Birds']}' and Title = 'cats'") == []


def test_a_scroll_token_moves_at_most_1200_records_from_its_page(backend: EmulatorBackend) -> None:
    first = backend.vod.search_media(SearchQuery(page_size=1))
    offset = int(first.scroll_token, 16)
    second_page = backend.vod.search_media(SearchQuery(page_size=1, page_no=2, scroll_offset=offset))
    assert [m.metadata.get("title") for m in second_page.media] == ["All about DOGS"]  # the page after the next
    assert backend.vod.search_media(SearchQuery(page_size=100, page_no=12, scroll_offset=offset)).media == []
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.search_media(SearchQuery(page_size=100, page_no=13, scroll_offset=offset))
    assert excinfo.value.message == 'The specified parameter "PageNo" is not valid.'
    with pytest.raises(ServiceError) as excinfo:
        backend.vod.search_media(SearchQuery(search_type="image", scroll_offset=offset))
    assert excinfo.value.message == 'The specified parameter "ScrollToken" is not valid.'


def test_a_scroll_walks_every_hit_past_the_first_5000_once() -> None:
    clock = ManualClock()
    backend = EmulatorBackend(clock, auto_objects=True, seed=5)
    for start in range(0, 5050, 10):
        items = [RegisterItem(f"https://{HOST}/v/{i:05d}.mp4", f"V {i}") for i in range(start, start + 10)]
        backend.vod.register_media(items)
    seen: list[str] = []
    page = backend.vod.search_media(SearchQuery(page_size=100, sort_by=("creation_time", False)))
    while page.media:
        seen += [m.metadata.get("title") for m in page.media]
        offset = int(page.scroll_token, 16)
        page = backend.vod.search_media(
            SearchQuery(page_size=100, scroll_offset=offset, sort_by=("creation_time", False))
        )
    assert page.total == 5050 and seen == [f"V {i}" for i in range(5050)]


def test_with_a_search_lag_the_index_shows_the_account_as_it_was() -> None:
    clock = ManualClock()
    backend = EmulatorBackend(clock, auto_objects=True, seed=5, search_lag=30)
    url = f"https://{HOST}/a.mp4"
    media_id = backend.vod.register_media([RegisterItem(url, "First")]).registered[0].media_id

    def search() -> list[str]:
        return [
            m.metadata.get("title")
            for m in backend.vod.search_media(SearchQuery(match=f"VideoId = '{media_id}'")).media
        ]

    assert search() == []  # registered a moment ago: not indexed yet
    clock.advance(31)
    assert search() == ["First"]
    backend.vod.update_video_infos([VideoPatch(video_id=media_id, title="Second")])
    assert search() == ["First"]
    clock.advance(10)
    backend.vod.delete_video([media_id])
    assert search() == ["First"]  # deleted, but the index still has it
    assert backend.vod.get_video_infos([media_id]).non_exist_video_ids == [media_id]  # reads by id are current
    clock.advance(25)
    assert search() == ["Second"]  # 35 s after the update, 25 s after the delete
    clock.advance(10)
    assert search() == []
    assert titles(backend, None) == []


def test_the_search_lag_is_a_setting_of_the_running_emulator() -> None:
    clock = ManualClock()
    backend = EmulatorBackend(clock, auto_objects=True, seed=5)
    backend.vod.search_lag = 60
    backend.vod.register_media([RegisterItem(f"https://{HOST}/a.mp4", "A")])
    assert titles(backend, None) == []
    backend.vod.search_lag = 0  # immediately consistent again
    assert titles(backend, None) == ["A"]
    with pytest.raises(ValueError, match="cannot be negative"):
        backend.vod.search_lag = -1
