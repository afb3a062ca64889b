"""Value rules for manifest fields, from the API's documented limits (reconcile.cloud.limits).

Each rule takes a value and returns None when it is acceptable, or the problem as a predicate that reads
after the field's name: "`title` " + "is 130 bytes in UTF-8; the limit is 128".
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from reconcile.cloud import limits
from reconcile.cloud.limits import OssObject, utf8_len

# `media.<name>` addresses: short, lowercase, and safe in shells and plan output.
MEDIA_NAME_MAX = 64
MEDIA_NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]*$")
# Long is the API type of CateId.
CATE_ID_MAX = 2**63 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}
_EXAMPLE_EXTENSIONS = ".mp4, .mov, .mkv, .mp3 or .m4a"
_OSS_URL_FORM = "https://<bucket>.oss-<region>.aliyuncs.com/<object-key>"
_VALID_BUCKET = "bucket"  # stands in for a bucket label, to check the rest of a host is an OSS endpoint


def region_problem(value: str) -> str | None:
    if limits.REGION_RE.match(value):
        return None
    return f"must be a region id such as cn-shanghai or ap-southeast-1, got `{value}`"


def bucket_problem(value: str) -> str | None:
    size = utf8_len(value)
    if size > limits.BUCKET_NAME_MAX:
        return f"is {size} bytes; the limit is {limits.BUCKET_NAME_MAX}"
    if limits.BUCKET_NAME_RE.match(value):
        return None
    return f"must be lowercase letters, digits and hyphens, not starting or ending with a hyphen; got `{value}`"


def media_name_problem(value: str) -> str | None:
    if len(value) <= MEDIA_NAME_MAX and MEDIA_NAME_RE.match(value):
        return None
    return (
        f"must be up to {MEDIA_NAME_MAX} lowercase letters, digits, `_` and `-` (it becomes the address "
        f"media.<name>); got `{value}`"
    )


def title_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    return _single_line_problem(value) or _text_problem(value, limits.TITLE_MAX)


def description_problem(value: str) -> str | None:
    return _text_problem(value, limits.DESCRIPTION_MAX)


def tags_problem(tags: list[str]) -> str | None:
    if len(tags) > limits.TAGS_MAX:
        return f"has {len(tags)} tags; the limit is {limits.TAGS_MAX}"
    return None


def tag_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if "," in value:
        return "contains a comma: VOD stores tags as one comma-separated text, so split it into two tags"
    return _single_line_problem(value) or _text_problem(value, limits.TAG_MAX)


def cover_url_problem(value: str) -> str | None:
    size = utf8_len(value)
    if size > limits.COVER_URL_MAX:
        return f"is {size} bytes; the limit is {limits.COVER_URL_MAX}"
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL, got `{value}`"
    return None


def cate_id_problem(value: int) -> str | None:
    if 0 < value <= CATE_ID_MAX:
        return None
    return f"must be a positive integer (a VOD category id), got {value}"


def identifier_problem(value: str) -> str | None:
    """Template group and workflow ids: opaque, but never empty or spaced."""
    if not value:
        return "must not be empty; remove the key, or write `null`, to leave it unset"
    if any(c.isspace() for c in value):
        return f"must be an id without spaces, got `{value}`"
    return None


def file_url_problem(url: str, oss_object: OssObject | None, region: str | None) -> str | None:
    """Why `url` cannot be registered by a VOD in `region`, given what `parse_oss_url` made of it."""
    size = utf8_len(url)
    if size > limits.FILE_URL_MAX:
        return f"is {size} bytes; the limit is {limits.FILE_URL_MAX}"
    if oss_object is None:
        return f"must be an OSS object URL ({_OSS_URL_FORM}): {_why_not_oss_url(url)}"
    if not limits.has_media_extension(oss_object.key):
        extension = oss_object.extension
        named = f"`.{extension}` is not" if extension else f"`{oss_object.key}` has no extension, so it is not"
        return f"must name an audio or video file: {named} a media file extension VOD accepts ({_EXAMPLE_EXTENSIONS})"
    if region and oss_object.region and oss_object.region != region:
        return (
            f"is in OSS region {oss_object.region} but this document's region is {region}: VOD registers files only "
            f"from OSS buckets in its own region; move the file, or declare it in a `region: {oss_object.region}` "
            "document"
        )
    return None


def _why_not_oss_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"`{url}` is not a valid URL"
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        return f"it must start with https:// or http://, got `{url}`"
    if port is not None:
        return "it must not name a port"
    if parts.query or parts.fragment:
        return "remove the query string or fragment (a signed URL expires; name the object only)"
    if not limits.OSS_HOST_RE.match(host):
        bucket = _bucket_of_oss_endpoint(host)
        if bucket:
            return (
                f"host `{host}` names the bucket `{bucket}`, which is not a valid OSS bucket name: OSS bucket names "
                "are 3–63 characters of lowercase letters, digits and hyphens, starting and ending with a letter "
                "or digit"
            )
        return f"host `{host}` is not an OSS bucket endpoint such as <bucket>.oss-cn-shanghai.aliyuncs.com"
    return "it must name an object, not a bucket or a folder"


def _bucket_of_oss_endpoint(host: str) -> str | None:
    """The bucket label of a host shaped `<label>.oss-<region>.aliyuncs.com` (or an accelerate endpoint), when
    only the label keeps it from being an OSS bucket host: the endpoint is checked by the same regex, with a
    valid bucket name in the label's place."""
    label, dot, endpoint = host.rpartition(".oss-")
    if not dot or not limits.OSS_HOST_RE.match(f"{_VALID_BUCKET}.oss-{endpoint}"):
        return None
    return label


def _text_problem(value: str, max_bytes: int) -> str | None:
    size = utf8_len(value)
    if size > max_bytes:
        return f"is {size} bytes in UTF-8; the limit is {max_bytes}"
    emoji = limits.EMOJI_RE.search(value)
    if emoji:
        char = emoji.group()
        return f"contains an emoji ({char} U+{ord(char):04X}), which VOD rejects in titles, descriptions and tags"
    return None


def _single_line_problem(value: str) -> str | None:
    control = _CONTROL.search(value)
    if control is None:
        return None
    char = control.group()
    what = _CONTROL_NAMES.get(char, f"a control character (U+{ord(char):04X})")
    return f"contains {what}; write it as one line of text"
