"""`reconcile import --region REGION --out DIR`: manifests and state for an account that scripts filled.

Reads only (ListAllMediaBucket, SearchMedia, GetMezzanineInfo; see reconcile.engine.importer), paced like
every other command. The estimate and the progress go to stderr, the summary to stdout. Interrupted, it
keeps what it read in DIR (.reconcile-import.json and .reconcile-import.sources): the same command
continues from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from reconcile.cli.cloud_options import cloud_options, settings_from_options
from reconcile.cli.common import EXIT_OK, FatalError, log_level_option, run_async
from reconcile.cli.plan import open_session, planning_errors, refresh_concurrency
from reconcile.cli.state_options import StateChoice, state_errors_as_fatal, state_options, store_from_options
from reconcile.cloud.endpoints import check_region
from reconcile.cloud.settings import ClientSettings
from reconcile.engine.importer import (
    INPUT_BUCKETS_FILE,
    PROGRESS_FILE,
    ImportRefused,
    ImportReport,
    ImportRequest,
    check_out_dir,
    estimate_text,
    import_account,
)
from reconcile.render.text import render_call_accounting
from reconcile.state import StateStore

PROGRESS_INTERVAL = 5.0  # seconds between progress lines
SKIPPED_SHOWN = 10  # examples listed per reason


@click.command(name="import")
@click.option(
    "--region", required=True, metavar="REGION", help="The region whose MPS and VOD to read, e.g. cn-shanghai."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="A new or empty directory for the manifests (nothing is ever overwritten).",
)
@click.option(
    "--storage-location",
    "storage_locations",
    multiple=True,
    metavar="HOST",
    help="Only media stored there, e.g. media.oss-cn-shanghai.aliyuncs.com (repeatable).",
)
@click.option(
    "--match",
    metavar="EXPR",
    help='Only media a SearchMedia Match selects, e.g. "Tags in (\'catalog\')" or "CateId = 1000".',
)
@cloud_options
@state_options
@log_level_option
def command(
    region: str,
    out: Path,
    storage_locations: tuple[str, ...],
    match: str | None,
    state: StateChoice,
    lock_timeout: float,
    **cloud: Any,
) -> int:
    """Write manifests and state for what the account in REGION already holds, so the next plan is a no-op.

    Reads the input buckets (ListAllMediaBucket), the registered media (SearchMedia, video and audio) and each
    media's source file (GetMezzanineInfo, 100/s: the estimate is printed first). Writes, in DIR, one manifest
    per OSS bucket and input_buckets.yaml, and records them in the state. Makes no change to the account.
    Media the state already manages are skipped; so are media whose source is not an OSS object of REGION.

    Interrupted, the same command continues where it stopped (DIR/.reconcile-import.*).
    """
    try:
        check_region(region)
    except ValueError as exc:
        raise FatalError(f"--region: {exc}") from None
    request = ImportRequest(region=region, out=out, storage_locations=storage_locations, match=match)
    with import_errors():
        check_out_dir(out)
    settings = settings_from_options(cloud)
    store = store_from_options(state)
    reads = refresh_concurrency(cloud, settings)
    with state_errors_as_fatal(), store.lock("import", lock_timeout):
        report, accounting = run_async(_import(request, store, settings, reads))
    click.echo(render_import_summary(report, store.location))
    click.echo(accounting)
    return EXIT_OK


@contextmanager
def import_errors() -> Iterator[None]:
    """An import that cannot start or finish as asked: `error: ...` and exit 1."""
    try:
        yield
    except ImportRefused as exc:
        raise FatalError(str(exc)) from None
    except OSError as exc:  # writing in DIR failed: a full disk, a read-only or special directory
        if exc.filename is None:
            raise
        where = Path(exc.filename).parent
        raise FatalError(
            f"cannot write in {where}: {exc.strerror or exc}; name a writable directory with --out"
        ) from None


class _Progress:
    """The estimate at once, then a progress line every few seconds on stderr."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._started = self._last

    def estimate(self, media: int, to_read: int, seconds: float) -> None:
        click.echo(
            f"Found {media} media; reading the source file of {to_read} with GetMezzanineInfo (paced at the "
            f"account's limit): about {estimate_text(seconds)}.",
            err=True,
        )

    def source_files(self, done: int, total: int) -> None:
        now = self._clock()
        if done < total and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        if total:
            click.echo(f"  source files read: {done} of {total} ({done * 100 // total}%)", err=True)


async def _import(
    request: ImportRequest, store: StateStore, settings: ClientSettings, reads: int
) -> tuple[ImportReport, str]:
    async with open_session(settings) as session:
        with planning_errors(), import_errors():
            try:
                report = await import_account(
                    request, session.client(request.region), store, _Progress(), concurrency=reads
                )
            except BaseException:
                if (request.out / PROGRESS_FILE).exists():
                    click.echo(
                        f"What was read is kept in {request.out / PROGRESS_FILE}: run the same command again to "
                        "continue from there.",
                        err=True,
                    )
                raise
        return report, render_call_accounting(session.stats, activity="importing")


def render_import_summary(report: ImportReport, state_location: str) -> str:
    lines = [
        f"Imported {report.buckets} input bucket{'s' if report.buckets != 1 else ''} and {report.media} media "
        f"({report.audio} audio) in {report.oss_buckets} OSS bucket{'s' if report.oss_buckets != 1 else ''} into "
        f"{report.out}{' (resumed)' if report.resumed else ''}:",
        *(f"  {report.out / name}" for name in report.files),
        f"Recorded in state {state_location} (serial {report.state_serial}): the next plan of {report.out} makes "
        "no call.",
    ]
    if INPUT_BUCKETS_FILE not in report.files:
        lines.append("No input bucket to import.")
    grouped = report.skipped_by_reason()
    if grouped:
        lines += ["", f"Skipped {len(report.skipped)}:"]
        for reason, items in sorted(grouped.items()):
            lines.append(f"  {reason} ({len(items)}):")
            lines += [f"    - {item.what}: {item.reason}" for item in items[:SKIPPED_SHOWN]]
            if len(items) > SKIPPED_SHOWN:
                lines.append(f"    … and {len(items) - SKIPPED_SHOWN} more")
    else:
        lines.append("Nothing was skipped.")
    return "\n".join(lines)
