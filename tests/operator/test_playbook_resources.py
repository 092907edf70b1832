"""Playbook custom resources (``kubectl apply``), end to end through the running operator.

A valid resource is loaded, reported ``accepted`` on its own status (condition ``Ready``, the
printer columns' fields, a status the CRD's schema accepts), and routed by its triggers for
subjects in its own namespace only; an invalid one is refused with its problems on its status
(condition ``Invalid``) and one Warning Event per problem, and never runs; deleting a resource
stops its routing, and a run of it still waiting for approval ends "playbook unavailable".
"""

from __future__ import annotations

from typing import Any

from aiops.playbooks import crd_check
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, writes


def playbook_resource(
    name: str, namespace: str, *, risk: str = "low", action: str = "notify"
) -> dict[str, Any]:
    params: dict[str, Any] = (
        {"message": "crash loop in {{ event.subject.name }}: page the owning team"}
        if action == "notify"
        else {"namespace": "{{ event.resource.namespace }}", "pod": "{{ event.resource.name }}"}
    )
    return {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "description": "Team-specific crash-loop note",
            "triggers": ["crash_loop"],
            "steps": [{"name": "tell the team", "action": action, "risk": risk, "params": params}],
        },
    }


async def _runs_of(harness: Harness) -> dict[str, dict[str, Any]]:
    incidents = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
    if not incidents:
        return {}
    detail = await harness.get(f"/api/incidents/{incidents[0]['id']}")
    return {run["playbook_id"]: run for run in detail["runs"]}


async def test_resource_playbook_runs_for_its_namespace_and_reports_status(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(playbook_resource("shop-crash-note", "shop"))
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    emu.put_object(playbook_resource("other-crash-note", "other"))
    await harness.start()

    async def accepted() -> bool:
        stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "shop-crash-note") or {}
        return bool((stored.get("status") or {}).get("accepted"))

    await eventually(accepted, what="the Playbook resource to be accepted on its status")
    workloads.seed_crash_loop(emu)

    async def both_ran() -> bool:
        runs = await _runs_of(harness)
        return "shop-crash-note" in runs and runs["shop-crash-note"]["state"] == "succeeded"

    await eventually(both_ran, what="the resource playbook to run")
    runs = await _runs_of(harness)
    assert set(runs) == {"crash_loop_remediation", "shop-crash-note"}  # not the other namespace's
    (step,) = runs["shop-crash-note"]["steps"]
    assert step["output"] == "crash loop in web: page the owning team"
    # Status written once, on aiops' own resource; the users' objects were never written.
    status_writes = writes(emu, "PATCH", "/playbooks/shop-crash-note/status")
    assert len(status_writes) == 1
    assert writes(emu, "PATCH", "/pods/") == writes(emu, "PATCH", "/deployments/") == []
    assert writes(emu, "POST", "/events") == []  # Events only for problems
    stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "shop-crash-note") or {}
    status = stored["status"]
    assert (status["playbookId"], status["steps"], status["highestRisk"]) == ("shop-crash-note", 1, "low")
    ready, invalid = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Loaded")
    assert (invalid["type"], invalid["status"], invalid["reason"]) == ("Invalid", "False", "Valid")
    assert ready["observedGeneration"] == stored["metadata"]["generation"] == status["observedGeneration"]
    assert ready["lastTransitionTime"].endswith("Z")
    assert crd_check.problems(stored) == []  # the status the operator wrote fits the CRD


async def test_invalid_resource_is_refused_on_its_status_and_never_runs(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    # A write action declared low risk: it would skip the approval gate, so it is refused.
    emu.put_object(playbook_resource("sneaky", "shop", risk="low", action="delete_pod"))
    await harness.start()

    async def refused() -> bool:
        stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "sneaky") or {}
        return (stored.get("status") or {}).get("accepted") is False

    await eventually(refused, what="the invalid Playbook resource to be refused on its status")
    stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "sneaky") or {}
    status = stored["status"]
    (problem,) = status["problems"]
    assert "spec.steps.0.risk" in problem
    ready, invalid = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "Invalid")
    assert (invalid["type"], invalid["status"], invalid["reason"]) == ("Invalid", "True", "ValidationFailed")
    assert invalid["message"] == problem and (status.get("playbookId"), status["steps"]) == (
        None,
        0,
    )  # null: removed by the merge patch
    # The CRD's CEL rule would refuse this spec at the API server; the emulator stores what it is given.
    assert crd_check.problems(stored) == [
        ".spec.steps[0]: actions cordon, delete_pod, rollout_restart, scale, uncordon have base risk medium: "
        "declare risk medium or high"
    ]

    async def event_posted() -> bool:
        return bool(writes(emu, "POST", "/namespaces/shop/events"))

    await eventually(event_posted, what="a Warning Event about the refused Playbook")
    (post,) = writes(emu, "POST", "/namespaces/shop/events")
    event = emu.get_object("v1", "Event", "shop", post.body["metadata"]["name"]) or {}
    assert (event["type"], event["reason"], event["message"]) == ("Warning", "InvalidPlaybook", problem)
    involved = event["involvedObject"]
    assert (involved["kind"], involved["namespace"], involved["name"]) == ("Playbook", "shop", "sneaky")
    assert involved["uid"] == stored["metadata"]["uid"]
    workloads.seed_crash_loop(emu)

    async def built_in_waiting() -> bool:
        return len(await harness.pending()) == 1

    await eventually(built_in_waiting, what="the built-in playbook's approval request")
    assert set(await _runs_of(harness)) == {"crash_loop_remediation"}
    assert writes(emu, "DELETE") == []


async def test_deleted_resource_stops_routing(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(playbook_resource("shop-crash-note", "shop"))
    await harness.start()

    async def accepted() -> bool:
        stored = emu.get_object("aiops.dev/v1alpha1", "Playbook", "shop", "shop-crash-note") or {}
        return bool((stored.get("status") or {}).get("accepted"))

    await eventually(accepted, what="acceptance")
    emu.delete_object("aiops.dev/v1alpha1", "Playbook", "shop", "shop-crash-note")

    async def forgotten() -> bool:
        services = harness.services
        return services is not None and "shop-crash-note" not in services.playbooks.current()

    await eventually(forgotten, what="the deleted resource to be forgotten")
    workloads.seed_crash_loop(emu)

    async def waiting() -> bool:
        return len(await harness.pending()) == 1

    await eventually(waiting, what="the built-in playbook's approval request")
    assert set(await _runs_of(harness)) == {"crash_loop_remediation"}


async def test_a_run_waiting_on_a_deleted_resource_ends_with_playbook_unavailable(harness: Harness) -> None:
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(playbook_resource("shop-restart", "shop", risk="medium", action="delete_pod"))
    await harness.start()
    workloads.seed_crash_loop(emu)

    async def waiting() -> bool:
        return any(r["playbook_id"] == "shop-restart" for r in await harness.pending())

    await eventually(waiting, what="the resource playbook's approval request")
    (request,) = [r for r in await harness.pending() if r["playbook_id"] == "shop-restart"]
    emu.delete_object("aiops.dev/v1alpha1", "Playbook", "shop", "shop-restart")

    async def forgotten() -> bool:
        services = harness.services
        return services is not None and "shop-restart" not in services.playbooks.current()

    await eventually(forgotten, what="the deleted resource to be forgotten")
    await harness.approve(request["id"])
    run = await harness.finished_run(request["run_id"])
    assert run["state"] == "failed" and run["reason"].startswith("playbook unavailable: unknown playbook")
    assert writes(emu, "DELETE", "/pods/") == []  # the approved step never ran
