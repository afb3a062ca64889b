"""`reconcile emulator`: run the local MPS + VOD emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.cloud.endpoints import is_loopback
from reconcile.emulator.app import create_app
from reconcile.emulator.config import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_MAX_BODY_BYTES,
    EmulatorConfig,
)
from reconcile.emulator.faults import FaultRules, FaultSpecError
from reconcile.emulator.persistence import StateFileError
from reconcile.emulator.process import READY_PREFIX
from reconcile.emulator.server import event_loop_factory, listen_socket, serve, url_of
from reconcile.emulator.vod import DEFAULT_TRANSCODE_SECONDS

MIB = 1024 * 1024
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # every address, loopback included


@click.command("emulator")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: a loopback address (127.0.0.0/8, ::1) or localhost, unless --allow-remote.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port; 0 picks a free one."
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the account's state in this JSON file across restarts (default: in memory).",
)
@click.option("--access-key-id", "key_ids", multiple=True, help="Accept this AccessKeyId too (repeatable).")
@click.option("--access-key-secret", "key_secrets", multiple=True, help="Its secret, one per --access-key-id.")
@click.option("--auto-objects", is_flag=True, help="Every well-formed OSS media URL names an existing object.")
@click.option(
    "--qps-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiply every QPS limit by this; 0 disables throttling.",
)
@click.option("--faults", "faults_spec", metavar="SPEC|@FILE", help="Fault rules as inline JSON or @file.")
@click.option("--seed", type=int, help="Make ids and fault rolls reproducible.")
@click.option(
    "--transcode-seconds",
    type=click.FloatRange(min=0),
    default=DEFAULT_TRANSCODE_SECONDS,
    show_default=True,
    help="How long a transcoding media stays Transcoding before it becomes Normal.",
)
@click.option(
    "--search-lag",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="SearchMedia answers as the account was this many seconds ago, as a lagging search index does.",
)
@click.option(
    "--max-body-mib",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BODY_BYTES // MIB,
    show_default=True,
    help="Refuse request bodies larger than this many MiB (413), before reading them.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host: anyone who can reach the port can then use the API with the public "
    "key pair (a warning says so). The control API still answers loopback clients only.",
)
@log_level_option
def command(
    host: str,
    port: int,
    state_file: Path | None,
    key_ids: tuple[str, ...],
    key_secrets: tuple[str, ...],
    auto_objects: bool,
    qps_scale: float,
    faults_spec: str | None,
    seed: int | None,
    transcode_seconds: float,
    search_lag: float,
    max_body_mib: int,
    allow_remote: bool,
) -> int:
    """Run a local, wire-faithful MPS + VOD server (signed V1 and V3 requests, real JSON shapes, QPS limits).

    It prints one line with its URL once listening and stops cleanly on Ctrl-C or SIGTERM. Its control
    API lives under /_emulator/ (state, stats, reset, objects, faults); see docs/emulator.md.
    """
    if not allow_remote and not is_loopback(host):
        raise FatalError(
            f"--host {host} is not a loopback address; the emulator accepts the well-known key pair "
            f"{DEFAULT_ACCESS_KEY_ID}/…, so pass --allow-remote to serve other machines on purpose"
        )
    if len(key_ids) != len(key_secrets):
        raise FatalError(
            f"got {len(key_ids)} --access-key-id and {len(key_secrets)} --access-key-secret: give them in pairs"
        )
    access_keys = {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET, **dict(zip(key_ids, key_secrets, strict=True))}
    config = EmulatorConfig(
        access_keys=access_keys,
        auto_objects=auto_objects,
        qps_scale=qps_scale,
        faults=_load_faults(faults_spec) if faults_spec else None,
        state_file=state_file,
        seed=seed,
        transcode_seconds=transcode_seconds,
        search_lag_seconds=search_lag,
        max_body_bytes=max_body_mib * MIB,
    )
    try:
        app = create_app(config)
    except (StateFileError, ValueError) as exc:
        raise FatalError(f"{exc}" if isinstance(exc, StateFileError) else f"state file {state_file}: {exc}") from None
    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        raise FatalError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port (0 picks a free one)"
        ) from None
    if not is_loopback(host):
        click.echo(remote_warning(host, url_of(sock), sock.getsockname()[1], key_ids), err=True)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(app, sock, lambda url: click.echo(f"{READY_PREFIX}{url}")))
    return EXIT_OK


def remote_warning(host: str, url: str, port: int, key_ids: tuple[str, ...]) -> str:
    """What serving beyond loopback exposes, said loudly before the ready line. The control API answers
    loopback clients addressing a loopback host only: reachable from this machine on a wildcard address."""
    keys = f"{DEFAULT_ACCESS_KEY_ID}/{DEFAULT_ACCESS_KEY_SECRET}" + (
        f" (and the --access-key-id pairs given: {', '.join(key_ids)})" if key_ids else ""
    )
    return (
        f"WARNING: --allow-remote: serving beyond loopback at {url}.\n"
        "WARNING: This emulator is unauthenticated test software, not a secured service. Anyone who can reach\n"
        "WARNING: this port can bind and unbind buckets and register, change and delete media, in clear text,\n"
        f"WARNING: with the public key pair {keys}.\n"
        "WARNING: Serve it only on a network you trust. The control API (/_emulator/) still answers only this\n"
        + (
            f"WARNING: machine, at http://127.0.0.1:{port}."
            if host in WILDCARD_HOSTS
            else f"WARNING: machine over loopback, which --host {host} does not listen on."
        )
    )


def _load_faults(spec: str) -> FaultRules:
    text = spec
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FatalError(f"--faults {spec}: cannot read {path}: {exc.strerror}") from None
    try:
        return FaultRules.from_json(text)
    except FaultSpecError as exc:
        raise FatalError(f"--faults: {exc}") from None
