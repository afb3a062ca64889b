"""Which files a manifest set is made of, and what happens when a path is wrong."""

from __future__ import annotations

from typing import NoReturn

import pytest

from reconcile.manifest import ManifestError, load_desired_state, sources
from tests.manifest.conftest import Write

VALID = "region: cn-shanghai\n"


def errors(paths: list[str]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_desired_state(paths, env={})
    return [str(d) for d in caught.value.diagnostics]


def test_directories_are_searched_recursively_for_yaml_and_yml(write: Write) -> None:
    write("manifests/a.yaml", VALID)
    write("manifests/deep/er/b.yml", VALID)
    write("manifests/c.YAML.txt", "ignored")
    write("manifests/README.md", "ignored")
    write("manifests/.d.yaml", "ignored: hidden")
    write("manifests/.git/e.yaml", "ignored: hidden directory")
    assert load_desired_state(["manifests"], env={}).files == ("manifests/a.yaml", "manifests/deep/er/b.yml")


def test_a_named_file_is_read_whatever_its_extension(write: Write) -> None:
    write("prod.manifest", VALID)
    assert load_desired_state(["prod.manifest"], env={}).files == ("prod.manifest",)


def test_a_file_named_twice_is_read_once(write: Write) -> None:
    write("manifests/a.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: media-in}]\n")
    state = load_desired_state(["manifests", "manifests/a.yaml", "./manifests/a.yaml"], env={})
    assert state.files == ("manifests/a.yaml",)
    assert len(state.buckets) == 1


def test_paths_are_reported_as_given(write: Write) -> None:
    write("manifests/a.yaml", "region: nowhere\n")
    assert errors(["./manifests/a.yaml"]) == [
        "./manifests/a.yaml:1:9: `region` must be a region id such as cn-shanghai or ap-southeast-1, got `nowhere`"
    ]


def test_missing_paths_and_empty_directories_are_reported_with_the_rest(write: Write, workdir) -> None:
    write("manifests/a.yaml", "region: nowhere\n")
    (workdir / "empty").mkdir()
    assert errors(["manifests", "missing.yaml", "empty"]) == [
        "empty:1:1: no manifest files (*.yaml, *.yml) in this directory",
        "manifests/a.yaml:1:9: `region` must be a region id such as cn-shanghai or ap-southeast-1, got `nowhere`",
        "missing.yaml:1:1: no such file or directory",
    ]


def test_an_unreadable_file_is_reported(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    write("m.yaml", VALID)

    def denied(path: str, flags: int) -> NoReturn:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(sources.os, "open", denied)  # tests run as root, who can read anything
    assert errors(["m.yaml"]) == ["m.yaml:1:1: cannot read the file: Permission denied"]


def test_a_dangling_symlink_is_not_a_file(workdir) -> None:
    (workdir / "link.yaml").symlink_to(workdir / "gone.yaml")
    assert errors(["link.yaml"]) == ["link.yaml:1:1: not a regular file or directory"]


def test_no_paths_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one manifest path"):
        load_desired_state([])


def test_path_objects_are_accepted(write: Write, workdir) -> None:
    write("m.yaml", VALID)
    assert load_desired_state([workdir / "m.yaml"], env={}).files == (str(workdir / "m.yaml"),)
