"""Generated manifests read back exactly: text stays text, Unicode as written, `$` never a variable."""

from __future__ import annotations

import pytest

from reconcile.manifest import load_desired_state
from reconcile.manifest.emit import fold_defaults, input_buckets_document, media_document

URL = "https://media.oss-cn-shanghai.aliyuncs.com/v/{}.mp4"
TRICKY = ["no", "yes", "on", "1.10", "2024-01-01", "~", "null", "0x10", "*star", "- dash", "a: b", "#hash",
          "港口之旅 — Überfahrt", "$5 ${HOME} $$", "'quoted'", '"double"', "  padded", "[x]"]  # fmt: skip


@pytest.mark.parametrize("title", TRICKY)
def test_every_text_reads_back_as_written(tmp_path, title):
    text = media_document(
        "cn-shanghai",
        [
            {"file_url": URL.format("a"), "title": title, "description": f"{title}\nsecond line", "tags": [title, "x"]},
            {"file_url": URL.format("b"), "title": "plain", "tags": ["no", "1.10"]},
        ],
    )
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    desired = load_desired_state([path], env={"HOME": "/root"})
    first, second = sorted(desired.media, key=lambda m: m.file_url)
    assert (first.attributes.title, first.attributes.description, first.attributes.tags) == (
        title,
        f"{title}\nsecond line",
        (title, "x"),
    )
    assert second.attributes.tags == ("no", "1.10")
    if "$" not in title:
        assert title in text or title.replace("'", "''") in text  # as written: Unicode is not escaped


def test_shared_values_fold_into_media_defaults_and_the_rest_stay():
    defaults, entries = fold_defaults(
        [
            {"file_url": "a", "title": "A", "cate_id": 7, "tags": ["x"], "description": "d"},
            {"file_url": "b", "title": "B", "cate_id": 7, "tags": ["x"]},
        ]
    )
    assert defaults == {"tags": ["x"], "cate_id": 7}
    assert entries == [{"file_url": "a", "title": "A", "description": "d"}, {"file_url": "b", "title": "B"}]
    assert fold_defaults([{"file_url": "a", "title": "A", "cate_id": 7}]) == (
        {},
        [{"file_url": "a", "title": "A", "cate_id": 7}],
    )


def test_documents_carry_the_modeline_and_read_the_way_the_readme_writes_them(tmp_path):
    text = media_document(
        "cn-shanghai",
        [
            {
                "name": "a",
                "file_url": URL.format("a"),
                "title": "A",
                "tags": ["t"],
                "template_group_id": "VOD_NO_TRANSCODE",
            },
            {"name": "b", "file_url": URL.format("b"), "title": "B", "template_group_id": "VOD_NO_TRANSCODE"},
        ],
        ["", "Imported."],
    )
    assert text == (
        "# yaml-language-server: $schema=manifest.schema.json\n"
        "#\n"
        "# Imported.\n"
        "region: cn-shanghai\n"
        "media_defaults:\n"
        "  template_group_id: VOD_NO_TRANSCODE\n"
        "media:\n"
        "  - name: a\n"
        f"    file_url: {URL.format('a')}\n"
        "    title: A\n"
        "    tags: [t]\n"
        "  - name: b\n"
        f"    file_url: {URL.format('b')}\n"
        "    title: B\n"
    )
    buckets = input_buckets_document("cn-shanghai", [{"bucket": "in", "referer": "*.example"}, {"bucket": "raw"}])
    assert buckets == (
        "# yaml-language-server: $schema=manifest.schema.json\n"
        "region: cn-shanghai\n"
        "input_buckets:\n"
        "  - bucket: in\n"
        "    referer: '*.example'\n"
        "  - bucket: raw\n"
    )
    (tmp_path / "b.yaml").write_text(buckets)
    (tmp_path / "m.yaml").write_text(text)
    desired = load_desired_state([tmp_path], env={})
    assert [(b.bucket, b.referer) for b in desired.buckets] == [("in", "*.example"), ("raw", None)]
    assert [(m.address, m.attributes.template_group_id) for m in desired.media] == [
        ("media.a", "VOD_NO_TRANSCODE"),
        ("media.b", "VOD_NO_TRANSCODE"),
    ]
