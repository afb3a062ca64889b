"""The planner: manifests → desired state; store → state; account → live state; then diff and batching.

It only ever reads: it gets a read-only view of the state store and makes read calls only. The result is
a frozen `Plan` that apply executes and the renderers draw. A large manifest set (about 10,000 entries and
up) loads in a child process while this one reads the state and refreshes: on two cores, that hides most
of the load's seconds of CPU (`read_inputs_side_by_side`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypedDict, Unpack

from reconcile.cloud.api import ApiForRegion
from reconcile.cloud.errors import CloudError
from reconcile.engine.batching import plan_calls
from reconcile.engine.diff import plan_changes
from reconcile.engine.health import unhealthy_media
from reconcile.engine.live import LiveState
from reconcile.engine.objectcheck import ObjectLookup, check_objects
from reconcile.engine.plan import Plan, PlanSource, PlanWarning
from reconcile.engine.refresh import (
    DEFAULT_CONCURRENCY,
    bucket_names,
    bucket_regions,
    list_buckets,
    refresh,
)
from reconcile.engine.targeting import narrow_diff, narrow_unhealthy
from reconcile.manifest import load_desired_state
from reconcile.manifest.background import BackgroundLoad, worth_loading_aside
from reconcile.manifest.desired import DesiredState
from reconcile.state.model import ResourceState, StateDocument
from reconcile.state.store import StateError
from reconcile.util.gc import gc_new_objects_only, gc_paused

log = logging.getLogger("reconcile.plan")


class StateReader(Protocol):
    """The read-only part of a state store: all the planner may touch."""

    @property
    def location(self) -> str: ...

    def read(self) -> StateDocument | None: ...


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """Everything a plan is a function of. Apply reads them again to check a saved plan is still fresh."""

    desired: DesiredState
    state: StateDocument | None
    live: LiveState | None  # None when planning from state alone (--refresh=false)
    state_location: str | None = None  # where the state was read (never a secret): ties a first plan to it


async def read_inputs(
    paths: Sequence[str],
    store: StateReader,
    api_for_region: ApiForRegion | None,
    *,
    env: Mapping[str, str] | None = None,
    refresh_live: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> PlanInputs:
    """Load the manifests, read the state and (unless `refresh_live` is False) refresh the live state.

    Raises ManifestError, StateError or CloudError; `api_for_region` may be None only without refresh."""
    if refresh_live and api_for_region is None:
        raise ValueError("refresh needs an API client: pass api_for_region, or plan with refresh off")
    if api_for_region is not None and refresh_live and worth_loading_aside(paths):
        return await read_inputs_side_by_side(paths, store, api_for_region, env=env, concurrency=concurrency)
    with timed("load manifests") as done:
        desired = load_desired_state(list(paths), env=env)
        done(f"{len(desired.files)} files, {len(desired.buckets)} input buckets, {len(desired.media)} media")
    with timed("read state") as done:
        state = store.read()
        done(f"{store.location}: serial {state.serial}, {len(state.resources)} resources" if state else "no state yet")
    live: LiveState | None = None
    if api_for_region is not None and refresh_live:
        live = await read_live(api_for_region, desired, state, concurrency=concurrency)
    return PlanInputs(desired=desired, state=state, live=live, state_location=store.location)


async def read_live(
    api_for_region: ApiForRegion,
    desired: DesiredState | None,
    state: StateDocument | None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> LiveState:
    """Refresh, with the collector on for the objects it creates only (they hold cycles; the manifests and the
    state do not), and its figures logged: how plan, apply and drift read the account."""
    with gc_new_objects_only(), timed("refresh") as done:
        live = await refresh(api_for_region, desired, state, concurrency=concurrency)
        done(_live_figures(live))
    return live


def _live_figures(live: LiveState) -> str:
    listed = sum(len(b) for b in live.buckets.values())
    return f"{listed} bindings in {len(live.buckets)} regions, {len(live.media)} media, {len(live.gone)} gone"


async def read_inputs_side_by_side(
    paths: Sequence[str],
    store: StateReader,
    api_for_region: ApiForRegion,
    *,
    env: Mapping[str, str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> PlanInputs:
    """read_inputs for a large manifest set: it loads in a child process (BackgroundLoad) while this one reads
    the state and refreshes what the state names; the regions only the manifests name are listed once known.

    The same inputs, and the same errors as loading the manifests first: a manifest problem cancels the
    refresh at once and is the error raised; a state or account error waits for the manifests, and their
    problems, if any, are raised instead (they would have been found before anything else was read)."""
    desired: DesiredState | None = None
    async with BackgroundLoad(paths, env) as manifests:
        try:
            with timed("read state") as done:
                state = store.read()
                done(
                    f"{store.location}: serial {state.serial}, {len(state.resources)} resources"
                    if state
                    else "no state yet"
                )
            with gc_new_objects_only(), timed("refresh") as done:
                reading = asyncio.create_task(refresh(api_for_region, None, state, concurrency=concurrency))
                desired = await _manifests_cancelling(manifests, reading, state)
                log.info(
                    "load manifests: %.2f s (%.2f s CPU): %d files, %d input buckets, %d media; in a child process, "
                    "alongside the state read and refresh",
                    manifests.elapsed or 0.0, manifests.cpu or 0.0, len(desired.files), len(desired.buckets),
                    len(desired.media),
                )  # fmt: skip
                live = await reading
                more = [region for region in bucket_regions(desired, None) if region not in live.buckets]
                if more:
                    live = live.with_buckets(await list_buckets(api_for_region, more, concurrency=concurrency))
                done(_live_figures(live))
        except (StateError, CloudError):
            if desired is None:
                await manifests.result()  # raises their ManifestError, if they have problems
            raise
    return PlanInputs(desired=desired, state=state, live=live, state_location=store.location)


def managed_media(state: StateDocument | None) -> dict[str, ResourceState]:
    """The state's media by identity: a converged manifest declares the same text, which the desired state
    then shares instead of holding a second copy (18 MB at 50,000 media)."""
    return {r.identity: r for r in state.resources if r.kind == "media"} if state else {}


async def _manifests_cancelling(
    manifests: BackgroundLoad, reading: asyncio.Task[LiveState], state: StateDocument | None
) -> DesiredState:
    """The manifests' desired state; when they cannot be had (a ManifestError, a cancellation), the refresh
    in flight is cancelled before the error goes on: a plan of invalid manifests makes no more calls."""
    try:
        return await manifests.result(partial(managed_media, state))
    except BaseException:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        raise


def plan_from_inputs(
    inputs: PlanInputs,
    *,
    manifest_paths: Sequence[str],
    prune: bool = False,
    created: dt.datetime | None = None,
    targets: Sequence[str] = (),
) -> Plan:
    """The plan for these inputs: a pure function (the clock aside, which tests fix through `created`).
    `targets` (--target) narrows it to the matching resources (reconcile.engine.targeting)."""
    desired, state, live = inputs.desired, inputs.state, inputs.live
    with gc_paused(), timed("diff") as done:
        diff = narrow_diff(plan_changes(desired, state, live, prune=prune), targets)  # issue 16: --target
        calls = plan_calls(diff.changes)
        live_digest = live.digest(bucket_names(desired, state)) if live is not None else None
        done(f"{len(diff.changes)} resources, {len(calls)} calls")
    source = PlanSource(
        manifest_paths=tuple(manifest_paths),
        manifest_digest=desired.digest,
        state_lineage=state.lineage if state else None,
        state_serial=state.serial if state else None,
        # A state's lineage identifies it wherever it is read from (even after `state migrate`); an empty state
        # has none, so a first plan remembers where it looked instead.
        state_location=inputs.state_location if state is None else None,
        live_digest=live_digest,
        refreshed=live is not None,
        prune=prune,
        targets=tuple(targets),
    )
    manifest_warnings = tuple(
        PlanWarning(address=None, message=w.message, location=w.location) for w in desired.warnings
    )
    return Plan(
        changes=diff.changes,
        calls=calls,
        warnings=manifest_warnings + diff.warnings,
        errors=diff.errors,
        unmanaged=diff.unmanaged,
        unhealthy=narrow_unhealthy(unhealthy_media(state, live, desired), targets),  # issue 16: media health
        source=source,
        created=utc_timestamp(created or dt.datetime.now(dt.UTC)),
    )


class ReadOptions(TypedDict, total=False):
    """How `read_inputs` reads, as `build_plan` passes it on."""

    env: Mapping[str, str] | None
    refresh_live: bool
    concurrency: int


async def build_plan(
    paths: Sequence[str],
    store: StateReader,
    api_for_region: ApiForRegion | None,
    *,
    prune: bool = False,
    created: dt.datetime | None = None,
    objects: ObjectLookup | None = None,
    targets: Sequence[str] = (),
    **read: Unpack[ReadOptions],
) -> Plan:
    """load → state read → refresh → diff → batching → (with `objects`) the check that every file to register
    is in OSS (`reconcile.engine.objectcheck`). Raises ManifestError, StateError or CloudError."""
    inputs = await read_inputs(paths, store, api_for_region, **read)
    plan = plan_from_inputs(inputs, manifest_paths=paths, prune=prune, created=created, targets=targets)
    if objects is not None and plan.count("register"):
        with timed("object check") as done:
            checked = await check_objects(plan, objects, concurrency=read.get("concurrency", DEFAULT_CONCURRENCY))
            done(f"{plan.count('register')} files to register, {len(checked.errors) - len(plan.errors)} not in OSS")
        plan = checked
    return plan


@contextmanager
def timed(phase: str) -> Iterator[Callable[[str], None]]:
    """Log how long a planning phase took, with what it found (`--log-level info` shows where time goes)."""
    started, cpu = time.perf_counter(), time.process_time()
    found: list[str] = []
    yield found.append
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    log.info("%s: %.2f s (%.2f s CPU): %s", phase, wall, used, "; ".join(found) or "done")


def utc_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
