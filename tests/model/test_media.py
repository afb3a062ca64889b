"""The resource model's tables: every field once, with its wire name, role and kind, in the canonical order."""

from __future__ import annotations

import dataclasses

from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata, VideoInfo, VideoUpdate
from reconcile.cloud.operations import register_media_params, update_video_infos_params
from reconcile.manifest.fields import MEDIA
from reconcile.model.media import (
    MEDIA_FIELDS,
    MUTABLE_NAMES,
    MediaAttributes,
    Role,
    attributes_json,
    metadata_of,
)

URL = "https://media.oss-cn-shanghai.aliyuncs.com/a.mp4"


def test_the_media_fields_in_their_canonical_order_with_their_wire_names_and_roles() -> None:
    assert [(f.name, f.wire, f.role) for f in MEDIA_FIELDS] == [
        ("file_url", "FileURL", Role.IDENTITY),
        ("title", "Title", Role.MUTABLE),
        ("description", "Description", Role.MUTABLE),
        ("tags", "Tags", Role.MUTABLE),
        ("cover_url", "CoverURL", Role.MUTABLE),
        ("cate_id", "CateId", Role.MUTABLE),
        ("template_group_id", "TemplateGroupId", Role.REGISTRATION),
        ("workflow_id", "WorkflowId", Role.REGISTRATION),
        ("user_data", "UserData", Role.REGISTRATION),
    ]
    assert {f.name for f in dataclasses.fields(MediaAttributes)} == {f.name for f in MEDIA_FIELDS}


def test_every_media_field_is_a_manifest_key_and_every_metadata_field_a_field_of_the_client_models() -> None:
    assert set(MEDIA.fields) - {"name", "prevent_destroy"} == {f.name for f in MEDIA_FIELDS}
    for model in (RegisterMetadata, VideoUpdate, VideoInfo):
        assert set(MUTABLE_NAMES) <= {f.name for f in dataclasses.fields(model)}


def test_the_client_sends_each_metadata_field_by_its_wire_name_and_only_those_set() -> None:
    attributes = MediaAttributes(file_url=URL, title="A", tags=("x", "y"), cate_id=7, workflow_id="wf")
    request = RegisterMediaRequest(metadatas=(RegisterMetadata(file_url=URL, **metadata_of(attributes)),))
    assert register_media_params(request)["RegisterMetadatas"] == (
        f'[{{"FileURL":"{URL}","Title":"A","Tags":"x,y","CateId":7}}]'
    )
    update = VideoUpdate(video_id="v1", description="")
    assert update_video_infos_params([update]) == {"UpdateContent": '[{"VideoId":"v1","Description":""}]'}


def test_json_holds_the_fields_set_in_canonical_order_with_tags_as_a_list() -> None:
    attributes = MediaAttributes(cate_id=7, tags=("x",), title="A", file_url=URL)
    assert list(attributes_json(attributes).items()) == [
        ("file_url", URL),
        ("title", "A"),
        ("tags", ["x"]),
        ("cate_id", 7),
    ]
