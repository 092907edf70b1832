"""``aiops logs analyze`` and ``aiops logs templates``: offline log analysis as a user runs it.

A crashed container's previous log (Python traceback ending in a PostgreSQL connection error)
is ranked into findings; ``templates --json`` prints one object per input line, and lines that
differ only in ids and numbers share a template.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import run_cli

LOG = """\
2026-11-21T10:51:02Z INFO  checkout starting version=2.8.1
2026-11-21T10:51:02Z INFO  connecting to postgres host=orders-db.shop.svc port=5432
Traceback (most recent call last):
  File "/app/checkout/db.py", line 41, in connect
    return psycopg.connect(dsn, connect_timeout=5)
psycopg.OperationalError: connection failed: server at "10.96.14.3", port 5432 failed: Connection refused
2026-11-21T10:51:07Z ERROR checkout exiting: database unavailable
"""


def test_analyze_ranks_the_traceback_and_the_database_error(tmp_path: Path) -> None:
    path = tmp_path / "previous.log"
    path.write_text(LOG)
    result = run_cli("logs", "analyze", "-f", str(path), "--json")
    assert result.returncode == 0, result
    analysis = json.loads(result.stdout)
    assert analysis["lines"] == 7
    categories = {f["category"] for f in analysis["findings"]}
    assert categories, "the crash was found"
    assert any("python" in c or "postgres" in c or "connection" in c for c in categories), categories
    first = analysis["findings"][0]
    assert 1 <= first["first_line"] <= first["last_line"] <= 7 and first["samples"]


def test_analyze_a_healthy_log_finds_nothing() -> None:
    result = run_cli("logs", "analyze", "-f", "-", stdin="started\nlistening on :8080\nGET /healthz 200\n")
    assert result.returncode == 0 and "no known failure pattern found" in result.stdout


def test_templates_prints_one_object_per_line_and_groups_by_shape() -> None:
    lines = [f"request id={i:04x} took {i * 7} ms from 10.0.0.{i}" for i in range(1, 6)] + ["cache warmed"]
    result = run_cli("logs", "templates", "-f", "-", "--json", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert len({r["template_id"] for r in rows[:5]}) == 1
    assert rows[5]["template_id"] != rows[0]["template_id"]


def test_templates_prints_tab_separated_text_unless_json() -> None:
    # Before, --json defaulted to on and could not be turned off; now text is the default.
    lines = [f"request id={i:04x} took {i * 7} ms" for i in range(1, 4)]
    result = run_cli("logs", "templates", "-f", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == ["1", "2", "3"] and all(len(row) == 3 for row in rows), result
    assert len({row[1] for row in rows}) == 1 and "<*>" in rows[0][2]
