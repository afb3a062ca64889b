"""`reconcile state list|show|workspaces|migrate`: what reconcile manages, as it last recorded it, and where.
`state mv` and `state rm` live in reconcile.cli.state_edit."""

from __future__ import annotations

import bisect
import difflib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.cli.state_options import (
    StateChoice,
    backend_from_options,
    lock_timeout_option,
    state_errors_as_fatal,
    state_option,
    store_from_options,
)
from reconcile.model.media import attributes_json
from reconcile.state import ResourceState, StateDocument, StateStore
from reconcile.state.migrate import migrate_state

F = TypeVar("F", bound=Callable[..., Any])

STATE_JSON_FORMAT_VERSION = "1.0"
NEIGHBOURHOOD = 200  # addresses compared on each side of where a mistyped one would sort
_UNQUOTED_INDEX = re.compile(r"^(\w+)\[([^\"\]]+)\]$")  # media[b/k]: the shell ate the quotes of media["b/k"]


@click.group(name="state")
@log_level_option
def command() -> None:
    """Inspect the state: the resources reconcile manages, their remote ids and last-applied attributes; list the
    workspaces of a location; migrate a state to another location.

    Reads need no lock: they can run while an apply is in progress. `mv` and `rm` change the state (never the
    account) under the lock.
    """


def format_option(json_help: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "format_",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=json_help,
    )


# -- list ----------------------------------------------------------------------------------------------------


@command.command(name="list")
@click.argument("prefixes", nargs=-1, metavar="[ADDRESS]...")
@click.option("-l", "--long", "long_", is_flag=True, help="Add the kind, region and remote id in aligned columns.")
@format_option("json: the resources with all their fields, for scripts.")
@state_option
@log_level_option
def list_command(prefixes: tuple[str, ...], long_: bool, format_: str, state: StateChoice) -> int:
    """List the managed resources' addresses, one per line, sorted.

    With ADDRESS arguments, only the resources at or under them: `input_bucket` lists the buckets,
    `media.intro` one media.
    """
    store = store_from_options(state)
    with state_errors_as_fatal():
        doc = store.read()
    resources = sorted(doc.resources if doc else [], key=lambda r: r.address)
    if prefixes:
        resources = [r for r in resources if any(_under(r.address, prefix) for prefix in prefixes)]
    if format_ == "json":
        click.echo(_json_listing(store, doc, resources))
    elif resources:
        click.echo("\n".join(_columns(resources) if long_ else [r.address for r in resources]))
    if doc is None:
        click.echo(f"No state at {store.location}.", err=True)
    elif not doc.resources:
        click.echo(f"No resources in state {store.location} (serial {doc.serial}).", err=True)
    elif not resources:
        click.echo(
            f"No resource in state {store.location} matches {' or '.join(repr(prefix) for prefix in prefixes)}.",
            err=True,
        )
    return EXIT_OK


def _under(address: str, prefix: str) -> bool:
    """`media` covers `media.intro` and `media["b/k"]`; `media.in` does not cover `media.intro`."""
    return address == prefix or (address.startswith(prefix) and address[len(prefix)] in ".[")


def _columns(resources: Sequence[ResourceState]) -> list[str]:
    rows = [("ADDRESS", "KIND", "REGION", "REMOTE ID")]
    rows += [(r.address, r.kind, r.region, r.remote_id or "-") for r in resources]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{a:<{widths[0]}}  {k:<{widths[1]}}  {g:<{widths[2]}}  {rid}" for a, k, g, rid in rows]


def _json_listing(store: StateStore, doc: StateDocument | None, resources: Sequence[ResourceState]) -> str:
    header = {
        "format_version": STATE_JSON_FORMAT_VERSION,
        "state": store.location,
        "lineage": doc.lineage if doc else None,
        "serial": doc.serial if doc else None,
    }
    # Serialized by pydantic resource by resource: json.dumps of 100,000 dicts is several times slower.
    body = ",".join(r.model_dump_json() for r in resources)
    return json.dumps(header, separators=(",", ":"))[:-1] + ',"resources":[' + body + "]}"


# -- show ----------------------------------------------------------------------------------------------------


@command.command(name="show")
@click.argument("address")
@format_option("json: the resource's fields as one JSON object.")
@state_option
@log_level_option
def show_command(address: str, format_: str, state: StateChoice) -> int:
    """Show one managed resource: identity, region, remote id, prevent_destroy and last-applied attributes.

    Quote addresses with brackets for the shell: reconcile state show 'media["bucket/key.mp4"]'.
    """
    store = store_from_options(state)
    with state_errors_as_fatal():
        doc = store.read()
    if doc is None:
        raise FatalError(f"No state at {store.location}: nothing is managed yet, so there is nothing to show.")
    resource = find_resource(doc, address, store.location)
    click.echo(resource.model_dump_json() if format_ == "json" else render_resource(resource))
    return EXIT_OK


def find_resource(doc: StateDocument, address: str, location: str) -> ResourceState:
    by_address = {r.address: r for r in doc.resources}
    candidates = [address]
    unquoted = _UNQUOTED_INDEX.match(address)
    if unquoted:
        candidates.append(f'{unquoted[1]}["{unquoted[2]}"]')
    for candidate in candidates:
        if candidate in by_address:
            return by_address[candidate]
    raise FatalError(f"no resource {address} in state {location}.{_did_you_mean(doc, address, by_address)}")


def _did_you_mean(doc: StateDocument, address: str, by_address: dict[str, ResourceState]) -> str:
    same_identity = [r.address for r in doc.resources if r.identity == address]
    close = difflib.get_close_matches(address, _neighbours(address, list(by_address)), n=1, cutoff=0.75)
    suggestions = list(dict.fromkeys(same_identity + close))
    if suggestions:
        return f" Did you mean {' or '.join(suggestions)}?"
    return " `reconcile state list` shows every address."


def _neighbours(address: str, addresses: list[str]) -> list[str]:
    """The addresses nearest `address` in sorted order, forwards and backwards: a typo shares a prefix or a suffix.

    Comparing against every one of 100,000 addresses would take seconds; the neighbourhoods take milliseconds.
    """
    if len(addresses) <= NEIGHBOURHOOD * 4:
        return addresses
    forwards = sorted(addresses)
    backwards = sorted(a[::-1] for a in addresses)
    return sorted(
        {*_around(forwards, address), *(a[::-1] for a in _around(backwards, address[::-1]))},
    )


def _around(ordered: list[str], key: str) -> list[str]:
    at = bisect.bisect_left(ordered, key)
    return ordered[max(0, at - NEIGHBOURHOOD) : at + NEIGHBOURHOOD]


def render_resource(resource: ResourceState) -> str:
    fields: list[tuple[str, Any]] = [
        ("kind", resource.kind),
        ("identity", resource.identity),
        ("region", resource.region),
        ("remote_id", resource.remote_id),
        ("prevent_destroy", resource.prevent_destroy),
    ]
    lines = [f"# {resource.address}", *_aligned(fields, indent="")]
    attributes = attributes_json(resource.attributes)
    if attributes:
        lines += ["attributes = {", *_aligned(sorted(attributes.items()), indent="  "), "}"]
    else:
        lines.append("attributes = {}")
    return "\n".join(lines)


def _aligned(pairs: Sequence[tuple[str, Any]], indent: str) -> list[str]:
    width = max(len(key) for key, _ in pairs)
    return [f"{indent}{key:<{width}} = {_value(value)}" for key, value in pairs]


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)


# -- workspaces ----------------------------------------------------------------------------------------------


@command.command(name="workspaces")
@state_option
@log_level_option
def workspaces_command(state: StateChoice) -> int:
    """List the workspaces that hold a state at the --state location, one per line; `*` marks the one selected
    (--workspace, or RECONCILE_WORKSPACE, or `default`)."""
    backend, selected = backend_from_options(state)
    with state_errors_as_fatal():
        names = backend.workspaces()
    if names:
        click.echo("\n".join(f"{'*' if name == selected else ' '} {name}" for name in names))
    if selected not in names:
        click.echo(f"Workspace {selected} has no state yet at {backend.display}.", err=True)
    return EXIT_OK


# -- migrate -------------------------------------------------------------------------------------------------


@command.command(name="migrate")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="LOCATION",
    help="Where to copy the state: a file path, a postgresql:// URL or oss://BUCKET/PREFIX.",
)
@click.option(
    "--to-workspace",
    metavar="NAME",
    default=None,
    help="The target's workspace (default: the same workspace as the source's).",
)
@lock_timeout_option
@state_option
@log_level_option
def migrate_command(target: str, to_workspace: str | None, lock_timeout: float, state: StateChoice) -> int:
    """Copy the state --state / --workspace select to LOCATION, lineage and serial kept (the journal of an
    interrupted apply folded in). The source is left as it is.

    Refused when the target holds another state (another lineage) or one that moved on since; running it again
    once copied changes nothing. Both states are locked while copying.
    """
    _, workspace = backend_from_options(state)
    source = store_from_options(state)
    destination = store_from_options(StateChoice(target, to_workspace or workspace))
    if source.location == destination.location:
        raise FatalError(f"the target {destination.location} is the source state itself: nothing to migrate.")
    with (
        state_errors_as_fatal(),
        source.lock("state migrate", lock_timeout),
        destination.lock("state migrate", lock_timeout),
    ):
        done = migrate_state(source, destination)
    doc = done.state
    what = f"lineage {doc.lineage}, serial {doc.serial}, {len(doc.resources)} resources"
    if done.outcome == "unchanged":
        click.echo(f"{destination.location} already holds this state ({what}): nothing to do.")
        return EXIT_OK
    if done.outcome == "updated":
        click.echo(
            f"Updated {destination.location} from serial {done.previous_serial} to {source.location}'s ({what})."
        )
    else:
        click.echo(f"Copied {source.location} to {destination.location} ({what}).")
    click.echo(
        f"{source.location} is unchanged. Use the new location from now on (--state, or RECONCILE_STATE), and "
        "remove the old state once every runner has switched."
    )
    return EXIT_OK


# -- mv, rm (reconcile.cli.state_edit) ------------------------------------------------------------------------

from reconcile.cli.state_edit import register_edit_commands  # noqa: E402

register_edit_commands(command)
