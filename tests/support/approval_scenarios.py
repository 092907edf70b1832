"""Approval scenarios against ``aiops run`` child processes: seeded crash loops, approvers, invariants.

Shared by the durability tests that kill or pause real operator processes
(tests/safety/test_sigkill_approvals.py, tests/faults/test_failover.py): the emulated cluster
seeded with Deployments whose one pod crash-loops (the built-in ``crash_loop_remediation``
playbook then waits for approval to delete each pod), HTTP clients of the API per approver with a
ledger of what was sent and answered, and the invariants checked once every run ended.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from aiops.emulator import ClusterEmulator
from aiops.playbooks.runs import TERMINAL_RUN_STATES
from tests.operator import workloads
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import TOKENS, writes

APPROVERS = ("alice", "bob")
TERMINAL = {state.value for state in TERMINAL_RUN_STATES}
#: The knobs that keep the blast-radius guards out of these durability tests (budgets, rate
#: limits, the workload share), with short verification and sweeps.
SAFETY_OPEN = {
    "AIOPS_SAFETY__BUDGET_PER_NAMESPACE": "1000",
    "AIOPS_SAFETY__BUDGET_PER_CLUSTER": "1000",
    "AIOPS_SAFETY__RATE_LIMIT_SECONDS": "0",
    "AIOPS_SAFETY__MAX_UNAVAILABLE_WORKLOAD_SHARE": "1",
    "AIOPS_SAFETY__VERIFY_TIMEOUT_SECONDS": "1",
    "AIOPS_SAFETY__VERIFY_SETTLE_SECONDS": "0",
    "AIOPS_SAFETY__VERIFY_POLL_SECONDS": "0.2",
    "AIOPS_APPROVALS__SWEEP_INTERVAL_SECONDS": "1",
}


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def seed(emu: ClusterEmulator, namespaces: Sequence[str], deployments: int, *, first: int = 0) -> set[str]:
    """``deployments`` Deployments (spread over ``namespaces``, numbered from ``first``) →
    ReplicaSet → one crash-looping pod each, whose previous log holds the crash; returns the
    pods' API paths."""
    for namespace in namespaces:
        emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    paths: set[str] = set()
    for i in range(first, first + deployments):
        namespace = namespaces[i % len(namespaces)]
        deploy = emu.put_object(kf.deployment(f"app-{i:03d}", namespace, replicas=1, revision=1))
        rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="6b4f9d8c7"))
        name = f"{rs['metadata']['name']}-{i:05d}"
        pod = kf.pod(name, namespace, labels=rs["metadata"]["labels"], owner=rs, node="worker-1")
        emu.put_object(workloads.crashing(pod, restarts=5))
        emu.set_pod_log(namespace, name, workloads.PREVIOUS_LOG, container="app", previous=True)
        paths.add(pod_path(namespace, name))
    return paths


@dataclass
class Ledger:
    """What the test sent and what the API answered."""

    attempted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    confirmed: dict[str, str] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    lost: int = 0
    unexpected: list[str] = field(default_factory=list)


class Api:
    """HTTP clients of the operator's API, one per approver (``alice``, ``bob``)."""

    def __init__(self, base_url: str) -> None:
        self.clients = {
            # No keep-alive: a pooled connection to a killed incarnation must not be reused.
            who: httpx.AsyncClient(
                base_url=base_url,
                headers={"Authorization": f"Bearer {TOKENS[who]}"},
                timeout=30,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            for who in APPROVERS
        }

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.clients["alice"].get(path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    async def approve(self, request_id: str, approver: str, ledger: Ledger) -> None:
        ledger.attempted[request_id].add(approver)
        try:
            response = await self.clients[approver].post(
                f"/api/approvals/{request_id}/approve", json={"reason": "sigkill test"}
            )
        except httpx.HTTPError:  # the operator died under the request: outcome unknown to us
            ledger.lost += 1
            return
        if response.status_code == 200:
            decided = response.json()["request"]
            if decided["state"] != "approved" or decided["decided_by"] != approver:
                ledger.unexpected.append(f"{request_id}: 200 but {decided}")
            ledger.confirmed[request_id] = approver
        elif response.status_code == 409:  # approved earlier by a call whose answer was lost
            ledger.conflicts.add(request_id)
        else:
            ledger.unexpected.append(f"{request_id}: {response.status_code} {response.text}")

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def wait_for(
    what: str,
    predicate: Callable[[], Awaitable[bool | str]],
    log_tail: Callable[[], str],
    timeout_seconds: float,
    *,
    poll_seconds: float = 0.25,
) -> None:
    """Await ``predicate()`` every ``poll_seconds`` until it returns True (a string says why not
    yet); fail after the timeout with ``log_tail()`` (the operators' output)."""
    deadline = time.monotonic() + timeout_seconds
    last: bool | str = False
    while time.monotonic() < deadline:
        last = await predicate()
        if last is True:
            return
        await asyncio.sleep(poll_seconds)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what} ({last}):\n{log_tail()}")


@dataclass
class Outcome:
    """What the API holds once every run ended."""

    requests: list[dict[str, Any]]
    runs: dict[str, dict[str, Any]]
    incidents: list[dict[str, Any]]


def check_no_approval_lost(ledger: Ledger, outcome: Outcome, deployments: int) -> None:
    """No approval lost: every request the API confirmed is approved by its approver; every
    request whose answer was lost (or was answered 409) is approved by one who tried; every run
    has exactly one ``delete_pod`` request, decided by the test."""
    assert not ledger.unexpected, ledger.unexpected
    by_id = {r["id"]: r for r in outcome.requests}
    per_run = Counter(r["run_id"] for r in outcome.requests)
    assert len(per_run) == deployments, f"{len(per_run)} runs asked for approval, not {deployments}"
    assert all(n == 1 for n in per_run.values()), {run: n for run, n in per_run.items() if n != 1}
    incident_runs = sorted(run for incident in outcome.incidents for run in incident["run_ids"])
    assert incident_runs == sorted(per_run), "one incident per Deployment, one run per incident"
    for request_id, approver in ledger.confirmed.items():
        request = by_id[request_id]
        assert (request["state"], request["decided_by"]) == ("approved", approver), request
    for request_id, approvers in ledger.attempted.items():
        request = by_id[request_id]
        assert request["state"] == "approved" and request["decided_by"] in approvers, request
    assert set(ledger.attempted) == set(by_id), "every request was decided, by this test"


def check_deletes(emulator: ClusterEmulator, outcome: Outcome, pod_paths: set[str]) -> Counter[str]:
    """No step run twice (at most one real DELETE per pod) and none without a recorded approval;
    returns the real DELETEs per pod path (dry-run writes change nothing and are ignored)."""
    deletes = Counter(call.path for call in writes(emulator, "DELETE", "/pods/"))
    twice = {path: n for path, n in deletes.items() if n > 1}
    assert not twice, f"pods deleted more than once: {twice}"
    approved = {
        pod_path(r["params"]["namespace"], r["params"]["pod"])
        for r in outcome.requests
        if r["state"] == "approved"
    }
    assert approved == pod_paths, "every seeded pod has its approved request"
    unapproved = sorted(set(deletes) - approved)
    assert not unapproved, f"deleted without an approved request: {unapproved}"
    return deletes


def check_each_approved_step(outcome: Outcome, deletes: Counter[str]) -> Counter[str]:
    """No approved step silently vanished: it ran exactly once or is ``unknown`` (its outcome died
    with a process); returns how the approved steps ended (ran, unknown after/before the DELETE)."""
    ended: Counter[str] = Counter()
    vanished: list[str] = []
    for request in outcome.requests:
        run = outcome.runs[request["run_id"]]
        (step,) = [s for s in run["steps"] if s["action"] == "delete_pod"]
        assert step["approval_id"] == request["id"], (step, request)
        assert step["params"]["pod"] == request["params"]["pod"], (step, request)
        deleted = deletes[pod_path(request["params"]["namespace"], request["params"]["pod"])]
        if step["state"] == "unknown":
            ended["unknown after its DELETE" if deleted else "unknown before its DELETE"] += 1
        elif step["state"] in {"succeeded", "failed"} and deleted == 1:
            assert step["approved_by"] == request["decided_by"], (step, request)
            assert any(c["method"] == "DELETE" for c in step["api_calls"]), step
            ended["ran once"] += 1
        else:
            vanished.append(f"{run['id']}: step {step['state']} ({step['error']}), {deleted} DELETE(s)")
    assert not vanished, "approved steps that neither ran once nor are unknown:\n" + "\n".join(vanished)
    return ended


async def outcome_once_ended(api: Api, log_tail: Callable[[], str], timeout_seconds: float) -> Outcome:
    """Through ``api``: every ``delete_pod`` request, and, once every run that asked for one is
    terminal (waited for up to ``timeout_seconds``, failing with ``log_tail()``), those runs and the
    crash-loop incidents."""
    approvals = await api.get("/api/approvals", limit=1000)
    requests = [r for r in approvals if r["action"] == "delete_pod"]
    runs: dict[str, dict[str, Any]] = {}

    async def all_terminal() -> bool | str:
        for run_id in sorted({r["run_id"] for r in requests}):
            if runs.get(run_id, {}).get("state") not in TERMINAL:
                runs[run_id] = await api.get(f"/api/runs/{run_id}")
        waiting = [r for r in runs.values() if r["state"] not in TERMINAL]
        return not waiting or f"{len(waiting)} not terminal, e.g. {waiting[0]}"

    await wait_for("every run to end", all_terminal, log_tail, timeout_seconds)
    incidents = await api.get("/api/incidents", limit=1000)
    crash_incidents = [i for i in incidents if i["type"] == "crash_loop"]
    return Outcome(requests=requests, runs=runs, incidents=crash_incidents)
