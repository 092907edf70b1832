"""Extra redaction patterns from configuration: applied as kind ``extra``, validated at construction.

An invalid regular expression is a :class:`aiops.errors.ConfigError` naming the pattern, raised when
the Redactor is built (start-up), never while redacting.
"""

from __future__ import annotations

import pytest

from aiops import errors
from aiops.enrichment.redact import Redactor


def test_extra_pattern_is_redacted() -> None:
    redactor = Redactor(extra_patterns=[r"\bEMP-\d{6}\b"])
    assert redactor.redact("employee EMP-123456 logged in") == "employee [REDACTED:extra] logged in"
    assert redactor.redact_lines(["EMP-000001", "plain"]) == ["[REDACTED:extra]", "plain"]


def test_named_group_secret_limits_the_replacement() -> None:
    redactor = Redactor(extra_patterns=[r"pin code (?P<secret>\d+)"])
    assert redactor.redact("pin code 4242 accepted") == "pin code [REDACTED:extra] accepted"


def test_extra_patterns_run_after_builtin_kinds() -> None:
    redactor = Redactor(extra_patterns=[r"internal-\w+"])
    assert redactor.redact("password=internal-x at internal-y") == (
        "password=[REDACTED:password] at [REDACTED:extra]"
    )


def test_pattern_matching_empty_text_is_harmless() -> None:
    redactor = Redactor(extra_patterns=[r"x*", r"(?=a)"])
    assert redactor.redact("abc xx") == "abc [REDACTED:extra]"


def test_extra_pattern_matching_markers_stays_idempotent() -> None:
    redactor = Redactor(extra_patterns=[r"[A-Z]+", r"\[.*\]"])
    once = redactor.redact("token=abc HELLO [x]")
    assert redactor.redact(once) == once


@pytest.mark.parametrize("bad", ["(unclosed", "[a-", "*lead", r"(?P<x>a)(?P<x>b)"])
def test_invalid_pattern_is_a_config_error_naming_it(bad: str) -> None:
    with pytest.raises(errors.ConfigError, match="invalid redaction pattern") as caught:
        Redactor(extra_patterns=["fine", bad])
    assert repr(bad) in str(caught.value)


def test_no_extra_patterns_by_default() -> None:
    assert Redactor().redact("EMP-123456") == "EMP-123456"
