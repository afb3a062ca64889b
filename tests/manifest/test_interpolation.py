"""`${VAR}`, `${VAR:-default}` and `$$` in manifest text."""

from __future__ import annotations

import pytest

from reconcile.manifest.interpolation import InterpolationProblem, interpolate
from tests.manifest.conftest import Load, Problems

ENV = {"MEDIA_ENV": "staging", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("media-in-${MEDIA_ENV}", "media-in-staging"),
        ("media-in-${MEDIA_ENV:-prod}", "media-in-staging"),
        ("media-in-${UNSET:-prod}", "media-in-prod"),
        ("media-in-${EMPTY:-prod}", "media-in-prod"),  # as in the shell, `:-` also replaces an empty value
        ("[${EMPTY}]", "[]"),
        ("${UNSET:-}", ""),
        ("costs $$5", "costs $5"),
        ("literal $${MEDIA_ENV}", "literal ${MEDIA_ENV}"),
        ("US$ 5 and $HOME", "US$ 5 and $HOME"),  # only `${` and `$$` are special
        ("${MEDIA_ENV}/${MEDIA_ENV:-x}", "staging/staging"),
        ("no references", "no references"),
    ],
)
def test_references_are_replaced(text: str, result: str) -> None:
    assert interpolate(text, ENV) == (result, [])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "a-${UNSET}",
            InterpolationProblem(
                2, "environment variable `UNSET` is not set: set it, or give a default with `${UNSET:-value}`"
            ),
        ),
        (
            "a ${OPEN",
            InterpolationProblem(2, "unterminated `${`: close it with `}`, or write `$${` for a literal `${`"),
        ),
        (
            "${}",
            InterpolationProblem(
                0,
                "`${}` is not a variable reference: write `${NAME}` or `${NAME:-default}`, where NAME is letters, "
                "digits and `_`, not starting with a digit",
            ),
        ),
        (
            "${A-b}",
            InterpolationProblem(
                0,
                "`${A-b}` is not a variable reference: write `${NAME}` or `${NAME:-default}`, where NAME is "
                "letters, digits and `_`, not starting with a digit",
            ),
        ),
        (
            "${A:-${B}}",
            InterpolationProblem(0, "the default of `${A:-...}` cannot contain another `${...}`"),
        ),
    ],
)
def test_bad_references_are_reported_at_their_offset(text: str, problem: InterpolationProblem) -> None:
    assert interpolate(text, ENV)[1] == [problem]


def test_every_bad_reference_in_a_value_is_reported(problems: Problems) -> None:
    text = "region: cn-shanghai\ninput_buckets:\n  - bucket: ${TEAM}-in-${STAGE}\n    referer: 'https://${HOST}/'\n"
    assert problems(text) == [
        "3:13: environment variable `TEAM` is not set: set it, or give a default with `${TEAM:-value}`",
        "3:24: environment variable `STAGE` is not set: set it, or give a default with `${STAGE:-value}`",
        "4:23: environment variable `HOST` is not set: set it, or give a default with `${HOST:-value}`",
    ]


def test_a_reference_in_an_escaped_string_points_at_the_value(problems: Problems) -> None:
    # The double-quoted text holds an escape, so its characters no longer line up with the source columns.
    text = 'region: cn-shanghai\ninput_buckets:\n  - bucket: media\n    referer: "\\t${HOST}"\n'
    assert problems(text) == [
        "4:14: environment variable `HOST` is not set: set it, or give a default with `${HOST:-value}`"
    ]


def test_values_are_interpolated_everywhere_text_is_read(load: Load) -> None:
    text = (
        "region: ${REGION:-cn-shanghai}\n"
        "input_buckets:\n"
        "  - bucket: media-in-${MEDIA_ENV}\n"
        "    referer: https://${HOST:-example.com}\n"
        "media:\n"
        "  - file_url: https://media-in-${MEDIA_ENV}.oss-cn-shanghai.aliyuncs.com/a.mp4\n"
        "    title: Intro (${MEDIA_ENV})\n"
        "    tags: ['$${MEDIA_ENV}', '${MEDIA_ENV}']\n"
        "    user_data: {Extend: {env: '${MEDIA_ENV}', cost: $$5}}\n"
    )
    state = load(text, env=ENV)
    (bucket,) = state.buckets
    (media,) = state.media
    assert (bucket.region, bucket.bucket, bucket.referer) == ("cn-shanghai", "media-in-staging", "https://example.com")
    assert media.file_url == "https://media-in-staging.oss-cn-shanghai.aliyuncs.com/a.mp4"
    assert media.identity == "media-in-staging/a.mp4"
    assert media.attributes.title == "Intro (staging)"
    assert media.attributes.tags == ("${MEDIA_ENV}", "staging")
    assert media.attributes.user_data == '{"Extend":{"cost":"$5","env":"staging"}}'


def test_interpolated_values_are_validated(problems: Problems) -> None:
    text = "region: cn-shanghai\ninput_buckets:\n  - bucket: media-in-${MEDIA_ENV}\n"
    assert problems(text, env={"MEDIA_ENV": "Prod"}) == [
        "3:13: `bucket` must be lowercase letters, digits and hyphens, not starting or ending with a hyphen; "
        "got `media-in-Prod`"
    ]


def test_the_process_environment_is_the_default(write, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconcile.manifest import load_desired_state

    monkeypatch.setenv("RECONCILE_TEST_BUCKET", "from-environ")
    write("m.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: '${RECONCILE_TEST_BUCKET}'}]\n")
    assert [b.bucket for b in load_desired_state(["m.yaml"]).buckets] == ["from-environ"]
