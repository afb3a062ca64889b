"""Saved plans (`plan --out FILE`): a versioned JSON file apply can execute later, and the freshness check.

The file holds the Plan exactly (resource changes, calls, warnings, source) and nothing else: no
credentials, no endpoints, no request ids. A saved plan records what it was made against (state lineage
and serial, a digest of the manifests and of the live resources it saw); `check_fresh` names every way
the world has moved since, and apply refuses the plan when there is any.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from reconcile.engine.plan import PLAN_FORMAT_VERSION, Plan
from reconcile.engine.refresh import LiveState, bucket_names
from reconcile.manifest.desired import DesiredState
from reconcile.state.model import StateDocument

SAVED_PLAN_KEY = "reconcile_saved_plan"
SAVED_PLAN_VERSION = 1
_MAGIC = b'{"' + SAVED_PLAN_KEY.encode() + b'"'
_SNIFF = 256  # bytes read to decide whether a file may be JSON
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
    text = f'{{"{SAVED_PLAN_KEY}":{SAVED_PLAN_VERSION},"plan":{body}}}\n'
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


def is_saved_plan(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a file that starts like a saved plan (apply uses it to tell a plan from manifests)."""
    if not os.path.isfile(path):  # a FIFO or a device is no plan, and opening one could block
        return False
    try:
        with open(path, "rb") as file:
            return file.read(len(_MAGIC)) == _MAGIC
    except OSError:
        return False


def is_plan_view(path: str | os.PathLike[str]) -> bool:
    """True when `path` holds the JSON view of a plan (`reconcile plan --format json`), which people mistake
    for a plan apply can run. Only a file that starts with `{` is parsed: manifests are YAML."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as file:
            if not file.read(_SNIFF).lstrip().startswith(b"{"):
                return False
            file.seek(0)
            document = json.load(file)
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return False
    return is_plan_view_document(document)


def is_plan_view_document(document: object) -> bool:
    """The JSON view's top-level keys (docs/plan-json.md), or a Plan dumped as it is."""
    if not isinstance(document, dict) or "format_version" not in document:
        return False
    return "resource_changes" in document or ("changes" in document and "calls" in document)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a saved plan; SavedPlanError says what is wrong with the file and what to do."""
    try:
        text = Path(path).read_text(encoding="utf-8")
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
        return Plan.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SavedPlanError(f"{path}: the saved plan is damaged ({where}: {first['msg']}); plan again") from None


def check_fresh(plan: Plan, desired: DesiredState, state: StateDocument | None, live: LiveState | None) -> list[str]:
    """Why `plan` may no longer be applied, one sentence each; empty when it is still fresh.

    `live` is the account refreshed now (None skips the live check). A plan made on empty state is refused
    as soon as any state exists (Terraform #24078: applying the first plan twice must not act twice)."""
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
    return reasons


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
