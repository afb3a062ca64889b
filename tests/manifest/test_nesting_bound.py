"""nesting_bound: never below a file's real nesting, and low enough that ordinary manifests skip the scan."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from reconcile.manifest import load_desired_state, yaml_nodes
from reconcile.manifest.yaml_nodes import SAFE_NESTING, nesting_bound
from tests.manifest.conftest import OSS, Problems, Write


def real_nesting(text: str) -> int:
    """The deepest nesting libyaml reaches in `text` (up to its first syntax error, where composition stops)."""
    depth = deepest = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CBaseLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return deepest


def random_tree(rng: random.Random, depth: int) -> Any:
    if depth == 0 or rng.random() < 0.15:
        return rng.choice(["a", "b c", "[x]", "{y}", "- z", "? q", 1, None])
    if rng.random() < 0.5:
        return [random_tree(rng, depth - 1) for _ in range(rng.randrange(1, 3))]
    return {f"k{i}": random_tree(rng, depth - 1) for i in range(rng.randrange(1, 3))}


HAND_WRITTEN = [
    "- - - - - - - - - - x\n",
    "? ? ? ? ? a\n: b\n",
    "a:\n- b:\n  - c:\n    - d:\n      - e\n",
    "a: [[[[[x]]]]]\nb: {c: {d: [e, {f: g}]}}\n",
    "a: [\n [\n  [\n   x\n  ]\n ]\n]\n",
    "-\t-\t- x\n",
    "key: |\n  [[[[ not nesting ]]]]\n",
]


def test_the_bound_is_never_below_the_real_nesting():
    rng = random.Random(7)
    texts = list(HAND_WRITTEN)
    for _ in range(100):
        tree = random_tree(rng, rng.randrange(1, 20))
        style = rng.choice([False, True, None])
        texts.append(yaml.dump(tree, default_flow_style=style, indent=rng.randrange(2, 6), width=rng.choice([20, 80])))
    for text in texts:
        assert real_nesting(text) <= nesting_bound(text.encode()), text


def test_a_large_ordinary_manifest_is_composed_without_a_scan(write: Write, monkeypatch: pytest.MonkeyPatch):
    entries = "".join(f"  - file_url: {OSS}/c/{i:05d}.mp4\n    title: T{i}\n    tags: [a, b]\n" for i in range(6000))
    text = "region: cn-shanghai\nmedia:\n" + entries
    assert nesting_bound(text.encode()) <= SAFE_NESTING
    write("m.yaml", text)

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an ordinary manifest was scanned for deep nesting")

    monkeypatch.setattr(yaml_nodes.yaml, "parse", no_scan)
    assert len(load_desired_state(["m.yaml"], env={}).media) == 6000


def test_deep_nesting_over_many_short_lines_is_refused(problems: Problems):
    depth = 20_000
    assert problems("region: cn-shanghai\nx:\n" + " [\n" * depth + " ]\n" * depth) == [
        "1002:2: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]


_REAL_PARSE = yaml.parse


def _python_parser(data: Any, Loader: Any = None) -> Any:
    """PyYAML's pure-Python parser: like libyaml builds without a nesting limit of their own, it never stops."""
    return _REAL_PARSE(data, Loader=yaml.BaseLoader)


@pytest.mark.parametrize("parser", ["libyaml", "unlimited"])
def test_too_deep_is_reported_in_our_words_with_or_without_libyamls_own_limit(
    problems: Problems, monkeypatch: pytest.MonkeyPatch, parser: str
):
    if parser == "unlimited":  # the scan then sees the 1001st level itself instead of libyaml's error
        monkeypatch.setattr(yaml_nodes.yaml, "parse", _python_parser)
    assert problems("region: cn-shanghai\nx:\n" + " [\n" * 20_000 + " ]\n" * 20_000) == [
        "1002:2: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]


def test_too_deep_within_the_safe_bound_is_ours_when_libyaml_stops_at_its_own_limit(problems: Problems):
    # Composed directly (the bound is low), so libyaml's own limit, with its own wording, is what stops it.
    assert problems("region: cn-shanghai\nx: " + "[" * 1500 + "]" * 1500 + "\n") == [
        "2:1003: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]


def test_a_nesting_error_in_another_wording_is_still_ours(problems: Problems, monkeypatch: pytest.MonkeyPatch):
    real_parse = _REAL_PARSE

    def reworded(data: Any, Loader: Any = None) -> Any:
        try:
            yield from real_parse(data, Loader=Loader)
        except yaml.MarkedYAMLError as exc:
            exc.problem = "some future wording"
            raise

    monkeypatch.setattr(yaml_nodes.yaml, "parse", reworded)
    assert problems("region: cn-shanghai\nx: " + "[" * 1500 + "]" * 1500 + "\n") == [
        "2:1003: nested more than 1000 levels deep; a manifest never needs this, so the file is refused"
    ]
