"""A plan right after an apply, against an emulator whose search index lags an hour behind every write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconcile.emulator.process import RunningEmulator, start_emulator
from tests.e2e.conftest import SPEED_UP, Workspace, oss_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(qps_scale=SPEED_UP, extra_args=["--search-lag", "3600"]) as running:
        yield running


def videos(count: int, recut: int = 0) -> list[dict[str, object]]:
    return [
        {"file_url": oss_url("raw-a", f"v/{i:03}.mp4"), "title": f"{'Recut' if i < recut else 'Video'} {i}"}
        for i in range(count)
    ]


def test_a_plan_right_after_an_apply_is_no_changes_although_the_index_has_none_of_it(ws: Workspace):
    ws.manifest(media=videos(150))
    assert ws.reconcile("apply", "manifests/", "--auto-approve").code == 0
    ws.manifest(media=videos(150, recut=30))
    assert ws.reconcile("apply", "manifests/", "--auto-approve").code == 0
    reads_before = {a: c["calls"] for a, c in ws.control.stats()["actions"].items()}

    result = ws.reconcile("plan", "manifests/", "--detailed-exitcode")

    assert result.code == 0, result.out + result.err
    assert result.out.startswith("No changes. The account matches the manifests.")
    reads = {a: c["calls"] - reads_before.get(a, 0) for a, c in ws.control.stats()["actions"].items()}
    # 2 searches (100 and 50 ids) find none of the 150 media, registered under an hour ago: all are read again
    assert {a: n for a, n in reads.items() if n} == {"SearchMedia": 2, "GetVideoInfos": 8}
