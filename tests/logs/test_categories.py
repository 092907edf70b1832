"""Every failure category is recognised in realistic log excerpts, and healthy lines stay quiet.

Covers the library's shape (at least 25 categories, each with a severity, a meaning, a regex and an
excerpt here), each excerpt's expected category, ranking, samples and exit-code interpretation.
"""

from __future__ import annotations

import re

import pytest

from aiops.enrichment.logs import analyze, patterns, scan
from aiops.enrichment.logs.patterns import Category
from aiops.events.model import Severity
from tests.logs.excerpts import BENIGN, EXCERPTS

CASES = [
    pytest.param(category, excerpt, id=f"{category.value}-{i}")
    for category, excerpts in EXCERPTS.items()
    for i, excerpt in enumerate(excerpts)
]


@pytest.fixture(scope="module")
def scanner() -> scan.Scanner:
    return scan.scanner()


def test_the_library_has_at_least_25_categories_each_described_with_a_pattern_and_an_excerpt() -> None:
    assert len(Category) >= 25
    assert set(patterns.CATEGORIES) == set(Category)
    assert {p.category for p in patterns.PATTERNS} == set(Category)
    assert set(EXCERPTS) == set(Category)


def test_patterns_use_no_upper_case_escapes_so_the_lowered_prefilter_stays_equivalent() -> None:
    for pattern in patterns.PATTERNS:
        assert not re.search(r"\\[A-Z]", pattern.regex), pattern.regex


@pytest.mark.parametrize(("category", "excerpt"), CASES)
def test_each_excerpt_yields_its_category(
    category: Category, excerpt: list[str], scanner: scan.Scanner
) -> None:
    result = analyze.analyze(excerpt, scanner=scanner, mine_templates=False)
    found = {f.category for f in result.findings}
    assert category in found, f"{category} not in {sorted(found)}"


def test_healthy_lines_produce_no_finding(scanner: scan.Scanner) -> None:
    assert analyze.analyze(BENIGN, scanner=scanner).findings == []


def test_findings_rank_by_severity_then_count_and_carry_line_numbers_and_samples(
    scanner: scan.Scanner,
) -> None:
    lines = [
        "GET /a 429 Too Many Requests",
        "dial tcp 10.0.0.1:80: connect: connection refused",
        "dial tcp 10.0.0.1:80: connect: connection refused",
        "ok",
        "write /data/x: no space left on device",
        "dial tcp 10.0.0.2:80: connect: connection refused",
        "GET /b 429 Too Many Requests",
    ]
    result = analyze.analyze(lines, scanner=scanner, max_samples=2)
    assert [(f.category, f.count, f.first_line, f.last_line) for f in result.findings] == [
        (Category.DISK_FULL, 1, 5, 5),
        (Category.CONNECTION_REFUSED, 3, 2, 6),
        (Category.RATE_LIMITED, 2, 1, 7),
    ]
    refused = result.findings[1]
    assert refused.severity is Severity.WARNING
    assert refused.samples == [lines[1], lines[5]]  # distinct samples only, at most max_samples
    assert result.lines == 7


def test_a_line_can_carry_several_categories(scanner: scan.Scanner) -> None:
    line = "kafka: client has run out of available brokers to talk to: dial tcp: lookup kafka: no such host"
    found = {f.category for f in analyze.analyze([line], scanner=scanner).findings}
    assert found == {Category.MESSAGE_BROKER, Category.DNS}


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (1, "generic error"),
        (126, "not executable"),
        (127, "command not found"),
        (137, "SIGKILL"),
        (139, "SIGSEGV"),
        (143, "SIGTERM"),
        (0, "successfully"),
        (134, "signal 6"),
        (3, "application-specific"),
    ],
)
def test_exit_codes_are_interpreted(code: int, text: str) -> None:
    assert text in patterns.interpret_exit_code(code)


def test_exit_code_patterns_do_not_confuse_1_with_137_or_a_decimal() -> None:
    result = analyze.analyze(["exited with code 137", "exit status 1.5s later"], mine_templates=False)
    assert [f.category for f in result.findings] == [Category.EXIT_137]


def test_long_sample_lines_are_cut() -> None:
    line = "connection refused " + "x" * 2000
    (finding,) = analyze.analyze([line], mine_templates=False).findings
    assert len(finding.samples[0]) == analyze.MAX_SAMPLE_CHARS
    assert finding.samples[0].endswith("…")
