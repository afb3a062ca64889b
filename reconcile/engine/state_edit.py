"""`reconcile state mv` and `reconcile state rm`: change what the state records, never the account.

Both read the state, change it in memory and write it back as one new serial, under the state lock (the
caller holds it); the store keeps the previous version as it always does (the local store's `.backup`).

- move: the resource at FROM is recorded at TO from now on. Renaming `name:` in a manifest already moves an
  address (the plan shows it, apply records it); `state mv` is for what the manifests cannot say, e.g. to
  line the state up with a manifest entry before the first plan. TO must be free and an address the
  resource can have: `media.<name>` or its own `media["<bucket>/<key>"]` for a media; an input bucket's
  address is its bucket name, so it cannot move.
- remove: forget resources. The account keeps them: a manifest that still declares one will have the next
  plan adopt it again (RegisterMedia is idempotent; a bound bucket is recorded without a call).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconcile.manifest.desired import bucket_address, media_address
from reconcile.manifest.rules import media_name_problem
from reconcile.state.model import ResourceState, StateDocument


class StateEditError(Exception):
    """A move or removal that cannot be made; the message says why and what to do. Nothing was written."""


def move_resource(doc: StateDocument, source: ResourceState, to: str) -> StateDocument:
    """`doc` with `source` (one of its resources) recorded at address `to`."""
    if to == source.address:
        raise StateEditError(f"{source.address} is already at that address: nothing to move")
    taken = next((r for r in doc.resources if r.address == to), None)
    if taken is not None:
        raise StateEditError(
            f"the state already has a resource at {to} ({taken.kind} {taken.identity}): nothing was moved. Choose "
            f"another address, or forget that one first with `reconcile state rm '{to}'`"
        )
    problem = address_problem(source, to)
    if problem is not None:
        raise StateEditError(f"cannot move {source.address} to {to}: {problem}; nothing was moved")
    moved = source.model_copy(update={"address": to})
    resources = [moved if r is source else r for r in doc.resources]
    return doc.model_copy(update={"resources": sorted(resources, key=lambda r: r.address)})


def address_problem(resource: ResourceState, address: str) -> str | None:
    """Why `resource` cannot have `address`, or None when it can."""
    if resource.kind == "input_bucket":
        own = bucket_address(resource.identity)
        return None if address == own else f"an input bucket's address is its bucket name ({own})"
    own = media_address(None, resource.identity)
    if address == own:
        return None
    if not address.startswith("media."):
        return f"a media's address is media.<name> or its own {own}"
    return media_name_problem(address.removeprefix("media."))


def remove_resources(doc: StateDocument, removed: Sequence[ResourceState]) -> StateDocument:
    """`doc` without `removed` (resources of it)."""
    if not removed:
        raise StateEditError("no address given: nothing to remove")
    gone = {id(r) for r in removed}
    return doc.model_copy(update={"resources": [r for r in doc.resources if id(r) not in gone]})
