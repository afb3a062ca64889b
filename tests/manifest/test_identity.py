"""Identity across the whole manifest set: a bucket, a media file or a name declared twice names both places."""

from __future__ import annotations

import pytest

from reconcile.manifest import ManifestError, load_desired_state
from tests.manifest.conftest import OSS, Write


def errors(paths: list[str]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_desired_state(paths, env={})
    return [str(d) for d in caught.value.diagnostics]


def test_a_bucket_declared_in_two_files(write: Write) -> None:
    write("manifests/a.yaml", "region: cn-shanghai\ninput_buckets:\n  - bucket: media-in\n")
    write("manifests/b.yaml", "region: cn-shanghai\n\ninput_buckets:\n  - {bucket: media-in, referer: x}\n")
    assert errors(["manifests"]) == [
        "manifests/b.yaml:4:6: input bucket `media-in` is declared twice: first at manifests/a.yaml:3:5; remove one"
    ]


def test_http_and_https_urls_of_one_object_are_one_media(write: Write) -> None:
    write("manifests/a.yaml", f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/raw/intro.mp4\n    title: A\n")
    write(
        "manifests/b.yaml",
        "region: cn-shanghai\nmedia:\n"
        "  - file_url: http://media-in.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4\n    title: B\n",
    )
    assert errors(["manifests"]) == [
        "manifests/b.yaml:3:5: media `media-in/raw/intro.mp4` is declared twice: first at manifests/a.yaml:3:5 "
        f"as {OSS}/raw/intro.mp4 (http and https URLs of one object are the same media); remove one"
    ]


def test_percent_encoding_does_not_hide_a_duplicate(write: Write) -> None:
    write(
        "m.yaml",
        "region: cn-shanghai\nmedia:\n"
        f"  - file_url: {OSS}/raw/my%20clip.mp4\n    title: A\n"
        f"  - file_url: {OSS}/raw/my clip.mp4\n    title: B\n",
    )
    assert errors(["m.yaml"]) == [
        f"m.yaml:5:5: media `media-in/raw/my clip.mp4` is declared twice: first at m.yaml:3:5 as {OSS}/raw/my%20clip.mp4 "
        "(http and https URLs of one object are the same media); remove one"
    ]


def test_the_same_key_in_two_buckets_is_two_media(write: Write) -> None:
    write(
        "m.yaml",
        "region: cn-shanghai\nmedia:\n"
        f"  - file_url: {OSS}/raw/intro.mp4\n    title: A\n"
        "  - file_url: https://media-two.oss-cn-shanghai.aliyuncs.com/raw/intro.mp4\n    title: B\n",
    )
    state = load_desired_state(["m.yaml"], env={})
    assert [m.identity for m in state.media] == ["media-in/raw/intro.mp4", "media-two/raw/intro.mp4"]


def test_a_name_used_twice(write: Write) -> None:
    write("a.yaml", f"region: cn-shanghai\nmedia:\n  - name: intro\n    file_url: {OSS}/a.mp4\n    title: A\n")
    write("b.yaml", f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/b.mp4\n    name: intro\n    title: B\n")
    assert errors(["a.yaml", "b.yaml"]) == [
        "b.yaml:4:5: media name `intro` is used twice: first at a.yaml:3:5; names are unique"
    ]


def test_duplicates_are_found_while_other_fields_are_broken(write: Write) -> None:
    write(
        "m.yaml",
        "region: cn-shanghai\nmedia:\n"
        f"  - file_url: {OSS}/a.mp4\n    title: A\n"
        f"  - file_url: {OSS}/a.mp4\n    title: ~\n",
    )
    assert errors(["m.yaml"]) == [
        "m.yaml:5:5: media `media-in/a.mp4` is declared twice: first at m.yaml:3:5; remove one",
        "m.yaml:6:12: `title` is required, but is null here",
    ]


def test_first_means_first_in_path_order_whatever_the_argument_order(write: Write) -> None:
    write("a.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: media-in}]\n")
    write("b.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: media-in}]\n")
    expected = ["b.yaml:2:18: input bucket `media-in` is declared twice: first at a.yaml:2:18; remove one"]
    assert errors(["b.yaml", "a.yaml"]) == expected
    assert errors(["a.yaml", "b.yaml"]) == expected
