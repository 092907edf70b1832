"""The hyperscan, combined-``re`` and per-pattern ``re`` engines give identical hits and findings.

Compared on every excerpt, on 16,000 Loghub lines (8 systems), on non-ASCII text (the lowered
prefilter is skipped there) and across chunk boundaries; hyperscan tests skip where it is not
installable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.enrichment.logs import analyze, scan
from tests.logs.excerpts import BENIGN, EXCERPTS

LOGHUB = Path(__file__).resolve().parents[3] / "shared" / "data" / "loghub"
ENGINES = scan.available_engines()


def corpus() -> list[str]:
    lines = [line for excerpts in EXCERPTS.values() for excerpt in excerpts for line in excerpt]
    lines += BENIGN
    lines += ["héllo wörld: connection refused ✓", "日本語 timed out", "İstanbul NXDOMAIN", "x" * 300]
    for path in sorted(LOGHUB.glob("*/*_2k.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return corpus()


def test_re_engines_are_always_available() -> None:
    assert {"re", "re-each"} <= set(ENGINES)


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "re-each"])
def test_engine_hits_equal_the_per_pattern_reference(engine: scan.Engine, lines: list[str]) -> None:
    reference = list(scan.scanner(engine="re-each").scan(lines))
    assert len(reference) > 200
    assert list(scan.scanner(engine=engine).scan(lines)) == reference


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree_across_chunk_boundaries(engine: scan.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "CHUNK_LINES", 3)
    lines = ["ok", "timed out", "ok", "x509: bad", "ok", "ok", "ok", "connection refused", "exit code 1"]
    hits = [(h.line_no, h.text) for h in scan.scanner(engine=engine).scan(lines)]
    assert hits == [(2, "timed out"), (4, "x509: bad"), (8, "connection refused"), (9, "exit code 1")]


@pytest.mark.skipif("hyperscan" not in ENGINES, reason="hyperscan is not installed")
def test_hyperscan_and_re_give_identical_findings(lines: list[str]) -> None:
    fast = analyze.analyze(lines, scanner=scan.scanner(engine="hyperscan"), mine_templates=False)
    slow = analyze.analyze(lines, scanner=scan.scanner(engine="re"), mine_templates=False)
    assert fast.findings == slow.findings
    assert (fast.engine, slow.engine) == ("hyperscan", "re")


def test_default_engine_is_the_fastest_available() -> None:
    assert scan.scanner().engine == ENGINES[0]


@pytest.mark.parametrize(
    ("regex", "literals"),
    [
        (r"connection refused|ECONNREFUSED", {"connection refused", "econnrefused"}),
        (r"\bx509: |unknown (?:certificate )?authority", {"x509: ", "authority"}),
        (r"^[ \t]+File \"[^\"\n]+\", line \d+", {'", line '}),
        (r"(?:liveness|readiness) probe failed", {" probe failed"}),
        (r"(?:ab|c)d", None),  # "c" alone is too short to be worth a prefilter
        (r"\d+", None),
    ],
)
def test_required_literals_are_what_every_match_must_contain(regex: str, literals: set[str] | None) -> None:
    assert scan.required_literals(regex) == (frozenset(literals) if literals is not None else None)


def test_a_pattern_without_literals_is_still_found_by_the_re_engine() -> None:
    from aiops.enrichment.logs.patterns import Category, Pattern

    patterns = (Pattern(Category.TIMEOUT, r"\d{3}ms"), Pattern(Category.DNS, r"no such host"))
    lines = ["took 250ms", "ok", "no such host 999ms"]
    expected = [scan.Hit(1, lines[0], (0,)), scan.Hit(3, lines[2], (0, 1))]
    for engine in ENGINES:
        assert list(scan.scanner(patterns, engine=engine).scan(lines)) == expected, engine


def test_without_hyperscan_the_default_falls_back_to_re(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "hyperscan_available", lambda: False)
    assert scan.available_engines() == ["re", "re-each"]
    assert scan.scanner().engine == "re"
