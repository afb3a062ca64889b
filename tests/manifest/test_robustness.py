"""No input produces a traceback: pathological nesting, aliases and random corruption of a valid manifest."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconcile.manifest import ManifestError, load_desired_state
from tests.manifest.conftest import OSS, Problems, Write

ROOT = Path(__file__).resolve().parents[2]


def test_deep_flow_nesting_is_refused_before_libyaml_composes_it(problems: Problems) -> None:
    depth = 100_000  # composing this recursively in C would overflow the stack and crash the process
    assert problems("region: cn-shanghai\nx: " + "[" * depth + "]" * depth + "\n") == [
        "2:1003: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]


def test_deep_block_nesting_is_refused(problems: Problems) -> None:
    assert problems("region: cn-shanghai\nx:\n" + "- " * 300_000 + "a\n") == [
        "3:1999: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]


def test_moderate_nesting_is_composed_and_reported_normally(problems: Problems) -> None:
    assert problems("region: cn-shanghai\nx: " + "[" * 900 + "]" * 900 + "\n") == [
        "2:1: unknown key `x` in the document; expected one of: `input_buckets`, `media`, `media_defaults`, `region`"
    ]


def test_deep_user_data_is_refused(problems: Problems) -> None:
    text = f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/a.mp4\n    title: A\n    user_data: {{x: {'[' * 40}{']' * 40}}}\n"
    assert problems(text) == ["5:51: `user_data` is nested more than 32 levels deep"]


def test_random_corruption_of_a_valid_manifest_never_raises_anything_else(write: Write) -> None:
    original = (ROOT / "manifests" / "series-city-kitchens.yaml").read_bytes()
    alphabet = b" \t\n-:[]{}&*!|>'\"#%@`,?~$0aZ\xff\x00"
    rng = random.Random(20240501)
    outcomes = {"valid": 0, "invalid": 0}
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            action = rng.random()
            if action < 0.4:
                data[at] = rng.choice(alphabet)
            elif action < 0.7:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        write("m.yaml", bytes(data))
        try:
            load_desired_state(["m.yaml"], env={})
            outcomes["valid"] += 1
        except ManifestError as exc:
            assert exc.diagnostics
            assert all(d.path == "m.yaml" and d.line >= 1 and d.col >= 1 for d in exc.diagnostics)
            outcomes["invalid"] += 1
    assert outcomes["invalid"] > 200  # the corruption really corrupts


@pytest.mark.parametrize(
    "text",
    [
        "region: cn-shanghai\nmedia: &m [*m]\n",
        "region: cn-shanghai\nmedia_defaults: &d {<<: *d}\n",
        "region: cn-shanghai\nmedia:\n  - &e {<<: *e, title: A}\n",
        "? [a]\n: b\n",
        "!!omap [{region: cn-shanghai}]\n",
        "%YAML 1.2\n---\nregion: cn-shanghai\nmedia: !!set {a}\n",
        "region: !!str\n",
        "region: cn-shanghai\nmedia: [!!null ~, !!int 3, !!float 1.5]\n",
    ],
)
def test_strange_but_well_formed_yaml_is_reported_not_raised(write: Write, text: str) -> None:
    write("m.yaml", text)
    with pytest.raises(ManifestError):
        load_desired_state(["m.yaml"], env={})
