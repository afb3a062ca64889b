"""Official SDK clients pointed at a real emulator process on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import RunningEmulator, start_emulator

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"


def sdk_config(url: str, *, secret: str = DEFAULT_ACCESS_KEY_SECRET, signature_algorithm: str | None = None) -> Any:
    from alibabacloud_tea_openapi import models as open_api_models

    config = open_api_models.Config(
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        access_key_secret=secret,
        endpoint=url.removeprefix("http://"),
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=10_000,
        connect_timeout=5_000,
    )
    if signature_algorithm is not None:
        config.signature_algorithm = signature_algorithm
    return config


def vod_client(url: str, **kwargs: Any) -> Any:
    from alibabacloud_vod20170321.client import Client

    return Client(sdk_config(url, **kwargs))


def mts_client(url: str, **kwargs: Any) -> Any:
    from alibabacloud_mts20140618.client import Client

    return Client(sdk_config(url, **kwargs))


@pytest.fixture(scope="package")
def emulator() -> Iterator[RunningEmulator]:
    """Real QPS limits; every test resets state first."""
    with start_emulator() as running:
        yield running


@pytest.fixture
def fresh(emulator: RunningEmulator) -> RunningEmulator:
    emulator.control.reset()
    emulator.control.set_faults({"rules": []})
    return emulator
