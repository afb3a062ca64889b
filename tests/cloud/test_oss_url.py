"""parse_oss_url's fast path for plain URLs answers exactly what the general (urlsplit) path answers."""

from __future__ import annotations

import random

from reconcile.cloud.limits import OssObject, _parse_any_oss_url, parse_oss_url

HOST = "media.oss-cn-shanghai.aliyuncs.com"
EDGE_CASES = [
    f"https://{HOST}/video/a.mp4",
    f"http://{HOST}/video/a.mp4",
    f"https://{HOST}//video/a.mp4",
    f"https://{HOST}/video/",
    f"https://{HOST}/",
    f"https://{HOST}",
    f"https://{HOST}/a.mp4?x=1",
    f"https://{HOST}/a.mp4#top",
    f"https://{HOST}/a.mp4?",
    f"https://{HOST}:443/a.mp4",
    f"https://{HOST}:99999/a.mp4",
    f"https://{HOST}:/a.mp4",
    f"https://user@{HOST}/a.mp4",
    f"https://{HOST.upper()}/a.mp4",
    f"HTTPS://{HOST}/a.mp4",
    f"ftp://{HOST}/a.mp4",
    f"https://{HOST}/a%20b.mp4",
    f"https://{HOST}/a%2Fb.mp4",
    f"https://{HOST}/a b.mp4",
    f"https://{HOST}/视频/标题.mp4",
    f"https://{HOST}/a\tb.mp4",
    f"https://{HOST}/a.mp4\n",
    f" https://{HOST}/a.mp4",
    f"https://{HOST}/a:b@c!$&'()*+,;=~.mp4",
    f"https://{HOST}./a.mp4",
    "https://media.oss-accelerate.aliyuncs.com/a.mp4",
    "https://media.oss-accelerate-overseas.aliyuncs.com/a.mp4",
    "https://media.oss-cn-shanghai-internal.aliyuncs.com/a.mp4",
    "https://media.oss-cn-shanghai-finance-1.aliyuncs.com/a.mp4",
    "https://b1.oss-cn-shanghai.aliyuncs.com/a.mp4",
    "https://-media.oss-cn-shanghai.aliyuncs.com/a.mp4",
    "https://media..oss-cn-shanghai.aliyuncs.com/a.mp4",
    "https://my.bucket.oss-cn-shanghai.aliyuncs.com/a.mp4",
    "https://media.oss-cn-shanghai.aliyuncs.com.evil.com/a.mp4",
    "https://oss-cn-shanghai.aliyuncs.com/media/a.mp4",
    "https://[::1]/a.mp4",
    "https://127.0.0.1/a.mp4",
    "",
    "not a url",
]


def random_urls(count: int) -> list[str]:
    """URLs near the plain shape: OSS and other hosts, every kind of path character, now and then a
    character that takes them off the fast path."""
    rng = random.Random(11)
    hosts = [HOST, "m-1.oss-ap-southeast-1.aliyuncs.com", "example.com", "MEDIA.oss-cn-beijing.aliyuncs.com", "a.b"]
    path_chars = "abcXYZ019._~!$&'()*+,;=:@/-" + "%?# \té视"
    urls = []
    for _ in range(count):
        scheme = rng.choice(["http", "https", "https", "HTTP"])
        path = "".join(rng.choices(path_chars[:27], k=rng.randrange(0, 12)))
        if rng.random() < 0.3:
            path += rng.choice(path_chars[27:]) + "".join(rng.choices(path_chars, k=rng.randrange(0, 4)))
        urls.append(f"{scheme}://{rng.choice(hosts)}/{path}")
    return urls


def test_the_fast_path_agrees_with_the_general_path():
    for url in EDGE_CASES + random_urls(3000):
        assert parse_oss_url(url) == _parse_any_oss_url(url), url


def test_a_plain_url_names_its_object():
    assert parse_oss_url(f"https://{HOST}//video/a:b.mp4") == OssObject(
        bucket="media", host=HOST, region="cn-shanghai", key="video/a:b.mp4"
    )
    assert parse_oss_url("https://media.oss-accelerate.aliyuncs.com/a.mp4") == OssObject(
        bucket="media", host="media.oss-accelerate.aliyuncs.com", region=None, key="a.mp4"
    )
    assert parse_oss_url(f"https://{HOST}/video/") is None
