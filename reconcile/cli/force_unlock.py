"""`reconcile force-unlock LOCK_ID`: remove a state lock whose holder is gone."""

from __future__ import annotations

import click

from reconcile.cli.common import EXIT_OK, log_level_option
from reconcile.cli.state_options import StateChoice, state_errors_as_fatal, state_option, store_from_options


@click.command(name="force-unlock")
@click.argument("lock_id")
@state_option
@log_level_option
def command(lock_id: str, state: StateChoice) -> int:
    """Remove the state lock LOCK_ID, left behind by a command whose machine died or lost the network.

    LOCK_ID is printed by the command that was refused the lock. A lock whose holder ended on this machine
    is released by the operating system and needs no force-unlock; a holder that is still running on this
    machine is refused: stop it instead. Removing the lock of a command that is still running elsewhere
    lets two commands write the state at once: make sure it is gone.

    On a postgresql:// state a holder that ended has already released the lock with its database session;
    force-unlock ends the session of one that hangs (it can then write nothing more). On an oss:// state a lock
    whose holder stopped renewing it is free once its lease runs out: wait with --lock-timeout instead.
    """
    store = store_from_options(state)
    with state_errors_as_fatal():
        removed = store.force_unlock(lock_id)
    click.echo(
        f"Removed lock {removed.id} from state {store.location}: it was held by pid {removed.pid} on "
        f"{removed.host} ({removed.command!r}) since {removed.created}."
    )
    return EXIT_OK
