"""Restarts and recovery: nothing is lost across an operator restart; recovery closes the incident.

A request pending when the operator stops is approvable after it starts again (state in Redis,
not memory). A pod that recovers resolves its incident, and a new crash opens a fresh one.
"""

from __future__ import annotations

from typing import Any

from aiops.emulator.controllers import running_controllers
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually


async def test_pending_request_survives_a_restart(harness: Harness) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(pending, what="a pending approval")
    (before,) = await harness.pending()
    incidents_before = await harness.get("/api/incidents")
    await harness.restart()

    (after,) = await harness.pending()
    assert after["id"] == before["id"]
    assert [i["id"] for i in await harness.get("/api/incidents")] == [i["id"] for i in incidents_before]
    async with running_controllers(harness.emulator):
        async with harness.api("alice") as api:
            response = await api.post(f"/api/approvals/{after['id']}/approve")
        assert response.status_code == 200, response.text
        run = await harness.finished_run(response.json()["run"]["id"])
    assert run["state"] == "succeeded"
    assert harness.emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is None
    # The restart re-listed the crash-looping pod: a duplicate, not a second incident or run.
    incidents = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
    assert len(incidents) == 1 and len(incidents[0]["run_ids"]) == 1


async def test_recovery_resolves_and_a_new_crash_opens_a_new_incident(harness: Harness) -> None:
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    await harness.start()

    async def crash_incidents() -> list[dict[str, Any]]:
        return [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]

    async def opened() -> bool:
        return len(await crash_incidents()) == 1

    await eventually(opened, what="the first incident")
    (first,) = await crash_incidents()

    emu.put_object(workloads.healthy(pod))

    async def resolved() -> bool:
        return all(i["status"] == "resolved" for i in await crash_incidents())

    await eventually(resolved, what="the incident to resolve on recovery")
    emu.put_object(workloads.crashing(pod, restarts=9))

    async def reopened() -> bool:
        return len(await crash_incidents()) == 2

    await eventually(reopened, what="a fresh incident for the new crash")
    incidents = await crash_incidents()
    fresh = [i for i in incidents if i["id"] != first["id"]]
    assert len(fresh) == 1 and fresh[0]["status"] == "open"
    assert {i["dedup_key"] for i in incidents} == {"crash_loop:Deployment/shop/web"}


async def test_deletion_resolves_the_incident(harness: Harness) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def resolved_by_delete() -> bool:
        incidents = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
        return bool(incidents) and incidents[0]["status"] == "resolved"

    async def opened() -> bool:
        return bool(await harness.get("/api/incidents"))

    await eventually(opened, what="an incident")
    harness.emulator.delete_object("v1", "Pod", "shop", pod["metadata"]["name"])
    await eventually(resolved_by_delete, what="the incident to resolve on deletion")
    (incident,) = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
    assert incident["resolution"] == "deleted"
