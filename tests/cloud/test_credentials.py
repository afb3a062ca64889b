"""The credential chain: environment, aliyun CLI profiles, the optional official package, and secrecy."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from reconcile.cloud import credentials_sdk
from reconcile.cloud.credentials import (
    Credentials,
    CredentialsChain,
    CredentialsError,
    StaticCredentials,
    default_credentials,
)

NO_PROBES = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}  # never reach for 100.100.100.200 in tests


def write_profiles(home: Path, profiles: list[dict[str, Any]], current: str = "default") -> Path:
    path = home / ".aliyun" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"current": current, "profiles": profiles, "meta_path": ""}))
    return path


AK_PROFILE = {"name": "default", "mode": "AK", "access_key_id": "LTAIprofile", "access_key_secret": "profile-secret"}
STS_PROFILE = {
    "name": "sts",
    "mode": "StsToken",
    "access_key_id": "STS.profile",
    "access_key_secret": "sts-secret",
    "sts_token": "sts-token-value",
}


def resolve(env: dict[str, str], home: Path) -> Credentials:
    return default_credentials({**NO_PROBES, **env}, home).get()


# --- environment -----------------------------------------------------------------------------------


def test_environment_access_key(tmp_path: Path) -> None:
    creds = resolve(
        {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenv", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret"}, tmp_path
    )
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == ("LTAIenv", "env-secret", None)
    assert creds.source == "environment (ALIBABA_CLOUD_*)"
    assert not creds.is_sts


def test_environment_security_token_makes_sts_credentials(tmp_path: Path) -> None:
    creds = resolve(
        {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.env",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
            "ALIBABA_CLOUD_SECURITY_TOKEN": "env-token",
        },
        tmp_path,
    )
    assert creds.security_token == "env-token"
    assert creds.is_sts


@pytest.mark.parametrize(
    ("prefix", "source"),
    [
        ("ALIBABACLOUD_", "environment (ALIBABACLOUD_*)"),
        ("ALICLOUD_", "environment (ALICLOUD_*)"),
        ("", "environment (ACCESS_KEY_*)"),
    ],
)
def test_aliyun_cli_fallback_variables(tmp_path: Path, prefix: str, source: str) -> None:
    env = {f"{prefix}ACCESS_KEY_ID": "LTAIfallback", f"{prefix}ACCESS_KEY_SECRET": "s", f"{prefix}SECURITY_TOKEN": "t"}
    creds = resolve(env, tmp_path)
    assert (creds.access_key_id, creds.security_token, creds.source) == ("LTAIfallback", "t", source)


def test_official_variables_win_over_fallbacks_and_over_the_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, [AK_PROFILE])
    env = {
        "ALICLOUD_ACCESS_KEY_ID": "LTAIalicloud",
        "ALICLOUD_ACCESS_KEY_SECRET": "s1",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIofficial",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s2",
    }
    assert resolve(env, tmp_path).access_key_id == "LTAIofficial"


def test_an_id_without_its_secret_stops_the_chain_instead_of_using_another_account(tmp_path: Path) -> None:
    write_profiles(tmp_path, [AK_PROFILE])
    with pytest.raises(CredentialsError) as raised:
        resolve({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenv"}, tmp_path)
    assert str(raised.value) == (
        "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not: set both, or neither"
    )


# --- aliyun CLI profile ----------------------------------------------------------------------------


def test_profile_current_ak(tmp_path: Path) -> None:
    write_profiles(tmp_path, [AK_PROFILE, STS_PROFILE], current="default")
    creds = resolve({}, tmp_path)
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == (
        "LTAIprofile",
        "profile-secret",
        None,
    )
    assert creds.source == "aliyun CLI profile 'default'"


def test_profile_current_sts_token(tmp_path: Path) -> None:
    write_profiles(tmp_path, [AK_PROFILE, STS_PROFILE], current="sts")
    creds = resolve({}, tmp_path)
    assert (creds.access_key_id, creds.security_token) == ("STS.profile", "sts-token-value")


@pytest.mark.parametrize("variable", ["ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE"])
def test_profile_chosen_by_environment_wins_over_current(tmp_path: Path, variable: str) -> None:
    write_profiles(tmp_path, [AK_PROFILE, STS_PROFILE], current="default")
    assert resolve({variable: "sts"}, tmp_path).access_key_id == "STS.profile"


def test_profile_named_but_missing(tmp_path: Path) -> None:
    path = write_profiles(tmp_path, [AK_PROFILE])
    with pytest.raises(CredentialsError) as raised:
        resolve({"ALIBABA_CLOUD_PROFILE": "prod"}, tmp_path)
    assert str(raised.value) == (
        f"{path}: profile 'prod' (chosen by ALIBABA_CLOUD_PROFILE) does not exist; run `aliyun configure --profile prod`"
    )


def test_profile_without_its_secret(tmp_path: Path) -> None:
    path = write_profiles(tmp_path, [{**AK_PROFILE, "access_key_secret": ""}])
    with pytest.raises(CredentialsError) as raised:
        resolve({}, tmp_path)
    assert str(raised.value) == (
        f"{path}: profile 'default' (mode AK): access_key_secret missing or empty; run `aliyun configure --profile default`"
    )


def test_sts_profile_without_its_token(tmp_path: Path) -> None:
    write_profiles(tmp_path, [{**STS_PROFILE, "sts_token": None}], current="sts")
    with pytest.raises(CredentialsError, match=r"profile 'sts' \(mode StsToken\): sts_token missing or empty"):
        resolve({}, tmp_path)


def test_profile_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / ".aliyun" / "config.json"
    path.parent.mkdir()
    path.write_text('{"current": "default",\n  "profiles": [,]}')
    with pytest.raises(CredentialsError) as raised:
        resolve({}, tmp_path)
    assert str(raised.value).startswith(f"{path}:2:16: not valid JSON (")


def test_profile_with_an_unknown_mode(tmp_path: Path) -> None:
    write_profiles(tmp_path, [{**AK_PROFILE, "mode": "Kerberos"}])
    with pytest.raises(
        CredentialsError, match=r"profile 'default' \(mode Kerberos\): unsupported mode; use AK, StsToken"
    ):
        resolve({}, tmp_path)


def test_profile_file_disabled(tmp_path: Path) -> None:
    write_profiles(tmp_path, [AK_PROFILE])
    with pytest.raises(
        CredentialsError, match="aliyun CLI profile: disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true"
    ):
        resolve({"ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true"}, tmp_path)


# --- nothing found ---------------------------------------------------------------------------------


def test_nothing_found_lists_every_source_tried(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as raised:
        resolve({}, tmp_path)
    assert str(raised.value) == (
        "no Alibaba Cloud credentials found. Tried, in order:\n"
        "  - environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set\n"
        "  - OIDC role: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE are not set\n"
        f"  - aliyun CLI profile: {tmp_path}/.aliyun/config.json does not exist\n"
        f"  - credentials file: {tmp_path}/.alibabacloud/credentials.ini does not exist\n"
        "  - ECS RAM role: disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED=true\n"
        "  - credentials URI: ALIBABA_CLOUD_CREDENTIALS_URI is not set\n"
        "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run `aliyun configure`."
    )


def test_without_the_optional_package_the_error_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials_sdk, "available", lambda: False)
    with pytest.raises(CredentialsError) as raised:
        default_credentials({}, tmp_path).get()
    assert (
        "  - ECS RAM role: not checked: install the optional package with: pip install 'reconcile[credentials]'\n"
        in str(raised.value)
    )


def test_resolution_is_lazy_and_happens_once(tmp_path: Path) -> None:
    env: dict[str, str] = dict(NO_PROBES)
    provider = default_credentials(env, tmp_path)  # nothing configured yet: no error until first use
    env.update({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIlate", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"})
    assert provider.get().access_key_id == "LTAIlate"
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAIchanged"
    assert provider.get().access_key_id == "LTAIlate"


def test_default_environment_is_read_at_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = default_credentials(home=tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIos")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "os-secret")
    assert provider.get().access_key_id == "LTAIos"


# --- the optional official package ----------------------------------------------------------------


class FakeOfficialProvider:
    """Stands in for an alibabacloud-credentials provider (its refresh would need the network)."""

    instances: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        FakeOfficialProvider.instances.append(kwargs)

    def get_credentials(self) -> Any:
        kwargs = self.kwargs

        class Answer:
            def get_access_key_id(self) -> str:
                return "STS.official"

            def get_access_key_secret(self) -> str:
                return "official-secret"

            def get_security_token(self) -> str:
                return f"token-for-{kwargs.get('role_arn') or kwargs.get('profile_name') or 'ecs'}"

        return Answer()


@pytest.fixture
def official(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    built: list[tuple[str, dict[str, Any]]] = []

    def provider_class(name: str) -> Any:
        def build(**kwargs: Any) -> FakeOfficialProvider:
            built.append((name, kwargs))
            return FakeOfficialProvider(**kwargs)

        return build

    monkeypatch.setattr(credentials_sdk, "_provider_class", provider_class)
    return built


def test_oidc_role_gets_its_settings_from_our_env_not_the_packages_import_time_globals(
    tmp_path: Path, official: list[tuple[str, dict[str, Any]]]
) -> None:
    env = {
        "ALIBABA_CLOUD_ROLE_ARN": "acs:ram::123:role/ci",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::123:oidc-provider/gh",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(tmp_path / "token"),
        "ALIBABA_CLOUD_ROLE_SESSION_NAME": "reconcile-ci",
        "ALIBABA_CLOUD_STS_REGION": "cn-shanghai",
    }
    creds = resolve(env, tmp_path)
    assert (creds.access_key_id, creds.security_token) == ("STS.official", "token-for-acs:ram::123:role/ci")
    assert creds.source == "OIDC role acs:ram::123:role/ci"
    assert official == [
        (
            "OIDCRoleArnCredentialsProvider",
            {
                "role_arn": "acs:ram::123:role/ci",
                "oidc_provider_arn": "acs:ram::123:oidc-provider/gh",
                "oidc_token_file_path": str(tmp_path / "token"),
                "role_session_name": "reconcile-ci",
                "sts_region_id": "cn-shanghai",
                "enable_vpc": False,
            },
        )
    ]


def test_oidc_needs_all_three_variables(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as raised:
        resolve({"ALIBABA_CLOUD_ROLE_ARN": "acs:ram::123:role/ci"}, tmp_path)
    assert str(raised.value) == (
        "OIDC role: ALIBABA_CLOUD_ROLE_ARN set but ALIBABA_CLOUD_OIDC_PROVIDER_ARN, "
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE not: set all three"
    )


def test_ram_role_arn_profile_is_delegated_to_the_official_package(
    tmp_path: Path, official: list[tuple[str, dict[str, Any]]]
) -> None:
    path = write_profiles(
        tmp_path,
        [
            {
                "name": "role",
                "mode": "RamRoleArn",
                "access_key_id": "LTAI",
                "access_key_secret": "s",
                "ram_role_arn": "acs:ram::1:role/x",
            }
        ],
        current="role",
    )
    creds = resolve({}, tmp_path)
    assert creds.security_token == "token-for-role"
    assert official == [("CLIProfileCredentialsProvider", {"profile_name": "role", "profile_file": str(path)})]


def test_ram_role_arn_profile_without_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials_sdk, "available", lambda: False)
    write_profiles(tmp_path, [{"name": "role", "mode": "RamRoleArn"}], current="role")
    with pytest.raises(CredentialsError) as raised:
        resolve({}, tmp_path)
    assert str(raised.value).endswith(
        "profile 'role' (mode RamRoleArn): reconcile reads AK and StsToken profiles itself; "
        "for RamRoleArn, install the optional package with: pip install 'reconcile[credentials]'"
    )


def test_ecs_ram_role_is_probed_last_and_its_failure_is_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(name: str) -> Any:
        def build(**kwargs: Any) -> Any:
            raise ConnectionError("connect timeout to 100.100.100.200")

        return build

    monkeypatch.setattr(credentials_sdk, "_provider_class", unreachable)
    with pytest.raises(CredentialsError) as raised:
        default_credentials({}, tmp_path).get()
    assert "  - ECS RAM role: connect timeout to 100.100.100.200\n" in str(raised.value)


def test_ecs_ram_role_found(tmp_path: Path, official: list[tuple[str, dict[str, Any]]]) -> None:
    creds = default_credentials({"ALIBABA_CLOUD_ECS_METADATA": "my-role"}, tmp_path).get()
    assert (creds.source, creds.security_token) == ("ECS RAM role", "token-for-ecs")
    assert official[0] == (
        "EcsRamRoleCredentialsProvider",
        {"role_name": "my-role", "disable_imds_v1": False, "async_update_enabled": False},
    )


def test_credentials_file_and_uri_are_delegated(tmp_path: Path, official: list[tuple[str, dict[str, Any]]]) -> None:
    ini = tmp_path / "creds.ini"
    ini.write_text("[default]\ntype = access_key\n")
    resolve({"ALIBABA_CLOUD_CREDENTIALS_FILE": str(ini)}, tmp_path)
    resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": "http://127.0.0.1:9/creds"}, tmp_path)
    assert official == [
        ("ProfileCredentialsProvider", {"profile_file": str(ini), "profile_name": "default"}),
        ("URLCredentialsProvider", {"uri": "http://127.0.0.1:9/creds"}),
    ]


def test_the_real_official_oidc_provider_reports_a_missing_token_file(tmp_path: Path) -> None:
    """The real package, no network: it reads the token file before any exchange."""
    env = {
        "ALIBABA_CLOUD_ROLE_ARN": "acs:ram::123:role/ci",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::123:oidc-provider/gh",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(tmp_path / "missing-token"),
    }
    with pytest.raises(CredentialsError) as raised:
        resolve(env, tmp_path)
    assert str(raised.value).startswith("OIDC role acs:ram::123:role/ci: ")
    assert "missing-token" in str(raised.value)


# --- never shown -----------------------------------------------------------------------------------


def test_secret_and_token_never_appear_in_repr_str_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials("LTAIvisible", "hidden-secret", "hidden-token", source="test")
    provider = StaticCredentials("LTAIvisible", "hidden-secret", "hidden-token")
    chain = CredentialsChain(
        {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIvisible", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "hidden-secret"}, tmp_path
    )
    chain.get()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("reconcile.test").debug("creds %s %r %s %r %s", creds, creds, provider, chain, [creds])
    for text in (repr(creds), str(creds), repr(provider), repr(chain), caplog.text, f"{creds}"):
        assert "hidden-secret" not in text and "hidden-token" not in text
    assert repr(creds) == "Credentials(access_key_id='LTAIvisible', source='test')"


def test_errors_about_sources_never_quote_the_secret(tmp_path: Path) -> None:
    write_profiles(tmp_path, [{**STS_PROFILE, "access_key_id": "", "sts_token": "tok-value"}], current="sts")
    with pytest.raises(CredentialsError) as raised:
        resolve({}, tmp_path)
    assert "sts-secret" not in str(raised.value) and "tok-value" not in str(raised.value)


def test_the_official_package_logger_prints_nothing_of_its_own(capsys):
    # It attaches a stderr handler at import and logs a traceback for every failed metadata probe;
    # the user sees the failure once, in the CredentialsError listing what was tried.
    import logging

    from reconcile.cloud import credentials_sdk

    credentials_sdk._provider_class("EcsRamRoleCredentialsProvider")
    logging.getLogger("credentials").error("Failed to get RAM session credentials")
    assert capsys.readouterr().err == ""
