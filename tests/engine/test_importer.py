"""`reconcile import` in-process: what is skipped and why, resuming after an interruption, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconcile.engine.importer import PROGRESS_FILE, SOURCES_FILE, ImportRefused, ImportRequest, import_account
from reconcile.manifest import load_desired_state
from reconcile.state import LocalStateStore

HOST = "https://media-in.oss-cn-shanghai.aliyuncs.com"
READS = {"GetMezzanineInfo", "ListAllMediaBucket", "SearchMedia"}


class Interrupted(Exception):
    """Stands for Ctrl-C (asyncio re-raises a real KeyboardInterrupt out of the event loop, past pytest.raises)."""


class Progress:
    """Records what the CLI would show; after `stop_after` answers, it interrupts the import."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.estimates: list[tuple[int, int, float]] = []
        self.seen: list[tuple[int, int]] = []
        self.stop_after = stop_after

    def estimate(self, media: int, to_read: int, seconds: float) -> None:
        self.estimates.append((media, to_read, seconds))

    def source_files(self, done: int, total: int) -> None:
        self.seen.append((done, total))
        if self.stop_after is not None and done >= self.stop_after:
            raise Interrupted


def register(account, count: int, prefix: str = "v") -> list[str]:
    return [account.register(f"{HOST}/{prefix}/{prefix}-{i}.mp4", f"Take {i}") for i in range(count)]


async def run_import(cloud_session, tmp_path: Path, progress: Progress, **request: object):
    store = LocalStateStore(tmp_path / "state.json")
    options = {"region": "cn-shanghai", "out": tmp_path / "out", **request}
    result = await import_account(
        ImportRequest(**options), cloud_session.client("cn-shanghai"), store, progress, concurrency=1
    )
    return result, store


async def test_an_interrupted_import_resumes_without_reading_again(cloud_session, account, tmp_path):
    account.bind("media-in")
    register(account, 6)
    with pytest.raises(Interrupted):
        await run_import(cloud_session, tmp_path, Progress(stop_after=4))
    saved = json.loads((tmp_path / "out" / PROGRESS_FILE).read_text())
    sources = tmp_path / "out" / SOURCES_FILE
    assert (len(saved["media"]["video"]), len(sources.read_text().splitlines())) == (6, 4)
    assert not list((tmp_path / "out").glob("*.yaml"))
    with sources.open("a") as torn:
        torn.write('{"id": "a crash cut this li')  # dropped when the import resumes
    first = account.stats()

    progress = Progress()
    report, store = await run_import(cloud_session, tmp_path, progress)
    assert report.resumed and (report.media, report.buckets) == (6, 1)
    assert progress.estimates == [(6, 2, 0.02)]
    assert progress.seen[0] == (4, 6) and progress.seen[-1] == (6, 6)
    second = {action: calls - first.get(action, 0) for action, calls in account.stats().items()}
    assert {a: n for a, n in second.items() if n} == {"GetMezzanineInfo": 2}  # nothing listed or searched again
    assert set(account.stats()) <= READS
    assert not (tmp_path / "out" / PROGRESS_FILE).exists() and not sources.exists()
    doc = store.read()
    assert doc is not None and len(doc.resources) == 7


async def test_skipped_media_each_with_its_reason(cloud_session, account, tmp_path):
    ids = register(account, 4)
    records = {r.media_id: r for r in account.backend.vod.media()}
    records[ids[3]].file_url += "?Expires=1700000000&OSSAccessKeyId=x&Signature=abc%3D"  # a private bucket's
    records[ids[1]].metadata = {
        **records[ids[1]].metadata,
        "title": "tab\there",
    }  # VOD took it; a manifest cannot declare it
    records[ids[2]].file_url = "https://cdn.example.com/v/v-2.mp4"  # not an OSS object
    account.register("https://other.oss-cn-beijing.aliyuncs.com/x.mp4", "Beijing")
    report, _ = await run_import(cloud_session, tmp_path, Progress())
    assert (report.media, report.buckets) == (2, 0)
    assert sorted((s.what.split('"')[1], s.reason) for s in report.skipped) == [
        (
            "Beijing",
            "source in another region: https://other.oss-cn-beijing.aliyuncs.com/x.mp4 is in cn-beijing, not "
            "cn-shanghai",
        ),
        ("Take 2", "source not in OSS: https://cdn.example.com/v/v-2.mp4 is not an OSS object URL"),
        ("tab\there", "not declarable in a manifest: title contains a tab; write it as one line of text"),
    ]
    desired = load_desired_state([tmp_path / "out"])
    assert [(m.address, m.file_url) for m in desired.media] == [
        ("media.v-0", f"{HOST}/v/v-0.mp4"),
        ("media.v-3", f"{HOST}/v/v-3.mp4"),  # the object, not its expiring signature
    ]


async def test_only_what_the_match_selects(cloud_session, account, tmp_path):
    register(account, 3)
    account.register(f"{HOST}/other/special.mp4", "Special", tags=("catalog",))
    report, _ = await run_import(cloud_session, tmp_path, Progress(), match="Tags in ('catalog')")
    assert report.media == 1
    assert "title: Special" in (tmp_path / "out" / "media-in.yaml").read_text()


async def test_a_progress_file_of_other_options_is_refused(cloud_session, account, tmp_path):
    register(account, 2)
    with pytest.raises(Interrupted):
        await run_import(cloud_session, tmp_path, Progress(stop_after=1))
    with pytest.raises(ImportRefused) as refused:
        await run_import(cloud_session, tmp_path, Progress(), match="CateId = 5")
    assert str(refused.value) == (
        f"{tmp_path / 'out' / PROGRESS_FILE} belongs to an import of region cn-shanghai with Match ''; run that "
        "import again to finish it, or delete the file to start this one over"
    )


async def test_nothing_to_import_is_an_error(cloud_session, account, tmp_path):
    with pytest.raises(ImportRefused) as refused:
        await run_import(cloud_session, tmp_path, Progress())
    assert str(refused.value) == (
        "found nothing to import: no input bucket and no media that this state does not manage"
    )
