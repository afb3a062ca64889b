"""Onboarding an account that a team's scripts filled with the official SDKs (issue 16, "Done when").

A real emulator process; the account is filled with alibabacloud-vod20170321 and alibabacloud-mts20140618 as
scripts would: 300 media over 3 OSS buckets (100 audio), varied titles, tags, descriptions and categories,
4 input buckets and an output bucket. Then `reconcile import` → `validate` → `plan --detailed-exitcode`
(exit 0), with no mutating call from either; two edited titles; --target; state mv / rm; media health.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_mts20140618 import models as mts
from alibabacloud_vod20170321 import models as vod

from reconcile.cli.main import main
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import RunningEmulator, start_emulator
from tests.conformance.conftest import mts_client, vod_client

pytestmark = pytest.mark.conformance

MUTATING = {
    "RegisterMedia",
    "UpdateVideoInfos",
    "DeleteVideo",
    "BindInputBucket",
    "UnbindInputBucket",
    "BindOutputBucket",
    "UnbindOutputBucket",
}
UNICODE_TITLE = "港口之旅 — Überfahrt Ⅱ"
SPECIAL_TITLES = {0: "no", 1: "1.10", 2: UNICODE_TITLE, 3: "cost $5 at ${HOME}", 4: "2024-01-01", 5: "on"}
INPUT_BUCKETS = {
    "ingest-east": "https://www.example.org",
    "ingest-west": None,
    "raw-drop": None,
    "vendor-feed": "*.cdn.example",
}
TAG_SETS = [["harbor", "tour"], ["studio"], [], ["catalog", "2024", "no"]]


def host(bucket: str) -> str:
    return f"https://{bucket}.oss-cn-shanghai.aliyuncs.com"


def fill_account(url: str) -> dict[str, str]:
    """What the team's scripts did, through the official SDKs. Returns file URL → media id."""
    mps, vod_ = mts_client(url), vod_client(url)
    for bucket, referer in INPUT_BUCKETS.items():
        mps.bind_input_bucket(mts.BindInputBucketRequest(bucket=bucket, referer=referer))
    mps.bind_output_bucket(mts.BindOutputBucketRequest(bucket="transcoded-out"))
    ids: dict[str, str] = {}
    batches: list[tuple[str | None, list[dict[str, Any]]]] = []
    for bucket, prefix, extension, template in (
        ("harbor-media", "harbor", "mp4", "VOD_NO_TRANSCODE"),
        ("studio-raw", "studio", "mov", None),
        ("podcast-vault", "episode", "mp3", None),
    ):
        items: list[dict[str, Any]] = []
        for i in range(100):
            item: dict[str, Any] = {
                "FileURL": f"{host(bucket)}/{prefix}/{prefix}-{i:03d}.{extension}",
                "Title": SPECIAL_TITLES.get(i, f"{prefix.title()} take {i}")
                if bucket == "harbor-media"
                else f"{prefix.title()} take {i}",
            }
            tags = TAG_SETS[i % len(TAG_SETS)]
            if tags:
                item["Tags"] = ",".join(tags)
            if i % 3:
                item["Description"] = f"Reel {i} of the {prefix} series: 50% off, <b>not</b> HTML"
            if i % 5:
                item["CateId"] = 1000 + i % 2
            items.append(item)
        batches += [(template, items[start : start + 10]) for start in range(0, 100, 10)]
    for template, batch in batches:
        request = vod.RegisterMediaRequest(register_metadatas=json.dumps(batch), template_group_id=template)
        body = vod_.register_media(request).body
        assert body.failed_file_urls == []
        ids.update({m.file_url: m.media_id for m in body.registered_media_list})
    return ids


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(auto_objects=True) as running:
        yield running


@pytest.fixture
def reconcile(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    emulator.control.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILE_ENDPOINT", emulator.url)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def mutating_calls(emulator: RunningEmulator) -> dict[str, int]:
    actions = emulator.control.stats()["actions"]
    return {name: counters["calls"] for name, counters in actions.items() if name in MUTATING}


def test_import_an_sdk_filled_account_then_plan_is_a_no_op(emulator, reconcile, tmp_path):
    ids = fill_account(emulator.url)
    assert len(ids) == 300
    before = mutating_calls(emulator)

    imported = reconcile("import", "--region", "cn-shanghai", "--out", "imported")
    assert imported.code == 0, imported.err
    assert imported.err.startswith(
        "Found 300 media; reading the source file of 300 with GetMezzanineInfo (paced at the account's limit): "
        "about 4 s.\n"
    )
    assert "  source files read: 300 of 300 (100%)\n" in imported.err
    assert imported.out.startswith(
        "Imported 4 input buckets and 300 media (100 audio) in 3 OSS buckets into imported:\n"
        "  imported/input_buckets.yaml\n"
        "  imported/harbor-media.yaml\n"
        "  imported/podcast-vault.yaml\n"
        "  imported/studio-raw.yaml\n"
        "  imported/manifest.schema.json\n"
        "Recorded in state .reconcile/state.json (serial 1): the next plan of imported makes no call.\n"
        "Nothing was skipped.\n"
    )
    assert (
        "API calls made while importing: 304 (GetMezzanineInfo×300, ListAllMediaBucket×1, SearchMedia×3)"
        in imported.out
    )
    assert not (tmp_path / "imported" / ".reconcile-import.json").exists()

    validated = reconcile("validate", "imported")
    assert (validated.code, validated.out) == (0, "Valid: 4 files, 4 input buckets, 300 media (3 OSS buckets).\n")

    planned = reconcile("plan", "imported", "--detailed-exitcode")
    assert planned.code == 0, planned.out
    assert planned.out.startswith("No changes. The account matches the manifests.\n")
    assert mutating_calls(emulator) == before

    harbor = (tmp_path / "imported" / "harbor-media.yaml").read_text(encoding="utf-8")
    assert harbor.startswith("# yaml-language-server: $schema=manifest.schema.json\n")
    assert "media_defaults:\n  template_group_id: VOD_NO_TRANSCODE\nmedia:\n  - name: harbor-000\n" in harbor
    assert "    title: 'no'\n" in harbor
    assert "    title: '1.10'\n" in harbor
    assert "    title: 'on'\n" in harbor
    assert f"    title: {UNICODE_TITLE}\n" in harbor
    assert "    title: cost $$5 at $${HOME}\n" in harbor
    assert "    tags: [catalog, '2024', 'no']\n" in harbor
    state = json.loads((tmp_path / ".reconcile/state.json").read_text(encoding="utf-8"))
    titles = {r["address"]: r["attributes"].get("title") for r in state["resources"]}
    assert (titles["media.harbor-000"], titles["media.harbor-002"], titles["media.harbor-003"]) == (
        "no",
        UNICODE_TITLE,
        "cost $5 at ${HOME}",
    )

    # Two titles edited: plan shows 2 updates, a targeted plan 1.
    studio = tmp_path / "imported" / "studio-raw.yaml"
    studio.write_text(
        studio.read_text(encoding="utf-8").replace("title: Studio take 7\n", "title: Studio take seven\n")
    )
    (tmp_path / "imported" / "harbor-media.yaml").write_text(
        harbor.replace("title: Harbor take 10\n", "title: Harbor ten\n")
    )
    whole = reconcile("plan", "imported", "--format", "json", "--detailed-exitcode")
    document = json.loads(whole.out)
    assert (whole.code, document["summary"]["update"], document["partial"]) == (2, 2, False)
    assert [c["address"] for c in document["resource_changes"] if c["action"] == "update"] == [
        "media.harbor-010",
        "media.studio-007",
    ]
    targeted = reconcile("plan", "imported", "--format", "json", "--target", "media.harbor-*")
    document = json.loads(targeted.out)
    assert (document["summary"]["update"], document["partial"], document["source"]["targets"]) == (
        1,
        True,
        ["media.harbor-*"],
    )
    assert document["warnings"][0]["message"].startswith("PARTIAL PLAN (--target): only the resources matching")
    assert len(document["resource_changes"]) == 100
    text = reconcile("plan", "imported", "--target", "media.studio-007")
    assert text.out.startswith(
        "WARNING: PARTIAL PLAN: only resources matching --target media.studio-007. Everything else, removals "
        "included, is left out.\n"
    )
    assert "Plan: 0 to register, 0 to bind, 1 to update," in text.out
    assert mutating_calls(emulator) == before

    # Media health: a failed transcode makes drift exit 2 and name the media, where it is declared.
    broken = ids[host("harbor-media") + "/harbor/harbor-012.mp4"]
    emulator.control.set_media_status(broken, "TranscodeFail")
    drift = reconcile("drift", "imported")
    assert drift.code == 2
    assert (
        f"  ! media.harbor-012: TranscodeFail (transcoding failed), media id {broken}, declared at "
        "imported/harbor-media.yaml:"
    ) in drift.out
    assert drift.out.startswith("No drift: the 304 managed resources match the state (serial 1).\n")


def test_import_skips_what_the_state_manages_and_refuses_to_overwrite(emulator, reconcile, tmp_path):
    fill_account(emulator.url)
    first = reconcile(
        "import",
        "--region",
        "cn-shanghai",
        "--out",
        "harbor",
        "--storage-location",
        "harbor-media.oss-cn-shanghai.aliyuncs.com",
    )
    assert first.code == 0, first.err
    assert first.out.startswith("Imported 4 input buckets and 100 media (0 audio) in 1 OSS bucket into harbor:\n")

    again = reconcile("import", "--region", "cn-shanghai", "--out", "harbor")
    assert again.code == 1
    assert again.err == (
        "error: harbor already holds manifests (harbor-media.yaml, input_buckets.yaml, manifest.schema.json); "
        "import never overwrites files. Name a new or empty directory with --out, or move those files away; "
        "nothing was read\n"
    )

    rest = reconcile("import", "--region", "cn-shanghai", "--out", "rest")
    assert rest.code == 0, rest.err
    assert rest.out.startswith("Imported 0 input buckets and 200 media (100 audio) in 2 OSS buckets into rest:\n")
    assert (
        "Skipped 104:\n  already managed (104):\n    - input bucket ingest-east: already managed: in this state\n"
        in rest.out
    )
    assert "    … and 94 more\n" in rest.out
    assert "API calls made while importing: 204 (GetMezzanineInfo×200," in rest.out
    assert reconcile("plan", "harbor", "rest", "--detailed-exitcode").code == 0


def test_a_directory_that_cannot_be_written_is_an_error_not_a_traceback(emulator, reconcile, tmp_path):
    # /proc/self is a directory that holds no manifests, in which no file can be created, even by root
    result = reconcile("import", "--region", "cn-shanghai", "--out", "/proc/self")
    assert (result.code, result.out) == (1, "")
    assert result.err.endswith(
        "error: cannot write in /proc/self: No such file or directory; name a writable directory with --out\n"
    )
    assert "Traceback" not in result.err
    assert mutating_calls(emulator) == {}
