"""Where each product's API lives: the public HTTPS endpoint of a region, or an override.

Overrides (settings / env / CLI) win: a per-product endpoint, then the shared one (RECONCILE_ENDPOINT,
how the emulator is used). Plain `http://` is accepted only for a literal loopback address (127.0.0.0/8,
::1) or `localhost` itself: anything else would send signed requests, and STS tokens, in clear text, and
a name such as `evil.localhost` is whatever the resolver says it is. An override never carries userinfo
(`user:password@`), and errors never repeat it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

PRODUCTS = ("mts", "vod")
REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
PLAIN_HTTP_RULE = "plain http:// is accepted only for 127.0.0.0/8, ::1 and localhost itself"

# The official SDKs' endpoint maps (alibabacloud-mts20140618 6.0.3, alibabacloud-vod20170321 3.12.1):
# these regions are served by the product's central endpoint instead of a regional one.
_CENTRAL_REGIONS = frozenset(
    {
        "ap-northeast-2-pop", "ap-southeast-2", "ap-southeast-3", "cn-beijing-finance-1", "cn-beijing-finance-pop",
        "cn-beijing-gov-1", "cn-beijing-nu16-b01", "cn-chengdu", "cn-edge-1", "cn-fujian", "cn-haidian-cm12-c01",
        "cn-hangzhou-bj-b01", "cn-hangzhou-finance", "cn-hangzhou-internal-prod-1", "cn-hangzhou-internal-test-1",
        "cn-hangzhou-internal-test-2", "cn-hangzhou-internal-test-3", "cn-hangzhou-test-306",
        "cn-hongkong-finance-pop", "cn-huhehaote-nebula-1", "cn-qingdao-nebula", "cn-shanghai-et15-b01",
        "cn-shanghai-et2-b01", "cn-shanghai-finance-1", "cn-shanghai-inner", "cn-shanghai-internal-test-1",
        "cn-shenzhen-finance-1", "cn-shenzhen-inner", "cn-shenzhen-st4-d01", "cn-shenzhen-su18-b01", "cn-wuhan",
        "cn-wulanchabu", "cn-yushanfang", "cn-zhangbei", "cn-zhangbei-na61-b01", "cn-zhangjiakou-na62-a01",
        "cn-zhengzhou-nebula-1", "eu-west-1-oxs", "me-east-1", "rus-west-1-pop", "us-east-1",
    }
)  # fmt: skip
CENTRAL_REGIONS: dict[str, frozenset[str]] = {
    "mts": _CENTRAL_REGIONS | {"cn-north-2-gov-1"},
    "vod": _CENTRAL_REGIONS | {"cn-huhehaote", "cn-qingdao"},
}
# VOD has no endpoint in cn-hangzhou; the SDK sends that region to Shanghai.
REGION_HOSTS: dict[str, dict[str, str]] = {"mts": {}, "vod": {"cn-hangzhou": "vod.cn-shanghai.aliyuncs.com"}}


class EndpointError(ValueError):
    """An endpoint override that cannot be used; the message names where it came from."""


def default_host(product: str, region: str) -> str:
    """The public host of `product` (`mts` or `vod`) for `region`, following the SDKs' exceptions."""
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}: expected one of {', '.join(PRODUCTS)}")
    check_region(region)
    if region in REGION_HOSTS[product]:
        return REGION_HOSTS[product][region]
    if region in CENTRAL_REGIONS[product]:
        return f"{product}.aliyuncs.com"
    return f"{product}.{region}.aliyuncs.com"


def check_region(region: str) -> str:
    if not REGION_RE.match(region):
        raise ValueError(f"invalid region id {region!r}: expected a region id such as cn-shanghai")
    return region


def is_loopback(host: str) -> bool:
    """A literal loopback address (127.0.0.0/8, ::1) or `localhost` itself: never a name the resolver could
    send elsewhere (`evil.localhost`, `localhost.example.com`)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_endpoint(value: str, origin: str) -> str:
    """`scheme://host[:port]` from an override; a bare host means https. `origin` names the setting in errors."""
    text = value.strip()
    if "@" in text:  # userinfo, wherever urlsplit would look for it: say so without repeating any of it
        raise EndpointError(
            f"{origin}: the URL contains '@' (user information such as user:password@, not shown here); "
            "give just scheme://host[:port], e.g. http://127.0.0.1:8765: reconcile signs each request with "
            "the AccessKey and never sends credentials in the URL"
        )
    if "://" not in text:
        bare_host = text.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        if "." not in bare_host and not is_loopback(bare_host):
            raise EndpointError(
                f"{origin}: {value!r} is not a URL; expected e.g. https://vod.cn-shanghai.aliyuncs.com "
                "or http://127.0.0.1:8765 (the emulator)"
            )
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise EndpointError(f"{origin}: {value!r} is not a valid URL ({exc})") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointError(
            f"{origin}: {value!r} is not an http(s) URL; expected e.g. https://vod.cn-shanghai.aliyuncs.com"
        )
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise EndpointError(f"{origin}: {value!r} must be just scheme://host[:port] (the APIs live at path /)")
    if parts.scheme == "http" and not is_loopback(host):
        raise EndpointError(
            f"{origin}: {value!r} uses plain http:// to {host}, which is not a literal loopback address: it would "
            f"send signed requests and security tokens in clear text; use https://. ({PLAIN_HTTP_RULE}: a name "
            "such as evil.localhost may resolve to a remote address.)"
        )
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")
