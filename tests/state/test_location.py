"""`--state LOCATION` and `--workspace NAME`: which backend, which state, and never a password in sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.state import LocalStateStore, StateError, backend_for, open_store, redact, workspace_name
from reconcile.state.location import LocalBackend, OpenOptions, OssBackend, PostgresBackend, parse_oss, parse_postgres
from reconcile.state.oss import OssStateStore


def test_a_path_is_the_local_store_and_its_workspaces_live_under_workspaces_dir():
    assert open_store(".reconcile/state.json", "default").location == ".reconcile/state.json"
    staging = open_store(".reconcile/state.json", "staging")
    assert isinstance(staging, LocalStateStore)
    assert staging.path == Path(".reconcile/workspaces/staging/state.json")
    assert open_store("/srv/prod.json", "dev-alice").location == "/srv/workspaces/dev-alice/prod.json"


def test_the_workspace_comes_from_the_flag_then_the_environment_then_default():
    assert workspace_name("prod", env={"RECONCILE_WORKSPACE": "staging"}) == "prod"
    assert workspace_name(None, env={"RECONCILE_WORKSPACE": "staging"}) == "staging"
    assert workspace_name(None, env={}) == "default"
    with pytest.raises(StateError) as refused:
        workspace_name("../prod", env={})
    assert str(refused.value) == (
        "workspace name '../prod' is not valid: use 1 to 63 letters, digits, '-' or '_', starting with a letter or a "
        "digit (e.g. prod, staging, dev-alice)."
    )


def test_local_workspaces_lists_those_with_a_state(tmp_path: Path):
    base = tmp_path / ".reconcile" / "state.json"
    backend = backend_for(str(base))
    assert isinstance(backend, LocalBackend)
    assert backend.workspaces() == []
    open_store(str(base), "staging").write(open_store(str(base), "staging").read() or _empty())
    assert backend.workspaces() == ["staging"]
    open_store(str(base)).write(_empty())
    (tmp_path / ".reconcile" / "workspaces" / "not-a-state").mkdir()
    assert backend.workspaces() == ["default", "staging"]


def _empty():
    from reconcile.state import StateDocument

    return StateDocument.empty()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
def test_postgresql_urls_choose_the_postgresql_backend(scheme: str):
    backend = backend_for(f"{scheme}://ci:s3cret@db.example.com:5433/media?sslmode=require&schema=team_a&history=3")
    assert isinstance(backend, PostgresBackend)
    location = backend.location
    assert (location.schema, location.history, location.password) == ("team_a", 3, "s3cret")
    scheme = scheme.lower()  # libpq knows the scheme in lower case only
    assert location.conninfo == f"{scheme}://ci:s3cret@db.example.com:5433/media?sslmode=require"  # ours removed
    assert location.display == f"{scheme}://ci:***@db.example.com:5433/media?sslmode=require&schema=team_a&history=3"


def test_postgresql_defaults_schema_reconcile_and_ten_previous_versions():
    location = parse_postgres("postgresql://ci@db/media")
    assert (location.schema, location.history, location.password) == ("reconcile", 10, None)
    assert location.display == "postgresql://ci@db/media"


def test_an_unknown_scheme_is_an_error_listing_the_supported_ones_without_the_password():
    with pytest.raises(StateError) as refused:
        backend_for("mysql://ci:s3cret@db/media")
    assert str(refused.value) == (
        "unknown state location scheme mysql:// in mysql://ci:***@db/media: --state (or RECONCILE_STATE) takes a file "
        "path or a URL starting with postgresql://, postgres://, oss://."
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://ci:s3cret@db/media?schema=a;drop", "schema 'a;drop' is not a plain PostgreSQL identifier"),
        ("postgresql://ci:s3cret@db/media?history=-1", "history='-1' is not a number of previous versions to keep"),
        ("postgresql://ci:s3cret@db", "names no database: add it after the host"),
    ],
)
def test_malformed_postgresql_locations_say_what_to_fix(url: str, problem: str):
    with pytest.raises(StateError) as refused:
        backend_for(url)
    assert problem in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ci:p%40ss@db/x", "postgresql://ci:***@db/x"),
        ("postgresql://db/x?user=ci&password=s3cret", "postgresql://db/x?user=ci&password=***"),
        ("postgresql://ci@db/x", "postgresql://ci@db/x"),
        (".reconcile/state.json", ".reconcile/state.json"),
    ],
)
def test_redact_hides_the_password_in_either_place(url: str, shown: str):
    assert redact(url) == shown


def test_a_password_in_the_query_is_kept_from_libpq_messages_too():
    location = parse_postgres("postgresql://db/x?user=ci&password=s3cret&schema=s")
    assert location.password == "s3cret"
    assert location.conninfo == "postgresql://db/x?user=ci&password=s3cret"


# -- oss:// ---------------------------------------------------------------------------------------------------

NO_REGION = OpenOptions(env={})


def oss_store(location: str, workspace: str = "default", options: OpenOptions = NO_REGION) -> OssStateStore:
    store = backend_for(location, options).open(workspace)
    assert isinstance(store, OssStateStore)
    store.close()  # nothing was sent: opening makes no call
    return store


def test_an_oss_url_is_the_oss_store_and_its_workspaces_are_sub_prefixes():
    default = oss_store("oss://tf-state/reconcile/prod/?region=cn-beijing")
    assert (default.bucket, default.region, default.prefix) == ("tf-state", "cn-beijing", "reconcile/prod")
    assert default.location == "oss://tf-state/reconcile/prod"
    staging = oss_store("oss://tf-state/reconcile/prod?region=cn-beijing", "staging")
    assert staging.prefix == "reconcile/prod/workspaces/staging"
    assert staging.location == "oss://tf-state/reconcile/prod/workspaces/staging"
    backend = backend_for("oss://tf-state/reconcile/prod?region=cn-beijing", NO_REGION)
    assert isinstance(backend, OssBackend) and backend.display == "oss://tf-state/reconcile/prod?region=cn-beijing"


def test_the_buckets_region_is_the_parameter_then_the_environment_then_the_manifests_one_region():
    read: list[bool] = []

    def manifests(*regions: str) -> OpenOptions:
        return OpenOptions(env={}, manifest_regions=lambda: read.append(True) or list(regions))

    env = OpenOptions(env={"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}, manifest_regions=lambda: read.append(True) or [])
    assert oss_store("oss://tf-state/p?region=cn-beijing", options=env).region == "cn-beijing"
    assert oss_store("oss://tf-state/p", options=env).region == "cn-hangzhou"
    assert read == []  # the manifests are read only when needed
    assert oss_store("oss://tf-state/p", options=manifests("cn-shenzhen", "cn-shenzhen")).region == "cn-shenzhen"
    assert read == [True]
    with pytest.raises(StateError) as several:
        oss_store("oss://tf-state/p", options=manifests("cn-shanghai", "ap-southeast-1"))
    assert str(several.value) == (
        "cannot tell the region of the state bucket 'tf-state' (oss://tf-state/p): the manifests name 2 regions "
        "(ap-southeast-1, cn-shanghai). Give it as ?region= (e.g. oss://tf-state/p?region=cn-shanghai), or set "
        "ALIBABA_CLOUD_REGION_ID, or run a command whose manifests declare one region."
    )
    with pytest.raises(
        StateError, match=r"\(oss://tf-state/p\): no resource in the manifests has one\. Give it as \?region="
    ):
        oss_store("oss://tf-state/p", options=manifests())
    with pytest.raises(StateError, match=r"^ALIBABA_CLOUD_REGION_ID 'shanghai' is not a region id such as cn-shanghai"):
        oss_store("oss://tf-state/p", options=OpenOptions(env={"ALIBABA_CLOUD_REGION_ID": "shanghai"}))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("oss://tf-state", "state location oss://tf-state names no usable prefix for the state's objects: use "
         "oss://BUCKET/PREFIX (e.g. oss://tf-state/reconcile/prod, optionally ?region=cn-shanghai)."),
        ("oss://tf-state/a//b", "the prefix 'a//b' has an empty, '.' or '..' segment"),
        ("oss://tf-state/a/../b", "the prefix 'a/../b' has an empty, '.' or '..' segment"),
        ("oss://TF_State/p", "'TF_State' is not an OSS bucket name (3 to 63 lowercase letters, digits and '-')"),
        ("oss://tf-state/p?region=mars", "state location oss://tf-state/p?region=mars: region 'mars' is not a region id"),
        ("oss://tf-state/p?endpoint=x", "unknown parameter 'endpoint'; an oss:// location takes only ?region=REGION."),
        ("oss://tf-state:8080/p", "an oss:// location names a bucket only, no user, key or port"),
        ("oss://LTAI5t:s3cret@tf-state/p", "state location oss://LTAI5t:***@tf-state/p: an oss:// location names a "
         "bucket only, no user, key or port: use oss://BUCKET/PREFIX (e.g. oss://tf-state/reconcile/prod, optionally "
         "?region=cn-shanghai). Credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ],
)  # fmt: skip
def test_malformed_oss_locations_say_what_to_fix_and_show_no_secret(url: str, problem: str):
    with pytest.raises(StateError) as refused:
        parse_oss(url)
    assert problem in str(refused.value)
    assert "s3cret" not in str(refused.value)
