"""``aiops rca``: the offline RCA a post-mortem runs on saved ``kubectl get -o json``, events and logs.

An OOM-killed pod is named as such with the oom playbook recommended; a crash whose previous log
ends in a PostgreSQL connection error names the dependency; secrets in the log never reach the
output; unreadable input exits 2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "detect" / "fixtures" / "pod"

PG_LOG = """\
2026-11-21T10:51:02Z INFO  connecting to postgres://app:hunter2-secret@orders-db:5432/orders
Traceback (most recent call last):
  File "/app/checkout/db.py", line 41, in connect
psycopg.OperationalError: connection failed: Connection refused
"""


def test_an_oom_killed_pod_is_named_and_its_playbook_recommended(tmp_path: Path) -> None:
    obj = tmp_path / "pod.json"
    shutil.copy(FIXTURES / "crash_loop_oom.json", obj)
    result = run_cli("rca", "-f", str(obj), "--json")
    assert result.returncode == 0, result
    rca = json.loads(result.stdout)
    assert rca["category"] == "out_of_memory" and rca["recommended_playbook"] == "oom_kill_remediation"
    assert rca["source"] == "heuristic" and rca["confidence"] >= 0.5


def test_a_dependency_failure_is_named_and_secrets_are_redacted(tmp_path: Path) -> None:
    obj, log = tmp_path / "pod.json", tmp_path / "previous.log"
    shutil.copy(FIXTURES / "crash_loop.json", obj)
    log.write_text(PG_LOG)
    result = run_cli("rca", "-f", str(obj), "--logs", str(log), "--json")
    assert result.returncode == 0, result
    assert "hunter2-secret" not in result.stdout
    rca = json.loads(result.stdout)
    assert rca["category"] in {"dependency_unavailable", "bad_rollout", "application_crash"}
    human = run_cli("rca", "-f", str(obj), "--logs", str(log))
    assert human.returncode == 0 and "confidence" in human.stdout and "hunter2-secret" not in human.stdout


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    missing = run_cli("rca", "-f", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.flat_stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    broken = run_cli("rca", "-f", str(bad))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
