"""plan_changes, rule by rule, on documents built directly: exact actions, reasons, fields and diagnostics."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.cloud.models import VideoInfo
from reconcile.engine.diff import plan_changes
from reconcile.engine.plan import ActionReason, ResourceChange
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import (
    MUTABLE_FIELDS,
    Attributes,
    MediaAttributes,
    attributes_json,
    changed_fields,
    metadata_matches,
)
from reconcile.render.reasons import reason_text
from tests.engine.builders import (
    REGION,
    bound,
    bucket,
    desired,
    live,
    managed_bucket,
    managed_media,
    media,
    state,
    url,
    video,
)


def as_json(attributes: Attributes | None) -> dict[str, Any] | None:
    """The attributes as the plan JSON shows them."""
    return None if attributes is None else attributes_json(attributes)


def only(result, address):
    found = [c for c in result.changes if c.address == address]
    assert len(found) == 1, found
    return found[0]


# Input buckets


def test_unbound_bucket_is_bound_with_its_declared_attributes():
    result = plan_changes(desired(bucket("media-in", referer="https://a.example")), None, live(), prune=False)
    change = only(result, "input_bucket.media-in")
    assert (change.action, as_json(change.before), as_json(change.after), reason_text(change)) == (
        "bind",
        None,
        {"referer": "https://a.example"},
        "not bound",
    )
    assert change.location == SourceLocation(path="manifests/prod.yaml", line=3, col=7)
    assert (result.warnings, result.errors, result.unmanaged) == ((), (), ())


def test_bucket_unbound_outside_reconcile_is_bound_again():
    result = plan_changes(desired(bucket("media-in")), state(managed_bucket("media-in")), live(), prune=False)
    change = only(result, "input_bucket.media-in")
    assert (change.action, reason_text(change)) == (
        "bind",
        "unbound outside reconcile since the last apply: bind again",
    )


def test_referer_change_is_a_replacement_with_its_reason():
    result = plan_changes(
        desired(bucket("media-in", referer="https://new.example")),
        state(managed_bucket("media-in", referer="https://old.example")),
        live(bound("media-in", "https://old.example")),
        prune=False,
    )
    change = only(result, "input_bucket.media-in")
    assert change.action == "replace"
    assert change.changed == ("referer",)
    assert as_json(change.before) == {"referer": "https://old.example"}
    assert as_json(change.after) == {"referer": "https://new.example"}
    assert reason_text(change) == (
        "referer changed from 'https://old.example' to 'https://new.example': MPS cannot change it in place "
        "(unbind + bind)"
    )


def test_bucket_bound_outside_reconcile_with_another_referer_is_replaced():
    result = plan_changes(
        desired(bucket("media-in", referer="https://new.example")), None, live(bound("media-in", "x")), prune=False
    )
    change = only(result, "input_bucket.media-in")
    assert change.action == "replace"
    assert reason_text(change) == (
        "bound outside reconcile with referer 'x'; the manifest declares 'https://new.example' (unbind + bind)"
    )


def test_replacement_of_a_prevent_destroy_bucket_is_a_plan_error():
    result = plan_changes(
        desired(bucket("media-in", referer="https://new.example", prevent_destroy=True)),
        state(managed_bucket("media-in", referer="https://old.example", prevent_destroy=True)),
        live(bound("media-in", "https://old.example")),
        prune=False,
    )
    assert result.changes == ()
    assert [(e.address, e.message) for e in result.errors] == [
        (
            "input_bucket.media-in",
            "the referer must change from 'https://old.example' to 'https://new.example', which MPS does only by "
            "unbinding and binding the bucket again (a replacement), but prevent_destroy is set: revert the "
            "referer, or set prevent_destroy: false to allow the replacement",
        )
    ]


def test_undeclared_referer_is_not_diffed():
    result = plan_changes(
        desired(bucket("media-in")), state(managed_bucket("media-in")), live(bound("media-in", "x")), prune=False
    )
    change = only(result, "input_bucket.media-in")
    assert (change.action, change.state_only) == ("no-op", None)


def test_empty_and_absent_referer_are_the_same():
    result = plan_changes(
        desired(bucket("media-in", referer="")),
        state(managed_bucket("media-in", referer="")),
        live(bound("media-in", None)),
        prune=False,
    )
    assert only(result, "input_bucket.media-in").action == "no-op"


def test_bucket_bound_as_output_is_an_error_naming_the_conflict():
    result = plan_changes(desired(bucket("media-out")), None, live(bound("media-out", type_="Output")), prune=False)
    assert result.changes == ()
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.address == "input_bucket.media-out"
    assert error.location == SourceLocation(path="manifests/prod.yaml", line=3, col=7)
    assert error.message == (
        "bucket 'media-out' is bound to MPS in cn-shanghai as an output bucket; reconcile never unbinds it "
        "implicitly. Unbind the output bucket yourself (UnbindOutputBucket) or remove this entry from the manifest"
    )


def test_bucket_already_bound_as_declared_is_adopted_into_state_without_a_call():
    result = plan_changes(desired(bucket("media-in", referer="r")), None, live(bound("media-in", "r")), prune=False)
    change = only(result, "input_bucket.media-in")
    assert (change.action, change.state_only, reason_text(change)) == (
        "no-op",
        "put",
        "already bound as declared: recorded in state, no call",
    )


def test_unmanaged_input_buckets_are_listed_and_left_alone():
    result = plan_changes(
        desired(bucket("declared")),
        state(managed_bucket("owned")),
        live(bound("declared"), bound("owned"), bound("stranger", "https://s"), bound("outbound", type_="Output")),
        prune=False,
    )
    assert [(u.region, u.bucket, u.referer) for u in result.unmanaged] == [(REGION, "stranger", "https://s")]
    assert all(c.address != "input_bucket.stranger" for c in result.changes)


def test_without_refresh_buckets_are_planned_from_state():
    result = plan_changes(
        desired(bucket("kept", referer="a"), bucket("new"), bucket("changed", referer="b")),
        state(managed_bucket("kept", referer="a"), managed_bucket("changed", referer="old")),
        None,
        prune=False,
    )
    assert [(c.address, c.action) for c in result.changes] == [
        ("input_bucket.changed", "replace"),
        ("input_bucket.kept", "no-op"),
        ("input_bucket.new", "bind"),
    ]
    assert result.unmanaged == ()


def test_a_bucket_declared_in_another_region_than_it_is_managed_in_is_an_error():
    result = plan_changes(
        desired(bucket("media-in", region="cn-beijing")), state(managed_bucket("media-in")), live(), prune=False
    )
    assert result.changes == ()
    assert result.errors[0].message.startswith(
        "'media-in' is managed in cn-shanghai but now declared in cn-beijing; reconcile cannot move it"
    )


# Media


def test_media_not_in_state_is_registered_or_adopted():
    declared = media("a.mp4", name="intro", title="Intro", tags=("x", "y"), template_group_id="VOD_NO_TRANSCODE")
    result = plan_changes(desired(declared), None, live(), prune=False)
    change = only(result, "media.intro")
    assert change.action == "register"
    assert reason_text(change) == "not in state: register, or adopt if already registered"
    assert as_json(change.after) == {
        "file_url": "https://media.oss-cn-shanghai.aliyuncs.com/a.mp4",
        "title": "Intro",
        "tags": ["x", "y"],
        "template_group_id": "VOD_NO_TRANSCODE",
    }
    assert (as_json(change.before), change.remote_id) == (None, None)


def test_media_gone_from_vod_is_registered_again():
    declared = media("a.mp4")
    result = plan_changes(desired(declared), state(managed_media(declared, "v1")), live(gone=("v1",)), prune=False)
    change = only(result, declared.address)
    assert (change.action, reason_text(change)) == (
        "register",
        "gone from VOD since the last apply (deleted outside reconcile): register again",
    )


def test_changed_mutable_fields_are_updated_and_only_those_are_named():
    declared = media("a.mp4", title="New", description="same", tags=("b", "a"), cate_id=7)
    result = plan_changes(
        desired(declared),
        state(managed_media(declared, "v1", title="Old", cate_id=3)),
        live(video("v1", declared, title="Old", tags=("a", "b"), cate_id=3)),
        prune=False,
    )
    change = only(result, declared.address)
    assert change.action == "update"
    assert change.changed == ("title", "cate_id")  # tags differ in order only
    assert change.remote_id == "v1"
    assert as_json(change.before) == {  # as VOD holds it: fields it does not hold are absent
        "file_url": "https://media.oss-cn-shanghai.aliyuncs.com/a.mp4",
        "title": "Old",
        "description": "same",
        "tags": ["a", "b"],
        "cate_id": 3,
    }
    assert as_json(change.after)["title"] == "New"
    assert (
        reason_text(change) == "title, cate_id changed in the manifests: UpdateVideoInfos sends only the changed fields"
    )


def test_drift_outside_reconcile_is_planned_back():
    declared = media("a.mp4", title="Declared", tags=("a",))
    result = plan_changes(
        desired(declared),
        state(managed_media(declared, "v1")),
        live(video("v1", declared, title="Edited in the console", tags=("a", "extra"))),
        prune=False,
    )
    change = only(result, declared.address)
    assert change.changed == ("title", "tags")
    assert reason_text(change) == (
        "title, tags changed outside reconcile since the last apply: UpdateVideoInfos sends only the changed fields"
    )


def test_update_reason_says_per_field_whether_the_manifests_or_the_account_changed():
    declared = media("a.mp4", title="New title", description="d", tags=("a",), cate_id=7)
    result = plan_changes(
        desired(declared),
        state(managed_media(media("a.mp4", title="Old title", tags=("a",), cate_id=3), "v1")),
        live(video("v1", declared, title="Old title", description="set elsewhere", tags=("a", "console"), cate_id=5)),
        prune=False,
    )
    change = only(result, declared.address)
    assert change.changed == ("title", "description", "tags", "cate_id")
    # description was not declared at the last apply: newly declared is a manifest change, never "outside"
    assert reason_text(change) == (
        "title, description changed in the manifests; tags changed outside reconcile since the last apply; "
        "cate_id changed in the manifests and outside reconcile since the last apply: "
        "UpdateVideoInfos sends only the changed fields"
    )


def test_update_reason_without_refresh_names_manifest_changes():
    declared = media("a.mp4", title="New")
    result = plan_changes(desired(declared), state(managed_media(declared, "v1", title="Old")), None, prune=False)
    assert reason_text(only(result, declared.address)) == (
        "title changed in the manifests: UpdateVideoInfos sends only the changed fields"
    )


def test_undeclared_optional_fields_are_not_diffed():
    declared = media("a.mp4", title="T")
    result = plan_changes(
        desired(declared),
        state(managed_media(declared, "v1")),
        live(video("v1", declared, description="set elsewhere", tags=("t",), cate_id=9, cover_url="https://c")),
        prune=False,
    )
    change = only(result, declared.address)
    assert (change.action, change.state_only) == ("no-op", None)


def test_empty_description_declared_equals_absent_in_vod():
    declared = media("a.mp4", description="")
    result = plan_changes(
        desired(declared), state(managed_media(declared, "v1")), live(video("v1", declared)), prune=False
    )
    assert only(result, declared.address).action == "no-op"


def test_registration_only_fields_warn_and_make_no_call():
    declared = media("a.mp4", template_group_id="NEW_GROUP", workflow_id="wf-2", user_data={"Extend": {"a": 1}})
    registered = managed_media(declared, "v1", template_group_id="OLD_GROUP", workflow_id=None, user_data=None)
    result = plan_changes(desired(declared), state(registered), live(video("v1", declared)), prune=False)
    change = only(result, declared.address)
    assert (change.action, change.state_only) == ("no-op", None)
    # after keeps what the file was registered with: apply records the truth
    assert as_json(change.after)["template_group_id"] == "OLD_GROUP"
    assert "workflow_id" not in as_json(change.after)
    assert [w.message for w in result.warnings] == [
        "template_group_id changed from 'OLD_GROUP' to 'NEW_GROUP', but it only applies when a file is registered: "
        "no call is made and the registered file keeps 'OLD_GROUP'",
        'user_data changed from (not set) to \'{"Extend":{"a":1}}\', but it only applies when a file is '
        "registered: no call is made and the registered file keeps (not set)",
        "workflow_id changed from (not set) to 'wf-2', but it only applies when a file is registered: no call is "
        "made and the registered file keeps (not set)",
    ]
    assert {w.address for w in result.warnings} == {declared.address}
    assert result.warnings[0].location == SourceLocation(path="manifests/prod.yaml", line=10, col=7)


def test_renaming_an_entry_moves_its_state_address_without_a_call():
    declared = media("a.mp4", name="new-name")
    result = plan_changes(
        desired(declared),
        state(managed_media(declared, "v1", address="media.old-name")),
        live(video("v1", declared)),
        prune=True,
    )
    assert len(result.changes) == 1
    change = result.changes[0]
    assert (change.address, change.action, change.moved_from, change.state_only, change.remote_id) == (
        "media.new-name",
        "no-op",
        "media.old-name",
        "put",
        "v1",
    )


def test_without_refresh_media_are_compared_with_state():
    declared = media("a.mp4", title="New")
    result = plan_changes(desired(declared), state(managed_media(declared, "v1", title="Old")), None, prune=False)
    change = only(result, declared.address)
    assert (change.action, change.changed) == ("update", ("title",))


def test_prevent_destroy_toggle_is_recorded_in_state():
    declared = media("a.mp4", prevent_destroy=True)
    recorded = managed_media(media("a.mp4"), "v1")
    result = plan_changes(desired(declared), state(recorded), live(video("v1", declared)), prune=False)
    change = only(result, declared.address)
    assert (change.action, change.state_only, change.prevent_destroy) == ("no-op", "put", True)


# Removed from the manifests


def test_removed_resources_are_orphaned_without_prune():
    gone_media = media("old.mp4", name="old")
    result = plan_changes(
        desired(),
        state(managed_bucket("old-bucket"), managed_media(gone_media, "v1")),
        live(bound("old-bucket"), video("v1", gone_media)),
        prune=False,
    )
    assert [(c.address, c.action) for c in result.changes] == [
        ("input_bucket.old-bucket", "orphan"),
        ("media.old", "orphan"),
    ]
    assert [(w.address, w.message) for w in result.warnings] == [
        (
            "input_bucket.old-bucket",
            "removed from the manifests: kept in state, no call (orphaned); plan with --prune to unbind it from MPS",
        ),
        (
            "media.old",
            "removed from the manifests: kept in state, no call (orphaned); plan with --prune to delete it AND ITS "
            "SOURCE FILE IN OSS",
        ),
    ]
    assert result.unmanaged == ()  # a bucket the state owns is not unmanaged


def test_protected_orphans_without_prune_say_prune_keeps_them_and_how_to_release_them():
    protected = media("keep.mp4", name="keep", prevent_destroy=True)
    result = plan_changes(
        desired(),
        state(managed_bucket("keep-bucket", prevent_destroy=True), managed_media(protected, "v1")),
        live(bound("keep-bucket"), video("v1", protected)),
        prune=False,
    )
    assert [(c.address, c.action) for c in result.changes] == [
        ("input_bucket.keep-bucket", "orphan"),
        ("media.keep", "orphan"),
    ]
    assert [(w.address, w.message) for w in result.warnings] == [
        (
            "input_bucket.keep-bucket",
            "removed from the manifests: kept in state, no call (orphaned). prevent_destroy, remembered in state, "
            "protects it: --prune keeps it too. To let reconcile unbind it from MPS, declare it again with "
            "prevent_destroy: false and apply, then remove it and plan with --prune",
        ),
        (
            "media.keep",
            "removed from the manifests: kept in state, no call (orphaned). prevent_destroy, remembered in state, "
            "protects it: --prune keeps it too. To let reconcile delete it AND ITS SOURCE FILE IN OSS, declare it "
            "again with prevent_destroy: false and apply, then remove it and plan with --prune",
        ),
    ]
    # The changes' reasons say why in short; the warnings say what to do.
    assert [(c.reason_code, reason_text(c)) for c in result.changes] == [
        (ActionReason.PROTECTED, "removed from the manifests: kept, no call (prevent_destroy protects it)"),
        (ActionReason.PROTECTED, "removed from the manifests: kept, no call (prevent_destroy protects it)"),
    ]


def test_prune_unbinds_and_deletes_saying_the_source_file_goes_too():
    gone_media = media("old.mp4", name="old")
    result = plan_changes(
        desired(),
        state(managed_bucket("old-bucket", referer="r"), managed_media(gone_media, "v1")),
        live(bound("old-bucket", "r"), video("v1", gone_media)),
        prune=True,
    )
    unbind, delete = result.changes
    assert (unbind.action, reason_text(unbind), as_json(unbind.before)) == (
        "unbind",
        "removed from the manifests (--prune): unbound from MPS",
        {"referer": "r"},
    )
    assert (delete.action, delete.remote_id) == ("delete", "v1")
    assert reason_text(delete) == "removed from the manifests (--prune): DeleteVideo DELETES THE SOURCE FILE IN OSS TOO"
    assert as_json(delete.before)["file_url"] == "https://media.oss-cn-shanghai.aliyuncs.com/old.mp4"
    assert result.warnings == ()


def test_prevent_destroy_in_state_protects_after_removal_even_with_prune():
    protected = media("keep.mp4", name="keep", prevent_destroy=True)
    result = plan_changes(
        desired(),
        state(managed_bucket("keep-bucket", prevent_destroy=True), managed_media(protected, "v1")),
        live(bound("keep-bucket"), video("v1", protected)),
        prune=True,
    )
    assert [(c.address, c.action) for c in result.changes] == [
        ("input_bucket.keep-bucket", "orphan"),
        ("media.keep", "orphan"),
    ]
    assert result.warnings[1].message == (
        "removed from the manifests, but prevent_destroy protects it even with --prune: kept, no call. To let "
        "reconcile remove it, declare it again with prevent_destroy: false and apply first"
    )


def test_pruned_resources_already_gone_are_dropped_from_state_without_a_call():
    gone_media = media("old.mp4")
    result = plan_changes(
        desired(),
        state(managed_bucket("old-bucket"), managed_media(gone_media, "v1")),
        live(gone=("v1",)),
        prune=True,
    )
    assert [(c.action, c.state_only) for c in result.changes] == [("no-op", "remove"), ("no-op", "remove")]


def test_an_address_reused_for_another_file_keeps_the_old_file_under_its_identity_address():
    old_file = media("old.mp4", name="intro")
    new_file = media("new.mp4", name="intro")
    result = plan_changes(
        desired(new_file), state(managed_media(old_file, "v1")), live(video("v1", old_file)), prune=False
    )
    assert [(c.address, c.action, c.moved_from, c.state_only) for c in result.changes] == [
        ("media.intro", "register", None, None),
        ('media["media/old.mp4"]', "orphan", "media.intro", "put"),
    ]


# Attribute comparison


def test_changed_fields_ignores_tag_order_and_undeclared_fields():
    current = MediaAttributes(file_url=url("a.mp4"), title="a", tags=("x", "y"), description="kept")
    same = MediaAttributes(file_url=url("a.mp4"), title="a", tags=("y", "x"))
    assert changed_fields(current, same, MUTABLE_FIELDS) == ()
    other = MediaAttributes(file_url=url("a.mp4"), title="b", tags=("y",))
    assert changed_fields(current, other, MUTABLE_FIELDS) == ("title", "tags")


def test_a_converged_media_is_a_no_op_change_equal_to_a_validated_one():
    declared = media("a.mp4", description="d", tags=("x", "y"), cate_id=3, prevent_destroy=True)
    for refreshed in (live(video("v1", declared, tags=("y", "x"))), None):
        [change] = plan_changes(desired(declared), state(managed_media(declared, "v1")), refreshed, prune=False).changes
        assert (change.action, change.remote_id, change.changed, reason_text(change), change.state_only) == (
            "no-op",
            "v1",
            (),
            None,
            None,
        )
        assert change.after == change.before == declared.attributes
        assert change.location == SourceLocation(path="manifests/prod.yaml", line=10, col=7)
        validated = ResourceChange.model_validate(change.model_dump())
        assert change == validated
        assert change.model_dump_json() == validated.model_dump_json()


# (field, declared value or ABSENT, live value): one mutable field at a time, the others equal.
ABSENT = object()
LIVE_MATCH_CASES = [
    ("title", "A", "A"),
    ("title", "A", "B"),
    ("description", ABSENT, "anything"),
    ("description", "", None),
    ("description", "", ""),
    ("description", "d", None),
    ("description", "d", "d"),
    ("description", "d", "e"),
    ("tags", ABSENT, ("x",)),
    ("tags", [], ()),
    ("tags", ["x", "y"], ("y", "x")),
    ("tags", ["x", "x", "y"], ("y", "x")),
    ("tags", ["x"], ("x", "y")),
    ("tags", ["x", "y"], ()),
    ("cover_url", ABSENT, "https://c/1.jpg"),
    ("cover_url", "", None),
    ("cover_url", "https://c/1.jpg", None),
    ("cover_url", "https://c/1.jpg", "https://c/1.jpg"),
    ("cate_id", ABSENT, 4),
    ("cate_id", 4, 4),
    ("cate_id", 4, None),
    ("cate_id", 4, 5),
]


@pytest.mark.parametrize(("field", "declared_value", "live_value"), LIVE_MATCH_CASES)
def test_live_media_matches_agrees_with_changed_fields(field, declared_value, live_value):
    values = {} if declared_value is ABSENT else {field: tuple(declared_value) if field == "tags" else declared_value}
    declared = MediaAttributes(file_url=url("a.mp4"), **({"title": "A"} | values))
    current = VideoInfo(video_id="v1", **({"title": "A"} | {field: live_value}))
    expected = changed_fields(current, declared, MUTABLE_FIELDS) == ()
    assert metadata_matches(current, declared) is expected


# Reason codes (plan JSON 1.2): what a program switches on, one per rule


def test_each_bucket_rule_gives_its_reason_code():
    result = plan_changes(
        desired(
            bucket("adopted", referer="r"),
            bucket("outdated", prevent_destroy=True),
            bucket("stranger", referer="mine"),
            bucket("unbound-outside"),
        ),
        state(
            managed_bucket("outdated"),
            managed_bucket("unbound-outside"),
            managed_bucket("kept"),
            managed_bucket("guarded", prevent_destroy=True),
        ),
        live(bound("adopted", "r"), bound("outdated"), bound("stranger", "theirs"), bound("kept"), bound("guarded")),
        prune=False,
    )
    assert {c.address: (c.action, c.reason_code) for c in result.changes} == {
        "input_bucket.adopted": ("no-op", "adopted"),
        "input_bucket.outdated": ("no-op", "state_outdated"),
        "input_bucket.stranger": ("replace", "referer_differs"),
        "input_bucket.unbound-outside": ("bind", "gone_outside"),
        "input_bucket.kept": ("orphan", "orphaned"),
        "input_bucket.guarded": ("orphan", "protected"),
    }


def test_pruning_gives_pruned_or_already_gone_and_a_converged_resource_no_code():
    declared = media("a.mp4")
    result = plan_changes(
        desired(declared),
        state(managed_media(declared, "v1"), managed_bucket("bound"), managed_bucket("gone")),
        live(video("v1", declared), bound("bound")),
        prune=True,
    )
    assert {c.address: (c.action, c.reason_code, reason_text(c) is None) for c in result.changes} == {
        declared.address: ("no-op", None, True),
        "input_bucket.bound": ("unbind", "pruned", False),
        "input_bucket.gone": ("no-op", "already_gone", False),
    }
