"""Copy a state to another location or workspace, lineage and serial kept (`reconcile state migrate`).

The source is read as every reader sees it (snapshot + journal folded in) and written to the target as one
snapshot at the source's serial. Only the `StateStore` contract is used, so any backend migrates to any other:
`write(doc)` stores at max(doc.serial, current) + 1, so writing the document at serial S - 1 stores it at S.

Safe to run twice: a target that already holds the source's lineage at its serial with the same resources is
left alone. A target of another lineage, or one that moved past the source (or away from it at the same
serial), is refused: it is a different state, and copying over it would lose what it records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconcile.state.model import StateDocument
from reconcile.state.store import StateError, StateStore

MigrationOutcome = Literal["copied", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class Migration:
    outcome: MigrationOutcome
    state: StateDocument  # as the target holds it now
    previous_serial: int | None  # the target's serial before, when it held this lineage already


def migrate_state(source: StateStore, target: StateStore) -> Migration:
    """Copy `source`'s state to `target`. The caller holds both locks."""
    doc = source.read()
    if doc is None:
        raise StateError(f"there is no state at {source.location}: nothing to migrate. Check --state and --workspace.")
    existing = target.read()
    if existing is None:
        written = target.write(doc.model_copy(update={"serial": doc.serial - 1}))
        return Migration("copied", written, None)
    if existing.lineage != doc.lineage:
        raise StateError(
            f"refusing to migrate: {target.location} already holds another state (lineage {existing.lineage}, serial "
            f"{existing.serial}), not a copy of {source.location} (lineage {doc.lineage}). Choose another target "
            f"location or --to-workspace, or remove that state first if it is not needed."
        )
    if existing.serial == doc.serial and existing.resources == doc.resources:
        return Migration("unchanged", existing, existing.serial)
    if existing.serial >= doc.serial:
        raise StateError(
            f"refusing to migrate: {target.location} holds this state at serial {existing.serial}, "
            f"{'ahead of' if existing.serial > doc.serial else 'different from'} {source.location} at serial "
            f"{doc.serial}: it was changed there since it was copied. Use {target.location} as the state, or migrate "
            f"in the other direction."
        )
    written = target.write(doc.model_copy(update={"serial": doc.serial - 1}))
    return Migration("updated", written, existing.serial)
