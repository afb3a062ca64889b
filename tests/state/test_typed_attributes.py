"""A state's attributes are typed by the resource model: a hand-edited line of the wrong shape is refused, located."""

from __future__ import annotations

import pytest

from reconcile.model.media import BucketAttributes, MediaAttributes
from reconcile.state.snapshot import decode_snapshot, encode_snapshot
from reconcile.state.store import StateError

HEADER = b'{"version":1,"lineage":"L","serial":1,"resources":[\n'
URL = "https://media.oss-cn-shanghai.aliyuncs.com/a.mp4"
MEDIA = '{"address":"media.a","kind":"media","identity":"media/a.mp4","region":"cn-shanghai","remote_id":"v1",'
BUCKET = '{"address":"input_bucket.b","kind":"input_bucket","identity":"b","region":"cn-shanghai","remote_id":null,'


def decode(line: str) -> object:
    return decode_snapshot(HEADER + line.encode() + b"\n]}\n", "state.json", "Restore it from state.json.backup.")


def test_media_and_bucket_attributes_read_back_as_their_classes_and_write_the_same_bytes() -> None:
    media = (
        MEDIA
        + f'"attributes":{{"file_url":"{URL}","title":"A","tags":["x","y"],"cate_id":7}},"prevent_destroy":false}}'
    )
    bucket = BUCKET + '"attributes":{"referer":"https://example.com"},"prevent_destroy":true}'
    data = HEADER + f"{bucket},\n{media}\n]}}\n".encode()
    doc = decode_snapshot(data, "state.json", "")
    assert [r.attributes for r in doc.resources] == [
        BucketAttributes(referer="https://example.com"),
        MediaAttributes(file_url=URL, title="A", tags=("x", "y"), cate_id=7),
    ]
    assert encode_snapshot(doc) == data


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            MEDIA + f'"attributes":{{"file_url":"{URL}","title":7}},"prevent_destroy":false}}',
            "state file state.json:2 is not a valid reconcile state: resources[0].attributes.media.title: Input "
            "should be a valid string (1 error). Restore it from state.json.backup.",
        ),
        (
            MEDIA + '"attributes":{},"prevent_destroy":false}',
            "state file state.json:2 is not a valid reconcile state: resources[0]: Value error, the attributes of "
            "kind media must be a media's (file_url, title, ...) (1 error). Restore it from state.json.backup.",
        ),
        (
            BUCKET + '"attributes":{"referer":"x","colour":"red"},"prevent_destroy":false}',
            "state file state.json:2 is not a valid reconcile state: resources[0].attributes.bucket.colour: "
            "Unexpected keyword argument (1 error). Restore it from state.json.backup.",
        ),
        (
            BUCKET + f'"attributes":{{"file_url":"{URL}","title":"t"}},"prevent_destroy":false}}',
            "state file state.json:2 is not a valid reconcile state: resources[0]: Value error, the attributes of "
            "kind input_bucket must be an input bucket's (referer) (1 error). Restore it from state.json.backup.",
        ),
    ],
    ids=["wrong type", "media without its fields", "unknown field", "media fields on a bucket"],
)
def test_attributes_of_the_wrong_shape_are_refused_naming_the_line_and_field(line: str, message: str) -> None:
    with pytest.raises(StateError) as refused:
        decode(line)
    assert str(refused.value) == message
