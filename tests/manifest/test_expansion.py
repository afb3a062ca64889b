"""Aliases and `<<` merges: each merge source is merged once, and one budget per file bounds everything
aliases and merges repeat (merged keys, entries, tags, user_data), with a located error past it."""

from __future__ import annotations

import pytest

from reconcile.manifest import reader
from reconcile.manifest.document import Declarations, read_document
from reconcile.manifest.reader import ExpansionLimitExceeded, NodeReader
from reconcile.manifest.sources import ManifestFile
from reconcile.manifest.yaml_nodes import compose_documents
from tests.manifest.conftest import OSS, Load, Problems

REGION = "region: cn-shanghai\n"


def refused(limit: int) -> str:
    return (
        f"YAML aliases (`*name`) and `<<` merges repeat more than {limit} values in this file (100000 plus one per "
        "byte); a manifest never needs that many, so the file is refused: repeat large anchors fewer times"
    )


def merge_bomb(depth: int) -> str:
    """Each entry merges the previous one 8 times: 8**depth merges when sources are merged again each time."""
    lines = [REGION + "media:", f"  - &e0 {{file_url: '{OSS}/0.mp4', title: T0}}"]
    for level in range(1, depth + 1):
        lines.append(f"  - &e{level} {{<<: [{','.join([f'*e{level - 1}'] * 8)}], title: T{level}}}")
    return "\n".join(lines) + "\n"


def read(text: str) -> NodeReader:
    """The reader after reading `text` as the file m.yaml (its budget shows what was repeated)."""
    data = text.encode()
    documents, problems = compose_documents(ManifestFile("m.yaml", data))
    assert problems == []
    node_reader = NodeReader("m.yaml", {}, len(data))
    for document in documents:
        read_document(node_reader, document, Declarations())
    return node_reader


def test_a_merge_bomb_merges_each_anchor_once(problems: Problems) -> None:
    text = merge_bomb(9)
    assert len(text) < 700  # 8**9 = 134 million merges if each alias were merged again
    first = "first at m.yaml:3:10 (this entry repeats it through a YAML alias or `<<` merge); remove one"
    assert problems(text) == [f"{line}:5: media `media-in/0.mp4` is declared twice: {first}" for line in range(4, 13)]
    # Each entry copies the two keys of the one before it, 8 times over: 9 * 8 * 2.
    assert read(text).budget.spent == 144


def test_a_merge_chain_longer_than_python_recurses_is_merged(load: Load) -> None:
    # The entry merges the last of 3,000 mappings, each merging the one before: a RecursionError once.
    chain = ", ".join(["&c0 {title: T0}", *(f"&c{i} {{<<: *c{i - 1}, title: T{i}}}" for i in range(1, 3000))])
    text = REGION + f"media:\n  - file_url: {OSS}/a.mp4\n    user_data: {{chain: [{chain}]}}\n    <<: *c2999\n"
    (media,) = load(text).media
    assert media.attributes.title == "T2999"
    assert media.attributes.user_data is not None and media.attributes.user_data.count('{"title":') == 3000


def test_merged_keys_past_the_budget_are_refused_where_they_are_merged(problems: Problems) -> None:
    wide = ", ".join(f"k{i}: {i}" for i in range(1000))
    text = (
        REGION + f"media:\n  - file_url: {OSS}/a.mp4\n    title: A\n    user_data: &wide {{{wide}}}\n"
        f"  - file_url: {OSS}/b.mp4\n    title: B\n    user_data: {{<<: [{', '.join(['*wide'] * 120)}]}}\n"
    )
    assert problems(text) == [f"8:17: {refused(100_000 + len(text))}"]


def test_a_merge_cycle_is_reported_once_where_it_is_merged(problems: Problems) -> None:
    text = REGION + f"media:\n  - &e {{file_url: '{OSS}/a.mp4', title: A, user_data: {{x: 1}}, <<: *e}}\n"
    assert problems(text) == ["3:5: `<<` merges a mapping into itself"]


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> int:
    """Budgets of 1,000 plus one per byte, so a test file reaches its limit with a few hundred repeats."""
    monkeypatch.setattr(reader, "EXPANSION_ALLOWANCE", 1_000)
    return 1_000


def refused_small(limit: int) -> str:
    return refused(limit).replace("(100000 plus", "(1000 plus")


def test_user_data_aliases_share_the_file_budget(problems: Problems, small_budget: int) -> None:
    # Each user_data holds 200 values, far within its own limit; 40 of them repeat 7,800 values.
    values = ", ".join(f"v{i}: {i}" for i in range(200))
    entries = "".join(f"  - {{file_url: '{OSS}/{i}.mp4', title: T, user_data: *u}}\n" for i in range(1, 40))
    text = REGION + f"media:\n  - {{file_url: '{OSS}/0.mp4', title: T, user_data: &u {{{values}}}}}\n" + entries
    assert problems(text) == [f"3:92: {refused_small(small_budget + len(text))}"]


def test_repeated_tag_lists_share_the_file_budget(problems: Problems, small_budget: int) -> None:
    # 16 tags repeated on every entry stay far within the budget's allowance per byte; 500 do not.
    tags = ", ".join(f"t{i}" for i in range(500))
    entries = "".join(f"  - {{file_url: '{OSS}/{i}.mp4', title: T, tags: *t}}\n" for i in range(1, 30))
    text = REGION + f"media:\n  - {{file_url: '{OSS}/0.mp4', title: T, tags: &t [{tags}]}}\n" + entries
    assert problems(text) == [
        f"3:87: {refused_small(small_budget + len(text))}",
        "3:87: `tags` has 500 tags; the limit is 16",
    ]


def test_an_entry_repeated_by_aliases_is_read_once_and_reported_once(problems: Problems) -> None:
    text = REGION + f"media:\n  - &e {{file_url: '{OSS}/a.mp4', title: A, titel: B}}\n" + "  - *e\n" * 3
    assert problems(text) == [
        "3:9: media `media-in/a.mp4` is declared twice: first at m.yaml:3:9 (a YAML alias `*name` repeats that "
        "whole entry); remove one",
        "3:84: unknown key `titel` in a media entry; did you mean `title`?",
    ]
    # The three repeats take the entry's three keys again: read once, the problem found once.
    assert read(text).budget.spent == 9


def test_past_the_budget_the_rest_of_the_file_is_not_read(problems: Problems, small_budget: int) -> None:
    values = ", ".join(f"v{i}: {i}" for i in range(500))
    text = (
        REGION
        + f"media:\n  - {{file_url: '{OSS}/0.mp4', title: T, user_data: &u {{{values}}}}}\n"
        + "".join(f"  - {{file_url: '{OSS}/{i}.mp4', title: T, user_data: *u}}\n" for i in range(1, 20))
        + "  - {title: no file_url, colour: red}\n"  # would be two problems, were it read
    )
    assert problems(text) == [f"3:92: {refused_small(small_budget + len(text))}"]


def test_the_budget_raises_at_the_node_that_crossed_it() -> None:
    budget = reader.ExpansionBudget("m.yaml", 10)
    (document,), _ = compose_documents(ManifestFile("m.yaml", b"a: [1, 2]\n"))
    budget.spend(100_010, document)
    with pytest.raises(ExpansionLimitExceeded) as caught:
        budget.spend(1, document.value[0][1])
    assert str(caught.value.diagnostic) == f"m.yaml:1:4: {refused(100_010)}"


def test_ordinary_anchors_spend_only_what_they_repeat(load: Load) -> None:
    text = (
        REGION + "media_defaults: &d {cate_id: 7}\nmedia:\n"
        f"  - &base {{file_url: '{OSS}/a.mp4', title: A, tags: &tags [x, y]}}\n"
        f"  - {{<<: *base, file_url: '{OSS}/b.mp4', tags: *tags}}\n"
        f"  - {{<<: [*base, *d], file_url: '{OSS}/c.mp4'}}\n"
    )
    a, b, c = load(text).media
    assert (a.attributes.title, b.attributes.title, c.attributes.title, b.attributes.tags, c.attributes.tags) == (
        "A",
        "A",
        "A",
        ("x", "y"),
        ("x", "y"),
    )
    assert c.attributes.cate_id == 7
    # b copies base's 3 keys and walks the tags again (2), c copies base's 3 keys and the default's 1, and
    # walks base's tags again (2).
    assert read(text).budget.spent == 11
