"""Alibaba Cloud credentials, resolved the way the official tools do, and never shown.

The default chain is walked lazily, at the first call that needs credentials, so commands that never
call the cloud never need any. Its order follows alibabacloud-credentials 1.0.12 (API.md section 8):

1. environment: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (+ ALIBABA_CLOUD_SECURITY_TOKEN for STS), then
   the aliyun CLI's fallbacks ALIBABACLOUD_*, ALICLOUD_* and bare ACCESS_KEY_ID / ACCESS_KEY_SECRET;
2. OIDC role (ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN, _OIDC_TOKEN_FILE)            [optional package];
3. the aliyun CLI profile file ~/.aliyun/config.json: modes AK and StsToken are read here, the other
   modes (RamRoleArn, EcsRamRole, OIDC, ...) through the optional package;
4. the INI file ALIBABA_CLOUD_CREDENTIALS_FILE or ~/.alibabacloud/credentials.ini      [optional package];
5. the ECS instance RAM role (metadata service)                                        [optional package];
6. ALIBABA_CLOUD_CREDENTIALS_URI                                                       [optional package].

A source the user configured but got wrong (an id without its secret, a broken profile file, a profile
that does not exist) stops the chain with an error instead of silently falling through to a different
account. When nothing is found, the error lists every source tried and why it did not apply.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from reconcile.cloud import credentials_sdk
from reconcile.cloud.errors import CloudError

# aliyun CLI precedence: the first family with either variable set is the one used.
ENV_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"),
    ("ALIBABACLOUD_ACCESS_KEY_ID", "ALIBABACLOUD_ACCESS_KEY_SECRET", "ALIBABACLOUD_SECURITY_TOKEN"),
    ("ALICLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECURITY_TOKEN"),
    ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "SECURITY_TOKEN"),
)
PROFILE_VARIABLES = ("ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE")
OIDC_VARIABLES = ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
# aliyun CLI profile modes that need a token exchange or a metadata call: delegated to the optional package.
DELEGATED_MODES = frozenset(
    {"RamRoleArn", "EcsRamRole", "OIDC", "ChainableRamRoleArn", "CloudSSO", "OAuth", "External", "CredentialsURI"}
)
INSTALL_HINT = "install the optional package with: pip install 'reconcile[credentials]'"


class CredentialsError(CloudError):
    """No usable credentials: nothing configured, or a configured source is broken. Never quotes a secret."""


@dataclass(frozen=True)
class Credentials:
    """An access key (and, for STS, its security token). `repr`/`str` show the key id and source only."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    source: str = "static"  # where they came from, e.g. "environment (ALIBABA_CLOUD_*)"

    @property
    def is_sts(self) -> bool:
        return bool(self.security_token)

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in output: used to scrub server messages."""
        return tuple(s for s in (self.access_key_secret, self.security_token) if s)


class CredentialsProvider(Protocol):
    """Gives the credentials to sign the next attempt with (providers of temporary keys refresh them)."""

    def get(self) -> Credentials: ...


class StaticCredentials:
    """Fixed credentials, e.g. from the environment or passed by a caller."""

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None) -> None:
        self._credentials = Credentials(access_key_id, access_key_secret, security_token or None)

    @classmethod
    def of(cls, credentials: Credentials) -> StaticCredentials:
        provider = cls.__new__(cls)
        provider._credentials = credentials
        return provider

    def get(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentials({self._credentials!r})"


class OfficialCredentials:
    """A provider of the optional official package, adapted to `CredentialsProvider`.

    The package caches temporary keys and refreshes them before they expire, so `get()` asks it on
    every attempt. It is built on first use; its failures become `CredentialsError` naming the source.
    """

    def __init__(self, source: str, build: credentials_sdk.ProviderBuilder, *, implicit: bool = False) -> None:
        self.source = source
        self.implicit = implicit  # a probe (ECS metadata): failing means "not here", not "broken"
        self._build = build
        self._provider: Any = None

    def get(self) -> Credentials:
        try:
            if self._provider is None:
                self._provider = self._build()
            answer = self._provider.get_credentials()
            key_id, secret = answer.get_access_key_id(), answer.get_access_key_secret()
            token = answer.get_security_token() or None
        except Exception as exc:  # the package raises ValueError, CredentialException, HTTP errors...
            raise CredentialsError(f"{self.source}: {exc}") from None
        if not key_id or not secret:
            raise CredentialsError(f"{self.source}: the provider returned no access key")
        return Credentials(key_id, secret, token, source=self.source)

    def __repr__(self) -> str:
        return f"OfficialCredentials(source={self.source!r})"


@dataclass(frozen=True)
class Missing:
    """A source of the chain that did not apply, and why (shown when nothing is found)."""

    source: str
    reason: str


SourceResult = CredentialsProvider | Missing
Source = Callable[[Mapping[str, str], Path], SourceResult]


# --- 1. environment --------------------------------------------------------------------------------


def from_environment(env: Mapping[str, str], _home: Path) -> SourceResult:
    for id_var, secret_var, token_var in ENV_FAMILIES:
        key_id, secret = env.get(id_var, "").strip(), env.get(secret_var, "").strip()
        if not key_id and not secret:
            continue
        if not key_id or not secret:
            present, absent = (id_var, secret_var) if key_id else (secret_var, id_var)
            raise CredentialsError(f"{present} is set but {absent} is not: set both, or neither")
        token = env.get(token_var, "").strip() or None
        family = id_var.removesuffix("ACCESS_KEY_ID") or "ACCESS_KEY_"
        return StaticCredentials.of(Credentials(key_id, secret, token, source=f"environment ({family}*)"))
    return Missing("environment", f"{ENV_FAMILIES[0][0]} and {ENV_FAMILIES[0][1]} are not set")


# --- 2. OIDC role ----------------------------------------------------------------------------------


def from_oidc(env: Mapping[str, str], _home: Path) -> SourceResult:
    present = [v for v in OIDC_VARIABLES if env.get(v)]
    if not present:
        return Missing("OIDC role", f"{', '.join(OIDC_VARIABLES)} are not set")
    if len(present) < len(OIDC_VARIABLES):
        absent = [v for v in OIDC_VARIABLES if v not in present]
        raise CredentialsError(f"OIDC role: {', '.join(present)} set but {', '.join(absent)} not: set all three")
    if not credentials_sdk.available():
        raise CredentialsError(f"OIDC role: {', '.join(OIDC_VARIABLES)} are set; to use them, {INSTALL_HINT}")
    return OfficialCredentials(f"OIDC role {env['ALIBABA_CLOUD_ROLE_ARN']}", credentials_sdk.oidc_role(env))


# --- 3. aliyun CLI profile -------------------------------------------------------------------------


def cli_profile_path(home: Path) -> Path:
    return home / ".aliyun" / "config.json"


def from_cli_profile(env: Mapping[str, str], home: Path) -> SourceResult:
    path = cli_profile_path(home)
    if env.get("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "").lower() == "true":
        return Missing("aliyun CLI profile", "disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true")
    if not path.is_file():
        return Missing("aliyun CLI profile", f"{path} does not exist")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read the aliyun CLI profile file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CredentialsError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix it or run `aliyun configure`"
        ) from None
    if not isinstance(config, dict):
        raise CredentialsError(f"{path}: expected a JSON object with a `profiles` list")
    chosen_by = next((v for v in PROFILE_VARIABLES if env.get(v)), None)
    name = env[chosen_by] if chosen_by else str(config.get("current") or "default")
    how = f"chosen by {chosen_by}" if chosen_by else "the file's `current` profile"
    profiles = config.get("profiles")
    profile = next(
        (p for p in profiles if isinstance(p, dict) and p.get("name") == name),
        None,
    ) if isinstance(profiles, list) else None  # fmt: skip
    if profile is None:
        raise CredentialsError(
            f"{path}: profile {name!r} ({how}) does not exist; run `aliyun configure --profile {name}`"
        )
    return _profile_credentials(path, name, profile)


def _profile_credentials(path: Path, name: str, profile: Mapping[str, Any]) -> SourceResult:
    mode = str(profile.get("mode") or "AK")
    where = f"{path}: profile {name!r} (mode {mode})"
    if mode in DELEGATED_MODES:
        if not credentials_sdk.available():
            raise CredentialsError(
                f"{where}: reconcile reads AK and StsToken profiles itself; for {mode}, {INSTALL_HINT}"
            )
        return OfficialCredentials(f"aliyun CLI profile {name!r}", credentials_sdk.cli_profile(path, name))
    if mode not in ("AK", "StsToken"):
        raise CredentialsError(
            f"{where}: unsupported mode; use AK, StsToken, or one of {', '.join(sorted(DELEGATED_MODES))}"
        )
    required = ["access_key_id", "access_key_secret"] + (["sts_token"] if mode == "StsToken" else [])
    missing = [key for key in required if not str(profile.get(key) or "").strip()]
    if missing:
        raise CredentialsError(
            f"{where}: {', '.join(missing)} missing or empty; run `aliyun configure --profile {name}`"
        )
    token = str(profile["sts_token"]).strip() if mode == "StsToken" else None
    return StaticCredentials.of(
        Credentials(
            str(profile["access_key_id"]).strip(),
            str(profile["access_key_secret"]).strip(),
            token,
            source=f"aliyun CLI profile {name!r}",
        )
    )


# --- 4-6. the rest of the official chain -----------------------------------------------------------


def from_credentials_file(env: Mapping[str, str], home: Path) -> SourceResult:
    path = Path(env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") or home / ".alibabacloud" / "credentials.ini")
    if not path.is_file():
        return Missing("credentials file", f"{path} does not exist")
    if not credentials_sdk.available():
        raise CredentialsError(f"credentials file {path} exists; to use it, {INSTALL_HINT}")
    section = env.get("ALIBABA_CLOUD_PROFILE") or "default"
    return OfficialCredentials(f"credentials file {path} [{section}]", credentials_sdk.credentials_file(path, section))


def from_ecs_ram_role(env: Mapping[str, str], _home: Path) -> SourceResult:
    if env.get("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "").lower() == "true":
        return Missing("ECS RAM role", "disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED=true")
    if not credentials_sdk.available():
        return Missing("ECS RAM role", f"not checked: {INSTALL_HINT}")
    return OfficialCredentials("ECS RAM role", credentials_sdk.ecs_ram_role(env), implicit=True)


def from_credentials_uri(env: Mapping[str, str], _home: Path) -> SourceResult:
    uri = env.get("ALIBABA_CLOUD_CREDENTIALS_URI")
    if not uri:
        return Missing("credentials URI", "ALIBABA_CLOUD_CREDENTIALS_URI is not set")
    if not credentials_sdk.available():
        raise CredentialsError(f"ALIBABA_CLOUD_CREDENTIALS_URI is set; to use it, {INSTALL_HINT}")
    return OfficialCredentials("credentials URI", credentials_sdk.credentials_uri(uri))


DEFAULT_SOURCES: tuple[Source, ...] = (
    from_environment,
    from_oidc,
    from_cli_profile,
    from_credentials_file,
    from_ecs_ram_role,
    from_credentials_uri,
)


class CredentialsChain:
    """Walks the sources once, at the first `get()`, then keeps asking the provider that answered."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        sources: tuple[Source, ...] = DEFAULT_SOURCES,
    ) -> None:
        self._env = env
        self._home = home
        self._sources = sources
        self._resolved: CredentialsProvider | None = None
        self._lock = threading.Lock()

    def get(self) -> Credentials:
        with self._lock:
            if self._resolved is None:
                self._resolved = self._resolve()
            provider = self._resolved
        return provider.get()

    def _resolve(self) -> CredentialsProvider:
        env = dict(os.environ) if self._env is None else self._env
        home = Path.home() if self._home is None else self._home
        tried: list[Missing] = []
        for source in self._sources:
            result = source(env, home)
            if isinstance(result, Missing):
                tried.append(result)
                continue
            if isinstance(result, OfficialCredentials) and result.implicit:
                # A probe (the ECS metadata service): failing only means "not here", so the chain goes on.
                try:
                    result.get()
                except CredentialsError as exc:
                    tried.append(Missing(result.source, str(exc).removeprefix(f"{result.source}: ")))
                    continue
            return result
        lines = "\n".join(f"  - {m.source}: {m.reason}" for m in tried)
        raise CredentialsError(
            "no Alibaba Cloud credentials found. Tried, in order:\n"
            f"{lines}\n"
            "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run `aliyun configure`."
        )

    def __repr__(self) -> str:
        return f"CredentialsChain(resolved={self._resolved!r})"


def default_credentials(env: Mapping[str, str] | None = None, home: Path | None = None) -> CredentialsProvider:
    """The official resolution order, evaluated lazily at the first `get()`.

    `env` defaults to `os.environ` and `home` to the user's home directory, both read at that first `get()`.
    """
    return CredentialsChain(env, home)
