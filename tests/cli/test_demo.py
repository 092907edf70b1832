"""``aiops demo --script --json``: the whole product, unattended, against an emulated cluster.

With Redis answering at ``REDIS_URL`` the demo uses it (under a throwaway ``aiops-demo:<hex>:``
prefix it announces and removes at the end); with nothing listening there it falls back to the
in-process store and behaves the same. Either way it exits 0 and stdout is one JSON report:
ok, one succeeded run per seeded failure (crash loop, OOM kill, NotReady node, bad rollout),
every cluster check true, and one audit entry per write (delete_pod, patch_resources, cordon,
drain, rollback), each by the demo's approver identity ``demo-sre``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from tests.cli.helpers import CliResult, cli_env, run_cli

DEMO_TIMEOUT_SECONDS = 120
#: The seeded failures and the playbook each one routes to (``aiops/defaults/rules.yaml``).
PLAYBOOKS = [
    "crash_loop_remediation",
    "deployment_rollback",
    "node_not_ready_remediation",
    "oom_kill_remediation",
]
WRITES = ["cordon", "delete_pod", "drain", "patch_resources", "rollback"]
DEAD_REDIS = "redis://127.0.0.1:1/0"


def run_demo(redis_url: str) -> tuple[dict[str, Any], CliResult]:
    result = run_cli(
        "demo", "--script", "--json", env=cli_env(REDIS_URL=redis_url), timeout_seconds=DEMO_TIMEOUT_SECONDS
    )
    assert result.returncode == 0, result
    report: dict[str, Any] = json.loads(result.stdout)  # stdout is the report and nothing else
    return report, result


def assert_the_demo_did_its_job(report: dict[str, Any]) -> None:
    assert report["ok"] is True
    runs = report["runs"]
    assert sorted(run["playbook_id"] for run in runs) == PLAYBOOKS
    assert {run["state"] for run in runs} == {"succeeded"}, [(r["playbook_id"], r["state"]) for r in runs]
    checks = report["cluster_checks"]
    assert len(checks) == 6 and all(value is True for value in checks.values()), checks
    audit = report["audit"]
    assert sorted(entry["action"] for entry in audit) == WRITES
    for entry in audit:
        assert entry["actor"] == "demo-sre", entry
        assert entry["ok"] is True, entry
        assert entry["api_calls"], f"{entry['action']} recorded the API calls it made"
    incidents = {(i["type"], i["subject"]["name"]) for i in report["incidents"]}
    assert {("crash_loop", "checkout"), ("node_not_ready", "worker-2")} <= incidents


def test_the_demo_runs_on_redis_and_leaves_no_keys(redis_url: str) -> None:
    report, result = run_demo(redis_url)

    assert report["store"].startswith("redis"), report["store"]
    assert_the_demo_did_its_job(report)
    announced = re.search(r"keys under (aiops-demo:[0-9a-f]+:)", result.flat_stderr)
    assert announced is not None, result
    client = redis.Redis.from_url(redis_url)
    try:
        # Only this run's prefix: others may be running the demo on the same Redis right now.
        assert list(client.scan_iter(match=f"{announced[1]}*", count=1000)) == []
    finally:
        client.close()


def test_without_redis_the_demo_uses_the_in_memory_store_and_still_succeeds() -> None:
    report, result = run_demo(DEAD_REDIS)

    assert report["store"] == "in-memory"
    assert f"no Redis answers at {DEAD_REDIS}" in result.flat_stderr
    assert_the_demo_did_its_job(report)
