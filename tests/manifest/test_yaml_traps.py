"""YAML's traps: implicit typing, duplicate keys, anchors and merges, and input that is not YAML at all."""

from __future__ import annotations

import json

import pytest

from tests.manifest.conftest import OSS, Load, Problems

REGION = "region: cn-shanghai\n"


def one_media(title: str, *extra: str) -> str:
    return REGION + f"media:\n  - file_url: {OSS}/a.mp4\n    title: {title}\n" + "".join(f"    {e}\n" for e in extra)


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("no", "no"),
        ("on", "on"),
        ("Yes", "Yes"),
        ("1.10", "1.10"),
        ("2024-01-01", "2024-01-01"),
        ("2024-01-01 10:00:00", "2024-01-01 10:00:00"),
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        (".inf", ".inf"),
        ("'null'", "null"),
        ('"~"', "~"),
        ("007", "007"),
        ("True", "True"),
    ],
)
def test_titles_stay_the_literal_text_written(load: Load, written: str, title: str) -> None:
    (media,) = load(one_media(written)).media
    assert media.attributes.title == title


def test_tags_stay_literal_text(load: Load) -> None:
    (media,) = load(one_media("Intro", "tags: [no, 2024, 1.10, off]")).media
    assert media.attributes.tags == ("no", "2024", "1.10", "off")


@pytest.mark.parametrize(("written", "col"), [("~", 12), ("null", 12), ("Null", 12), ("NULL", 12), ("", 11)])
def test_null_as_a_title_is_missing(problems: Problems, written: str, col: int) -> None:
    assert problems(one_media(written)) == [f"4:{col}: `title` is required, but is null here"]


def test_null_on_an_optional_key_means_not_declared(load: Load) -> None:
    (media,) = load(one_media("Intro", "description: ~", "workflow_id: null", "tags:", "cate_id: ~")).media
    assert (
        media.attributes.description,
        media.attributes.workflow_id,
        media.attributes.tags,
        media.attributes.cate_id,
    ) == (None, None, None, None)


def test_integers_and_booleans_follow_yaml_1_2(load: Load) -> None:
    (media,) = load(one_media("Intro", "cate_id: 0x3E8", "prevent_destroy: TRUE")).media
    assert (media.attributes.cate_id, media.prevent_destroy) == (1000, True)


def test_duplicate_keys_are_errors_at_every_level(problems: Problems) -> None:
    text = (
        "region: cn-shanghai\n"
        "media_defaults:\n"
        "  cate_id: 1\n"
        "  cate_id: 2\n"
        "media:\n"
        f"  - file_url: {OSS}/a.mp4\n"
        "    title: A\n"
        "    user_data: {Extend: {team: a, team: b}}\n"
    )
    assert problems(text) == [
        "4:3: duplicate key `cate_id` (first at line 3): YAML keeps only one value; remove one",
        "8:35: duplicate key `team` (first at line 8): YAML keeps only one value; remove one",
    ]


def test_anchors_aliases_and_merge_keys_work(load: Load) -> None:
    text = (
        "region: cn-shanghai\n"
        "media:\n"
        f"  - &base\n"
        f"    file_url: {OSS}/a.mp4\n"
        "    title: A\n"
        "    tags: &tags [launch, promo]\n"
        "    cate_id: 7\n"
        "  - <<: *base\n"
        f"    file_url: {OSS}/b.mp4\n"
        "    title: B\n"
        "  - <<: [*base]\n"
        f"    file_url: {OSS}/c.mp4\n"
        "    tags: *tags\n"
    )
    a, b, c = load(text).media
    assert (a.attributes.title, a.attributes.tags, a.attributes.cate_id) == ("A", ("launch", "promo"), 7)
    assert (b.attributes.title, b.attributes.tags, b.attributes.cate_id) == ("B", ("launch", "promo"), 7)
    assert (c.attributes.title, c.attributes.tags, c.attributes.cate_id) == ("A", ("launch", "promo"), 7)
    assert c.location.line == 12  # the entry's own file_url, not the merged one


def test_an_alias_repeating_an_entry_is_a_duplicate(problems: Problems) -> None:
    text = REGION + f"media:\n  - &intro {{file_url: '{OSS}/a.mp4', title: A}}\n  - *intro\n"
    assert problems(text) == [
        "3:13: media `media-in/a.mp4` is declared twice: first at m.yaml:3:13 (a YAML alias `*name` repeats that "
        "whole entry); remove one",
    ]


def test_a_merge_repeating_an_identity_is_reported_at_the_merging_entry(problems: Problems) -> None:
    text = (
        REGION + "input_buckets:\n  - &in {bucket: media-in}\n  - <<: *in\n    referer: https://example.com\n"
        "media:\n"
        f"  - &intro\n    file_url: {OSS}/a.mp4\n    name: intro\n    title: A\n"
        "  - <<: *intro\n    title: B\n"
    )
    assert problems(text) == [
        "4:5: input bucket `media-in` is declared twice: first at m.yaml:3:10 (this entry repeats it through a "
        "YAML alias or `<<` merge); remove one",
        "11:5: media `media-in/a.mp4` is declared twice: first at m.yaml:8:5 (this entry repeats it through a YAML "
        "alias or `<<` merge); remove one",
        "11:5: media name `intro` is used twice: first at m.yaml:9:5 (this entry repeats it through a YAML alias "
        "or `<<` merge); names are unique",
    ]


def test_alias_bombs_are_refused_not_expanded(problems: Problems) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    text = one_media("Intro", "user_data:", *(f"  {level}" for level in levels))
    assert problems(text) == [
        "6:7: `user_data` expands to more than 10000 values; "
        "check for YAML aliases (`*name`) that repeat a large structure",
    ]


def test_user_data_values_follow_json_typing(load: Load) -> None:
    text = one_media(
        "Intro",
        "user_data:",
        "  Extend: {on: on, yes: yes, date: 2024-01-01, n: 12, x: 0.5, t: true, nothing: ~, hex: 0x10, s: '12'}",
        "  MessageCallback: {CallbackURL: 'https://hooks.example.com/vod'}",
    )
    (media,) = load(text).media
    assert media.attributes.user_data == (
        '{"Extend":{"date":"2024-01-01","hex":16,"n":12,"nothing":null,"on":"on","s":"12","t":true,"x":0.5,'
        '"yes":"yes"},"MessageCallback":{"CallbackURL":"https://hooks.example.com/vod"}}'
    )
    assert json.loads(media.attributes.user_data or "") == {
        "Extend": {
            "date": "2024-01-01",
            "hex": 16,
            "n": 12,
            "nothing": None,
            "on": "on",
            "s": "12",
            "t": True,
            "x": 0.5,
            "yes": "yes",
        },
        "MessageCallback": {"CallbackURL": "https://hooks.example.com/vod"},
    }


def test_non_utf8_bytes_are_reported_where_they_are(problems: Problems) -> None:
    text = (REGION + "media:\n  - title: caf").encode() + b"\xe9\n"
    assert problems(text) == ["3:15: not UTF-8 text (byte 0xe9); manifests must be saved as UTF-8"]


def test_binary_garbage_is_not_utf8(problems: Problems) -> None:
    assert problems(bytes(range(256)) * 4) == [
        "2:118: not UTF-8 text (byte 0x80); manifests must be saved as UTF-8",
    ]


def test_control_characters_are_reported(problems: Problems) -> None:
    text = (REGION + "media:\n  - title: a").encode() + b"\x00\n"
    assert problems(text) == ["3:13: invalid YAML: control characters are not allowed (character U+0000)"]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n# region: cn-shanghai\n", "---\n...\n", "~\n"])
def test_a_file_without_documents_is_an_error(problems: Problems, text: str) -> None:
    assert problems(text) == [
        "1:1: no manifest here: the file is empty or holds only comments; declare `region:` and entries, "
        "or delete the file",
    ]


def test_empty_documents_between_separators_are_skipped(load: Load) -> None:
    state = load("---\n" + one_media("A") + "---\n---\n" + REGION + "input_buckets: [{bucket: media-in}]\n---\n")
    assert [m.attributes.title for m in state.media] == ["A"]
    assert [b.bucket for b in state.buckets] == ["media-in"]


def test_a_byte_order_mark_is_accepted(load: Load) -> None:
    (media,) = load("\ufeff" + one_media("Intro")).media
    assert media.location.line == 3


def test_problems_before_a_syntax_error_are_still_reported(problems: Problems) -> None:
    text = "region: Shanghai\n---\nregion: [\n"
    assert problems(text) == [
        "1:9: `region` must be a region id such as cn-shanghai or ap-southeast-1, got `Shanghai`",
        "4:1: invalid YAML: did not find expected node content (while parsing a flow node at line 4, column 1)",
    ]
