"""A NotReady node end to end: describe at once, cordon (MEDIUM) and drain (HIGH) behind approvals.

The drain goes through the Eviction API (policy/v1) only: a PodDisruptionBudget that would be
violated answers 429, the drain retries and then stops with the budget's message; no pod is
ever deleted with a plain DELETE.
"""

from __future__ import annotations

from typing import Any

from tests.operator import workloads
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import Harness, eventually, writes


def _seed(harness: Harness) -> None:
    workloads.seed_not_ready_node(harness.emulator, min_available=2)


async def _approve_next(harness: Harness, action: str, *approvers: str) -> dict[str, Any]:
    """Approve the pending ``action`` as each of ``approvers`` in turn (default alice); every vote
    but the last leaves it pending. The last answer."""

    async def waiting() -> bool:
        return any(r["action"] == action for r in await harness.pending())

    await eventually(waiting, what=f"a pending {action}")
    (request,) = [r for r in await harness.pending() if r["action"] == action]
    approvers = approvers or ("alice",)
    for i, approver in enumerate(approvers, start=1):
        async with harness.api(approver) as api:
            response = await api.post(f"/api/approvals/{request['id']}/approve")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        assert result["decided"] is (i == len(approvers)), result
        assert result["votes_needed"] == len(approvers)
    return result


async def test_drain_respects_the_pod_disruption_budget(harness: Harness) -> None:
    """The budget (minAvailable 2 of 2 healthy) allows no disruption: the PDB guard blocks the drain
    while it is planned, so nobody is asked to approve an eviction that would violate it; the run
    escalates naming the budget, and nothing is evicted or deleted."""
    _seed(harness)
    await harness.start()
    await _approve_next(harness, "cordon")
    node = harness.emulator.get_object("v1", "Node", None, "worker-2")
    assert node is not None and node["spec"]["unschedulable"] is True

    failed: list[dict[str, Any]] = []

    async def run_ended() -> bool:
        incidents = await harness.get("/api/incidents")
        detail = await harness.get(f"/api/incidents/{incidents[0]['id']}")
        failed[:] = [r for r in detail["runs"] if r["state"] == "failed"]
        return bool(failed)

    await eventually(run_ended, what="the run to fail at the drain")
    run = failed[0]
    drain = run["steps"][-1]
    assert (drain["action"], drain["state"], drain["guard"]) == ("drain", "blocked", "pdb")
    assert "PodDisruptionBudget shop/api" in drain["error"]
    assert drain["approval_id"] is None, "no approval was asked for a drain the budget forbids"
    [escalation] = run["escalations"]
    assert (escalation["kind"], escalation["guard"], escalation["step"]) == (
        "blocked",
        "pdb",
        "drain the node",
    )

    emu = harness.emulator
    assert writes(emu, "POST", "/eviction") == []
    assert writes(emu, "DELETE", "/pods/") == []
    assert emu.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-aaaaa") is not None
    audit = await harness.get("/api/audit")
    assert [e["action"] for e in audit] == ["cordon"]


async def test_drain_evicts_when_the_budget_allows(harness: Harness) -> None:
    _seed(harness)
    harness.emulator.put_object(kf.pdb("api", "shop", match_labels={"app": "api"}, max_unavailable=1))
    await harness.start()
    await _approve_next(harness, "cordon")
    result = await _approve_next(harness, "drain", "alice", "bob")  # a drain needs two people
    run = await harness.finished_run(result["run"]["id"])
    assert run["state"] == "succeeded", run
    assert run["steps"][-1]["verification"]["state"] == "verified"
    assert harness.emulator.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-aaaaa") is None
    assert harness.emulator.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-bbbbb") is not None
    assert writes(harness.emulator, "DELETE", "/pods/") == []
