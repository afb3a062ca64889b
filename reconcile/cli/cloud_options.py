"""The cloud client's options, shared by every command that calls the cloud (plan, apply, drift).

    @click.command()
    @cloud_options
    @log_level_option
    def command(**kwargs): settings = settings_from_options(kwargs)

Each option overrides its RECONCILE_* variable; `--qps` overrides RECONCILE_QPS action by action.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from reconcile.cli.common import FatalError
from reconcile.cloud.endpoints import EndpointError, normalize_endpoint
from reconcile.cloud.settings import (
    SIGNATURE_VERSIONS,
    ClientSettings,
    InvalidSettingsError,
    parse_qps_item,
    parse_qps_share_item,
)

F = TypeVar("F", bound=Callable[..., Any])

# The keyword arguments `cloud_options` adds, as ClientSettings fields.
OPTION_NAMES = ("endpoint", "mts_endpoint", "vod_endpoint", "signature_version", "qps", "qps_share", "max_concurrency")


def _endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_endpoint(value, f"--{param.name.replace('_', '-')}" if param.name else "endpoint")
    except EndpointError as exc:
        raise FatalError(str(exc)) from None


def _qps(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    try:
        return dict(parse_qps_item(value, "--qps") for value in values)
    except InvalidSettingsError as exc:
        raise FatalError(str(exc)) from None


def _qps_share(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    try:
        return dict(parse_qps_share_item(value, "--qps-share") for value in values)
    except InvalidSettingsError as exc:
        raise FatalError(str(exc)) from None


def cloud_options(func: F) -> F:
    """Adds --endpoint, --mts-endpoint, --vod-endpoint, --signature-version, --qps, --qps-share and
    --max-concurrency."""
    options = [
        click.option(
            "--endpoint",
            metavar="URL",
            callback=_endpoint,
            help="Send MPS and VOD calls to this URL, e.g. an emulator at http://127.0.0.1:8080 "
            "(env RECONCILE_ENDPOINT; plain http only to loopback).",
        ),
        click.option(
            "--mts-endpoint",
            metavar="URL",
            callback=_endpoint,
            help="Send MPS calls to this URL; wins over --endpoint (env RECONCILE_MTS_ENDPOINT).",
        ),
        click.option(
            "--vod-endpoint",
            metavar="URL",
            callback=_endpoint,
            help="Send VOD calls to this URL; wins over --endpoint (env RECONCILE_VOD_ENDPOINT).",
        ),
        click.option(
            "--signature-version",
            type=click.Choice(SIGNATURE_VERSIONS, case_sensitive=False),
            default=None,
            help="Request signature: v3 (ACS3-HMAC-SHA256, default) or v1 (HMAC-SHA1) "
            "(env RECONCILE_SIGNATURE_VERSION).",
        ),
        click.option(
            "--qps",
            metavar="ACTION=N",
            multiple=True,
            callback=_qps,
            help="The account's limit for ACTION in calls per second, e.g. RegisterMedia=20; repeatable "
            "(env RECONCILE_QPS=RegisterMedia=20,UpdateVideoInfos=10). Calls are paced just under it.",
        ),
        click.option(
            "--qps-share",
            metavar="SHARE|ACTION=SHARE",
            multiple=True,
            callback=_qps_share,
            help="Take at most this share of each limit (0 < SHARE <= 1), leaving the rest to other clients of the "
            "account, e.g. 0.5, or RegisterMedia=0.5 for one action; repeatable "
            "(env RECONCILE_QPS_SHARE=0.5,RegisterMedia=0.25).",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(min=1),
            default=None,
            help="Requests in flight at once, all actions together (default 32 for apply's calls, 8 for the reads "
            "of a refresh or an import; env RECONCILE_MAX_CONCURRENCY).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from_options(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ClientSettings:
    """ClientSettings from the environment with the command's cloud options laid over it."""
    overrides = {name: options.get(name) for name in OPTION_NAMES}
    if overrides["signature_version"] is not None:
        overrides["signature_version"] = str(overrides["signature_version"]).lower()
    try:
        return ClientSettings.from_env(os.environ if env is None else env, **overrides)
    except InvalidSettingsError as exc:
        raise FatalError(str(exc)) from None
