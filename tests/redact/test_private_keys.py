"""PEM private keys (RFC 7468) are redacted whole, in one text and across the lines of a log.

Armor lines are kept so a reader sees what leaked; the base64 body never survives, whether the key
sits in one multi-line text, is printed one line per log line, or is cut off before its END line.
"""

from __future__ import annotations

import pytest

from aiops.enrichment.redact import MAX_KEY_LINES, Redactor

BODY = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
]
KEY_TYPES = [
    "RSA PRIVATE KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize("label", KEY_TYPES)
def test_multi_line_key_in_one_text(redactor: Redactor, label: str) -> None:
    text = "\n".join(["loaded key:", f"-----BEGIN {label}-----", *BODY, f"-----END {label}-----", "done"])
    assert redactor.redact(text) == (
        f"loaded key:\n-----BEGIN {label}-----[REDACTED:private_key]-----END {label}-----\ndone"
    )


def test_two_keys_in_one_text_leave_the_text_between(redactor: Redactor) -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"
    out = redactor.redact(f"{key}\nbetween\n{key}")
    assert out.count("[REDACTED:private_key]") == 2
    assert "between" in out
    assert "MHcCAQEE" not in out


def test_unterminated_key_is_redacted_to_the_end(redactor: Redactor) -> None:
    text = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(BODY)
    assert redactor.redact(text) == "-----BEGIN RSA PRIVATE KEY-----[REDACTED:private_key]"


def test_pgp_private_key_block(redactor: Redactor) -> None:
    text = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----"
    assert "lQOYBF" not in redactor.redact(text)


def test_key_printed_one_line_per_log_line(redactor: Redactor) -> None:
    lines = ["boot", "-----BEGIN RSA PRIVATE KEY-----", *BODY, "-----END RSA PRIVATE KEY-----", "ready"]
    assert redactor.redact_lines(lines) == [
        "boot",
        "-----BEGIN RSA PRIVATE KEY-----",
        *["[REDACTED:private_key]"] * len(BODY),
        "-----END RSA PRIVATE KEY-----",
        "ready",
    ]


def test_key_lines_with_body_on_the_armor_lines(redactor: Redactor) -> None:
    lines = ["key=-----BEGIN PRIVATE KEY-----MIIE", "abcd", "efgh-----END PRIVATE KEY----- password=x"]
    assert redactor.redact_lines(lines) == [
        "key=-----BEGIN PRIVATE KEY-----[REDACTED:private_key]",
        "[REDACTED:private_key]",
        "[REDACTED:private_key]-----END PRIVATE KEY----- password=[REDACTED:password]",
    ]


def test_redact_lines_is_idempotent_on_keys(redactor: Redactor) -> None:
    lines = ["-----BEGIN RSA PRIVATE KEY-----", *BODY, "-----END RSA PRIVATE KEY-----", "after"]
    once = redactor.redact_lines(lines)
    assert redactor.redact_lines(once) == once


def test_unterminated_key_across_lines_stops_after_max_lines(redactor: Redactor) -> None:
    lines = ["-----BEGIN PRIVATE KEY-----", *["AAAA"] * (MAX_KEY_LINES + 5)]
    out = redactor.redact_lines(lines)
    assert out[1 : MAX_KEY_LINES + 1] == ["[REDACTED:private_key]"] * MAX_KEY_LINES
    assert len(out) == len(lines)


def test_public_key_and_certificate_are_kept(redactor: Redactor) -> None:
    lines = ["-----BEGIN PUBLIC KEY-----", "MFkwEwYH", "-----END PUBLIC KEY-----"]
    assert redactor.redact_lines(lines) == lines
    assert redactor.redact("\n".join(lines)) == "\n".join(lines)
