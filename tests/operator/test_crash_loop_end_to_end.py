"""A crash-looping pod, end to end: real kopf operator ⇄ emulated Kubernetes API, real Redis, REST approvals.

One incident however many watch events arrive; describe and logs run at once; the pod restart
(MEDIUM) waits for approval; the approved delete lands in the cluster once, with an audit entry;
the operator never writes onto the watched objects.
"""

from __future__ import annotations

from typing import Any

from aiops.emulator.controllers import running_controllers
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, writes


async def _crash_incidents(harness: Harness) -> list[dict[str, Any]]:
    incidents: list[dict[str, Any]] = await harness.get("/api/incidents")
    return [i for i in incidents if i["type"] == "crash_loop"]


async def test_one_incident_reads_at_once_restart_after_approval(harness: Harness) -> None:
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    await harness.start()

    async def one_pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(one_pending, what="the pod restart to wait for approval")
    for restarts in range(6, 56):  # 50 further MODIFIED events for the same problem
        emu.put_object(workloads.crashing(pod, restarts=restarts))

    async def counted() -> bool:
        incidents = await _crash_incidents(harness)
        return bool(incidents) and incidents[0]["event_count"] > 1

    await eventually(counted, what="duplicate events to be counted")
    incidents = await _crash_incidents(harness)
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["subject"]["kind"] == "Deployment" and incident["subject"]["name"] == "web"
    assert incident["suppressed"].get("duplicate", 0) == incident["event_count"] - 1

    detail = await harness.get(f"/api/incidents/{incident['id']}")
    (run,) = detail["runs"]
    states = {step["name"]: step for step in run["steps"]}
    reads = [s for s in run["steps"] if s["risk"] == "low"]
    assert reads and all(s["state"] == "succeeded" for s in reads)
    assert any("OperationalError" in str(s["output"]) for s in reads), "previous-container log was read"
    (restart,) = [s for s in states.values() if s["risk"] == "medium"]
    assert restart["state"] == "awaiting_approval"
    assert writes(emu, "DELETE") == []

    (request,) = await harness.pending()
    assert request["params"]["pod"] == pod["metadata"]["name"]
    [planned] = request["plan"]["calls"]
    assert (planned["method"], planned["path"]) == (
        "DELETE",
        f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}",
    )
    async with running_controllers(emu) as controllers:
        async with harness.api("alice") as api:
            response = await api.post(
                f"/api/approvals/{request['id']}/approve", json={"reason": "known bad pod"}
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["request"]["state"] == "approved" and body["request"]["decided_by"] == "alice"
        # The answer comes once the write is done; verification goes on in the background.
        assert body["run"]["steps"][-1]["state"] == "succeeded"
        assert body["run"]["steps"][-1]["verification"]["state"] == "verifying"
        run = await harness.finished_run(body["run"]["id"])
    assert run["state"] == "succeeded", run
    restart = run["steps"][-1]
    assert restart["verification"]["state"] == "verified", restart["verification"]
    assert (controllers.replaced and controllers.replaced[0] in restart["verification"]["detail"]) or restart[
        "verification"
    ]["checks"]

    assert emu.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
    deletes = writes(emu, "DELETE", "/pods/")
    assert len(deletes) == 1
    (entry,) = await harness.get("/api/audit")
    assert entry["action"] == "delete_pod" and entry["actor"] == "alice" and entry["ok"]
    assert entry["target"].endswith(pod["metadata"]["name"])
    assert any(call["method"] == "DELETE" and call["status"] == 200 for call in entry["api_calls"])
    # The operator never wrote onto the watched objects (no annotations, no status patches).
    assert writes(emu, "PATCH") == [] and writes(emu, "PUT") == []


async def test_reject_stops_the_run_and_leaves_the_pod(harness: Harness) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(pending, what="an approval request")
    (request,) = await harness.pending()
    async with harness.api("bob") as api:
        response = await api.post(f"/api/approvals/{request['id']}/reject", json={"reason": "DB is down"})
    assert response.status_code == 200
    assert response.json()["run"]["state"] == "rejected"
    assert response.json()["request"]["decided_by"] == "bob"
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None
    assert writes(harness.emulator, "DELETE") == []
    assert await harness.get("/api/audit") == []
