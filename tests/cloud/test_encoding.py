"""percent_encode / form_encode / form_body give exactly what urllib's general encoders give."""

from __future__ import annotations

import random
from urllib.parse import quote, quote_plus, urlencode

from reconcile.cloud.signing import form_encode, percent_encode
from reconcile.cloud.wire import form_body

SAMPLES = [
    "",
    "GetVideoInfos",
    "2024-05-01T08:00:00Z",
    ",".join(f"{n:032x}" for n in range(20)),  # a GetVideoInfos id list
    "a b+c*d~e/f?g=h&i%j",
    '[{"FileURL":"https://b.oss-cn-shanghai.aliyuncs.com/v/a b.mp4","Title":"demo"}]',
    "视频 标题",
    "café ☕ 🎬",
    "\x00\x7f\x80\u07ff\U0010ffff",
    *(chr(code) for code in range(0x180)),
]


def random_texts(count: int) -> list[str]:
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(0x80)] + ["é", "视", "🎬", "\u00a0"]
    return ["".join(rng.choices(alphabet, k=rng.randrange(0, 40))) for _ in range(count)]


def test_percent_encode_is_rfc3986_quote():
    for text in SAMPLES + random_texts(500):
        assert percent_encode(text) == quote(text, safe="-_.~"), text


def test_form_encode_is_quote_plus():
    for text in SAMPLES + random_texts(500):
        assert form_encode(text) == quote_plus(text), text


def test_form_body_is_the_sorted_urlencoded_form():
    params = dict(zip(random_texts(30), random_texts(30), strict=True)) | {"VideoIds": SAMPLES[3], "Title": "a b"}
    assert form_body(params) == urlencode(sorted(params.items()), quote_via=quote_plus).encode()
