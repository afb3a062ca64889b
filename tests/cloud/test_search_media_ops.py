"""SearchMedia's wire parameters and answers for the whole-library walk `reconcile import` makes (issue 16)."""

from __future__ import annotations

from reconcile.cloud.operations import parse_search_media, search_media_params


def test_an_empty_match_is_left_out_and_the_search_type_is_sent():
    assert search_media_params("", search_type="audio", scroll_token="0" * 32) == {
        "SearchType": "audio",
        "PageSize": "100",
        "ScrollToken": "0" * 32,
    }
    assert search_media_params("Tags in ('a')")["Match"] == "Tags in ('a')"


def test_an_audio_page_reads_each_entry_audio_with_its_audio_id():
    body = {
        "RequestId": "r",
        "Total": 2,
        "ScrollToken": "t" * 32,
        "MediaList": [
            {"MediaId": "a1", "MediaType": "audio", "Audio": {"AudioId": "a1", "Title": "Episode", "Tags": "x,y"}},
            {"MediaId": "v1", "MediaType": "video", "Video": {"VideoId": "v1", "Title": "Clip"}},
        ],
    }
    page = parse_search_media(body, "audio")
    assert [(v.video_id, v.title, v.tags) for v in page.videos] == [("a1", "Episode", ("x", "y"))]
    assert [v.video_id for v in parse_search_media(body).videos] == ["v1"]
    assert (page.total, page.scroll_token) == (2, "t" * 32)
