"""`reconcile state mv FROM TO` and `reconcile state rm ADDRESS...`, registered on the `state` group.

Each takes the state lock (--lock-timeout to wait for it), reads the state, changes it in memory
(reconcile.engine.state_edit) and writes it back as one new serial; the previous version is kept as the
store keeps it. The account is never touched.
"""

from __future__ import annotations

import click

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.cli.state_options import StateChoice, state_errors_as_fatal, state_options, store_from_options
from reconcile.engine.state_edit import StateEditError, move_resource, remove_resources
from reconcile.state import ResourceState, StateDocument, StateStore


def register_edit_commands(group: click.Group) -> None:
    group.add_command(mv_command)
    group.add_command(rm_command)


def _read(store: StateStore, verb: str) -> StateDocument:
    doc = store.read()
    if doc is None:
        raise FatalError(f"No state at {store.location}: nothing is managed yet, so there is nothing to {verb}.")
    return doc


def _find(doc: StateDocument, address: str, location: str, nothing_done: str) -> ResourceState:
    from reconcile.cli.state import find_resource  # the group's own module: imported once it is loaded

    try:
        return find_resource(doc, address, location)
    except FatalError as exc:
        raise FatalError(f"{exc.message} {nothing_done}") from None


@click.command(name="mv")
@click.argument("source", metavar="FROM")
@click.argument("destination", metavar="TO")
@state_options
@log_level_option
def mv_command(source: str, destination: str, state: StateChoice, lock_timeout: float) -> int:
    """Record the resource at FROM under the address TO from now on (the account is not touched).

    TO must be free: `media.<name>`, or a media's own `media["<bucket>/<key>"]`. Renaming `name:` in a
    manifest already moves an address at the next apply; use this for what the manifests cannot say.
    Quote addresses with brackets for the shell.
    """
    store = store_from_options(state)
    with state_errors_as_fatal(), store.lock("state mv", lock_timeout):
        doc = _read(store, "move")
        resource = _find(doc, source, store.location, "Nothing was moved.")
        try:
            written = store.write(move_resource(doc, resource, destination))
        except StateEditError as exc:
            raise FatalError(str(exc)) from None
    click.echo(
        f"Moved {resource.address} to {destination} in state {store.location} (serial {doc.serial} -> "
        f"{written.serial}). Declare it under that address (e.g. `name:`) or the next apply moves it back."
    )
    return EXIT_OK


@click.command(name="rm")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@state_options
@log_level_option
def rm_command(addresses: tuple[str, ...], state: StateChoice, lock_timeout: float) -> int:
    """Forget the resources at ADDRESS... : reconcile stops managing them; the account keeps them.

    Every address must be in the state, or nothing is removed. While a manifest still declares one, the next
    plan adopts it again (a registration that returns the existing media id, or a binding recorded as it is).
    """
    store = store_from_options(state)
    with state_errors_as_fatal(), store.lock("state rm", lock_timeout):
        doc = _read(store, "remove")
        found = [_find(doc, address, store.location, "Nothing was removed.") for address in addresses]
        found = list({id(r): r for r in found}.values())  # an address given twice is removed once
        try:
            written = store.write(remove_resources(doc, found))
        except StateEditError as exc:
            raise FatalError(str(exc)) from None
    n = len(found)
    click.echo(
        f"Removed {n} resource{'s' if n != 1 else ''} from state {store.location} (serial {doc.serial} -> "
        f"{written.serial}); the account still has {'them' if n != 1 else 'it'}:"
    )
    click.echo("\n".join(f"  - {r.address}" for r in sorted(found, key=lambda r: r.address)))
    return EXIT_OK
