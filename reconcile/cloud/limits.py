"""Documented limits of the MPS and VOD APIs (shared/reference/API.md), shared by manifest validation,
the client's pre-send checks and the emulator's enforcement."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MTS_VERSION = "2014-06-18"
VOD_VERSION = "2017-03-21"

# Per-account QPS limits (API.md section 7). Unlisted actions of a product use its default.
QPS_LIMITS: dict[str, float] = {
    "BindInputBucket": 100,
    "UnbindInputBucket": 100,
    "BindOutputBucket": 100,
    "UnbindOutputBucket": 100,
    "ListAllMediaBucket": 10,
    "RegisterMedia": 50,
    "SearchMedia": 100,
    "GetVideoInfo": 100,
    "GetVideoInfos": 100,
    "GetMezzanineInfo": 100,
    "UpdateVideoInfos": 30,
    "DeleteVideo": 30,
    # OSS: 10,000 QPS per account, 2,000 for sequential names (docs/oss.md); paced per action at the latter.
    "HeadObject": 2000,
    "ListObjectsV2": 2000,
    "GetObject": 2000,
    "PutObject": 2000,
    "DeleteObject": 2000,
}
DEFAULT_QPS = {"mts": 100.0, "vod": 30.0}

MTS_ACTIONS = frozenset(
    {"BindInputBucket", "UnbindInputBucket", "BindOutputBucket", "UnbindOutputBucket", "ListAllMediaBucket"}
)
VOD_ACTIONS = frozenset(
    {
        "RegisterMedia",
        "GetVideoInfo",
        "GetVideoInfos",
        "UpdateVideoInfos",
        "DeleteVideo",
        "GetMezzanineInfo",
        "SearchMedia",
    }
)


def product_of(action: str) -> str:
    """`mts` or `vod` for an action this project knows."""
    return "mts" if action in MTS_ACTIONS else "vod"


def qps_limit(action: str) -> float:
    return QPS_LIMITS.get(action, DEFAULT_QPS[product_of(action)])


# Batch limits
REGISTER_MEDIA_BATCH = 10  # files per RegisterMedia, all in one OSS bucket
VIDEO_IDS_BATCH = 20  # ids per GetVideoInfos / UpdateVideoInfos / DeleteVideo
SEARCH_PAGE_MAX = 100  # SearchMedia PageSize
SEARCH_VIDEO_IDS_MAX = 100  # ids in one `VideoId in (...)` of a SearchMedia Match
SEARCH_DEPTH_MAX = 5000  # PageNo/PageSize reach only the first 5,000 hits; ScrollToken goes further
SEARCH_SCROLL_WINDOW = 1200  # records a ScrollToken may move from its page: PageNo x PageSize
LIST_BUCKETS_PAGE_MAX = 100
LIST_BUCKETS_PAGE_DEFAULT = 50

# Field limits (UTF-8 bytes)
BUCKET_NAME_MAX = 64
BUCKET_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")
FILE_URL_MAX = 1024
TITLE_MAX = 128
DESCRIPTION_MAX = 1024
TAGS_MAX = 16
TAG_MAX = 32
COVER_URL_MAX = 1024

# A region id as the endpoints spell it: cn-shanghai, ap-southeast-1, cn-shanghai-finance-1.
REGION_RE = re.compile(r"^[a-z]{2}-[a-z0-9]+(?:-[a-z0-9]+)*$")

# Extensions VOD accepts for audio and video source files.
VIDEO_EXTENSIONS = frozenset(
    {
        "3gp", "asf", "avi", "dat", "dv", "f4v", "flv", "gif", "m2t", "m2ts", "m3u8", "m4v", "mj2", "mjpeg",
        "mkv", "mov", "mp4", "mpe", "mpeg", "mpg", "mts", "mxf", "ogg", "qt", "rm", "rmvb", "swf", "ts",
        "vob", "webm", "wmv",
    }
)  # fmt: skip
AUDIO_EXTENSIONS = frozenset({"aac", "ac3", "acm", "amr", "ape", "caf", "flac", "m4a", "mp3", "ra", "wav", "wma"})
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS

# `<bucket>.oss-<region>[-internal].aliyuncs.com` or `<bucket>.oss-accelerate[-overseas].aliyuncs.com`
OSS_HOST_RE = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])\."
    r"(?P<endpoint>oss-(?:accelerate(?:-overseas)?|(?P<region>[a-z]{2}-[a-z0-9-]+?)(?:-internal)?))"
    r"\.aliyuncs\.com$"
)

# Emoji and pictographs that VOD refuses in titles, descriptions and tags.
EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\U0000fe0f\U0000200d\U00002b00-\U00002bff]"
)


@dataclass(frozen=True, slots=True)
class OssObject:
    """An object named by an OSS URL. Its identity is (bucket, key): the scheme does not matter."""

    bucket: str
    host: str  # the storage location RegisterMedia batches by, e.g. media.oss-cn-shanghai.aliyuncs.com
    region: str | None
    key: str

    @property
    def extension(self) -> str:
        return posixpath.splitext(self.key)[1].lstrip(".").lower()

    @property
    def identity(self) -> str:
        return f"{self.bucket}/{self.key}"


# A URL urlsplit would take apart without surprises: lowercase http(s) scheme, a lowercase host of letters,
# digits, dots and hyphens (no user, no port, no IPv6), and a path of characters that are neither escaped
# nor special (no `%`, `?`, `#`, space, control or non-ASCII character). Manifests name files this way;
# loading 100,000 of them through urlsplit, its properties and unquote costs half a second.
_PLAIN_URL = re.compile(r"https?://([a-z0-9.-]+)/([A-Za-z0-9._~!$&'()*+,;=:@/-]*)")


def parse_oss_url(url: str) -> OssObject | None:
    """The OSS object a URL names, or None when it is not an http(s) OSS object URL."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        return _parse_any_oss_url(url)
    host, path = plain.groups()
    match = OSS_HOST_RE.match(host)
    key = path.lstrip("/")
    if match is None or not key or key.endswith("/"):
        return None
    return OssObject(match["bucket"], host, match["region"], key)


def _parse_any_oss_url(url: str) -> OssObject | None:
    """parse_oss_url for every URL: through urlsplit (case, ports, queries, escapes, whitespace)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment or port is not None:
        return None
    host = (parts.hostname or "").lower()
    match = OSS_HOST_RE.match(host)
    key = unquote(parts.path.lstrip("/"))
    if match is None or not key or key.endswith("/"):
        return None
    return OssObject(bucket=match["bucket"], host=host, region=match["region"], key=key)


def has_media_extension(key: str) -> bool:
    return posixpath.splitext(key)[1].lstrip(".").lower() in MEDIA_EXTENSIONS


def utf8_len(value: str) -> int:
    return len(value.encode("utf-8"))
