"""The Markdown view: what a reviewer sees unfolded, and deterministic truncation under the comment limit."""

from __future__ import annotations

from reconcile.engine.plan import Plan, PlanWarning
from reconcile.manifest.desired import SourceLocation
from reconcile.render.markdown import MAX_COMMENT_CHARS, SourceLinks, render_plan_markdown
from tests.render.golden import assert_golden
from tests.render.plans import deletions, mixed_plan, registrations, title_updates

BLOB = "https://github.com/acme/media/blob/0123abc"


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
    shown = text.count("\n- `+` `media[")
    assert 0 < shown < 5000
    assert last == (
        f"_Truncated to fit a comment: {5000 - shown} of 5000 changes not shown (and 1 other entry). "
        "Run `reconcile show PLANFILE` on the saved plan for the full plan._"
    )  # the API-call line comes after the changes: left out too
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


def test_a_title_change_shows_the_old_and_the_new_title():
    text = render_plan_markdown(mixed_plan())
    folded_at = text.index("<summary>All changes (5)</summary>")
    entry = text.index("- `~` `media.changed` — ")
    assert entry > folded_at
    assert '  - `title`: `"Old"` → `"New"`' in text[entry:]


def test_changes_link_to_their_manifest_line_when_the_repository_is_known():
    text = render_plan_markdown(mixed_plan(), links=SourceLinks(BLOB, prefix="infra"))
    assert (
        f"- `~` `media.changed` — title changed in the manifests: UpdateVideoInfos sends only the changed "
        f"fields ([manifests/prod.yaml:10]({BLOB}/infra/manifests/prod.yaml#L10))" in text
    )
    assert f"([manifests/prod.yaml:3]({BLOB}/infra/manifests/prod.yaml#L3))" in text  # the replacement, at the top
    plain = render_plan_markdown(mixed_plan())
    assert "(`manifests/prod.yaml:10`)" in plain and "](" not in plain


def test_source_links_only_for_paths_inside_the_repository():
    links = SourceLinks(BLOB + "/")
    assert links.url(SourceLocation(path="./envs/prod.yaml", line=7, col=3)) == f"{BLOB}/envs/prod.yaml#L7"
    assert links.url(SourceLocation(path="/etc/prod.yaml", line=7, col=3)) is None
    assert links.url(SourceLocation(path="../elsewhere/prod.yaml", line=7, col=3)) is None
    assert (
        SourceLinks(BLOB, prefix="infra").url(SourceLocation(path="../prod.yaml", line=2, col=1))
        == f"{BLOB}/prod.yaml#L2"
    )
    assert links.url(SourceLocation(path="my manifests/prod.yaml", line=1, col=1)) is None  # would break the link


def test_a_20000_change_plan_fits_a_comment_and_says_where_the_full_plan_is():
    run = "https://github.com/acme/media/actions/runs/42"
    text = render_plan_markdown(title_updates(20_000), full_plan_url=run)
    assert len(text) <= MAX_COMMENT_CHARS
    shown = text.count("\n- `~` `media.clip-")
    assert shown == text.count("  - `title`: ")  # every update shown comes with its diff
    assert text.rstrip("\n").splitlines()[-1] == (
        f"_Truncated to fit a comment: {20_000 - shown} of 20000 changes not shown (and 1 other entry). "
        f"The full plan is in [the CI job]({run}) (its job summary and the saved plan)._"
    )
