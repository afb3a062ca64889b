"""Saved plans (`plan --out FILE`): a versioned JSON file apply can execute later, and the freshness check.

The file holds the Plan exactly (resource changes, calls, warnings, source) and nothing else: no
credentials, no endpoints, no request ids. A saved plan records what it was made against (state lineage
and serial, a digest of the manifests and of the live resources it saw); `check_fresh` names every way
the world has moved since, and apply refuses the plan when there is any.

A plan file passes between people and CI jobs, so it is not trusted as it is read:
- `sha256` is the digest of the plan's canonical JSON (`Plan.model_dump_json()`): a plan changed after it was
  saved is refused before anything else is read (`load_plan`);
- its calls must be exactly the ones its resource changes make (the same batching code derives them again),
  and nothing in it may unbind or delete when it was made without --prune, or delete a protected resource
  (`load_plan`);
- its changes and calls must be the ones its manifests, the state and the account yield now (`check_fresh`
  plans again from the inputs apply reads anyway).
The digest is not a signature: whoever can write the file can recompute it. The last check is what keeps an
edited plan (digest recomputed or not) from doing anything a fresh `reconcile plan` would not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from reconcile.engine.batching import plan_calls
from reconcile.engine.live import LiveState
from reconcile.engine.plan import PLAN_FORMAT_VERSION, Plan, PlannedCall, PlanSource
from reconcile.engine.planner import PlanInputs, plan_from_inputs
from reconcile.engine.refresh import bucket_names
from reconcile.manifest.desired import DesiredState
from reconcile.manifest.document import SAVED_PLAN_KEY, is_plan_view_keys
from reconcile.state.files import READ_FLAGS, FileRefused, check_regular, read_regular_file
from reconcile.state.model import StateDocument

SAVED_PLAN_VERSION = 2  # 2: a sha256 of the plan body, checked on load; version 1 files are refused (plan again)
DIGEST_KEY = "sha256"
DESTROYING = frozenset({"unbind", "delete"})
_MAGIC = b'{"' + SAVED_PLAN_KEY.encode() + b'"'
_SNIFF = 256  # bytes read to decide whether a file may be JSON
# A saved plan weighs about 700 bytes per resource change (a 1,000,000-media plan: about 0.7 GB).
MAX_PLAN_BYTES = 4 * 1024**3
PLAN_VIEW_NOT_SAVED = (
    "this is the JSON view of a plan (`reconcile plan --format json`), not a saved plan; save a plan to apply "
    "with `reconcile plan PATH... --out FILE`, then run `reconcile apply FILE`"
)


class SavedPlanError(Exception):
    """The file is not a saved plan this version of reconcile can read."""


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write `plan` to `path` atomically (temp file, fsync, rename): a reader never sees half a plan."""
    target = Path(path)
    body = plan.model_dump_json()
    text = f'{{"{SAVED_PLAN_KEY}":{SAVED_PLAN_VERSION},"{DIGEST_KEY}":"{_digest(body)}","plan":{body}}}\n'
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _start_of(path: str | os.PathLike[str], size: int) -> bytes:
    """The first `size` bytes of `path` if it is a regular file; b"" otherwise (missing, a directory, a FIFO, a
    device: opened without blocking and never read)."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return b""
    try:
        check_regular(os.fstat(fd))
        return os.read(fd, size)
    except (OSError, FileRefused):
        return b""
    finally:
        os.close(fd)


def is_saved_plan(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a file that starts like a saved plan (apply uses it to tell a plan from manifests)."""
    return _start_of(path, len(_MAGIC)) == _MAGIC


def is_plan_view(path: str | os.PathLike[str]) -> bool:
    """True when `path` holds the JSON view of a plan (`reconcile plan --format json`), which people mistake
    for a plan apply can run. Only a regular file that starts with `{` is parsed: manifests are YAML."""
    if not _start_of(path, _SNIFF).lstrip().startswith(b"{"):
        return False
    try:
        data, _ = read_regular_file(Path(path), MAX_PLAN_BYTES)
        document = json.loads(data)
    except (OSError, FileRefused, ValueError):  # ValueError: not JSON, or not UTF-8
        return False
    return is_plan_view_document(document)


def is_plan_view_document(document: object) -> bool:
    """The JSON view's top-level keys (docs/plan-json.md), or a Plan dumped as it is."""
    return isinstance(document, dict) and is_plan_view_keys(document.keys())


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a saved plan; SavedPlanError says what is wrong with the file and what to do."""
    try:
        data, _ = read_regular_file(Path(path), MAX_PLAN_BYTES)
        text = data.decode("utf-8")
    except FileRefused as exc:
        raise SavedPlanError(f"{path}: not a saved plan: it {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedPlanError(f"{path}: cannot read the plan file: {_reason(exc)}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedPlanError(f"{path}:{exc.lineno}:{exc.colno}: not a saved plan (invalid JSON: {exc.msg})") from None
    if is_plan_view_document(document):
        raise SavedPlanError(f"{path}: {PLAN_VIEW_NOT_SAVED}")
    if not isinstance(document, dict) or SAVED_PLAN_KEY not in document:
        raise SavedPlanError(f"{path}: not a saved plan; make one with `reconcile plan PATH... --out FILE`")
    version = document[SAVED_PLAN_KEY]
    if version != SAVED_PLAN_VERSION:
        raise SavedPlanError(
            f"{path}: saved plan version {version!r} is not supported by this reconcile "
            f"(it reads version {SAVED_PLAN_VERSION}); plan again with this version"
        )
    body = document.get("plan")
    major = str(body.get("format_version", "")).split(".")[0] if isinstance(body, dict) else ""
    if major != PLAN_FORMAT_VERSION.split(".")[0]:
        raise SavedPlanError(f"{path}: plan format {major or '(missing)'} is not supported; plan again")
    try:
        plan = Plan.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SavedPlanError(f"{path}: the saved plan is damaged ({where}: {first['msg']}); plan again") from None
    if document.get(DIGEST_KEY) != _digest(plan.model_dump_json()):
        raise SavedPlanError(
            f"{path}: the saved plan was changed after it was made (its sha256 does not match its content), so it "
            f"is not the plan that was reviewed. {_plan_again(plan.source, path)}"
        )
    problem = unjustified(plan)
    if problem:
        raise SavedPlanError(f"{path}: {problem}: it was edited after it was made. {_plan_again(plan.source, path)}")
    return plan


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _plan_again(source: PlanSource, path: str | os.PathLike[str]) -> str:
    return f"Make a new plan with `{replan_command(source, os.fspath(path))}`, review it, then apply it"


def replan_command(source: PlanSource, out: str) -> str:
    """The `reconcile plan` command line that makes a plan like `source`'s again, saved to `out`."""
    words = ["reconcile", "plan", *source.manifest_paths]
    if source.prune:
        words.append("--prune")
    if not source.refreshed:
        words.append("--refresh=false")
    for target in source.targets:
        words += ["--target", target]
    return shlex.join([*words, "--out", out])


def unjustified(plan: Plan) -> str | None:
    """What in `plan` its own changes and flags do not justify, in words; None when everything is justified.

    Without --prune nothing is unbound, deleted or dropped from the state; a protected resource (prevent_destroy)
    never is; and the calls are exactly those the changes make, batched by the same code as when it was made.
    """
    for change in plan.changes:
        verb: str
        if change.action in DESTROYING:
            verb = change.action
        elif change.state_only == "remove":  # pruned, but gone from the account already
            verb = "drop from the state"
        else:
            continue
        if not plan.source.prune:
            return f"the saved plan was made without --prune, but would {verb} {change.address}"
        if change.prevent_destroy:
            return f"the saved plan would {verb} {change.address}, which is protected by prevent_destroy"
    for call in plan.calls:
        if call.phase == 2 and not plan.source.prune:
            return f"the saved plan was made without --prune, but calls {_describe(call)}"
    derived = plan_calls(plan.changes)
    if derived == plan.calls:
        return None
    derived_set, listed_set = set(derived), set(plan.calls)  # frozen models hash: no quadratic scan at 10k calls
    extra = [call for call in plan.calls if call not in derived_set]
    missing = [call for call in derived if call not in listed_set]
    if extra:
        return f"the saved plan calls {_describe(extra[0])}, which none of its resource changes makes"
    if missing:
        return f"the saved plan leaves out {_describe(missing[0])}, which its resource changes make"
    return "the saved plan lists its calls in another order than its resource changes make them"


def _describe(call: PlannedCall) -> str:
    return f"{call.action} in {call.region} for {_listed(call.addresses)}"


def _listed(addresses: Sequence[str]) -> str:
    return ", ".join(addresses[:3]) + (f" and {len(addresses) - 3} more" if len(addresses) > 3 else "")


def check_fresh(
    plan: Plan,
    desired: DesiredState,
    state: StateDocument | None,
    live: LiveState | None,
    state_location: str | None = None,
) -> list[str]:
    """Why `plan` may no longer be applied, one sentence each; empty when it is still fresh.

    `live` is the account refreshed now (None skips the live check); `state_location` is where this apply
    reads and writes the state. A plan made on empty state is refused as soon as any state exists (Terraform
    #24078: applying the first plan twice must not act twice), and at another state location than the one it
    was made against (it would record everything there, and the state the pipeline shares would stay empty)."""
    source = plan.source
    reasons: list[str] = []
    if desired.digest != source.manifest_digest:
        reasons.append("the manifests changed since the plan was made")
    if source.state_lineage is None:
        if state is not None:
            reasons.append(
                f"the plan was made on empty state, but state now exists (lineage {state.lineage}, serial "
                f"{state.serial}): a plan made before the first apply can be applied once only"
            )
        elif not _same_location(source.state_location, state_location):
            reasons.append(
                f"the plan was made against the empty state at {source.state_location}, but this apply would "
                f"record it at {state_location}: give apply the same --state and --workspace (or RECONCILE_STATE "
                "and RECONCILE_WORKSPACE) as the plan"
            )
    elif state is None:
        reasons.append(f"the plan was made against state lineage {source.state_lineage}, but there is no state now")
    elif state.lineage != source.state_lineage:
        reasons.append(
            f"the state was replaced: its lineage is {state.lineage}, the plan was made against {source.state_lineage}"
        )
    elif state.serial != source.state_serial:
        reasons.append(
            f"the state moved from serial {source.state_serial} to {state.serial}: something was applied since "
            "the plan was made"
        )
    live_now = live.digest(bucket_names(desired, state)) if live is not None else None
    if source.live_digest is not None and live_now is not None and live_now != source.live_digest:
        reasons.append("the live resources the plan was made against changed (in the account, outside this plan)")
    if not reasons and (live is not None or not source.refreshed):
        reasons += _replanned_differently(plan, PlanInputs(desired, state, live if source.refreshed else None))
    return reasons


_REDACTED_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):\*\*\*@")


def _same_location(planned: str | None, now: str | None) -> bool:
    """One state location, written with its password or without it (PGPASSWORD, ~/.pgpass): both are shown
    redacted, so the password's `:***` is all that may differ. Unknown on either side (an older plan): same."""
    if planned is None or now is None:
        return True
    return _REDACTED_PASSWORD.sub(r"\1@", planned) == _REDACTED_PASSWORD.sub(r"\1@", now)


def _replanned_differently(plan: Plan, inputs: PlanInputs) -> list[str]:
    """Planning again from the same inputs must give the same changes and calls: anything else was edited in
    (or comes from outside the files, e.g. a ${VAR} whose value changed)."""
    source = plan.source
    again = plan_from_inputs(inputs, manifest_paths=source.manifest_paths, prune=source.prune, targets=source.targets)
    if again.changes == plan.changes and again.calls == plan.calls:
        return []
    now = {change.address: change for change in again.changes}
    differs = sorted(c.address for c in plan.changes if now.pop(c.address, None) != c) + sorted(now)
    which = f" (first: {differs[0]})" if differs else ""
    return [
        f"the plan's changes are not the ones its manifests, the state and the account make now{which}: it was "
        f"edited after it was made, or a ${{VAR}} in the manifests has another value now"
    ]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
