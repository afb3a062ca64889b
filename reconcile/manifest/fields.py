"""The manifest language, declared once: every key, what it holds, its rule and its documentation.

Validation (`document.py`) reads these sections for the known keys, their types and rules; `schema.py` renders
the same tables as the JSON Schema that editors use. Adding a key here adds it to both.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconcile.cloud import limits
from reconcile.manifest import rules


class Kind(enum.Enum):
    TEXT = "text"  # any scalar, taken as the literal text written (`no` stays "no"); `${VAR}` interpolated
    INTEGER = "integer"
    BOOLEAN = "boolean"  # true or false
    TEXT_LIST = "text list"
    OBJECT = "object"  # a mapping of JSON values
    ENTRIES = "entries"  # a list of mappings, each checked against `Field.section`
    MAPPING = "mapping"  # one mapping checked against `Field.section`


@dataclass(frozen=True, slots=True)
class Field:
    kind: Kind
    description: str
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # the value's rule; see rules.py
    item_check: Callable[[str], str | None] | None = None  # TEXT_LIST: each item's rule
    item_subject: str = "item"  # TEXT_LIST: how a message names one item ("tag `x` ...")
    section: Section | None = None  # ENTRIES / SECTION: the mapping each entry (or the value) is
    schema: Mapping[str, Any] = field(default_factory=dict)  # extra JSON Schema keywords


@dataclass(frozen=True, slots=True)
class Section:
    """A mapping of the language: its keys, and how messages and the schema name it."""

    name: str  # its definition in the JSON Schema
    what: str  # how a message names one: "unknown key `titel` in a media entry"
    fields: Mapping[str, Field]
    required: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", tuple(key for key, spec in self.fields.items() if spec.required))


INPUT_BUCKET = Section(
    "input_bucket",
    "an input_buckets entry",
    {
        "bucket": Field(
            Kind.TEXT,
            f"The OSS bucket to bind as an MPS input media bucket (BindInputBucket). At most {limits.BUCKET_NAME_MAX} "
            "bytes of lowercase letters, digits and hyphens, not starting or ending with a hyphen. Identifies the "
            "entry (address `input_bucket.<bucket>`); declaring a bucket twice, in any file, is an error.",
            required=True,
            check=rules.bucket_problem,
            schema={"examples": ["media-in-prod"]},
        ),
        "referer": Field(
            Kind.TEXT,
            "The OSS hotlink-protection (Referer) setting sent with BindInputBucket. Changing it rebinds the bucket.",
            schema={"examples": ["https://example.com"]},
        ),
        "prevent_destroy": Field(
            Kind.BOOLEAN,
            "When true, reconcile never unbinds this bucket, even with --prune after the entry is removed.",
            schema={"default": False},
        ),
    },
)

# Keys that media_defaults may set; an entry's own value replaces the default.
_MEDIA_DEFAULTABLE: dict[str, Field] = {
    "description": Field(
        Kind.TEXT,
        f"Description, at most {limits.DESCRIPTION_MAX} bytes of UTF-8, without emoji.",
        check=rules.description_problem,
    ),
    "tags": Field(
        Kind.TEXT_LIST,
        f"Tags: at most {limits.TAGS_MAX}, each at most {limits.TAG_MAX} bytes of UTF-8, without commas or emoji. "
        "An entry's tags replace media_defaults' tags; they are not merged.",
        check=rules.tags_problem,
        item_check=rules.tag_problem,
        item_subject="tag",
        schema={"maxItems": limits.TAGS_MAX, "examples": [["launch", "promo"]]},
    ),
    "cover_url": Field(
        Kind.TEXT,
        f"Cover image URL (http or https), at most {limits.COVER_URL_MAX} bytes.",
        check=rules.cover_url_problem,
    ),
    "cate_id": Field(
        Kind.INTEGER,
        "VOD category id: a positive integer.",
        check=rules.cate_id_problem,
        schema={"minimum": 1},
    ),
    "template_group_id": Field(
        Kind.TEXT,
        "Transcoding template group applied at registration; VOD_NO_TRANSCODE registers without transcoding. "
        "If workflow_id is also set, the API uses the workflow and ignores this (validate warns).",
        check=rules.identifier_problem,
        schema={"examples": ["VOD_NO_TRANSCODE"]},
    ),
    "workflow_id": Field(
        Kind.TEXT,
        "Workflow run at registration. Takes precedence over template_group_id at the API.",
        check=rules.identifier_problem,
    ),
    "user_data": Field(
        Kind.OBJECT,
        "Custom settings sent as the UserData JSON text, e.g. {Extend: {team: growth}}. Values are typed as in "
        "JSON and YAML 1.2: true/false, null and numbers; anything else is text (`yes`, `2024-01-01`). An "
        "entry's user_data replaces media_defaults' user_data; they are not merged.",
        schema={"examples": [{"Extend": {"team": "growth"}}]},
    ),
    "prevent_destroy": Field(
        Kind.BOOLEAN,
        "When true, reconcile never deletes this media (DeleteVideo also deletes the source file), even with "
        "--prune after the entry is removed.",
        schema={"default": False},
    ),
}

MEDIA = Section(
    "media",
    "a media entry",
    {
        "name": Field(
            Kind.TEXT,
            f'Optional friendly address: `media.<name>` instead of `media["<oss-bucket>/<object-key>"]`. Up to '
            f"{rules.MEDIA_NAME_MAX} lowercase letters, digits, `_` and `-`; unique across all manifests.",
            check=rules.media_name_problem,
            schema={"examples": ["intro"]},
        ),
        "file_url": Field(
            Kind.TEXT,
            f"The OSS object to register (RegisterMedia FileURL): an http(s) URL "
            f"`https://<bucket>.oss-<region>.aliyuncs.com/<object-key>`, at most {limits.FILE_URL_MAX} bytes, naming "
            "an audio or video file (.mp4, .mov, .mp3, ...) in a bucket of the document's region. Identifies the "
            "entry: the http and https URLs of one object are the same media, and declaring it twice is an error.",
            required=True,
            schema={"examples": ["https://media-in-prod.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4"]},
        ),
        "title": Field(
            Kind.TEXT,
            f"Title: one line, at most {limits.TITLE_MAX} bytes of UTF-8, without emoji. Written text is kept "
            "literally: `no`, `1.10` and `2024-01-01` are titles, not a boolean, number or date.",
            required=True,
            check=rules.title_problem,
        ),
        **_MEDIA_DEFAULTABLE,
    },
)

MEDIA_DEFAULTS = Section("media_defaults", "media_defaults", _MEDIA_DEFAULTABLE)

DOCUMENT = Section(
    "document",
    "the document",
    {
        "region": Field(
            Kind.TEXT,
            "Region id of the MPS and VOD endpoints this document's entries belong to, e.g. cn-shanghai.",
            required=True,
            check=rules.region_problem,
            schema={"examples": ["cn-shanghai"]},
        ),
        "input_buckets": Field(
            Kind.ENTRIES,
            "OSS buckets bound to MPS as input media buckets (BindInputBucket).",
            section=INPUT_BUCKET,
        ),
        "media_defaults": Field(
            Kind.MAPPING,
            "Defaults for every media entry in this document. An entry's own value replaces the default whole "
            "(tags and user_data are not merged); an entry clears a default by setting the key to null.",
            section=MEDIA_DEFAULTS,
        ),
        "media": Field(
            Kind.ENTRIES,
            "Media files in OSS registered in VOD (RegisterMedia).",
            section=MEDIA,
        ),
    },
)
