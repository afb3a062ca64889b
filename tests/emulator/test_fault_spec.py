"""Parsing and validating fault specifications (--faults and POST /_emulator/faults)."""

from __future__ import annotations

import pytest

from reconcile.emulator.faults import FaultRule, FaultRules, FaultSpecError, InjectedError

EXAMPLE = """{"rules": [
  {"action": "RegisterMedia", "probability": 0.1, "error": {"status": 503, "code": "ServiceUnavailable"}},
  {"action": "*", "probability": 0.02, "drop_after_commit": true},
  {"action": "*", "latency_ms": 50}]}"""


def test_the_issue_example_parses() -> None:
    rules = FaultRules.from_json(EXAMPLE)
    assert rules.rules == (
        FaultRule(
            "RegisterMedia",
            0.1,
            InjectedError(
                503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
            ),
        ),
        FaultRule("*", 0.02, drop_after_commit=True),
        FaultRule("*", 1.0, latency_ms=50.0),
    )
    assert FaultRules.from_dict(rules.to_dict()) == rules


def test_catalogue_codes_default_their_status_and_message() -> None:
    rules = FaultRules.from_dict({"rules": [{"error": {"code": "Throttling.User"}}]})
    assert rules.rules[0].error == InjectedError(
        400, "Throttling.User", "Request was denied due to user flow throttling."
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("[1]", 'faults: expected an object {"rules": [...]}'),
        ('{"rules": {}}', "faults: rules must be a list"),
        (
            '{"rules": [{"action": "RegisterMedias", "latency_ms": 1}]}',
            "faults: rules[0].action 'RegisterMedias' is not an emulated action; use one of them or '*'",
        ),
        (
            '{"rules": [{"probability": -0.1, "latency_ms": 1}]}',
            "faults: rules[0].probability must be a number from 0 to 1, not -0.1",
        ),
        ('{"rules": [{"latency_ms": -5}]}', "faults: rules[0].latency_ms must be a number from 0 to 600000, not -5"),
        ('{"rules": [{"action": "*"}]}', "faults: rules[0] does nothing: give error, drop_after_commit or latency_ms"),
        (
            '{"rules": [{"drop_after_commit": true, "error": {"code": "InternalError"}}]}',
            "faults: rules[0] cannot both inject an error and drop after commit",
        ),
        (
            '{"rules": [{"error": {"code": "Custom"}}]}',
            "faults: rules[0].error.status must be an HTTP error status (400-599), not None",
        ),
        (
            '{"rules": [{"error": {"code": "InternalError", "status": 200}}]}',
            "faults: rules[0].error.status must be an HTTP error status (400-599), not 200",
        ),
        (
            '{"rules": [{"latency_ms": 1, "chance": 1}]}',
            "faults: rules[0] has unknown field 'chance' (known: action, drop_after_commit, error, latency_ms, probability)",
        ),
        (
            "{nope",
            "faults: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
    ],
)
def test_bad_specs_say_what_and_where(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as excinfo:
        FaultRules.from_json(spec)
    assert str(excinfo.value) == message
