"""Re-check before acting: an approved step runs only if its plan still holds (``aiops.safety.recheck``).

Through the whole runtime (kopf operator, API, Redis, emulated Kubernetes), between the approval
request and the approval the test changes the cluster the way a person or a controller would:

* the pod to delete was replaced (same name, new uid): not run, the request is closed ``not_run``
  naming the uids, and a new request (attempt 1) with a fresh plan is opened;
* a planned field moved (the Deployment's pod template): not run, the reason names the pointer;
* an unrelated change (a label: only the resourceVersion moved): the step runs, with the fresh
  resourceVersion as its precondition;
* the incident resolved: not run, "the problem is gone", the run ``stopped``;
* a concurrent write between the re-check and the write (injected with a kmock side effect on the
  real PATCH): 409 Conflict, nothing overwritten, the step is planned again;
* a target that changes before every approval: after ``safety.max_replans`` re-plans the step fails
  and the run escalates ``stale``.

The apply layer alone: a plan whose resourceVersion or uid precondition is stale meets 409, reports
``conflict`` with no write done, and the object stays as the concurrent writer left it.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from aiops import kube as kube_mod
from aiops.actions import apply as apply_mod
from aiops.actions import registry as actions_registry
from aiops.actions.base import ActionContext
from aiops.audit import AuditLog
from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.emulator.emulator import Call
from aiops.settings import SafetySettings
from aiops.store import Store
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, step_of, writes

DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/shop/deployments/cart"


# --- helpers ----------------------------------------------------------------------------------------


def edit_deployment(emu: ClusterEmulator, change: Any) -> dict[str, Any]:
    """Apply ``change(deployment)`` to the stored ``shop/cart`` as another client would; the stored result."""
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    edited = copy.deepcopy(stored)
    change(edited)
    edited["metadata"].pop("resourceVersion", None)
    return emu.put_object(edited)


def set_image(image: str) -> Any:
    """A change to the pod template: the container's image."""

    def change(deploy: dict[str, Any]) -> None:
        deploy["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


def add_label(key: str, value: str) -> Any:
    """A change outside everything the plan observed: a label on the Deployment."""

    def change(deploy: dict[str, Any]) -> None:
        deploy["metadata"].setdefault("labels", {})[key] = value

    return change


async def pending_for(harness: Harness, action: str, *, attempt: int = 0) -> dict[str, Any]:
    """The one pending request for ``action`` at that re-plan ``attempt``, once it is there."""

    async def there() -> bool:
        return any(r["action"] == action and r["attempt"] == attempt for r in await harness.pending())

    await eventually(there, what=f"a pending {action} request (attempt {attempt})")
    (request,) = [r for r in await harness.pending() if r["action"] == action and r["attempt"] == attempt]
    return request


# --- the target changed after the request ------------------------------------------------------------


async def test_replaced_pod_is_not_deleted_and_the_step_is_planned_again(harness: Harness) -> None:
    """The crash-looping pod is replaced by a same-named pod with a new uid after the request opened:
    approving runs nothing (no real DELETE, the new pod stays), closes the request ``not_run`` with a
    reason naming both uids, and opens attempt 1 whose plan deletes the new uid; approving that one
    deletes exactly the new pod."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    name, old_uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    await harness.start()
    first = await pending_for(harness, "delete_pod")
    assert first["plan"]["calls"][0]["body"]["preconditions"] == {"uid": old_uid}

    # A successor under the same name (a StatefulSet-style recreate, seen by the watch as one update).
    successor = workloads.crashing(pod, restarts=1)
    new_uid = str(uuid.uuid4())
    successor["metadata"] = {k: v for k, v in pod["metadata"].items() if k not in ("resourceVersion",)}
    successor["metadata"] |= {"uid": new_uid, "creationTimestamp": emu.now()}
    emu.put_object(successor)

    result = await harness.approve(first["id"])
    assert writes(emu) == []
    stored = emu.get_object("v1", "Pod", "shop", name)
    assert stored is not None and stored["metadata"]["uid"] == new_uid
    closed = (await harness.get(f"/api/approvals/{first['id']}"))["closed"]
    assert closed["outcome"] == "not_run"
    assert "was replaced" in closed["reason"] and old_uid in closed["reason"] and new_uid in closed["reason"]
    step = step_of(result["run"], "delete_pod")
    assert step["state"] == "awaiting_approval" and step["attempt"] == 1
    assert [r["request_id"] for r in step["replans"]] == [first["id"]]
    assert result["run"]["state"] == "waiting_approval"

    second = await pending_for(harness, "delete_pod", attempt=1)
    assert second["id"] != first["id"] and second["run_id"] == first["run_id"]
    path = f"/api/v1/namespaces/shop/pods/{name}"
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": new_uid}}
    [call] = second["plan"]["calls"]
    assert (call["method"], call["path"], call["body"]) == ("DELETE", path, body)

    before = len(emu.calls)
    async with running_controllers(emu):
        done = await harness.approve(second["id"])
        run = await harness.finished_run(done["run"]["id"])
    assert writes(emu, since=before) == [Call("DELETE", path, {}, body)]
    assert run["state"] == "succeeded", run
    assert (await harness.get(f"/api/approvals/{second['id']}"))["closed"]["outcome"] == "executed"


async def test_moved_planned_field_is_not_overwritten(harness: Harness) -> None:
    """Someone changes the Deployment's pod template (its image) while the memory patch waits:
    approving sends no real PATCH, the request is closed ``not_run`` naming ``/spec/template``, the
    new image stays, and attempt 1 is opened with a plan pinned to the new resourceVersion."""
    emu = harness.emulator
    workloads.seed_oom(emu)
    await harness.start()
    first = await pending_for(harness, "patch_resources")
    edited = edit_deployment(emu, set_image("app:2"))

    result = await harness.approve(first["id"])
    assert writes(emu) == []
    closed = (await harness.get(f"/api/approvals/{first['id']}"))["closed"]
    assert closed["outcome"] == "not_run"
    assert "Deployment/shop/cart changed under the plan at /spec/template" in closed["reason"], closed
    assert "planned again" in closed["reason"]
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "app:2"
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "256Mi"
    assert step_of(result["run"], "patch_resources")["attempt"] == 1

    second = await pending_for(harness, "patch_resources", attempt=1)
    [call] = second["plan"]["calls"]
    assert call["body"]["metadata"]["resourceVersion"] == edited["metadata"]["resourceVersion"]


async def test_unrelated_change_only_moves_the_resource_version_and_the_step_runs(harness: Harness) -> None:
    """A label added to the Deployment after the request moves its resourceVersion but no observed
    field: the approved step runs (one real PATCH, the approved change) with the fresh
    resourceVersion as precondition instead of the stale one, and the limit becomes 384Mi."""
    emu = harness.emulator
    workloads.seed_oom(emu)
    await harness.start()
    request = await pending_for(harness, "patch_resources")
    approved_rv = request["plan"]["calls"][0]["body"]["metadata"]["resourceVersion"]
    edited = edit_deployment(emu, add_label("team", "payments"))
    fresh_rv = edited["metadata"]["resourceVersion"]
    assert fresh_rv != approved_rv

    async with running_controllers(emu):
        result = await harness.approve(request["id"])
        run = await harness.finished_run(result["run"]["id"])
    [patch] = writes(emu)
    expected = copy.deepcopy(request["plan"]["calls"][0]["body"])
    expected["metadata"]["resourceVersion"] = fresh_rv
    assert (patch.method, patch.path, patch.body) == ("PATCH", DEPLOYMENT_PATH, expected)
    step = step_of(run, "patch_resources")
    assert step["state"] == "succeeded" and step["attempt"] == 0 and step["replans"] == []
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    assert stored["metadata"]["labels"]["team"] == "payments"
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "384Mi"
    assert (await harness.get(f"/api/approvals/{request['id']}"))["closed"]["outcome"] == "executed"
    assert run["state"] == "succeeded", run


# --- the problem is gone ---------------------------------------------------------------------------


async def test_resolved_incident_stops_the_run_without_acting(harness: Harness) -> None:
    """The crash-looping pod recovers while its restart waits: the incident resolves, and approving
    deletes nothing, closes the request ``not_run`` ("the problem is gone"), skips the step and
    stops the run."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    await harness.start()
    request = await pending_for(harness, "delete_pod")
    emu.put_object(workloads.healthy(pod))

    async def resolved() -> bool:
        incident = await harness.get(f"/api/incidents/{request['incident_id']}")
        return bool(incident["incident"]["status"] == "resolved")

    await eventually(resolved, what="the incident to resolve on recovery")
    result = await harness.approve(request["id"])

    assert writes(emu) == []
    assert emu.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None
    closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
    assert closed["outcome"] == "not_run"
    assert closed["reason"].startswith(f"the problem is gone: incident {request['incident_id']} resolved")
    run = await harness.get(f"/api/runs/{result['run']['id']}")
    assert run["state"] == "stopped"
    assert "not run: the problem is gone" in run["reason"]
    step = step_of(run, "delete_pod")
    assert step["state"] == "skipped" and step["attempt"] == 0
    assert await harness.pending() == []


# --- a concurrent write: 409 Conflict -----------------------------------------------------------------


async def test_conflict_at_the_write_is_planned_again_never_overwritten(harness: Harness) -> None:
    """Another client writes the Deployment between the re-check and the real PATCH (a kmock side
    effect on that PATCH, once): the server answers 409, nothing is overwritten, the request is closed
    ``not_run`` with the conflict, and the step is planned again (attempt 1). Approving attempt 1
    then patches with the new resourceVersion."""
    emu = harness.emulator
    workloads.seed_oom(emu)
    await harness.start()
    first = await pending_for(harness, "patch_resources")
    fired: list[dict[str, Any]] = []

    def is_real_write(request: Any) -> bool:
        return not fired and request.params.get("dryRun") != "All"

    def concurrent_write() -> None:
        fired.append(edit_deployment(emu, add_label("touched-by", "someone-else")))

    emu[f"patch {DEPLOYMENT_PATH}"][is_real_write] >> concurrent_write

    result = await harness.approve(first["id"])
    assert len(fired) == 1
    [refused] = writes(emu)
    assert refused.body == first["plan"]["calls"][0]["body"]
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    assert stored["metadata"]["resourceVersion"] == fired[0]["metadata"]["resourceVersion"], "not overwritten"
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "256Mi"
    closed = (await harness.get(f"/api/approvals/{first['id']}"))["closed"]
    assert closed["outcome"] == "not_run"
    assert "409 Conflict" in closed["reason"] and "planned again" in closed["reason"], closed
    step = step_of(result["run"], "patch_resources")
    assert step["attempt"] == 1 and step["state"] == "awaiting_approval"

    second = await pending_for(harness, "patch_resources", attempt=1)
    fresh_rv = fired[0]["metadata"]["resourceVersion"]
    assert second["plan"]["calls"][0]["body"]["metadata"]["resourceVersion"] == fresh_rv
    async with running_controllers(emu):
        done = await harness.approve(second["id"])
        run = await harness.finished_run(done["run"]["id"])
    assert [c.body["metadata"]["resourceVersion"] for c in writes(emu)] == [
        first["plan"]["calls"][0]["body"]["metadata"]["resourceVersion"],
        fresh_rv,
    ]
    assert run["state"] == "succeeded", run
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    assert stored["metadata"]["labels"]["touched-by"] == "someone-else"
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "384Mi"


async def test_apply_with_a_stale_resource_version_is_a_conflict(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store
) -> None:
    """The apply layer alone: a patch plan pinned to a resourceVersion that moved meets 409; the result
    is ``conflict`` with no write done and the object is exactly as the concurrent writer left it."""
    workloads.seed_oom(emulator)
    ctx = ActionContext(kube=kube, audit=AuditLog(store))
    action = actions_registry.builtin_actions()["patch_resources"]
    assert action.plan is not None
    params = action.params.model_validate(
        {"namespace": "shop", "name": "cart", "container": "app", "memory_limit": "512Mi"}
    )
    plan = await action.plan(ctx, params)
    after_other_write = edit_deployment(emulator, add_label("team", "payments"))

    result = await apply_mod.apply(ctx, plan)

    assert result.conflict is True and result.ok is False and result.writes_done == 0
    assert result.error is not None and "nothing overwritten" in result.error
    assert emulator.get_object("apps/v1", "Deployment", "shop", "cart") == after_other_write


async def test_apply_delete_with_a_stale_uid_is_a_conflict(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store
) -> None:
    """The apply layer alone: a pod deletion planned with the old pod's uid as precondition meets 409
    when a same-named successor exists; ``conflict``, no write done, the successor is still there."""
    pod = workloads.seed_crash_loop(emulator)
    ctx = ActionContext(kube=kube, audit=AuditLog(store))
    action = actions_registry.builtin_actions()["delete_pod"]
    assert action.plan is not None
    params = action.params.model_validate({"namespace": "shop", "pod": pod["metadata"]["name"]})
    plan = await action.plan(ctx, params)
    successor = copy.deepcopy(pod)
    successor["metadata"].pop("resourceVersion")
    successor["metadata"]["uid"] = str(uuid.uuid4())
    stored = emulator.put_object(successor)

    result = await apply_mod.apply(ctx, plan)

    assert result.conflict is True and result.writes_done == 0
    assert emulator.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) == stored


# --- a target that keeps changing -----------------------------------------------------------------------


async def test_target_changing_before_every_approval_escalates_stale(
    emulator: ClusterEmulator, harness: Harness
) -> None:
    """With ``safety.max_replans = 1`` and the pod template changed before each approval: attempt 0 is
    re-planned, attempt 1 gives up; the step fails, the run fails and escalates ``stale``, both
    requests are closed ``not_run`` and nothing was written."""
    harness.settings = make_settings(
        emulator,
        safety=SafetySettings(
            max_replans=1, verify_poll_seconds=0.05, verify_settle_seconds=0.0, verify_timeout_seconds=1.0
        ),
    )
    workloads.seed_oom(emulator)
    await harness.start()
    requests: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for attempt, image in enumerate(("app:2", "app:3")):
        request = await pending_for(harness, "patch_resources", attempt=attempt)
        requests.append(request)
        edit_deployment(emulator, set_image(image))
        result = await harness.approve(request["id"])

    run = await harness.finished_run(result["run"]["id"])
    assert run["state"] == "failed", run
    step = step_of(run, "patch_resources")
    assert step["state"] == "failed"
    assert step["error"].startswith("the target kept changing under the plan: ")
    assert [r["request_id"] for r in step["replans"]] == [r["id"] for r in requests]
    [escalation] = run["escalations"]
    assert escalation["kind"] == "stale" and escalation["step"] == step["name"]
    assert escalation["reason"].startswith("gave up after 2 plans: ")
    assert "/spec/template" in escalation["reason"]
    for request in requests:
        closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
        assert closed["outcome"] == "not_run" and "/spec/template" in closed["reason"], closed
    assert writes(emulator) == []
    assert await harness.pending() == []
