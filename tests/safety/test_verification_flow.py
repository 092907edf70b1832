"""Verification after a write, end to end: real operator (kopf), real API, real Redis, emulated cluster.

A restart whose replacement keeps crashing is *not verified*: the run fails, escalates with the
reason ``not_verified`` and the metrics count it. With healthy controllers the same restart is
verified and the run succeeds. A step that declares ``compensate`` gets its undo step queued
behind the approval gate when it is not verified, and the rest of the playbook is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, writes

PLAYBOOKS = Path(__file__).parent / "playbooks"


def _rules_file(tmp_path: Path, playbook: str) -> Path:
    """A rules file routing every crash loop (any namespace, no cooldown) to ``playbook`` only."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - name: crash loops to the test playbook\n"
        "    match:\n"
        "      types: [crash_loop]\n"
        f"    playbooks: [{playbook}]\n"
        "    cooldown_seconds: 0\n"
    )
    return path


async def _metric(harness: Harness, name: str, labels: dict[str, str]) -> float | None:
    """The value of sample ``name`` whose labels include ``labels`` on ``GET /metrics`` (None: absent)."""
    async with harness.api(None) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


async def _one_pending(harness: Harness, action: str) -> dict[str, Any]:
    """Wait for exactly one pending approval request for ``action`` and return it."""

    async def waiting() -> bool:
        return any(r["action"] == action for r in await harness.pending())

    await eventually(waiting, what=f"a pending {action} request")
    (request,) = [r for r in await harness.pending() if r["action"] == action]
    return request


async def test_restart_whose_replacement_keeps_crashing_is_not_verified_and_escalates(
    harness: Harness,
) -> None:
    """The approved delete_pod is written once; the controller's replacement crash-loops, so the
    step's verification is ``not_verified`` with a detail naming the replacement pod, the run ends
    ``failed`` with a ``not_verified`` escalation that the incident detail API shows (under its
    runs), and ``/metrics`` counts one not_verified escalation and one not_verified verification."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    await harness.start()
    request = await _one_pending(harness, "delete_pod")
    assert request["params"]["pod"] == pod["metadata"]["name"]

    async with running_controllers(emu, healthy=False) as controllers:
        body = await harness.approve(request["id"], reason="test")
        run = await harness.finished_run(body["run"]["id"])
        replaced = list(controllers.replaced)

    assert run["state"] == "failed", run
    assert "not verified" in (run["reason"] or ""), run["reason"]
    restart = run["steps"][-1]
    assert (restart["action"], restart["state"]) == ("delete_pod", "succeeded")
    verification = restart["verification"]
    assert verification["state"] == "not_verified", verification
    assert len(replaced) == 1, replaced
    assert replaced[0] in verification["detail"], verification
    assert "CrashLoopBackOff" in verification["detail"], verification
    [check] = verification["checks"]
    assert (check["check"], check["held"]) == ("pod_replaced", False)

    [escalation] = run["escalations"]
    assert (escalation["kind"], escalation["step"], escalation["guard"]) == (
        "not_verified",
        restart["name"],
        None,
    )
    assert "not verified" in escalation["reason"] and replaced[0] in escalation["reason"]

    # One real DELETE, of the original pod; the replacement is left alone.
    deletes = writes(emu, "DELETE", "/pods/")
    assert [c.path for c in deletes] == [f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}"]
    assert emu.get_object("v1", "Pod", "shop", replaced[0]) is not None

    # The incident detail API shows the escalation through the run (the incident has no field of its own).
    incidents = await harness.get("/api/incidents")
    (incident,) = [i for i in incidents if run["id"] in i["run_ids"]]
    detail = await harness.get(f"/api/incidents/{incident['id']}")
    (shown,) = [r for r in detail["runs"] if r["id"] == run["id"]]
    assert [e["kind"] for e in shown["escalations"]] == ["not_verified"]
    assert shown["state"] == "failed"

    assert await _metric(harness, "aiops_escalations_total", {"reason": "not_verified"}) == 1.0
    assert (
        await _metric(
            harness, "aiops_verifications_total", {"action": "delete_pod", "outcome": "not_verified"}
        )
        == 1.0
    )
    assert await _metric(harness, "aiops_verifications_total", {"outcome": "verified"}) in (None, 0.0)


async def test_restart_with_healthy_replacement_is_verified(harness: Harness) -> None:
    """With controllers that replace the deleted pod by a Ready one, the same restart is verified
    (the detail names the replacement), the run succeeds, nothing escalates, and ``/metrics`` counts
    one verified delete_pod and no escalation."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    await harness.start()
    request = await _one_pending(harness, "delete_pod")

    async with running_controllers(emu, healthy=True) as controllers:
        body = await harness.approve(request["id"], reason="test")
        run = await harness.finished_run(body["run"]["id"])
        replaced = list(controllers.replaced)

    assert run["state"] == "succeeded", run
    restart = run["steps"][-1]
    assert restart["verification"]["state"] == "verified", restart["verification"]
    assert len(replaced) == 1 and replaced[0] != pod["metadata"]["name"]
    assert "1/1 pods of ReplicaSet" in restart["verification"]["detail"], restart["verification"]
    assert run["escalations"] == []
    assert len(writes(emu, "DELETE", "/pods/")) == 1
    assert (
        await _metric(harness, "aiops_verifications_total", {"action": "delete_pod", "outcome": "verified"})
        == 1.0
    )
    assert await _metric(harness, "aiops_escalations_total", {"reason": "not_verified"}) in (None, 0.0)


async def _scale_then_compensate(harness: Harness, emu: ClusterEmulator) -> dict[str, Any]:
    """Approve the scale-up, wait for the compensation request, approve it; the finished run."""
    scale_up = await _one_pending(harness, "scale")
    assert scale_up["step_name"] == "scale up"
    body = await harness.approve(scale_up["id"], reason="test")
    run_id = body["run"]["id"]
    deploy = emu.get_object("apps/v1", "Deployment", "shop", "web")
    assert deploy is not None and deploy["spec"]["replicas"] == 2

    # Nothing makes the new replica Ready: verification gives up after 1 s, the compensation
    # step is queued and waits at the approval gate; nothing is scaled back before approval.
    seen: dict[str, Any] = {}

    async def compensation_waits() -> bool:
        seen.update(await harness.get(f"/api/runs/{run_id}"))
        names = {s["name"]: s for s in seen["steps"]}
        step = names.get("compensate: scale up")
        return step is not None and step["state"] == "awaiting_approval"

    await eventually(compensation_waits, what="the compensation step to wait for approval")
    steps = {s["name"]: s for s in seen["steps"]}
    assert steps["scale up"]["verification"]["state"] == "not_verified"
    if "never reached" in steps:  # the compensate/ playbook has a later step; it is skipped
        assert steps["never reached"]["state"] == "skipped"
    compensation = steps["compensate: scale up"]
    assert (compensation["action"], compensation["compensates"]) == ("scale", steps["scale up"]["index"])
    assert seen["state"] == "waiting_approval"
    deploy = emu.get_object("apps/v1", "Deployment", "shop", "web")
    assert deploy is not None and deploy["spec"]["replicas"] == 2, "not compensated before approval"

    undo = await _one_pending(harness, "scale")
    assert undo["id"] == compensation["approval_id"] and undo["step_name"] == "compensate: scale up"
    [planned] = undo["plan"]["calls"]
    assert (planned["method"], planned["path"]) == (
        "PATCH",
        "/apis/apps/v1/namespaces/shop/deployments/web/scale",
    )
    await harness.approve(undo["id"], reason="test")
    return await harness.finished_run(run_id)


async def test_not_verified_scale_is_compensated_behind_the_gate(harness: Harness, tmp_path: Path) -> None:
    """A ``scale`` step (+1 replica) with ``verify: {timeout_seconds: 1}`` whose new replica never
    becomes Ready is not verified: the later step is skipped, a ``compensate: scale up`` step is
    queued behind the gate (a pending ``scale`` request, nothing changed before approval), and once
    approved the Deployment is back at its original replica count; the run fails with the
    not_verified escalation recorded."""
    emu = harness.emulator
    workloads.seed_crash_loop(emu)
    harness.settings = make_settings(
        emu,
        playbook_dirs=[PLAYBOOKS / "compensate"],
        rules_file=_rules_file(tmp_path, "scale_up_compensated"),
    )
    await harness.start()
    run = await _scale_then_compensate(harness, emu)

    deploy = emu.get_object("apps/v1", "Deployment", "shop", "web")
    assert deploy is not None and deploy["spec"]["replicas"] == 1
    assert run["state"] == "failed", run
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["never reached"]["state"] == "skipped"
    assert "'scale up' was not verified" in steps["never reached"]["summary"]
    assert steps["compensate: scale up"]["state"] == "succeeded"
    assert steps["compensate: scale up"]["approved_by"] == "alice"
    escalated = [(e["kind"], e["step"]) for e in run["escalations"]]
    assert ("not_verified", "scale up") in escalated, escalated
    patches = writes(emu, "PATCH", "/deployments/web/scale")
    assert [c.body["spec"]["replicas"] for c in patches] == [2, 1]
    assert writes(emu, "PATCH", "/deployments/web") == patches, "no rollout restart ran"


async def test_compensation_params_may_use_the_undone_steps_output(harness: Harness, tmp_path: Path) -> None:
    """The documented form ``replicas: "{{ steps['scale up'].output.from }}"`` loads, renders to the
    replica count before the scale-up, and the approved compensation restores it."""
    emu = harness.emulator
    workloads.seed_crash_loop(emu)
    harness.settings = make_settings(
        emu,
        playbook_dirs=[PLAYBOOKS / "compensate_from_output"],
        rules_file=_rules_file(tmp_path, "scale_up_compensated_from_output"),
    )
    await harness.start()
    run = await _scale_then_compensate(harness, emu)
    deploy = emu.get_object("apps/v1", "Deployment", "shop", "web")
    assert deploy is not None and deploy["spec"]["replicas"] == 1
    assert run["state"] == "failed"
    assert run["steps"][-1]["params"]["replicas"] == 1
