"""Bad manifests: each case asserts the exact `line:col: message` lines a user sees, and nothing else."""

from __future__ import annotations

import pytest

from tests.manifest.conftest import OSS, Problems

REGION = "region: cn-shanghai\n"
URL = f"{OSS}/raw/intro.mp4"


def entry(*extra: str, title: str = "Intro", url: str = URL) -> str:
    """A document with one media entry: file_url on line 3 (value at col 15), title on line 4 (value at
    col 12), then `extra` lines from line 5, indented as entry keys (key at col 5)."""
    lines = [f"    {line}" for line in extra]
    return (
        REGION
        + "media:\n"
        + f"  - file_url: {url}\n"
        + f"    title: {title}\n"
        + "".join(f"{line}\n" for line in lines)
    )


def bucket(*lines: str) -> str:
    """A document whose input_buckets list holds `lines` (from line 3, at col 3)."""
    return REGION + "input_buckets:\n" + "".join(f"  {line}\n" for line in lines)


EMOJI_REJECTED = "which VOD rejects in titles, descriptions and tags"
BAD_OSS_BUCKET = (
    "which is not a valid OSS bucket name: OSS bucket names are 3–63 characters of lowercase letters, digits and "
    "hyphens, starting and ending with a letter or digit"
)
OSS_URL_FORM = "`file_url` must be an OSS object URL (https://<bucket>.oss-<region>.aliyuncs.com/<object-key>)"
MEDIA_KEYS = (
    "`cate_id`, `cover_url`, `description`, `file_url`, `name`, `prevent_destroy`, `tags`, "
    "`template_group_id`, `title`, `user_data`, `workflow_id`"
)

CASES: list[tuple[str, str, list[str]]] = [
    # --- the document -------------------------------------------------------------------------------
    ("missing-region", "media: []\n", ["1:1: the document is missing the required key `region`"]),
    (
        "region-not-an-id",
        "region: Shanghai\n",
        ["1:9: `region` must be a region id such as cn-shanghai or ap-southeast-1, got `Shanghai`"],
    ),
    ("region-null", "region: ~\n", ["1:9: `region` is required, but is null here"]),
    ("region-a-list", "region: [cn-shanghai]\n", ["1:9: `region` must be text, not a list"]),
    (
        "top-level-typo",
        REGION + "medias: []\n",
        ["2:1: unknown key `medias` in the document; did you mean `media`?"],
    ),
    (
        "top-level-unknown",
        REGION + "owner: growth-team\n",
        [
            "2:1: unknown key `owner` in the document; expected one of: "
            "`input_buckets`, `media`, `media_defaults`, `region`"
        ],
    ),
    (
        "media-key-at-top-level",
        REGION + "title: Intro\n",
        ["2:1: `title` does not belong in the document; it goes in a media entry"],
    ),
    (
        "document-is-a-list",
        "- region: cn-shanghai\n",
        [
            "1:1: a manifest document must be a mapping with `region` and the lists `input_buckets` and `media`, "
            "not a list"
        ],
    ),
    (
        "document-is-text",
        "just some text\n",
        [
            "1:1: a manifest document must be a mapping with `region` and the lists `input_buckets` and `media`, "
            "not `just some text`"
        ],
    ),
    (
        "second-document-bad",
        REGION + "---\nregion: cn-shanghai\nmedia: {}\n",
        ["4:8: `media` must be a list of entries, each starting with `- `, not a mapping"],
    ),
    # --- files reconcile writes, named where manifests go ------------------------------------------
    (
        "plan-json-view",
        '{\n  "format_version": "1.0",\n  "reconcile_version": "0.1.0",\n  "resource_changes": [],\n  "calls": []\n}\n',
        [
            "1:1: this is the JSON view of a plan (`reconcile plan --format json`), not a manifest or a saved plan; "
            "to apply a reviewed plan, save it with `reconcile plan PATH... --out FILE` and run `reconcile apply FILE`"
        ],
    ),
    (
        "plan-json-view-as-yaml",
        "format_version: '1.0'\nchanges: []\ncalls: []\n",
        [
            "1:1: this is the JSON view of a plan (`reconcile plan --format json`), not a manifest or a saved plan; "
            "to apply a reviewed plan, save it with `reconcile plan PATH... --out FILE` and run `reconcile apply FILE`"
        ],
    ),
    (
        "saved-plan",
        '{"reconcile_saved_plan":1,"plan":{"format_version":"1.0"}}\n',
        [
            "1:1: this is a saved plan (`reconcile plan --out FILE`), not a manifest: `reconcile apply FILE` "
            "applies it and `reconcile show FILE` shows it"
        ],
    ),
    (
        "drift-json-view",
        '{"format_version": "1.0", "drifted": false, "drifts": []}\n',
        ["1:1: this is the JSON view of a drift report (`reconcile drift --format json`), not a manifest"],
    ),
    (
        "state-file",
        '{"version": 1, "lineage": "0d9c", "serial": 3, "resources": []}\n',
        ["1:1: this is a reconcile state file, not a manifest"],
    ),
    (
        "manifest-with-a-stray-format-version",
        REGION + "format_version: '1.0'\ncalls: []\nchanges: []\n",
        [
            "2:1: unknown key `format_version` in the document; expected one of: "
            "`input_buckets`, `media`, `media_defaults`, `region`",
            "3:1: unknown key `calls` in the document; expected one of: "
            "`input_buckets`, `media`, `media_defaults`, `region`",
            "4:1: unknown key `changes` in the document; expected one of: "
            "`input_buckets`, `media`, `media_defaults`, `region`",
        ],
    ),
    # --- input buckets ------------------------------------------------------------------------------
    (
        "input-buckets-a-mapping",
        REGION + "input_buckets:\n  bucket: media-in\n",
        ["3:3: `input_buckets` must be a list of entries, each starting with `- `, not a mapping"],
    ),
    (
        "bucket-entry-is-a-name",
        bucket("- media-in-prod"),
        ["3:5: each input_buckets entry must be a mapping such as `- bucket: media-in-prod`"],
    ),
    (
        "bucket-missing",
        bucket("- referer: https://example.com"),
        ["3:5: an input_buckets entry is missing the required key `bucket`"],
    ),
    (
        "bucket-uppercase-underscore",
        bucket("- bucket: Media_In"),
        [
            "3:13: `bucket` must be lowercase letters, digits and hyphens, not starting or ending with a hyphen; "
            "got `Media_In`"
        ],
    ),
    (
        "bucket-trailing-hyphen",
        bucket("- bucket: media-in-"),
        [
            "3:13: `bucket` must be lowercase letters, digits and hyphens, not starting or ending with a hyphen; "
            "got `media-in-`"
        ],
    ),
    ("bucket-too-long", bucket("- bucket: " + "a" * 65), ["3:13: `bucket` is 65 bytes; the limit is 64"]),
    ("bucket-a-list", bucket("- bucket: [media-in]"), ["3:13: `bucket` must be text, not a list"]),
    (
        "referer-a-mapping",
        bucket("- bucket: media-in", "  referer: {url: https://example.com}"),
        ["4:14: `referer` must be text, not a mapping"],
    ),
    (
        "prevent-destroy-yes",
        bucket("- bucket: media-in", "  prevent_destroy: yes"),
        ["4:22: `prevent_destroy` must be true or false, got `yes`"],
    ),
    (
        "prevent-destroy-quoted",
        bucket("- bucket: media-in", '  prevent_destroy: "true"'),
        ['4:22: `prevent_destroy` must be true or false, got the quoted text "true"; remove the quotes'],
    ),
    (
        "bucket-key-typo",
        bucket("- bucket: media-in", "  referrer: https://example.com"),
        ["4:5: unknown key `referrer` in an input_buckets entry; did you mean `referer`?"],
    ),
    # --- media entries: shape -----------------------------------------------------------------------
    (
        "media-entry-is-text",
        REGION + "media:\n  - intro.mp4\n",
        ["3:5: each media entry must be a mapping with `file_url:` and `title:`, not `intro.mp4`"],
    ),
    (
        "file-url-missing",
        REGION + "media:\n  - title: Intro\n",
        ["3:5: a media entry is missing the required key `file_url`"],
    ),
    (
        "title-missing",
        REGION + f"media:\n  - file_url: {URL}\n",
        ["3:5: a media entry is missing the required key `title`"],
    ),
    ("title-null", entry(title="~"), ["4:12: `title` is required, but is null here"]),
    ("title-empty", entry(title='""'), ["4:12: `title` must not be empty"]),
    (
        "media-key-typo",
        entry("titel: Intro again"),
        ["5:5: unknown key `titel` in a media entry; did you mean `title`?"],
    ),
    (
        "media-key-unknown",
        entry("colour: blue"),
        [f"5:5: unknown key `colour` in a media entry; expected one of: {MEDIA_KEYS}"],
    ),
    (
        "bucket-key-in-media-entry",
        entry("bucket: media-in"),
        ["5:5: `bucket` does not belong in a media entry; it goes in an input_buckets entry"],
    ),
    (
        "key-is-a-list",
        entry("? [a, b]", ": c"),
        ["5:7: a key must be text, not a list"],
    ),
    # --- title, description, tags -------------------------------------------------------------------
    ("title-a-list", entry(title="[Intro]"), ["4:12: `title` must be text, not a list"]),
    ("title-too-long", entry(title="标" * 43), ["4:12: `title` is 129 bytes in UTF-8; the limit is 128"]),
    (
        "title-emoji",
        entry(title="Intro 🎬"),
        [f"4:12: `title` contains an emoji (🎬 U+1F3AC), {EMOJI_REJECTED}"],
    ),
    (
        "title-two-lines",
        entry(title="|\n      Intro\n      Part two"),
        ["4:12: `title` contains a line break; write it as one line of text"],
    ),
    (
        "description-too-long",
        entry("description: " + "x" * 1025),
        ["5:18: `description` is 1025 bytes in UTF-8; the limit is 1024"],
    ),
    (
        "description-emoji",
        entry("description: Launch day ✨"),
        [f"5:18: `description` contains an emoji (✨ U+2728), {EMOJI_REJECTED}"],
    ),
    (
        "tags-as-text",
        entry("tags: launch, promo"),
        ["5:11: `tags` must be a list such as `tags: [launch, promo]`, not `launch, promo`"],
    ),
    (
        "too-many-tags",
        entry("tags: [" + ", ".join(f"t{i}" for i in range(17)) + "]"),
        ["5:11: `tags` has 17 tags; the limit is 16"],
    ),
    (
        "tag-too-long",
        entry("tags: [launch, " + "t" * 33 + "]"),
        [f"5:20: tag `{'t' * 33}` is 33 bytes in UTF-8; the limit is 32"],
    ),
    (
        "tag-with-comma",
        entry('tags: [launch, "spring,summer"]'),
        [
            "5:20: tag `spring,summer` contains a comma: VOD stores tags as one comma-separated text, "
            "so split it into two tags"
        ],
    ),
    ("tag-twice", entry("tags: [launch, promo, launch]"), ["5:27: tag `launch` is listed twice in `tags`"]),
    ("tag-null", entry("tags: [launch, ~]"), ["5:20: empty tag in `tags`; remove it"]),
    ("tag-emoji", entry("tags: [🚀]"), [f"5:12: tag `🚀` contains an emoji (🚀 U+1F680), {EMOJI_REJECTED}"]),
    ("tag-a-mapping", entry("tags: [{a: b}]"), ["5:12: each tag in `tags` must be text, not a mapping"]),
    # --- file_url -----------------------------------------------------------------------------------
    (
        "file-url-not-oss",
        entry(url="https://cdn.example.com/raw/intro.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: host `cdn.example.com` is not an OSS bucket endpoint such as "
            "<bucket>.oss-cn-shanghai.aliyuncs.com"
        ],
    ),
    (
        "file-url-bucket-too-short",
        entry(url="https://b1.oss-cn-shanghai.aliyuncs.com/a.mp4"),
        [f"3:15: {OSS_URL_FORM}: host `b1.oss-cn-shanghai.aliyuncs.com` names the bucket `b1`, {BAD_OSS_BUCKET}"],
    ),
    (
        "file-url-bucket-too-long",
        entry(url=f"https://{'b' * 64}.oss-cn-shanghai.aliyuncs.com/a.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: host `{'b' * 64}.oss-cn-shanghai.aliyuncs.com` names the bucket `{'b' * 64}`, "
            f"{BAD_OSS_BUCKET}"
        ],
    ),
    (
        "file-url-bucket-with-dots",
        entry(url="https://media.in.oss-cn-shanghai.aliyuncs.com/a.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: host `media.in.oss-cn-shanghai.aliyuncs.com` names the bucket `media.in`, "
            f"{BAD_OSS_BUCKET}"
        ],
    ),
    (
        "file-url-bucket-accelerate-endpoint",
        entry(url="https://media_in.oss-accelerate.aliyuncs.com/a.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: host `media_in.oss-accelerate.aliyuncs.com` names the bucket `media_in`, "
            f"{BAD_OSS_BUCKET}"
        ],
    ),
    (
        "file-url-not-an-oss-endpoint",
        entry(url="https://b1.oss-shanghai.aliyuncs.com/a.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: host `b1.oss-shanghai.aliyuncs.com` is not an OSS bucket endpoint such as "
            "<bucket>.oss-cn-shanghai.aliyuncs.com"
        ],
    ),
    (
        "file-url-ftp",
        entry(url="ftp://media-in.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: it must start with https:// or http://, got "
            "`ftp://media-in.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4`"
        ],
    ),
    (
        "file-url-signed",
        entry(url=f"{URL}?Expires=1700000000&Signature=abc"),
        [f"3:15: {OSS_URL_FORM}: remove the query string or fragment (a signed URL expires; name the object only)"],
    ),
    (
        "file-url-port",
        entry(url="https://media-in.oss-cn-shanghai.aliyuncs.com:8443/raw/intro.mp4"),
        [f"3:15: {OSS_URL_FORM}: it must not name a port"],
    ),
    (
        "file-url-bad-port",
        entry(url="https://media-in.oss-cn-shanghai.aliyuncs.com:http/raw/intro.mp4"),
        [
            f"3:15: {OSS_URL_FORM}: `https://media-in.oss-cn-shanghai.aliyuncs.com:http/raw/intro.mp4` "
            "is not a valid URL"
        ],
    ),
    (
        "file-url-folder",
        entry(url=f"{OSS}/raw/"),
        [f"3:15: {OSS_URL_FORM}: it must name an object, not a bucket or a folder"],
    ),
    (
        "file-url-not-media",
        entry(url=f"{OSS}/raw/notes.txt"),
        [
            "3:15: `file_url` must name an audio or video file: `.txt` is not a media file extension VOD "
            "accepts (.mp4, .mov, .mkv, .mp3 or .m4a)"
        ],
    ),
    (
        "file-url-no-extension",
        entry(url=f"{OSS}/raw/intro"),
        [
            "3:15: `file_url` must name an audio or video file: `raw/intro` has no extension, so it is not a "
            "media file extension VOD accepts (.mp4, .mov, .mkv, .mp3 or .m4a)"
        ],
    ),
    (
        "file-url-too-long",
        entry(url=f"{OSS}/{'k' * 1000}.mp4"),
        ["3:15: `file_url` is 1050 bytes; the limit is 1024"],
    ),
    (
        "file-url-other-region",
        entry(url="https://media-bj.oss-cn-beijing.aliyuncs.com/raw/intro.mp4"),
        [
            "3:15: `file_url` is in OSS region cn-beijing but this document's region is cn-shanghai: VOD "
            "registers files only from OSS buckets in its own region; move the file, or declare it in a "
            "`region: cn-beijing` document"
        ],
    ),
    # --- other media fields -------------------------------------------------------------------------
    (
        "cover-url-not-http",
        entry("cover_url: oss://media-in/covers/intro.jpg"),
        ["5:16: `cover_url` must be an http:// or https:// URL, got `oss://media-in/covers/intro.jpg`"],
    ),
    (
        "cover-url-too-long",
        entry(f"cover_url: {OSS}/{'c' * 1000}.jpg"),
        ["5:16: `cover_url` is 1050 bytes; the limit is 1024"],
    ),
    ("cate-id-text", entry("cate_id: music"), ["5:14: `cate_id` must be an integer, got `music`"]),
    (
        "cate-id-quoted",
        entry('cate_id: "1000"'),
        ['5:14: `cate_id` must be an integer, got the quoted text "1000"; remove the quotes'],
    ),
    ("cate-id-zero", entry("cate_id: 0"), ["5:14: `cate_id` must be a positive integer (a VOD category id), got 0"]),
    (
        "cate-id-negative",
        entry("cate_id: -7"),
        ["5:14: `cate_id` must be a positive integer (a VOD category id), got -7"],
    ),
    ("cate-id-fraction", entry("cate_id: 1.5"), ["5:14: `cate_id` must be an integer, got `1.5`"]),
    (
        "template-group-empty",
        entry('template_group_id: ""'),
        ["5:24: `template_group_id` must not be empty; remove the key, or write `null`, to leave it unset"],
    ),
    (
        "workflow-id-spaced",
        entry("workflow_id: my workflow"),
        ["5:18: `workflow_id` must be an id without spaces, got `my workflow`"],
    ),
    (
        "user-data-a-list",
        entry("user_data: [a, b]"),
        ["5:16: `user_data` must be a mapping (it is sent as a JSON object), not a list"],
    ),
    (
        "user-data-text",
        entry("user_data: '{\"Extend\": {}}'"),
        ['5:16: `user_data` must be a mapping (it is sent as a JSON object), not the quoted text "{"Extend": {}}"'],
    ),
    (
        "user-data-infinity",
        entry("user_data: {Extend: {ratio: .inf}}"),
        ["5:33: `.inf` is not a JSON number (JSON has no infinity or NaN); quote it for text"],
    ),
    (
        "user-data-binary",
        entry("user_data: {blob: !!binary aGVsbG8=}"),
        ["5:23: YAML tag `!!binary` is not supported in manifests; remove it"],
    ),
    (
        "user-data-cycle",
        entry("user_data: &loop {self: *loop}"),
        ["5:16: `user_data` contains itself through a YAML alias; JSON cannot hold a cycle"],
    ),
    (
        "name-with-space",
        entry('name: "Intro Video"'),
        [
            "5:11: `name` must be up to 64 lowercase letters, digits, `_` and `-` (it becomes the address "
            "media.<name>); got `Intro Video`"
        ],
    ),
    (
        "custom-tag",
        entry(title="!secret Intro"),
        ["4:12: YAML tag `!secret` is not supported in manifests; remove it"],
    ),
    # --- media_defaults -----------------------------------------------------------------------------
    (
        "defaults-title",
        REGION + "media_defaults:\n  title: Untitled\n",
        ["3:3: `title` does not belong in media_defaults; it goes in a media entry"],
    ),
    (
        "defaults-file-url",
        REGION + f"media_defaults:\n  file_url: {URL}\n",
        ["3:3: `file_url` does not belong in media_defaults; it goes in a media entry"],
    ),
    (
        "defaults-typo",
        REGION + "media_defaults:\n  tag: [catalog]\n",
        ["3:3: unknown key `tag` in media_defaults; did you mean `tags`?"],
    ),
    (
        "defaults-a-list",
        REGION + "media_defaults: [catalog]\n",
        ["2:17: `media_defaults` must be a mapping of media keys and values, not a list"],
    ),
    (
        "defaults-bad-value",
        REGION + "media_defaults:\n  cate_id: news\n",
        ["3:12: `cate_id` must be an integer, got `news`"],
    ),
    # --- YAML ---------------------------------------------------------------------------------------
    (
        "duplicate-key",
        entry("title: Intro, again"),
        ["5:5: duplicate key `title` (first at line 4): YAML keeps only one value; remove one"],
    ),
    (
        "duplicate-top-level-key",
        REGION + "media: []\nregion: cn-beijing\n",
        ["3:1: duplicate key `region` (first at line 1): YAML keeps only one value; remove one"],
    ),
    (
        "unclosed-flow-list",
        entry("tags: [launch, promo", "cate_id: 5"),
        ["6:12: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 5, column 11)"],
    ),
    (
        "colon-in-plain-value",
        entry(title="Intro: part one"),
        ["4:17: invalid YAML: mapping values are not allowed in this context; quote a value that contains `: `"],
    ),
    (
        "tab-indentation",
        REGION + "media:\n\t- title: Intro\n",
        [
            "3:1: invalid YAML: found character that cannot start any token "
            "(while scanning for the next token at line 3, column 1); indent with spaces, not tabs"
        ],
    ),
    (
        "undefined-alias",
        entry("tags: *common"),
        ["5:11: invalid YAML: found undefined alias; define the anchor (`&name`) before using the alias (`*name`)"],
    ),
    (
        "merge-a-scalar",
        entry("<<: common"),
        ["5:9: `<<` merges a mapping (`<<: *anchor`) or a list of them, not `common`"],
    ),
    (
        "reserved-character",
        entry(title="@launch"),
        [
            "4:12: invalid YAML: found character that cannot start any token "
            "(while scanning for the next token at line 4, column 12); quote a value that starts with `@`"
        ],
    ),
    # --- interpolation ------------------------------------------------------------------------------
    (
        "variable-not-set",
        entry(url="https://media-in-${MEDIA_ENV}.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4"),
        ["3:32: environment variable `MEDIA_ENV` is not set: set it, or give a default with `${MEDIA_ENV:-value}`"],
    ),
    (
        "variable-not-set-in-user-data",
        entry('user_data: {Extend: {env: "${MEDIA_ENV}"}}'),
        ["5:32: environment variable `MEDIA_ENV` is not set: set it, or give a default with `${MEDIA_ENV:-value}`"],
    ),
    (
        "variable-unterminated",
        entry(title="Intro ${TEAM"),
        ["4:18: unterminated `${`: close it with `}`, or write `$${` for a literal `${`"],
    ),
    (
        "variable-bad-name",
        entry(title='"Intro ${1st}"'),
        [
            "4:19: `${1st}` is not a variable reference: write `${NAME}` or `${NAME:-default}`, where NAME is "
            "letters, digits and `_`, not starting with a digit"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_manifest(problems: Problems, text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_the_table_covers_at_least_thirty_distinct_problems() -> None:
    messages = {message.split(": ", 1)[1] for _, _, expected in CASES for message in expected}
    assert len(CASES) == len({case[0] for case in CASES})
    assert len(messages) >= 30


def test_every_problem_is_reported_at_once_in_order(problems: Problems) -> None:
    text = (
        "region: cn-shanghai\n"
        "input_buckets:\n"
        "  - bucket: Media_In\n"
        "media:\n"
        f"  - file_url: {OSS}/raw/a.txt\n"
        "    title: ~\n"
        "    cate_id: zero\n"
        "  - titel: B\n"
    )
    assert problems(text) == [
        "3:13: `bucket` must be lowercase letters, digits and hyphens, not starting or ending with a hyphen; "
        "got `Media_In`",
        "5:15: `file_url` must name an audio or video file: `.txt` is not a media file extension VOD accepts "
        "(.mp4, .mov, .mkv, .mp3 or .m4a)",
        "6:12: `title` is required, but is null here",
        "7:14: `cate_id` must be an integer, got `zero`",
        "8:5: a media entry is missing the required key `file_url`",
        "8:5: a media entry is missing the required key `title`",
        "8:5: unknown key `titel` in a media entry; did you mean `title`?",
    ]
