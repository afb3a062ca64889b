"""What valid manifests declare: exact DesiredState contents, media_defaults, warnings, order and digest."""

from __future__ import annotations

import hashlib

from reconcile.manifest import (
    DesiredBucket,
    DesiredMedia,
    SourceLocation,
    Warning_,
    load_desired_state,
    manifest_digest,
)
from reconcile.manifest.sources import ManifestFile
from reconcile.model.media import MediaAttributes
from tests.manifest.conftest import OSS, Load, Write

DEFAULTS = (
    "region: cn-shanghai\n"
    "media_defaults:\n"
    "  template_group_id: VOD_NO_TRANSCODE\n"
    "  tags: [catalog]\n"
    "  cate_id: 1000\n"
    "  user_data: {Extend: {team: growth}}\n"
    "  description: From the catalog.\n"
    "media:\n"
)


def test_a_full_entry(load: Load) -> None:
    text = (
        "region: cn-shanghai\n"
        "input_buckets:\n"
        "  - bucket: media-in\n"
        '    referer: "https://example.com"\n'
        "    prevent_destroy: true\n"
        "media:\n"
        f"  - file_url: {OSS}/raw/intro.mp4\n"
        "    name: intro\n"
        "    title: Intro\n"
        "    description: First episode\n"
        "    tags: [launch, promo]\n"
        f"    cover_url: {OSS}/covers/intro.jpg\n"
        "    cate_id: 1000\n"
        "    template_group_id: VOD_NO_TRANSCODE\n"
        "    workflow_id: null\n"
        "    user_data: {Extend: {team: growth}}\n"
        "    prevent_destroy: false\n"
    )
    state = load(text)
    assert state.buckets == (
        DesiredBucket(
            address="input_bucket.media-in",
            region="cn-shanghai",
            bucket="media-in",
            referer="https://example.com",
            prevent_destroy=True,
            location=SourceLocation("m.yaml", 3, 5),
        ),
    )
    assert state.media == (
        DesiredMedia(
            address="media.intro",
            region="cn-shanghai",
            identity="media-in/raw/intro.mp4",
            oss_bucket="media-in",
            storage_location="media-in.oss-cn-shanghai.aliyuncs.com",
            attributes=MediaAttributes(
                file_url=f"{OSS}/raw/intro.mp4",
                title="Intro",
                description="First episode",
                tags=("launch", "promo"),
                cover_url=f"{OSS}/covers/intro.jpg",
                cate_id=1000,
                template_group_id="VOD_NO_TRANSCODE",
                workflow_id=None,
                user_data='{"Extend":{"team":"growth"}}',
            ),
            prevent_destroy=False,
            name="intro",
            location=SourceLocation("m.yaml", 7, 5),
        ),
    )
    assert state.files == ("m.yaml",)
    assert state.warnings == ()


def test_an_unnamed_entry_is_addressed_by_its_object(load: Load) -> None:
    (media,) = load(f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/raw/a%20b.mp4\n    title: A\n").media
    assert media.address == 'media["media-in/raw/a b.mp4"]'
    assert (
        media.attributes.description,
        media.attributes.tags,
        media.attributes.cate_id,
        media.attributes.user_data,
        media.prevent_destroy,
    ) == (
        None,
        None,
        None,
        None,
        False,
    )


def test_media_defaults_fill_in_and_entries_replace_them_whole(load: Load) -> None:
    text = (
        DEFAULTS
        + f"  - file_url: {OSS}/a.mp4\n    title: Inherits everything\n"
        + f"  - file_url: {OSS}/b.mp4\n    title: Own tags and user_data\n"
        + "    tags: [promo]\n    user_data: {Extend: {campaign: spring}}\n"
        + f"  - file_url: {OSS}/c.mp4\n    title: Clears defaults\n"
        + "    tags: ~\n    cate_id: null\n    description:\n    user_data: ~\n    template_group_id: ~\n"
    )
    a, b, c = load(text).media
    assert (
        a.attributes.tags,
        a.attributes.cate_id,
        a.attributes.user_data,
        a.attributes.description,
        a.attributes.template_group_id,
    ) == (
        ("catalog",),
        1000,
        '{"Extend":{"team":"growth"}}',
        "From the catalog.",
        "VOD_NO_TRANSCODE",
    )
    assert (b.attributes.tags, b.attributes.user_data, b.attributes.cate_id) == (
        ("promo",),
        '{"Extend":{"campaign":"spring"}}',
        1000,
    )
    a = c.attributes
    assert (a.tags, a.cate_id, a.description, a.user_data, a.template_group_id) == (None, None, None, None, None)


def test_defaults_apply_only_within_their_document(load: Load) -> None:
    text = DEFAULTS + f"  - file_url: {OSS}/a.mp4\n    title: A\n---\nregion: cn-shanghai\nmedia:\n"
    text += f"  - file_url: {OSS}/b.mp4\n    title: B\n"
    a, b = load(text).media
    assert (a.attributes.tags, b.attributes.tags, b.attributes.cate_id, b.attributes.template_group_id) == (
        ("catalog",),
        None,
        None,
        None,
    )


def test_both_template_group_and_workflow_warn_and_keep_both(load: Load) -> None:
    text = (
        "region: cn-shanghai\n"
        "media:\n"
        f"  - file_url: {OSS}/a.mp4\n"
        "    title: A\n"
        "    template_group_id: VOD_NO_TRANSCODE\n"
        "    workflow_id: wf-1\n"
    )
    state = load(text)
    assert state.warnings == (
        Warning_(
            SourceLocation("m.yaml", 6, 5),
            "both `template_group_id` and `workflow_id` are set: workflow_id wins at the API, "
            "template_group_id is ignored; remove one",
        ),
    )
    (media,) = state.media
    assert (media.attributes.template_group_id, media.attributes.workflow_id) == ("VOD_NO_TRANSCODE", "wf-1")
    assert str(state.warnings[0]).startswith("m.yaml:6:5: warning: both `template_group_id`")


def test_a_conflict_with_the_defaults_is_warned_at_the_entry(load: Load) -> None:
    text = (
        DEFAULTS
        + f"  - file_url: {OSS}/a.mp4\n    title: A\n    workflow_id: wf-1\n"
        + f"  - file_url: {OSS}/b.mp4\n    title: B\n    workflow_id: wf-1\n    template_group_id: null\n"
    )
    state = load(text)
    assert [str(w) for w in state.warnings] == [
        "m.yaml:11:5: warning: `workflow_id` is set and media_defaults sets `template_group_id` (line 3): "
        "workflow_id wins at the API, template_group_id is ignored; add `template_group_id: null` to this entry "
        "to say so"
    ]
    assert [(m.attributes.template_group_id, m.attributes.workflow_id) for m in state.media] == [
        ("VOD_NO_TRANSCODE", "wf-1"),
        (None, "wf-1"),
    ]


def test_a_template_group_under_a_default_workflow_is_warned(load: Load) -> None:
    text = (
        "region: cn-shanghai\nmedia_defaults:\n  workflow_id: wf-1\nmedia:\n"
        f"  - file_url: {OSS}/a.mp4\n    title: A\n    template_group_id: VOD_NO_TRANSCODE\n"
    )
    assert [str(w) for w in load(text).warnings] == [
        "m.yaml:7:5: warning: `template_group_id` is ignored: media_defaults sets `workflow_id` (line 3), and "
        "workflow_id wins at the API; add `workflow_id: null` to this entry to use the template group"
    ]


def test_a_conflict_inside_the_defaults_is_warned_once(load: Load) -> None:
    text = (
        "region: cn-shanghai\nmedia_defaults:\n  template_group_id: VOD_NO_TRANSCODE\n  workflow_id: wf-1\nmedia:\n"
        f"  - file_url: {OSS}/a.mp4\n    title: A\n"
        f"  - file_url: {OSS}/b.mp4\n    title: B\n"
    )
    assert [str(w) for w in load(text).warnings] == [
        "m.yaml:4:3: warning: both `template_group_id` and `workflow_id` are set: workflow_id wins at the API, "
        "template_group_id is ignored; remove one"
    ]


def test_entries_are_sorted_by_address_and_files_by_path(write: Write) -> None:
    write("z.yaml", f"region: cn-shanghai\nmedia:\n  - {{file_url: '{OSS}/z.mp4', title: Z, name: a-first}}\n")
    write(
        "sub/a.yaml",
        f"region: ap-southeast-1\nmedia:\n  - {{file_url: '{OSS.replace('cn-shanghai', 'ap-southeast-1')}/a.mp4', title: A}}\n",
    )
    write("sub/a.yaml.bak", "not a manifest")
    write(".hidden/x.yaml", "not even YAML: [")
    state = load_desired_state(["."], env={})
    assert state.files == ("sub/a.yaml", "z.yaml")
    assert [(m.address, m.region) for m in state.media] == [
        ("media.a-first", "cn-shanghai"),
        ('media["media-in/a.mp4"]', "ap-southeast-1"),
    ]


def test_the_digest_covers_paths_and_bytes(write: Write) -> None:
    write("m.yaml", "region: cn-shanghai\n")
    first = load_desired_state(["m.yaml"], env={}).digest
    assert first == manifest_digest([ManifestFile("m.yaml", b"region: cn-shanghai\n")])
    expected = hashlib.sha256(b"6:m.yaml20:region: cn-shanghai\n").hexdigest()
    assert first == expected
    write("m.yaml", "region: cn-shanghai  \n")
    assert load_desired_state(["m.yaml"], env={}).digest != first
    assert manifest_digest([ManifestFile("n.yaml", b"region: cn-shanghai\n")]) != first


def test_the_digest_ignores_argument_order(write: Write) -> None:
    write("a.yaml", "region: cn-shanghai\n")
    write("b.yaml", "region: cn-beijing\n")
    assert (
        load_desired_state(["a.yaml", "b.yaml"], env={}).digest
        == load_desired_state(["b.yaml", "a.yaml"], env={}).digest
    )


def test_the_digest_covers_the_variables_the_manifests_use(write: Write) -> None:
    # The same bytes read under another MEDIA_ENV declare other buckets: a plan saved for staging
    # must be refused when applied with MEDIA_ENV=prod.
    write("m.yaml", "region: cn-shanghai\ninput_buckets:\n  - bucket: media-${MEDIA_ENV:-prod}\n")
    unset = load_desired_state(["m.yaml"], env={}).digest
    prod = load_desired_state(["m.yaml"], env={"MEDIA_ENV": "prod"}).digest
    staging = load_desired_state(["m.yaml"], env={"MEDIA_ENV": "staging"}).digest
    assert len({unset, prod, staging}) == 3
    # Variables the manifests never mention do not matter.
    assert load_desired_state(["m.yaml"], env={"MEDIA_ENV": "staging", "HOME": "/x"}).digest == staging
