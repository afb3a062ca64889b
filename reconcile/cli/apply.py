"""`reconcile apply PATH...` and `reconcile apply PLANFILE`: make the planned API calls, and only those.

With manifests it plans (refresh → diff → batching), shows the plan and asks for `yes` on a TTY; without
a TTY it needs --auto-approve. A saved plan (`reconcile plan --out FILE`) is applied without asking, once
it is shown to be fresh: same state lineage and serial, same manifests, same live resources. The state lock
is held from before planning to the final snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any

import click

from reconcile.cli.cloud_options import cloud_options, settings_from_options
from reconcile.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FatalError,
    log_level_option,
    run_async,
    stdout_console,
    use_color,
)
from reconcile.cli.plan import (
    ObjectCheck,
    coordinated_pacing,
    manifest_regions,
    object_lookup,
    open_session,
    oss_endpoint_of,
    planning_errors,
)
from reconcile.cli.plan_options import refresh_option, skip_object_check_option, target_option
from reconcile.cli.progress import JsonEvents, LiveProgress, PlainProgress, tick_every
from reconcile.cli.state_options import StateChoice, state_errors_as_fatal, state_options, store_from_options
from reconcile.cloud.client import CloudSession
from reconcile.cloud.models import CallStats
from reconcile.cloud.settings import ClientSettings
from reconcile.engine.apply import PlanNotApplicable, apply_plan
from reconcile.engine.execute_result import ApplyResult
from reconcile.engine.plan import Plan
from reconcile.engine.planner import build_plan, read_inputs
from reconcile.engine.progress import ApplyHooks
from reconcile.engine.savedplan import (
    PLAN_VIEW_NOT_SAVED,
    SavedPlanError,
    check_fresh,
    is_plan_view,
    is_saved_plan,
    load_plan,
    replan_command,
)
from reconcile.render.apply_result import plan_event_json, render_apply_text
from reconcile.render.text import render_call_accounting, render_plan_text
from reconcile.state import StateStore

APPROVAL_PROMPT = (
    "Do you want to perform these actions?\n"
    "  Reconcile will perform the API calls described above.\n"
    "  Only 'yes' will be accepted to approve.\n\n"
    "  Enter a value"
)
# Ctrl-C is exit 130, never click's "Aborted." with exit 1; the message says whether anything was applied.
INTERRUPTED_BEFORE_CALLS = "interrupted (Ctrl-C) before any call that changes the account; nothing was applied"
INTERRUPTED_DURING_CALLS = (
    "interrupted (Ctrl-C) while calls were in flight: those were abandoned; every batch that finished is "
    "recorded in the state. Run apply again to finish the rest"
)


@click.command(name="apply")
@click.argument("paths", nargs=-1, required=True, metavar="PATH... | PLANFILE")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes' (required without a TTY).")
@click.option(
    "--prune",
    is_flag=True,
    help="Also unbind buckets and DELETE media (and their source files) removed from the manifests, "
    "except those marked prevent_destroy.",
)
@refresh_option
@skip_object_check_option
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print JSON lines on stdout instead of text: the plan, one event per batch, then the summary.",
)
@target_option
@cloud_options
@state_options
@log_level_option
def command(
    paths: tuple[str, ...],
    auto_approve: bool,
    prune: bool,
    refresh: bool | None,
    skip_object_check: bool,
    json_output: bool,
    target: tuple[str, ...],
    state: StateChoice,
    lock_timeout: float,
    **cloud: Any,
) -> int:
    """Make the API calls that converge the account on the manifests in PATH... (or in a saved PLANFILE).

    Calls are batched as planned (RegisterMedia ≤10 files, UpdateVideoInfos / DeleteVideo ≤20 ids), paced at the
    account's QPS limits and retried; MPS and VOD work run together. Every successful batch is recorded in the
    state at once, so an interrupted apply loses nothing: run apply again to finish the rest.

    Exit codes: 0 applied (or no changes), 1 anything failed or nothing was applied, 130 stopped by Ctrl-C.
    """
    saved = len(paths) == 1 and is_saved_plan(paths[0])
    if len(paths) == 1 and not saved and is_plan_view(paths[0]):
        raise FatalError(f"{paths[0]}: {PLAN_VIEW_NOT_SAVED}; nothing was applied")
    if saved and (prune or refresh is not None or skip_object_check or target):
        raise FatalError(
            f"{paths[0]} is a saved plan: --prune, --refresh, --target and the object check were fixed when it was "
            "made; plan again to change them"
        )
    if not saved and not auto_approve and (json_output or not _interactive()):
        missing = [path for path in paths if not os.path.lexists(path)]
        if missing:  # e.g. the reviewed plan's artifact was not downloaded: say so, not "needs --auto-approve"
            raise FatalError(
                f"{missing[0]}: no such file or directory; apply takes a saved plan (`reconcile plan PATH... --out "
                "FILE`) or manifest files and directories. Nothing was applied."
            )
        raise FatalError(
            "apply needs --auto-approve when it cannot ask for confirmation (stdin is not a terminal, or --json); "
            "nothing was applied. Or save a reviewed plan with `reconcile plan PATH... --out FILE` and apply that file."
        )
    settings = settings_from_options(cloud)
    manifests = (lambda: _saved_plan_manifests(paths[0])) if saved else (lambda: paths)
    store = store_from_options(state, settings=settings, manifest_regions=manifest_regions(manifests))
    request = ApplyRequest(
        paths=paths,
        saved=saved,
        auto_approve=auto_approve,
        prune=prune,
        refresh=refresh is not False,
        json_output=json_output,
        object_check=None if saved or refresh is False or skip_object_check else oss_endpoint_of(settings),
        targets=target,
    )
    phase = ApplyPhase()
    with _interrupt_exits_130(phase), state_errors_as_fatal(), store.lock("apply", lock_timeout):
        return run_async(_interruptible(phase, _plan_and_apply(request, settings, store, phase)))


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    """What the user asked for on the command line."""

    paths: tuple[str, ...]
    saved: bool  # paths[0] is a saved plan
    auto_approve: bool
    prune: bool
    refresh: bool
    json_output: bool
    object_check: ObjectCheck | None = None  # check that files to register are in OSS
    targets: tuple[str, ...] = ()  # --target: a partial plan


@dataclass(slots=True)
class ApplyPhase:
    """How far an apply got, for what an interruption means: before `calls_started` nothing was sent that
    changes the account (planning only reads)."""

    calls_started: bool = False


@contextlib.contextmanager
def _interrupt_exits_130(phase: ApplyPhase) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        message = INTERRUPTED_DURING_CALLS if phase.calls_started else INTERRUPTED_BEFORE_CALLS
        raise FatalError(message, exit_code=EXIT_INTERRUPTED) from None


async def _interruptible(phase: ApplyPhase, work: Coroutine[Any, Any, int]) -> int:
    """`work`, with a KeyboardInterrupt raised inside the event loop's task (at the prompt) made exit 130 there.
    A Ctrl-C that the event loop turns into cancelling the task reaches `command` as a KeyboardInterrupt."""
    with _interrupt_exits_130(phase):
        return await work


def _saved_plan_manifests(path: str) -> tuple[str, ...]:
    """The manifests a saved plan was made from (none when it cannot be read: applying it will say why)."""
    try:
        return load_plan(path).source.manifest_paths
    except SavedPlanError:
        return ()


def _interactive() -> bool:
    return sys.stdin.isatty()


async def _plan_and_apply(request: ApplyRequest, settings: ClientSettings, store: StateStore, phase: ApplyPhase) -> int:
    async with open_session(settings) as session, contextlib.AsyncExitStack() as stack:
        stack.enter_context(coordinated_pacing(store, session))
        with _planning_errors():
            if request.saved:
                plan = await _fresh_saved_plan(request.paths[0], store, session)
            else:
                plan = await _plan(request, store, session)
        out = JsonEvents(sys.stdout, session.stats, store.location, session.pacing) if request.json_output else None
        if out is not None:
            out.emit(plan_event_json(plan))
        else:
            click.echo(render_plan_text(plan, color=use_color()))
            click.echo(render_call_accounting(session.stats, activity="planning"))
        if plan.errors:
            raise FatalError("the plan has errors (listed above); nothing was applied. Fix them and plan again.")
        if not plan.needs_apply:
            if out is not None:
                out.finished(ApplyResult(resources=(), calls_predicted={}, calls_made={}))
            return EXIT_OK
        if not request.saved and not request.auto_approve and not _approved():
            click.echo("Apply cancelled: nothing was applied.", err=True)
            return EXIT_ERROR
        planning_stats = _copy_stats(session.stats)
        live = out is None and sys.stdout.isatty()
        phase.calls_started = True
        try:
            result = await _execute(plan, session, store, out, live=live)
        except PlanNotApplicable as exc:
            raise FatalError(str(exc)) from None
        apply_stats = _stats_since(session.stats, planning_stats)
        pacing = [p for p in session.pacing() if p.action in apply_stats.actions]
    if out is None:
        click.echo("")
        click.echo(render_apply_text(result, apply_stats, store.location, failures_listed_live=not live, pacing=pacing))
    if result.stopped_on_request:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_ERROR


async def _plan(request: ApplyRequest, store: StateStore, session: CloudSession) -> Plan:
    return await build_plan(
        request.paths,
        store,
        session.client if request.refresh else None,
        refresh_live=request.refresh,
        prune=request.prune,
        concurrency=session.settings.max_concurrency,
        objects=object_lookup(session, request.object_check),
        targets=request.targets,
    )


async def _fresh_saved_plan(path: str, store: StateStore, session: CloudSession) -> Plan:
    """The saved plan at `path`, if nothing it was made against has moved; else a FatalError naming what did."""
    plan = load_plan(path)
    source = plan.source
    inputs = await read_inputs(
        source.manifest_paths,
        store,
        session.client if source.refreshed else None,
        refresh_live=source.refreshed,
        concurrency=session.settings.max_concurrency,
    )
    reasons = check_fresh(plan, inputs.desired, inputs.state, inputs.live, store.location)
    if reasons:
        listed = "".join(f"\n  - {reason}" for reason in reasons)
        raise FatalError(
            f"saved plan {path} is stale; nothing was applied:{listed}\n"
            f"Run `{replan_command(source, path)}` again, review it, then apply it."
        )
    return plan


def _approved() -> bool:
    """True for `yes`. Ctrl-C at the prompt is an interruption (click turns it into Abort: undone here); end
    of input is no answer. asyncio's SIGINT handler would only cancel the task, leaving the prompt waiting."""
    try:
        with _default_sigint():
            answer = click.prompt(APPROVAL_PROMPT, default="", show_default=False, prompt_suffix=": ")
    except click.Abort as exc:
        click.echo("")  # end the prompt's line
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return False
    return str(answer).strip() == "yes"


@contextlib.contextmanager
def _default_sigint() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


async def _execute(
    plan: Plan, session: CloudSession, store: StateStore, out: JsonEvents | None, *, live: bool
) -> ApplyResult:
    stop = asyncio.Event()
    with _stop_on_interrupt(stop, session):
        async with _progress(plan, out, live=live) as hooks:
            return await apply_plan(
                plan,
                session.client,
                store,
                hooks=hooks,
                stop=stop,
                qps=session.settings.qps_limit,
                stop_sending=session.stop_new_requests,
            )


@contextlib.asynccontextmanager
async def _progress(plan: Plan, out: JsonEvents | None, *, live: bool) -> AsyncIterator[ApplyHooks]:
    """JSON events with --json; else a live display on a TTY (`live`), plain lines every few seconds in logs."""
    if out is not None:
        yield out
    elif live:
        with LiveProgress(plan, stdout_console()) as bars:
            yield bars
    else:
        plain = PlainProgress(plan, sys.stdout)
        ticker = asyncio.create_task(tick_every(plain, plain.interval))
        try:
            yield plain
        finally:
            ticker.cancel()


@contextlib.contextmanager
def _stop_on_interrupt(stop: asyncio.Event, session: CloudSession) -> Iterator[None]:
    """First Ctrl-C: start no new calls and send no request still waiting for its pacing turn (those are
    not attempted); let those on the wire finish and be recorded. Second: abandon them."""
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if stop.is_set():
            loop.remove_signal_handler(signal.SIGINT)
            raise KeyboardInterrupt
        stop.set()
        session.stop_new_requests()
        click.echo(
            "\nStopping: no new calls; waiting for those in flight to finish and be recorded "
            "(Ctrl-C again to abandon them).",
            err=True,
        )

    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


@contextlib.contextmanager
def _planning_errors() -> Iterator[None]:
    """Expected failures before any call is made (manifests, state, account reads, the plan file): exit 1."""
    try:
        with planning_errors():
            yield
    except SavedPlanError as exc:
        raise FatalError(f"{exc}; nothing was applied") from None


def _copy_stats(stats: CallStats) -> CallStats:
    return CallStats(actions={action: replace(s) for action, s in stats.actions.items()})


def _stats_since(stats: CallStats, before: CallStats) -> CallStats:
    """The calls made since `before` was copied: apply's own, without planning's reads."""
    since = CallStats()
    for action, now in stats.actions.items():
        then = before.actions.get(action)
        delta = since.of(action)
        delta.calls = now.calls - (then.calls if then else 0)
        delta.retries = now.retries - (then.retries if then else 0)
        delta.throttled = now.throttled - (then.throttled if then else 0)
        delta.errors = now.errors - (then.errors if then else 0)
    since.actions = {a: s for a, s in since.actions.items() if s.calls}
    return since
