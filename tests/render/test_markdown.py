"""The Markdown view: what a reviewer sees unfolded, and deterministic truncation under the comment limit."""

from __future__ import annotations

from reconcile.engine.plan import Plan, PlanWarning
from reconcile.render.markdown import MAX_COMMENT_CHARS, render_plan_markdown
from tests.render.golden import assert_golden
from tests.render.plans import deletions, mixed_plan, registrations


def test_mixed_plan_matches_golden():
    assert_golden("markdown_mixed.md", render_plan_markdown(mixed_plan()))


def test_deletions_and_replacements_are_outside_the_folded_list():
    text = render_plan_markdown(mixed_plan())
    folded_at = text.index("<details>")
    assert text.index("`media.old` — removed from the manifests (--prune)") < folded_at
    assert text.index("`input_bucket.media-in` — referer changed") < folded_at
    assert text.index("DeleteVideo DELETES THE SOURCE FILE IN OSS TOO (1 file)") < folded_at


def test_a_huge_plan_is_truncated_deterministically_and_says_how_much():
    plan = registrations(5000)
    text = render_plan_markdown(plan)
    assert len(text) <= MAX_COMMENT_CHARS
    assert text == render_plan_markdown(plan)
    last = text.rstrip("\n").splitlines()[-1]
    assert last.startswith("_Truncated to fit a comment: ")
    shown = text.count("\n+ media[")
    assert last == (
        f"_Truncated to fit a comment: {5000 + 1 - shown} of 5001 entries not shown. "
        "Run `reconcile show PLANFILE` for the full plan._"
    )  # 5000 changes + 1 API-call line, all but `shown` of them left out
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0  # the code fence is closed


def test_truncation_keeps_the_summary_and_the_start_of_the_deletions():
    text = render_plan_markdown(deletions(3000))
    assert text.startswith("### reconcile plan\n\n**Plan: 0 to register, 0 to bind, 0 to update, 0 to replace, 0 to ")
    assert "> **3000 to destroy.** DeleteVideo DELETES THE SOURCE FILE IN OSS TOO (3000 files)." in text
    assert '- `media["media/old/00000.mp4"]` — removed from the manifests' in text
    assert len(text) <= MAX_COMMENT_CHARS
    assert "_Truncated to fit a comment:" in text


def test_small_limits_are_honoured():
    for limit in (1000, 2500, 10_000):
        assert len(render_plan_markdown(registrations(300), max_chars=limit)) <= limit


def test_text_from_users_cannot_break_the_markup():
    plan = Plan(warnings=(PlanWarning(address='media["b/`odd`</details>.mp4"]', message="a <b>bold</b> claim"),))
    text = render_plan_markdown(plan)
    assert '``media["b/`odd`</details>.mp4"]``' in text
    assert "a &lt;b&gt;bold&lt;/b&gt; claim" in text
    assert text.count("</details>") == text.count("<details>") + 1  # the one inside the code span only


def test_converged_plan():
    assert render_plan_markdown(Plan()) == (
        "### reconcile plan\n\n**No changes. The account matches the manifests.**\n"
    )
