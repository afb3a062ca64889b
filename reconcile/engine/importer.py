"""`reconcile import`: read an account that scripts filled, and write the manifests and state that manage it.

Reads, never writes, the account:
- input buckets: `ListAllMediaBucket` (every page), the bindings of type Input;
- registered media: `SearchMedia`, video then audio, 100 a page, scrolling with `ScrollToken` (which goes past
  the 5,000 hits PageNo reaches), optionally narrowed by `StorageLocation in (...)` and a Match expression;
- each media's source file: `GetMezzanineInfo` (OutputType oss), the only API that knows its FileURL. At
  100/s it is the floor of the import's time: the estimate is given before it starts.

Then writes, in the output directory, one manifest per OSS bucket (`<bucket>.yaml`) and one for the input
buckets (`input_buckets.yaml`), with the schema beside them (`manifest.schema.json`): sorted, shared values in
`media_defaults`, text written literally (reconcile.manifest.emit). The manifests are loaded back before they
are put in place and must declare exactly what was read; the state then records every resource as apply
would have, so the next plan is a no-op.

Skipped, each with its reason: media whose source is not an OSS object URL of the region, or that a
manifest cannot declare (a title over the limits, say); media and buckets this state already manages;
media deleted, or whose source file went, while the import read them.

Resumable: what has been read is kept in the output directory (`.reconcile-import.json`: the buckets and
the search hits; `.reconcile-import.sources`: each source file, appended every few hundred answers and when
anything fails), and an import run again with the same options continues from it.
Nothing is overwritten: an output directory that already holds manifests is refused before any call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from reconcile.cloud.api import MediaApi
from reconcile.cloud.errors import NotFoundError
from reconcile.cloud.limits import AUDIO_EXTENSIONS, SEARCH_PAGE_MAX, parse_oss_url
from reconcile.cloud.models import MediaBucket, VideoInfo
from reconcile.engine.attributes import applied_state
from reconcile.engine.planner import timed
from reconcile.engine.reads import run_bounded
from reconcile.manifest import ManifestError, load_desired_state
from reconcile.manifest.desired import DesiredState
from reconcile.manifest.emit import SCHEMA_FILE, input_buckets_document, media_document
from reconcile.manifest.rules import (
    cover_url_problem,
    description_problem,
    file_url_problem,
    media_name_problem,
    tag_problem,
    tags_problem,
    title_problem,
)
from reconcile.manifest.schema import json_schema_text
from reconcile.model.media import (
    MUTABLE_FIELDS,
    FieldSpec,
    MediaAttributes,
    ValueKind,
    attributes_json,
    metadata_matches,
)
from reconcile.state.files import append_durably, replace_atomically
from reconcile.state.model import StateDocument
from reconcile.state.store import StateStore
from reconcile.util.files import read_text_if_present

PROGRESS_FILE = ".reconcile-import.json"  # the listing: buckets and search hits, written once each
SOURCES_FILE = ".reconcile-import.sources"  # one JSON line per GetMezzanineInfo answer, appended
PROGRESS_VERSION = 1
INPUT_BUCKETS_FILE = "input_buckets.yaml"  # `_` is never in a bucket name: no `<bucket>.yaml` can clash
SAVE_EVERY = 500  # GetMezzanineInfo answers between two appends to the sources file
SEARCH_TYPES = ("video", "audio")


class ImportRefused(Exception):
    """The import cannot start or finish as asked; the message says why and what to do."""


class ImportProgress(Protocol):
    """How the CLI shows an import under way."""

    def estimate(self, media: int, to_read: int, seconds: float) -> None:
        """Found `media`; `to_read` of them need a GetMezzanineInfo; about `seconds` of paced reads remain."""

    def source_files(self, done: int, total: int) -> None:
        """`done` of `total` GetMezzanineInfo answers are in."""


@dataclass(frozen=True, slots=True)
class ImportRequest:
    region: str
    out: Path
    storage_locations: tuple[str, ...] = ()
    match: str | None = None

    def search_match(self) -> str:
        """The SearchMedia Match: the user's, and the storage locations asked for (empty: every media)."""
        parts = [f"({self.match})"] if self.match else []
        if self.storage_locations:
            parts.append("StorageLocation in (" + ",".join(f"'{s}'" for s in self.storage_locations) + ")")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Skipped:
    what: str  # `media <id> "<title>"` or `input bucket <name>`
    reason: str


@dataclass(slots=True)
class ImportReport:
    out: Path
    files: list[str] = field(default_factory=list)  # written, relative to `out`
    buckets: int = 0
    media: int = 0
    audio: int = 0  # of `media`
    oss_buckets: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    state_serial: int = 0
    resumed: bool = False
    calls: int = 0  # reads made by this run
    estimated: bool = False  # the estimate was given

    def skipped_by_reason(self) -> dict[str, list[Skipped]]:
        grouped: dict[str, list[Skipped]] = {}
        for item in self.skipped:
            grouped.setdefault(_reason_kind(item.reason), []).append(item)
        return grouped


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


@dataclass(slots=True)
class _Progress:
    """What has been read so far: the listing in PROGRESS_FILE, the source files in SOURCES_FILE (appended, so
    that 100,000 answers cost 100,000 short lines, not a rewrite of the whole listing every few hundred)."""

    region: str
    match: str
    buckets: list[MediaBucket] | None = None
    media: dict[str, list[VideoInfo]] | None = None  # search type → hits, once every search is complete
    sources: dict[str, str] = field(default_factory=dict)  # video id → FileURL
    gone: dict[str, str] = field(default_factory=dict)  # video id → why it could not be read
    unsaved: list[str] = field(default_factory=list)  # SOURCES_FILE lines not appended yet

    def record(self, video_id: str, *, file_url: str | None = None, gone: str | None = None) -> None:
        if file_url is not None:
            self.sources[video_id] = file_url
        if gone is not None:
            self.gone[video_id] = gone
        self.unsaved.append(json.dumps({"id": video_id, "url": file_url, "gone": gone}, ensure_ascii=False))

    def replay(self, text: str) -> None:
        """The answers in a SOURCES_FILE; a line cut short by a crash is left out (it is read again)."""
        for line in text.splitlines():
            try:
                item = json.loads(line)
                video_id, file_url, gone = item["id"], item["url"], item["gone"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(file_url, str):
                self.sources[video_id] = file_url
            elif isinstance(gone, str):
                self.gone[video_id] = gone

    def to_json(self) -> str:
        return json.dumps(
            {
                "reconcile_import": PROGRESS_VERSION,
                "region": self.region,
                "match": self.match,
                "buckets": None if self.buckets is None else [dataclasses.asdict(b) for b in self.buckets],
                "media": None
                if self.media is None
                else {kind: [dataclasses.asdict(v) for v in videos] for kind, videos in self.media.items()},
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> _Progress:
        data = json.loads(text)
        if data.get("reconcile_import") != PROGRESS_VERSION:
            raise ValueError("unknown version")
        buckets = data["buckets"]
        media = data["media"]
        return cls(
            region=data["region"],
            match=data["match"],
            buckets=None if buckets is None else [MediaBucket(**b) for b in buckets],
            media=None
            if media is None
            else {
                kind: [VideoInfo(**{**v, "tags": tuple(v["tags"])}) for v in videos] for kind, videos in media.items()
            },
        )


def check_out_dir(out: Path) -> None:
    """Refuse an output that is a file, or a directory already holding manifests (nothing is overwritten)."""
    if out.exists() and not out.is_dir():
        raise ImportRefused(f"--out {out} is a file; name a new or empty directory for the manifests")
    if not out.exists():
        return
    existing = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.suffix in (".yaml", ".yml") or p.name == SCHEMA_FILE
    )
    if existing:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise ImportRefused(
            f"{out} already holds manifests ({shown}); import never overwrites files. Name a new or empty "
            "directory with --out, or move those files away; nothing was read"
        )


async def import_account(
    request: ImportRequest,
    api: MediaApi,
    store: StateStore,
    progress: ImportProgress,
    *,
    concurrency: int = 8,
) -> ImportReport:
    """Read the account, write the manifests and the state (the caller holds the state lock). Raises
    ImportRefused, CloudError (after saving what was read), StateError."""
    out = request.out
    check_out_dir(out)
    saved = _load_progress(request)
    report = ImportReport(out=out, resumed=saved is not None)
    read = saved or _Progress(region=request.region, match=request.search_match())
    state = store.read()
    managed_ids = {r.remote_id for r in state.resources if r.remote_id} if state else set()
    managed_buckets = {r.identity for r in state.resources if r.kind == "input_bucket"} if state else set()
    try:
        if read.buckets is None:
            with timed("import: list buckets") as done:
                read.buckets = [b for b in await api.list_all_media_buckets() if b.type == "Input"]
                report.calls += 1
                _save_listing(out, read)
                done(f"{len(read.buckets)} input buckets")
        if read.media is None:
            with timed("import: search media") as done:
                read.media = await _search_all(api, read.match, managed_ids, read, progress, report)
                _save_listing(out, read)
                done(", ".join(f"{len(hits)} {kind}" for kind, hits in read.media.items()))
        everything = [v for videos in read.media.values() for v in videos]
        wanted = [v.video_id for v in everything if v.video_id not in managed_ids]
        to_read = [i for i in wanted if i not in read.sources and i not in read.gone]
        if not report.estimated:
            progress.estimate(len(everything), len(to_read), len(to_read) / api.qps_limit("GetMezzanineInfo"))
        with timed("import: read source files") as done:
            await _read_sources(api, to_read, len(wanted), read, progress, report, concurrency)
            done(f"{len(to_read)} GetMezzanineInfo")
    finally:
        _save_sources(out, read)
    buckets = sorted(read.buckets, key=lambda b: b.bucket)
    for bucket in buckets:
        if bucket.bucket in managed_buckets:
            report.skipped.append(Skipped(f"input bucket {bucket.bucket}", "already managed: in this state"))
    new_buckets = [b for b in buckets if b.bucket not in managed_buckets]
    with timed("import: write manifests") as done:
        entries = _media_entries(request.region, read, state, report)
        desired = _write_manifests(request.region, out, new_buckets, entries, report)
        done(f"{len(report.files)} files")
    with timed("import: write state") as done:
        report.state_serial = _record_state(store, state, desired, entries)
        done(f"serial {report.state_serial}")
    for name in (PROGRESS_FILE, SOURCES_FILE):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    return report


def _load_progress(request: ImportRequest) -> _Progress | None:
    path = request.out / PROGRESS_FILE
    text = read_text_if_present(path, "", ImportRefused)
    if text is None:
        return None
    try:
        saved = _Progress.from_json(text)
    except (ValueError, KeyError, TypeError):
        raise ImportRefused(
            f"{path} is not a progress file this reconcile can resume; delete it to start the import over"
        ) from None
    if (saved.region, saved.match) != (request.region, request.search_match()):
        raise ImportRefused(
            f"{path} belongs to an import of region {saved.region} with Match {saved.match!r}; run that import "
            "again to finish it, or delete the file to start this one over"
        )
    sources = request.out / SOURCES_FILE
    with contextlib.suppress(FileNotFoundError):
        data = sources.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) < len(data):  # a line a crash cut short: dropped, so the next append starts clean
            os.truncate(sources, len(whole))
        saved.replay(whole.decode("utf-8", errors="replace"))
    return saved


def _save_listing(out: Path, read: _Progress) -> None:
    out.mkdir(parents=True, exist_ok=True)
    replace_atomically(out / PROGRESS_FILE, read.to_json().encode("utf-8"))


def _save_sources(out: Path, read: _Progress) -> None:
    """Append the answers not saved yet (fsync'd: they survive a crash)."""
    if not read.unsaved:
        return
    out.mkdir(parents=True, exist_ok=True)
    append_durably(out / SOURCES_FILE, "".join(line + "\n" for line in read.unsaved).encode("utf-8"))
    read.unsaved.clear()


async def _search_all(
    api: MediaApi,
    match: str,
    managed_ids: set[str],
    read: _Progress,
    progress: ImportProgress,
    report: ImportReport,
) -> dict[str, list[VideoInfo]]:
    """Every hit of `match`, video and audio: the first page of each gives the totals (and the estimate), then
    each search scrolls on with its ScrollToken."""
    firsts = {kind: await api.search_media(match, page_size=SEARCH_PAGE_MAX, search_type=kind) for kind in SEARCH_TYPES}
    report.calls += len(firsts)
    total = sum(page.total for page in firsts.values())
    pages_left = sum(max(0, math.ceil(page.total / SEARCH_PAGE_MAX) - 1) for page in firsts.values())
    unmanaged = max(0, total - len(managed_ids))
    seconds = pages_left / api.qps_limit("SearchMedia") + unmanaged / api.qps_limit("GetMezzanineInfo")
    progress.estimate(total, unmanaged, seconds)
    report.estimated = True
    found: dict[str, list[VideoInfo]] = {}
    for kind, page in firsts.items():
        hits = list(page.videos)
        token = page.scroll_token
        seen = {v.video_id for v in hits}
        while len(hits) < page.total and token and page.videos:
            page = await api.search_media(match, page_size=SEARCH_PAGE_MAX, scroll_token=token, search_type=kind)
            report.calls += 1
            hits += [v for v in page.videos if v.video_id not in seen]
            seen.update(v.video_id for v in page.videos)
            token = page.scroll_token
        found[kind] = sorted(hits, key=lambda v: v.video_id)
    return found


async def _read_sources(
    api: MediaApi,
    ids: Sequence[str],
    total: int,
    read: _Progress,
    progress: ImportProgress,
    report: ImportReport,
    concurrency: int,
) -> None:
    done = total - len(ids)
    since_save = 0
    progress.source_files(done, total)

    async def one(video_id: str) -> None:
        nonlocal done, since_save
        try:
            read.record(video_id, file_url=(await api.get_mezzanine_info(video_id)).file_url)
        except NotFoundError as exc:
            read.record(video_id, gone=f"gone while importing: {exc.code}")
        report.calls += 1
        done += 1
        since_save += 1
        progress.source_files(done, total)
        if since_save >= SAVE_EVERY:
            since_save = 0
            _save_sources(report.out, read)

    jobs: list[Callable[[], Awaitable[None]]] = [partial(one, video_id) for video_id in ids]
    await run_bounded(jobs, concurrency)


def _media_entries(region: str, read: _Progress, state: StateDocument | None, report: ImportReport) -> list[_Entry]:
    assert read.media is not None
    managed_ids = {r.remote_id for r in state.resources if r.remote_id} if state else set()
    managed_files = {r.identity: r.address for r in state.resources if r.kind == "media"} if state else {}
    entries: list[_Entry] = []
    for kind, videos in read.media.items():
        for video in videos:
            what = f'media {video.video_id} "{video.title}"'
            if video.video_id in managed_ids:
                report.skipped.append(Skipped(what, "already managed: in this state"))
                continue
            if video.video_id in read.gone:
                report.skipped.append(Skipped(what, read.gone[video.video_id]))
                continue
            entry, problem = _entry(region, kind, video, read.sources[video.video_id])
            if entry is None:
                report.skipped.append(Skipped(what, problem))
            elif entry.identity in managed_files:
                address = managed_files[entry.identity]
                report.skipped.append(Skipped(what, f"already managed: its source file is {address} in this state"))
            else:
                entries.append(entry)
    _name_entries(entries, {r.address for r in state.resources} if state else set())
    return sorted(entries, key=lambda e: (e.bucket, e.attributes.file_url))


@dataclass(slots=True)
class _Entry:
    video: VideoInfo
    bucket: str  # the OSS bucket of the source file
    identity: str
    audio: bool
    attributes: MediaAttributes  # what the manifest entry declares
    name: str | None = None  # the entry's `name:`, when it gets one

    def manifest_entry(self) -> dict[str, object]:
        """The entry as the manifest writes it (MEDIA_KEYS terms): `name` first, then the attributes."""
        return {**({"name": self.name} if self.name else {}), **attributes_json(self.attributes)}


def _entry(region: str, kind: str, video: VideoInfo, file_url: str) -> tuple[_Entry | None, str]:
    """The manifest entry for `video`, or why there can be none. A signed URL (a private bucket's answer:
    `?Expires=...&Signature=...`) names its object without the signature, which expires."""
    file_url = urlsplit(file_url)._replace(query="", fragment="").geturl() if "?" in file_url else file_url
    oss = parse_oss_url(file_url)
    if oss is None:
        return None, f"source not in OSS: {file_url} is not an OSS object URL"
    if oss.region != region:
        return None, f"source in another region: {file_url} is in {oss.region or 'no region'}, not {region}"
    problem = file_url_problem(file_url, oss, region)
    if problem is not None:
        return None, f"source not declarable: file_url {problem}"
    declared = {spec.name: getattr(video, spec.name) for spec in MUTABLE_FIELDS if _declarable(spec, video)}
    attributes = MediaAttributes(file_url=file_url, template_group_id=video.template_group_id or None, **declared)
    tags = attributes.tags or ()
    checks = [("title", title_problem(video.title or ""))]
    checks += [("description", description_problem(attributes.description or ""))]
    checks += [("tags", tags_problem(list(tags)))] + [("tag", tag_problem(t)) for t in tags]
    checks += [("cover_url", cover_url_problem(attributes.cover_url))] if attributes.cover_url else []
    for name, found in checks:
        if found is not None:
            return None, f"not declarable in a manifest: {name} {found}"
    audio = kind == "audio" or oss.extension in AUDIO_EXTENSIONS
    return _Entry(video=video, bucket=oss.bucket, identity=oss.identity, audio=audio, attributes=attributes), ""


def _declarable(spec: FieldSpec, video: VideoInfo) -> bool:
    """Whether a manifest declares this field of `video`: VOD holds a value (a category id is positive)."""
    value = getattr(video, spec.name)
    return bool(value) and (spec.kind is not ValueKind.INTEGER or value > 0)


def _name_entries(entries: list[_Entry], taken: set[str]) -> None:
    """`name:` from each source file's name (`raw/Harbor Tour.mp4` → `harbor-tour`), when that is a valid name
    no other entry would get and no resource in the state has; the others keep `media["<bucket>/<key>"]`."""
    slugs = [_slug(entry.identity) for entry in entries]
    counts = Counter(slugs)
    for entry, slug in zip(entries, slugs, strict=True):
        if slug and counts[slug] == 1 and f"media.{slug}" not in taken:
            entry.name = slug


def _slug(identity: str) -> str | None:
    stem = identity.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in stem).split()
    slug = "-".join(words)
    return slug if slug and media_name_problem(slug) is None else None


def _comment(region: str, what: str) -> list[str]:
    return ["", f"Imported by `reconcile import --region {region}`: {what}."]


def _write_manifests(
    region: str, out: Path, buckets: Sequence[MediaBucket], entries: Sequence[_Entry], report: ImportReport
) -> DesiredState:
    """Write the manifests, each created new (never over a file), after loading them back from a staging
    directory and checking they declare exactly what was read."""
    documents: dict[str, str] = {}
    if buckets:
        listed = [{"bucket": b.bucket, "referer": b.referer} for b in buckets]
        what = f"the {len(buckets)} OSS buckets bound to MPS as input buckets"
        documents[INPUT_BUCKETS_FILE] = input_buckets_document(region, listed, _comment(region, what))
    by_bucket: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_bucket.setdefault(entry.bucket, []).append(entry)
    for bucket, group in sorted(by_bucket.items()):
        what = f"the {len(group)} media registered in VOD whose source files are in OSS bucket {bucket}"
        documents[f"{bucket}.yaml"] = media_document(
            region, [e.manifest_entry() for e in group], _comment(region, what)
        )
    if not documents:
        raise ImportRefused("found nothing to import: no input bucket and no media that this state does not manage")
    staging = out / ".reconcile-import.staging"
    out.mkdir(parents=True, exist_ok=True)
    staging.mkdir(exist_ok=True)
    try:
        for name, text in documents.items():
            (staging / name).write_text(text, encoding="utf-8")
        try:
            staged = load_desired_state([staging / name for name in documents], env={})
        except ManifestError as exc:
            problems = "; ".join(str(d) for d in exc.diagnostics[:3])
            raise ImportRefused(f"the generated manifests do not validate (a bug in reconcile): {problems}") from None
        _check_round_trip(staged, entries)
        targets = [*documents, SCHEMA_FILE]
        clashes = [name for name in targets if (out / name).exists()]
        if clashes:
            raise ImportRefused(f"{out} now holds {', '.join(clashes)}; import never overwrites files: nothing written")
        for name, text in [*documents.items(), (SCHEMA_FILE, json_schema_text())]:
            with open(out / name, "x", encoding="utf-8") as file:
                file.write(text)
            report.files.append(name)
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
    report.buckets = len(buckets)
    report.media = len(entries)
    report.audio = sum(1 for e in entries if e.audio)
    report.oss_buckets = len(by_bucket)
    return staged  # the same files: the state records addresses and attributes, never their paths


def _check_round_trip(desired: DesiredState, entries: Sequence[_Entry]) -> None:
    by_identity = {m.identity: m for m in desired.media}
    for entry in entries:
        media = by_identity.get(entry.identity)
        if media is None or not metadata_matches(entry.video, media.attributes):
            raise ImportRefused(
                f"the generated manifest does not read back as media {entry.video.video_id} is (a bug in reconcile); "
                "nothing was written"
            )


def _record_state(
    store: StateStore, state: StateDocument | None, desired: DesiredState, entries: Sequence[_Entry]
) -> int:
    """Add every imported resource to the state, as apply would have recorded it: one new serial."""
    ids = {e.identity: e.video.video_id for e in entries}
    added = [applied_state(b) for b in desired.buckets] + [applied_state(m, ids[m.identity]) for m in desired.media]
    doc = state if state is not None else StateDocument.empty()
    taken = {r.address for r in doc.resources}
    clash = next((r.address for r in added if r.address in taken), None)
    if clash is not None:
        raise ImportRefused(
            f"the state already has a resource at {clash}: rename it with `reconcile state mv`, or remove the "
            "imported manifests' `name:` for it, then plan"
        )
    written = store.write(doc.model_copy(update={"resources": [*doc.resources, *added]}))
    return written.serial


def estimate_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
