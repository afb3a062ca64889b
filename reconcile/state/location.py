"""`--state LOCATION` and `--workspace NAME` → the backend and the store they name.

A location is a file path (the local store, the default `.reconcile/state.json`) or a URL whose scheme picks
the backend: `postgresql://` / `postgres://` (a libpq URL, plus our `schema` and `history` parameters).
Parsing is a dispatch on the scheme (`SCHEMES`); a new backend adds one entry. An unknown scheme is an error
listing the supported ones, never a directory named `postgresql:` created by accident.

Workspaces: one state per workspace name in the same backend. The `default` workspace of a local location
is the file itself; any other workspace NAME lives next to it under `workspaces/NAME/`:

    .reconcile/state.json                      workspace "default"
    .reconcile/workspaces/staging/state.json   workspace "staging" (with its own .journal, .lock, .backup)

A PostgreSQL location keeps every workspace in the same tables, one row each (see `postgres.py`).

An OSS location, `oss://BUCKET/PREFIX[?region=REGION]`, keeps the state as objects under PREFIX (see `oss.py`),
laid out like a local location: the default workspace directly under PREFIX, any other under
`PREFIX/workspaces/NAME/` (`reconcile state workspaces` lists them with ListObjectsV2 and delimiter `/`):

    oss://tf-state/reconcile/log/…, lock/…                      workspace "default"
    oss://tf-state/reconcile/workspaces/staging/log/…, lock/…   workspace "staging"

The bucket's region is `?region=`, else $ALIBABA_CLOUD_REGION_ID, else the region of the manifests the command
reads (plan, apply, drift: read only when neither is given, and when they name exactly one region); else an
error naming the three. OSS calls go to `https://BUCKET.oss-REGION.aliyuncs.com`, or path-style to
$RECONCILE_OSS_ENDPOINT, else the command's --endpoint / $RECONCILE_ENDPOINT (the emulator), exactly as the
plan's object check does (`oss_endpoint`). Credentials come from the cloud client's own resolution
(ALIBABA_CLOUD_ACCESS_KEY_ID…, the CLI profile, ECS RAM role): never from the location, which holds no secret.

A URL's password is a secret: every message, log line and listing shows `redact(location)` instead, with the
password replaced by `***`. Without a password in the URL, libpq reads PGPASSWORD or ~/.pgpass as usual.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from reconcile.cloud.endpoints import check_region
from reconcile.cloud.limits import BUCKET_NAME_RE
from reconcile.cloud.oss_client import oss_endpoint
from reconcile.cloud.settings import ClientSettings, InvalidSettingsError
from reconcile.state.local import LocalStateStore
from reconcile.state.store import StateError, StateStore

if TYPE_CHECKING:
    from reconcile.state.oss import OssStateStore

DEFAULT_STATE_PATH = ".reconcile/state.json"
STATE_ENV_VAR = "RECONCILE_STATE"
WORKSPACE_ENV_VAR = "RECONCILE_WORKSPACE"
DEFAULT_WORKSPACE = "default"
LOCAL_WORKSPACES_DIR = "workspaces"

DEFAULT_SCHEMA = "reconcile"
DEFAULT_HISTORY = 10  # previous snapshots kept per workspace, besides the current one
MAX_HISTORY = 10_000
REDACTED = "***"
REGION_ENV_VAR = "ALIBABA_CLOUD_REGION_ID"

_WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class Backend(Protocol):
    """Where states live: a directory of files, a database schema. One state per workspace."""

    @property
    def display(self) -> str:
        """The location for messages: never a password."""
        ...

    def open(self, workspace: str) -> StateStore: ...

    def workspaces(self) -> list[str]:
        """The workspaces that hold a state, sorted."""
        ...


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What a backend may need besides its location: the environment, the command's cloud settings (its
    --endpoint) and, read only when needed, the regions its manifests name (the OSS bucket's last resort)."""

    env: Mapping[str, str]
    settings: ClientSettings | None = None
    manifest_regions: Callable[[], Sequence[str]] | None = None


# -- choosing the location and workspace ------------------------------------------------------------------------


def state_location(location: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> str:
    """`location`, else $RECONCILE_STATE, else `.reconcile/state.json` (relative to the cwd). A path's `~` is
    expanded; a URL is kept as written."""
    environ = os.environ if env is None else env
    chosen = os.fspath(location) if location is not None and os.fspath(location) else None
    chosen = chosen or environ.get(STATE_ENV_VAR) or DEFAULT_STATE_PATH
    return chosen if _SCHEME.match(chosen) else os.path.expanduser(chosen)


def workspace_name(workspace: str | None, env: Mapping[str, str] | None = None) -> str:
    """`workspace`, else $RECONCILE_WORKSPACE, else `default`; StateError for a name that is not one."""
    environ = os.environ if env is None else env
    name = workspace or environ.get(WORKSPACE_ENV_VAR) or DEFAULT_WORKSPACE
    if not _WORKSPACE_NAME.fullmatch(name):
        raise StateError(
            f"workspace name {name!r} is not valid: use 1 to 63 letters, digits, '-' or '_', starting with a "
            f"letter or a digit (e.g. prod, staging, dev-alice)."
        )
    return name


def backend_for(location: str, options: OpenOptions | None = None) -> Backend:
    """The backend `location` names: a path, or a URL of a supported scheme."""
    scheme = _SCHEME.match(location)
    if scheme is None:
        return LocalBackend(Path(location), location)
    opener = SCHEMES.get(scheme[1].lower())
    if opener is None:
        supported = ", ".join(f"{name}://" for name in SCHEMES)
        raise StateError(
            f"unknown state location scheme {scheme[1]}:// in {redact(location)}: --state (or {STATE_ENV_VAR}) takes "
            f"a file path or a URL starting with {supported}."
        )
    return opener(location, options or OpenOptions(os.environ))


def open_store(
    location: str | os.PathLike[str] | None = None,
    workspace: str | None = None,
    env: Mapping[str, str] | None = None,
    options: OpenOptions | None = None,
) -> StateStore:
    """The store of `location` (else $RECONCILE_STATE, else `.reconcile/state.json`) and `workspace` (else
    $RECONCILE_WORKSPACE, else `default`). StateError for an unknown scheme or a malformed location. `options`:
    the command's cloud settings and manifests, for a backend that needs them (OSS)."""
    environ = os.environ if env is None else env
    chosen = backend_for(state_location(location, environ), options or OpenOptions(environ))
    return chosen.open(workspace_name(workspace, environ))


# -- redaction ------------------------------------------------------------------------------------------------


def redact(location: str) -> str:
    """`location` with any password replaced by `***` (in the user-info part and a `password=` parameter)."""
    if not _SCHEME.match(location):
        return location
    try:
        parts = urlsplit(location)
    except ValueError:
        return f"{location.split('://', 1)[0]}://{REDACTED}"  # unparseable: show nothing that may be a secret
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{hosts}"
    query = parts.query
    if query and any(key.lower() == "password" for key, _ in parse_qsl(query, keep_blank_values=True)):
        pairs = [(k, REDACTED if k.lower() == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- local files ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalBackend:
    """State files on this machine: `path` is the default workspace's; others are under `workspaces/NAME/`."""

    path: Path
    display: str

    def path_of(self, workspace: str) -> Path:
        if workspace == DEFAULT_WORKSPACE:
            return self.path
        return self.path.parent / LOCAL_WORKSPACES_DIR / workspace / self.path.name

    def open(self, workspace: str) -> StateStore:
        if workspace == DEFAULT_WORKSPACE:
            return LocalStateStore(self.path, location=self.display)
        path = self.path_of(workspace)
        return LocalStateStore(path, location=str(path))

    def workspaces(self) -> list[str]:
        names = [DEFAULT_WORKSPACE] if _local_state_exists(self.path) else []
        try:
            entries = list((self.path.parent / LOCAL_WORKSPACES_DIR).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        except OSError as exc:
            raise StateError(f"cannot list the workspaces of state {self.display}: {exc.strerror or exc}") from exc
        names += [
            entry.name
            for entry in entries
            if _WORKSPACE_NAME.fullmatch(entry.name) and _local_state_exists(entry / self.path.name)
        ]
        return sorted(set(names))


def _local_state_exists(path: Path) -> bool:
    return path.exists() or path.with_name(path.name + ".journal").exists()


# -- PostgreSQL -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresLocation:
    """A parsed `postgresql://` location. `conninfo` may hold the password: pass it to libpq, never print it."""

    conninfo: str
    display: str  # redacted
    schema: str
    history: int
    password: str | None  # only to scrub it from driver messages, should one ever repeat it


def parse_postgres(location: str) -> PostgresLocation:
    """Split our parameters (`schema`, `history`) off a libpq URL; libpq gets the rest as written."""
    display = redact(location)
    try:
        parts = urlsplit(location)
        password = unquote(parts.password) if parts.password else None
    except ValueError as exc:
        raise StateError(f"state location {display} is not a valid URL ({exc}).") from None
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("schema", "history"):
            ours[key] = value
        else:
            theirs.append((key, value))
            if key.lower() == "password":
                password = value
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _IDENTIFIER.fullmatch(schema):
        raise StateError(
            f"state location {display}: schema {schema!r} is not a plain PostgreSQL identifier; use letters, "
            f"digits and '_' (e.g. ?schema=reconcile)."
        )
    history_text = ours.get("history", str(DEFAULT_HISTORY))
    if not history_text.isdigit() or int(history_text) > MAX_HISTORY:
        raise StateError(
            f"state location {display}: history={history_text!r} is not a number of previous versions to keep "
            f"(0 to {MAX_HISTORY}; default {DEFAULT_HISTORY})."
        )
    if not parts.path.strip("/"):
        raise StateError(
            f"state location {display} names no database: add it after the host, e.g. "
            f"postgresql://USER@HOST:5432/DATABASE."
        )
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(theirs, quote_via=quote), ""))
    return PostgresLocation(conninfo, display, schema, int(history_text), password)


@dataclass(frozen=True)
class PostgresBackend:
    location: PostgresLocation

    @property
    def display(self) -> str:
        return self.location.display

    def open(self, workspace: str) -> StateStore:
        from reconcile.state.postgres import PostgresStateStore  # psycopg loads only for a PostgreSQL location

        return PostgresStateStore(self.location, workspace)

    def workspaces(self) -> list[str]:
        from reconcile.state.postgres import list_workspaces

        return list_workspaces(self.location)


def _postgres(location: str, options: OpenOptions) -> Backend:
    return PostgresBackend(parse_postgres(location))


# -- OSS ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OssLocation:
    """A parsed `oss://BUCKET/PREFIX[?region=REGION]` location (it holds no secret)."""

    bucket: str
    prefix: str  # without leading or trailing `/`
    region: str | None  # ?region=, when given
    display: str


def parse_oss(location: str) -> OssLocation:
    """Check an `oss://` location's parts: a bucket name, a prefix, at most a `region` parameter."""
    display = redact(location)
    form = "oss://BUCKET/PREFIX (e.g. oss://tf-state/reconcile/prod, optionally ?region=cn-shanghai)"
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError as exc:
        raise StateError(f"state location {display} is not a valid URL ({exc}): use {form}.") from None
    if "@" in parts.netloc or port is not None:
        raise StateError(
            f"state location {display}: an oss:// location names a bucket only, no user, key or port: use {form}. "
            f"Credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (or the CLI "
            f"profile, or the ECS RAM role), as for every cloud call."
        )
    bucket = parts.netloc
    if not BUCKET_NAME_RE.match(bucket) or len(bucket) < 3:
        raise StateError(
            f"state location {display}: {bucket!r} is not an OSS bucket name (3 to 63 lowercase letters, digits "
            f"and '-'): use {form}."
        )
    prefix = unquote(parts.path).strip("/")
    if not prefix or any(segment in ("", ".", "..") for segment in prefix.split("/")):
        raise StateError(
            f"state location {display} names no usable prefix for the state's objects: use {form}."
            if not prefix
            else f"state location {display}: the prefix {prefix!r} has an empty, '.' or '..' segment: use {form}."
        )
    region: str | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "region":
            raise StateError(
                f"state location {display}: unknown parameter {key!r}; an oss:// location takes only ?region=REGION."
            )
        region = _checked_region(value, f"state location {display}: region")
    return OssLocation(bucket, prefix, region, display)


def _checked_region(region: str, what: str) -> str:
    try:
        return check_region(region)
    except ValueError:
        raise StateError(f"{what} {region!r} is not a region id such as cn-shanghai.") from None


def oss_region(location: OssLocation, options: OpenOptions) -> str:
    """The bucket's region: ?region=, else $ALIBABA_CLOUD_REGION_ID, else the manifests' one region."""
    if location.region is not None:
        return location.region
    from_env = options.env.get(REGION_ENV_VAR, "").strip()
    if from_env:
        return _checked_region(from_env, REGION_ENV_VAR)
    regions = sorted(set(options.manifest_regions())) if options.manifest_regions is not None else []
    if len(regions) == 1:
        return regions[0]
    if regions:
        found = f"the manifests name {len(regions)} regions ({', '.join(regions)})"
    else:
        found = (
            "no resource in the manifests has one"
            if options.manifest_regions is not None
            else "this command reads no manifests"
        )
    raise StateError(
        f"cannot tell the region of the state bucket {location.bucket!r} ({location.display}): {found}. Give it as "
        f"?region= (e.g. oss://{location.bucket}/{location.prefix}?region=cn-shanghai), or set {REGION_ENV_VAR}, "
        f"or run a command whose manifests declare one region."
    )


@dataclass(frozen=True)
class OssBackend:
    location: OssLocation
    options: OpenOptions

    @property
    def display(self) -> str:
        return self.location.display

    def prefix_of(self, workspace: str) -> str:
        if workspace == DEFAULT_WORKSPACE:
            return self.location.prefix
        return f"{self.location.prefix}/{LOCAL_WORKSPACES_DIR}/{workspace}"

    def open(self, workspace: str) -> StateStore:
        return self._store(self.prefix_of(workspace))

    def workspaces(self) -> list[str]:
        with self._store(self.location.prefix) as root:
            names = [DEFAULT_WORKSPACE] if root.has_state() else []
            for name in root.children(LOCAL_WORKSPACES_DIR):
                if _WORKSPACE_NAME.fullmatch(name) and root.has_state(f"{LOCAL_WORKSPACES_DIR}/{name}"):
                    names.append(name)
        return sorted(set(names))

    def _store(self, prefix: str) -> OssStateStore:
        from reconcile.state.oss import OssStateStore  # the OSS client loads only for an oss:// location

        try:
            settings = self.options.settings or ClientSettings.from_env(self.options.env)
            endpoint = oss_endpoint(self.options.env, settings.endpoint)
        except InvalidSettingsError as exc:
            raise StateError(f"state {self.display}: {exc}") from None
        region = oss_region(self.location, self.options)
        return OssStateStore(self.location.bucket, region, prefix, settings, endpoint=endpoint)


def _oss(location: str, options: OpenOptions) -> Backend:
    return OssBackend(parse_oss(location), options)


SCHEMES: dict[str, Callable[[str, OpenOptions], Backend]] = {
    "postgresql": _postgres,
    "postgres": _postgres,
    "oss": _oss,
}
