"""detect_drift: what changed in the account outside reconcile, against the state."""

from __future__ import annotations

from reconcile.engine.drift import AttributeDrift, detect_drift
from reconcile.engine.refresh import refresh
from tests.engine.builders import bound, bucket, desired, live, managed_bucket, managed_media, media, state, video


def test_no_drift_when_the_account_matches_the_state():
    kept = media("a.mp4", title="A", tags=("x", "y"))
    report = detect_drift(
        state(managed_bucket("media-in", referer="r"), managed_media(kept, "v1")),
        live(bound("media-in", "r"), video("v1", kept, tags=("y", "x"), description="not managed")),
    )
    assert (report.has_drift, report.drifts, report.checked) == (False, (), 2)


def test_every_kind_of_drift_is_reported_by_address():
    edited, deleted = media("edited.mp4", name="edited", title="A", cate_id=3), media("deleted.mp4", name="deleted")
    recorded = state(
        managed_bucket("unbound"),
        managed_bucket("now-output"),
        managed_bucket("referer", referer="old"),
        managed_media(edited, "v1"),
        managed_media(deleted, "v2"),
    )
    account = live(
        bound("now-output", type_="Output"),
        bound("referer", "changed"),
        video("v1", edited, title="B", cate_id=4),
        gone=("v2",),
    )
    report = detect_drift(recorded, account, desired(edited, bucket("referer")))
    assert [(d.address, d.drift, d.declared) for d in report.drifts] == [
        ("input_bucket.now-output", "bound_as_output", False),
        ("input_bucket.referer", "changed", True),
        ("input_bucket.unbound", "unbound", False),
        ("media.deleted", "deleted", False),
        ("media.edited", "changed", True),
    ]
    assert report.drifts[1].attributes == (AttributeDrift(name="referer", recorded="old", live="changed"),)
    assert report.drifts[4].attributes == (
        AttributeDrift(name="title", recorded="A", live="B"),
        AttributeDrift(name="cate_id", recorded=3, live=4),
    )
    assert report.drifts[3].remote_id == "v2"
    assert (report.state_lineage, report.state_serial) == (recorded.lineage, 4)


def test_without_manifests_declared_is_unknown():
    deleted = media("deleted.mp4")
    report = detect_drift(state(managed_media(deleted, "v2")), live(gone=("v2",)))
    assert [d.declared for d in report.drifts] == [None]


def test_no_state_no_drift():
    assert detect_drift(None, live()).checked == 0


async def test_against_the_emulator(account, cloud_session):
    declared = media("a.mp4", title="A")
    media_id = account.register(declared.file_url, "A")
    account.bind("media-in", "r")
    recorded = state(managed_bucket("media-in", referer="r"), managed_media(declared, media_id))
    account.edit(media_id, title="edited")
    account.unbind("media-in")

    report = detect_drift(recorded, await refresh(cloud_session.client, None, recorded))

    assert [(d.address, d.drift, d.attributes) for d in report.drifts] == [
        ("input_bucket.media-in", "unbound", ()),
        (declared.address, "changed", (AttributeDrift(name="title", recorded="A", live="edited"),)),
    ]
    assert account.stats() == {"GetVideoInfos": 1, "ListAllMediaBucket": 1}
