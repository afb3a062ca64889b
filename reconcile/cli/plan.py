"""`reconcile plan PATH...`: show the exact API calls that would converge the account on the manifests.

Reads only: the manifests, the state (no lock: reads never need it) and, unless --refresh=false, the live
account. Prints the plan in the chosen format on stdout, then the calls refresh made (on stderr for json and
markdown, so stdout stays parseable). `--out FILE` saves the plan for `reconcile apply FILE`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from reconcile.cli.ci_context import ci_context, markdown_links
from reconcile.cli.cloud_options import cloud_options, settings_from_options
from reconcile.cli.common import EXIT_CHANGES, EXIT_OK, FatalError, log_level_option, run_async, use_color
from reconcile.cli.plan_options import refresh_option, skip_object_check_option, target_option
from reconcile.cli.state_options import StateChoice, state_errors_as_fatal, state_option, store_from_options
from reconcile.cloud.client import CloudSession
from reconcile.cloud.errors import CloudError
from reconcile.cloud.oss_client import OssClient, oss_endpoint
from reconcile.cloud.settings import ENV_MAX_CONCURRENCY, ClientSettings, InvalidSettingsError
from reconcile.engine.plan import Plan
from reconcile.engine.planner import StateReader, build_plan
from reconcile.engine.refresh import DEFAULT_CONCURRENCY
from reconcile.engine.savedplan import save_plan
from reconcile.manifest import ManifestError, load_desired_state
from reconcile.render.json import render_plan_json
from reconcile.render.markdown import render_plan_markdown
from reconcile.render.text import render_call_accounting, render_plan_text
from reconcile.state.pg_pacing import SharedPacing
from reconcile.state.postgres import PostgresStateStore

FORMATS = ("text", "json", "markdown")

T = TypeVar("T")

format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="text for people, json for programs (see docs/plan-json.md), markdown for pull-request comments.",
)


@click.command(name="plan")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Save the plan to FILE; `reconcile apply FILE` applies exactly it, and refuses it once stale.",
)
@format_option
@refresh_option
@click.option(
    "--prune",
    is_flag=True,
    help="Plan to unbind buckets and DELETE media (and their source files) removed from the manifests, except "
    "those marked prevent_destroy. Without it they are kept and reported as orphaned.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when the plan has changes (0: none, 1: error).",
)
@skip_object_check_option
@target_option
@cloud_options
@state_option
@log_level_option
def command(
    paths: tuple[str, ...],
    out: str | None,
    output_format: str,
    refresh: bool | None,
    prune: bool,
    detailed_exitcode: bool,
    skip_object_check: bool,
    target: tuple[str, ...],
    state: StateChoice,
    **cloud: Any,
) -> int:
    """Show the API calls that would converge the account on the manifests in PATH... (files or directories).

    Refresh keeps 8 reads in flight unless --max-concurrency (or RECONCILE_MAX_CONCURRENCY) says otherwise:
    enough for the account's 100 GetVideoInfos/s up to 80 ms of latency.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error (the plan has errors, or it could not
    be made), 2 with --detailed-exitcode when there are changes.
    """
    refresh = refresh is not False  # not given (None): true
    settings = settings_from_options(cloud)
    store = store_from_options(state, settings=settings, manifest_regions=manifest_regions(lambda: paths))
    output_format = output_format.lower()
    reads = refresh_concurrency(cloud, settings)
    oss = oss_endpoint_of(settings) if refresh and not skip_object_check else None
    plan, accounting = run_detached(
        make_plan(paths, store, settings, refresh=refresh, prune=prune, reads=reads, object_check=oss, targets=target)
    )
    notes = sys.stderr if output_format != "text" else sys.stdout
    click.echo(render_plan(plan, output_format), nl=False)
    if refresh:
        click.echo(("\n" if output_format == "text" else "") + accounting, file=notes)
    if plan.errors:
        raise FatalError(f"the plan has {len(plan.errors)} error(s), listed above; fix them and plan again")
    if out is not None:
        save(plan, out)
        click.echo(f"Saved the plan to {out}: `reconcile apply {out}` applies exactly these calls.", file=notes)
    if detailed_exitcode and plan.needs_apply:
        return EXIT_CHANGES
    return EXIT_OK


def render_plan(plan: Plan, output_format: str) -> str:
    match output_format:
        case "json":
            return render_plan_json(plan)
        case "markdown":
            context = ci_context()
            return render_plan_markdown(
                plan, links=markdown_links(context), full_plan_url=context.job_url if context else None
            )
        case _:
            return render_plan_text(plan, color=use_color())


def refresh_concurrency(options: Mapping[str, Any], settings: ClientSettings) -> int:
    """Reads kept in flight per read action (SearchMedia and GetVideoInfos each): --max-concurrency /
    RECONCILE_MAX_CONCURRENCY when given, else at most 8.

    Refresh only reads, each action paced at 100/s: 8 in flight reach that rate up to 80 ms of latency.
    More cost CPU for nothing on a fast link (the HTTP pool checks every idle connection on each request);
    on a slow link, raise --max-concurrency."""
    explicit = options.get("max_concurrency") is not None or bool(os.environ.get(ENV_MAX_CONCURRENCY, "").strip())
    return settings.max_concurrency if explicit else min(settings.max_concurrency, DEFAULT_CONCURRENCY)


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    """Check that planned registrations' files are in OSS, sending OSS calls to `endpoint` (path-style) or,
    when None, to each bucket's own endpoint."""

    endpoint: str | None


def oss_endpoint_of(settings: ClientSettings) -> ObjectCheck:
    """The object check's OSS endpoint: RECONCILE_OSS_ENDPOINT, else --endpoint / RECONCILE_ENDPOINT."""
    try:
        return ObjectCheck(oss_endpoint(os.environ, settings.endpoint))
    except InvalidSettingsError as exc:
        raise FatalError(str(exc)) from None


def object_lookup(session: CloudSession, check: ObjectCheck | None) -> OssClient | None:
    return OssClient(session, endpoint=check.endpoint) if check is not None else None


async def make_plan(
    paths: tuple[str, ...],
    store: StateReader,
    settings: ClientSettings,
    *,
    refresh: bool,
    prune: bool,
    reads: int,
    object_check: ObjectCheck | None = None,
    targets: tuple[str, ...] = (),
) -> tuple[Plan, str]:
    """The plan and the line accounting for the calls refresh (and the object check) made."""
    async with open_session(settings) as session:
        with planning_errors(), coordinated_pacing(store, session):
            plan = await build_plan(
                paths,
                store,
                session.client if refresh else None,
                refresh_live=refresh,
                prune=prune,
                concurrency=reads,
                objects=object_lookup(session, object_check),
                targets=targets,
            )
        return plan, render_call_accounting(session.stats, activity="planning")


def run_detached(work: Coroutine[Any, Any, T]) -> T:
    """run_async(work), keeping its result off the main task.

    When asyncio.run restores the SIGINT handler, `signal.signal` tries to map the old handler (a partial
    holding the main task) to an enum and builds a ValueError message from its repr, which includes the
    task's result: a full repr of a 100,000-resource plan costs seconds. A main task that returns None
    costs nothing."""
    box: list[T] = []

    async def main() -> None:
        box.append(await work)

    run_async(main())
    return box[0]


def open_session(settings: ClientSettings) -> CloudSession:
    """The client session plan and drift use (tests substitute one talking to an in-process emulator)."""
    return CloudSession(settings)


@contextmanager
def coordinated_pacing(store: StateReader, session: CloudSession) -> Iterator[None]:
    """With a PostgreSQL state, the runners of an account reserve their share of each limit through it
    (state/pg_pacing.py); with any other state, each paces adaptively on its own."""
    if not isinstance(store, PostgresStateStore):
        yield
        return
    with SharedPacing(store.settings) as shared:
        session.use_rate_sources(shared.sources)
        yield


@contextmanager
def planning_errors() -> Iterator[None]:
    """Expected failures while reading manifests, state and the account: `error: ...` and exit 1."""
    try:
        with state_errors_as_fatal():
            yield
    except ManifestError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        raise FatalError(f"the manifests have {len(exc.diagnostics)} problem(s), listed above") from None
    except CloudError as exc:
        raise FatalError(f"could not read the account: {exc}") from None


def manifest_regions(paths: Callable[[], Sequence[str]]) -> Callable[[], list[str]]:
    """The regions the manifests at `paths()` declare, read only when called: an oss:// state whose bucket's
    region is given neither as ?region= nor in ALIBABA_CLOUD_REGION_ID takes the manifests' one region (they are
    then read twice: once for it, once to plan). Manifest problems are reported as planning reports them."""

    def regions() -> list[str]:
        manifests = list(paths())
        if not manifests:
            return []
        with planning_errors():
            desired = load_desired_state(manifests)
        return sorted({bucket.region for bucket in desired.buckets} | {media.region for media in desired.media})

    return regions


def save(plan: Plan, path: str) -> None:
    try:
        save_plan(plan, path)
    except OSError as exc:
        raise FatalError(f"cannot save the plan to {path}: {exc.strerror or exc}") from None
