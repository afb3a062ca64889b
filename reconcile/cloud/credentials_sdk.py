"""Builders for the providers of the optional official `alibabacloud-credentials` package.

OIDC role, the ECS RAM role, RAM-role-ARN profiles and the credentials URI all exchange or fetch
temporary keys, which the official package does (and refreshes) well. It is imported only here and only
when one of those sources is actually used: the import is heavy (requests, aiohttp, APScheduler).

Its module `auth_util` reads the environment once, at import time (API.md section 8, pitfall 1). So
every provider built here gets its settings as explicit arguments taken from the `env` mapping the
chain was given, and the decisions "is this source configured / disabled" are made by the chain,
never by the package's import-time globals.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "alibabacloud_credentials"

# Builds an official provider: an object with `get_credentials()` returning an object with
# `get_access_key_id()`, `get_access_key_secret()` and `get_security_token()`.
ProviderBuilder = Callable[[], Any]


def available() -> bool:
    """Whether the optional package is installed (checked without importing it)."""
    return importlib.util.find_spec(PACKAGE) is not None


def _provider_class(name: str) -> Any:
    providers = importlib.import_module(f"{PACKAGE}.provider")
    _silence_package_logger()
    return getattr(providers, name)


def _silence_package_logger() -> None:
    """The package attaches its own stderr handler to the `credentials` logger at import and logs full
    tracebacks there (e.g. every failed ECS metadata probe). Its failures reach the user once, as a
    CredentialsError naming the source; the duplicate output is dropped."""
    package_log = logging.getLogger("credentials")
    package_log.handlers[:] = [logging.NullHandler()]
    package_log.propagate = False


def oidc_role(env: Mapping[str, str]) -> ProviderBuilder:
    def build() -> Any:
        return _provider_class("OIDCRoleArnCredentialsProvider")(
            role_arn=env["ALIBABA_CLOUD_ROLE_ARN"],
            oidc_provider_arn=env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"],
            oidc_token_file_path=env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"],
            role_session_name=env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME") or None,
            sts_region_id=env.get("ALIBABA_CLOUD_STS_REGION") or None,
            enable_vpc=env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "").lower() == "true",
        )

    return build


def cli_profile(path: Path, profile_name: str) -> ProviderBuilder:
    def build() -> Any:
        return _provider_class("CLIProfileCredentialsProvider")(profile_name=profile_name, profile_file=str(path))

    return build


def credentials_file(path: Path, profile_name: str) -> ProviderBuilder:
    def build() -> Any:
        return _provider_class("ProfileCredentialsProvider")(profile_file=str(path), profile_name=profile_name)

    return build


def ecs_ram_role(env: Mapping[str, str]) -> ProviderBuilder:
    def build() -> Any:
        return _provider_class("EcsRamRoleCredentialsProvider")(
            role_name=env.get("ALIBABA_CLOUD_ECS_METADATA") or None,
            disable_imds_v1=env.get("ALIBABA_CLOUD_IMDSV1_DISABLED", "").lower() == "true",
            async_update_enabled=False,  # no background refresh thread; refreshed on demand instead
        )

    return build


def credentials_uri(uri: str) -> ProviderBuilder:
    def build() -> Any:
        return _provider_class("URLCredentialsProvider")(uri=uri)

    return build
