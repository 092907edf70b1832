"""Properties that hold for any input: never raises, returns a str, idempotent, keeps line counts.

Hypothesis draws both arbitrary Unicode and texts built from secret-shaped fragments (labels,
separators, prefixes, markers, PEM armor) so the rules' boundaries and their interplay are hit.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.enrichment.redact import Redactor

FRAGMENTS = [
    "password", "PWD", "token", "api_key", "secret", "key", "auth", "Authorization", "Bearer ", "Basic ",
    "=", ": ", '"', "'", "&", ";", " ", "\n", "\t", "/", "@", "://", "https", ":", ".", "-", "_",
    "eyJ", "eyJhbGciOiJIUzI1NiJ9", "AKIA", "ASIA", "ghp_", "github_pat_", "xoxb-", "xapp-1-", "sk-",
    "sk-proj-", "hooks.slack.com/services/", "AccountKey=", "?sig=", "aws_secret_access_key=",
    '"private_key": "', "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
    "[REDACTED:jwt]", "[REDACTED:", "]", "A1b2C3d4E5f6G7h8I9j0K1", "0123456789abcdef", "İ", "ß", "\x00",
]  # fmt: skip
SECRETISH = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=30).map("".join)
TEXTS = st.text() | SECRETISH
REDACTOR = Redactor()
WITH_EXTRA = Redactor(extra_patterns=[r"[A-Z]{2,}", r"\d+", r"a*"])


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = REDACTOR.redact(text)
    assert isinstance(once, str)
    assert REDACTOR.redact(once) == once


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_idempotent_with_greedy_extra_patterns(text: str) -> None:
    once = WITH_EXTRA.redact(text)
    assert WITH_EXTRA.redact(once) == once


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, max_size=12))
def test_redact_lines_keeps_the_count_and_is_idempotent(lines: list[str]) -> None:
    once = REDACTOR.redact_lines(lines)
    assert len(once) == len(lines)
    assert all(isinstance(line, str) for line in once)
    assert REDACTOR.redact_lines(once) == once


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS.filter(lambda s: "-----BEGIN" not in s), max_size=12))
def test_redact_lines_agrees_with_redact_outside_key_blocks(lines: list[str]) -> None:
    assert REDACTOR.redact_lines(lines) == [REDACTOR.redact(line) for line in lines]


@given(st.text(max_size=50))
def test_text_without_secrets_comes_back_unchanged(text: str) -> None:
    plain = "".join(c for c in text if c.isdigit() or c in " ,")
    assert REDACTOR.redact(plain) is plain


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, max_size=12))
def test_pure_python_prefilter_agrees_with_hyperscan(lines: list[str]) -> None:
    fallback = Redactor()
    fallback._hyperscan = None  # what a machine without the hyperscan package runs
    assert fallback.redact_lines(lines) == REDACTOR.redact_lines(lines)
