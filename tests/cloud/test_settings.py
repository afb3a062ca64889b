"""Client settings from the environment and the CLI, and endpoint resolution."""

from __future__ import annotations

import re

import click
import pytest

from reconcile.cli.cloud_options import cloud_options, settings_from_options
from reconcile.cli.common import FatalError
from reconcile.cli.main import main
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.endpoints import default_host, normalize_endpoint
from reconcile.cloud.settings import ClientSettings, InvalidSettingsError

# --- endpoints -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "region", "host"),
    [
        ("mts", "cn-shanghai", "mts.cn-shanghai.aliyuncs.com"),
        ("vod", "cn-shanghai", "vod.cn-shanghai.aliyuncs.com"),
        ("vod", "ap-southeast-1", "vod.ap-southeast-1.aliyuncs.com"),
        ("vod", "cn-hangzhou", "vod.cn-shanghai.aliyuncs.com"),  # SDK exception: no VOD endpoint in Hangzhou
        ("mts", "cn-hangzhou", "mts.cn-hangzhou.aliyuncs.com"),
        ("vod", "cn-qingdao", "vod.aliyuncs.com"),  # SDK exception: central endpoint
        ("mts", "me-east-1", "mts.aliyuncs.com"),
    ],
)
def test_default_hosts(product: str, region: str, host: str) -> None:
    assert default_host(product, region) == host


@pytest.mark.parametrize(
    "region", ["", "CN-SHANGHAI", "cn_shanghai", "shanghai", "cn-shanghai.evil.com", "cn-shanghai/"]
)
def test_region_ids_are_checked_before_they_become_host_names(region: str) -> None:
    with pytest.raises(ValueError, match="invalid region id"):
        default_host("vod", region)


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("https://vod.cn-shanghai.aliyuncs.com", "https://vod.cn-shanghai.aliyuncs.com"),
        ("vod.cn-shanghai.aliyuncs.com", "https://vod.cn-shanghai.aliyuncs.com"),
        ("https://gateway.internal:8443", "https://gateway.internal:8443"),
    ],
)
def test_endpoint_overrides_accepted(value: str, normalized: str) -> None:
    assert normalize_endpoint(value, "RECONCILE_ENDPOINT") == normalized


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("http://10.0.0.5:8080", "10.0.0.5"),
        # A name is whatever the resolver answers: only `localhost` itself is taken on trust.
        ("http://evil.localhost:8765", "evil.localhost"),
        ("http://localhost.example.com:8765", "localhost.example.com"),
        ("http://[::ffff:10.0.0.5]:8765", "::ffff:10.0.0.5"),
    ],
)
def test_plain_http_to_anything_but_a_literal_loopback_address_is_refused(value: str, host: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalize_endpoint(value, "RECONCILE_ENDPOINT")
    assert str(raised.value) == (
        f"RECONCILE_ENDPOINT: {value!r} uses plain http:// to {host}, which is not a literal loopback address: it "
        "would send signed requests and security tokens in clear text; use https://. (plain http:// is accepted "
        "only for 127.0.0.0/8, ::1 and localhost itself: a name such as evil.localhost may resolve to a remote "
        "address.)"
    )


def test_https_to_a_localhost_subdomain_is_still_accepted() -> None:
    assert normalize_endpoint("https://evil.localhost:8443", "--endpoint") == "https://evil.localhost:8443"


USERINFO_REFUSED = (
    "the URL contains '@' (user information such as user:password@, not shown here); give just "
    "scheme://host[:port], e.g. http://127.0.0.1:8765: reconcile signs each request with the AccessKey and never "
    "sends credentials in the URL"
)


@pytest.mark.parametrize(
    "value",
    [
        "http://user:PASSWORD@127.0.0.1:8765",
        "https://user:PASSWORD@vod.cn-shanghai.aliyuncs.com",
        "user:PASSWORD@127.0.0.1:8765",  # bare host
        "http://user:PASS/WORD@127.0.0.1:8765",  # a '/' in the password moves urlsplit's netloc
        "http://user:PASSWORD@127.0.0.1:99999",  # also an invalid port
        "ftp://user:PASSWORD@127.0.0.1",  # also a wrong scheme
    ],
)
def test_userinfo_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalize_endpoint(value, "--endpoint")
    assert str(raised.value) == f"--endpoint: {USERINFO_REFUSED}"


def test_userinfo_in_the_environment_never_reaches_the_output(capsys, monkeypatch) -> None:
    monkeypatch.setenv("RECONCILE_ENDPOINT", "http://user:PASSWORD@127.0.0.1:8765")
    assert main(["plan", "manifests/"]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"error: RECONCILE_ENDPOINT: {USERINFO_REFUSED}\n")
    assert main(["plan", "--help"]) == 0
    assert "PASSWORD" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://127.0.0.1", "is not an http(s) URL"),
        ("https://host/path", "must be just scheme://host[:port]"),
        ("https://host:99999", "is not a valid URL"),
        ("http://mts.cn-shanghai.aliyuncs.com", "plain http://"),
    ],
)
def test_bad_endpoint_overrides(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize_endpoint(value, "--endpoint")


def test_session_endpoints_per_product_and_region() -> None:
    session = CloudSession(ClientSettings(vod_endpoint="http://127.0.0.1:9001"), StaticCredentials("a", "b"))
    assert session.endpoint("vod", "cn-beijing") == "http://127.0.0.1:9001"
    assert session.endpoint("mts", "cn-beijing") == "https://mts.cn-beijing.aliyuncs.com"
    shared = CloudSession(
        ClientSettings(endpoint="http://127.0.0.1:9000", mts_endpoint="http://127.0.0.1:9002"),
        StaticCredentials("a", "b"),
    )
    assert shared.endpoint("vod", "cn-beijing") == "http://127.0.0.1:9000"
    assert shared.endpoint("mts", "cn-beijing") == "http://127.0.0.1:9002"


# --- from_env --------------------------------------------------------------------------------------


def test_defaults() -> None:
    settings = ClientSettings.from_env({})
    assert settings == ClientSettings()
    assert (settings.signature_version, settings.max_concurrency, settings.max_attempts) == ("v3", 32, 8)
    assert settings.qps_limit("RegisterMedia") == 50
    assert settings.pacing_rate("RegisterMedia") == pytest.approx(48.5)
    assert settings.qps_limit("BindInputBucket") == 100
    assert settings.qps_limit("ListAllMediaBucket") == 10
    assert settings.qps_limit("UpdateVideoInfos") == 30


def test_from_env_reads_every_variable() -> None:
    settings = ClientSettings.from_env(
        {
            "RECONCILE_ENDPOINT": "http://127.0.0.1:8080/",
            "RECONCILE_VOD_ENDPOINT": "https://vod.example.com",
            "RECONCILE_SIGNATURE_VERSION": "V1",
            "RECONCILE_QPS": "RegisterMedia=20, UpdateVideoInfos=10",
            "RECONCILE_MAX_CONCURRENCY": "4",
        }
    )
    assert settings.endpoint == "http://127.0.0.1:8080"
    assert settings.vod_endpoint == "https://vod.example.com"
    assert settings.signature_version == "v1"
    assert dict(settings.qps) == {"RegisterMedia": 20.0, "UpdateVideoInfos": 10.0}
    assert settings.qps_limit("RegisterMedia") == 20
    assert settings.qps_limit("DeleteVideo") == 30
    assert settings.max_concurrency == 4


def test_overrides_win_and_qps_merges_per_action() -> None:
    settings = ClientSettings.from_env(
        {"RECONCILE_QPS": "RegisterMedia=20,UpdateVideoInfos=10", "RECONCILE_SIGNATURE_VERSION": "v1"},
        qps={"UpdateVideoInfos": 5},
        signature_version="v3",
        endpoint=None,
    )
    assert dict(settings.qps) == {"RegisterMedia": 20.0, "UpdateVideoInfos": 5.0}
    assert settings.signature_version == "v3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECONCILE_QPS": "RegisterMedia"}, "RECONCILE_QPS: 'RegisterMedia' is not ACTION=N (e.g. RegisterMedia=20)"),
        (
            {"RECONCILE_QPS": "RegisterMedia=fast"},
            "RECONCILE_QPS: RegisterMedia=fast is not a positive number of calls per second",
        ),
        (
            {"RECONCILE_QPS": "RegisterMedia=0"},
            "RECONCILE_QPS: RegisterMedia=0 is not a positive number of calls per second",
        ),
        ({"RECONCILE_QPS": "Upload=5"}, "RECONCILE_QPS: unknown action 'Upload'; expected one of BindInputBucket, "),
        ({"RECONCILE_SIGNATURE_VERSION": "v2"}, "RECONCILE_SIGNATURE_VERSION: 'v2' is not one of v3, v1"),
        ({"RECONCILE_MAX_CONCURRENCY": "0"}, "RECONCILE_MAX_CONCURRENCY: '0' is not a positive whole number"),
        (
            {"RECONCILE_MTS_ENDPOINT": "http://192.168.1.2"},
            "RECONCILE_MTS_ENDPOINT: 'http://192.168.1.2' uses plain http://",
        ),
    ],
)
def test_bad_environment_values_name_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidSettingsError) as raised:
        ClientSettings.from_env(env)
    assert str(raised.value).startswith(message)


def test_settings_are_checked_when_built_directly() -> None:
    with pytest.raises(InvalidSettingsError, match="qps: unknown action 'Nope'"):
        ClientSettings(qps={"Nope": 1})
    with pytest.raises(InvalidSettingsError, match=re.escape("endpoint: 'http://8.8.8.8' uses plain http://")):
        ClientSettings(endpoint="http://8.8.8.8")
    with pytest.raises(TypeError, match="no setting 'qsp'"):
        ClientSettings.from_env({}, qsp={})


# --- CLI options -----------------------------------------------------------------------------------


def run_command(args: list[str], env: dict[str, str] | None = None) -> ClientSettings:
    captured: list[ClientSettings] = []

    @click.command()
    @cloud_options
    def command(**kwargs: object) -> None:
        captured.append(settings_from_options(kwargs, env or {}))

    command.main(args=args, standalone_mode=False)
    return captured[0]


def test_cli_options_land_in_settings_and_override_env() -> None:
    settings = run_command(
        [
            "--endpoint", "http://127.0.0.1:8080",
            "--vod-endpoint", "https://vod.example.com/",
            "--signature-version", "V1",
            "--qps", "RegisterMedia=20",
            "--qps", "DeleteVideo=2.5",
            "--max-concurrency", "8",
        ],
        env={"RECONCILE_QPS": "RegisterMedia=40,UpdateVideoInfos=10", "RECONCILE_ENDPOINT": "http://127.0.0.1:1"},
    )  # fmt: skip
    assert settings.endpoint == "http://127.0.0.1:8080"
    assert settings.vod_endpoint == "https://vod.example.com"
    assert settings.signature_version == "v1"
    assert dict(settings.qps) == {"RegisterMedia": 20.0, "UpdateVideoInfos": 10.0, "DeleteVideo": 2.5}
    assert settings.max_concurrency == 8


def test_no_cli_options_means_the_environment() -> None:
    settings = run_command([], env={"RECONCILE_ENDPOINT": "http://127.0.0.1:1", "RECONCILE_SIGNATURE_VERSION": "v1"})
    assert (settings.endpoint, settings.signature_version) == ("http://127.0.0.1:1", "v1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--endpoint", "http://10.1.1.1"],
            "--endpoint: 'http://10.1.1.1' uses plain http:// to 10.1.1.1, which is not a literal loopback address",
        ),
        (["--mts-endpoint", "ftp://x"], "--mts-endpoint: 'ftp://x' is not an http(s) URL"),
        (["--qps", "RegisterMedia=-1"], "--qps: RegisterMedia=-1 is not a positive number of calls per second"),
        (["--qps", "20"], "--qps: '20' is not ACTION=N (e.g. RegisterMedia=20)"),
    ],
)
def test_bad_cli_options_are_fatal_errors_naming_the_option(args: list[str], message: str) -> None:
    with pytest.raises(FatalError) as raised:
        run_command(args)
    assert raised.value.message.startswith(message)


def test_bad_environment_reaches_the_user_as_a_fatal_error() -> None:
    with pytest.raises(FatalError, match="RECONCILE_QPS: 'x' is not ACTION=N"):
        run_command([], env={"RECONCILE_QPS": "x"})


@pytest.mark.parametrize("value", ["garbage", "garbage:8080", "vod"])
def test_a_word_is_not_taken_for_a_host_name(value: str) -> None:
    # `--endpoint garbage` used to become https://garbage and fail only after DNS retries.
    with pytest.raises(ValueError) as raised:
        normalize_endpoint(value, "--endpoint")
    assert str(raised.value) == (
        f"--endpoint: {value!r} is not a URL; expected e.g. https://vod.cn-shanghai.aliyuncs.com "
        "or http://127.0.0.1:8765 (the emulator)"
    )


def test_a_bare_loopback_host_is_still_accepted() -> None:
    assert normalize_endpoint("localhost:8443", "--endpoint") == "https://localhost:8443"


# --- --qps-share ------------------------------------------------------------------------------------


def test_qps_share_takes_a_share_of_every_limit_or_of_one_action() -> None:
    settings = run_command(
        ["--qps-share", "0.5", "--qps-share", "RegisterMedia=0.2"], env={"RECONCILE_QPS_SHARE": "UpdateVideoInfos=0.8"}
    )
    assert dict(settings.qps_share) == {"UpdateVideoInfos": 0.8, "*": 0.5, "RegisterMedia": 0.2}
    assert settings.pacing_rate("RegisterMedia") == pytest.approx(50 * 0.2 * 0.97)
    assert settings.pacing_rate("UpdateVideoInfos") == pytest.approx(30 * 0.8 * 0.97)
    assert settings.pacing_rate("BindInputBucket") == pytest.approx(100 * 0.5 * 0.97)
    assert ClientSettings().pacing_rate("RegisterMedia") == pytest.approx(48.5)


def test_qps_share_from_the_environment() -> None:
    settings = ClientSettings.from_env({"RECONCILE_QPS_SHARE": "0.25, DeleteVideo=1"})
    assert (settings.qps_share_of("RegisterMedia"), settings.qps_share_of("DeleteVideo")) == (0.25, 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--qps-share", "1.5"],
            "--qps-share: 1.5 is not a share of the limit: give a number above 0 and at most 1 (0.5 takes half)",
        ),
        (
            ["--qps-share", "RegisterMedia=0"],
            "--qps-share: RegisterMedia=0 is not a share of the limit: give a number above 0 and at most 1",
        ),
        (["--qps-share", "half"], "--qps-share: half is not a share of the limit"),
        (["--qps-share", "Register=0.5"], "--qps-share: unknown action 'Register'; expected one of BindInputBucket"),
        (["--qps-share", "=0.5"], "--qps-share: '=0.5' is not a share (e.g. 0.5) or ACTION=SHARE"),
    ],
)
def test_bad_qps_shares_are_fatal_errors_naming_the_option(args: list[str], message: str) -> None:
    with pytest.raises(FatalError) as raised:
        run_command(args)
    assert raised.value.message.startswith(message)


def test_a_bad_qps_share_in_the_environment_names_the_variable() -> None:
    with pytest.raises(FatalError, match="RECONCILE_QPS_SHARE: 0 is not a share of the limit"):
        run_command([], env={"RECONCILE_QPS_SHARE": "0"})
