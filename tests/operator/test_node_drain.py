"""A NotReady node end to end: describe at once, cordon (MEDIUM) and drain (HIGH) behind approvals.

The drain goes through the Eviction API (policy/v1) only: a PodDisruptionBudget that would be
violated answers 429, the drain retries and then stops with the budget's message; no pod is
ever deleted with a plain DELETE.
"""

from __future__ import annotations

from typing import Any

from tests.operator import workloads
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import Harness, eventually


def _seed(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(workloads.not_ready(kf.node("worker-2")))
    emu.put_object(kf.node("worker-1"))
    deploy = emu.put_object(kf.deployment("api", "shop", replicas=2, revision=1))
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="6c9d8f7b5"))
    labels = rs["metadata"]["labels"]
    emu.put_object(kf.pod("api-6c9d8f7b5-aaaaa", "shop", labels=labels, owner=rs, node="worker-2"))
    emu.put_object(kf.pod("api-6c9d8f7b5-bbbbb", "shop", labels=labels, owner=rs, node="worker-1"))
    emu.put_object(kf.pdb("api", "shop", match_labels={"app": "api"}, min_available=2))


async def _approve_next(harness: Harness, action: str) -> dict[str, Any]:
    async def waiting() -> bool:
        return any(r["action"] == action for r in await harness.pending())

    await eventually(waiting, what=f"a pending {action}")
    (request,) = [r for r in await harness.pending() if r["action"] == action]
    async with harness.api("alice") as api:
        response = await api.post(f"/api/approvals/{request['id']}/approve")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_drain_respects_the_pod_disruption_budget(harness: Harness) -> None:
    _seed(harness)
    await harness.start()
    await _approve_next(harness, "cordon")
    node = harness.emulator.get_object("v1", "Node", None, "worker-2")
    assert node is not None and node["spec"]["unschedulable"] is True

    result = await _approve_next(harness, "drain")
    run = result["run"]
    assert run["state"] == "failed"
    drain = run["steps"][-1]
    assert drain["action"] == "drain" and drain["state"] == "failed"
    assert "disruption budget" in (drain["error"] or drain["summary"]).lower()

    emu = harness.emulator
    evictions = emu.calls_matching("POST", "/eviction")
    assert len(evictions) >= 2, "the 429 was retried"
    assert all("api-6c9d8f7b5-aaaaa" in call.path for call in evictions)
    assert emu.calls_matching("DELETE", "/pods/") == []
    assert emu.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-aaaaa") is not None
    audit = await harness.get("/api/audit")
    assert [e["action"] for e in audit] == ["drain", "cordon"]
    assert audit[0]["ok"] is False and audit[1]["ok"] is True


async def test_drain_evicts_when_the_budget_allows(harness: Harness) -> None:
    _seed(harness)
    harness.emulator.put_object(kf.pdb("api", "shop", match_labels={"app": "api"}, max_unavailable=1))
    await harness.start()
    await _approve_next(harness, "cordon")
    result = await _approve_next(harness, "drain")
    assert result["run"]["state"] == "succeeded"
    assert harness.emulator.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-aaaaa") is None
    assert harness.emulator.get_object("v1", "Pod", "shop", "api-6c9d8f7b5-bbbbb") is not None
    assert harness.emulator.calls_matching("DELETE", "/pods/") == []
