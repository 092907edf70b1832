"""Plans before approval, and dry-run mode, through the whole runtime (kopf operator, API, Redis, emulator).

* What an approver sees is what runs: the calls in an approval request's ``plan`` (method, path,
  query, body) are exactly the non-dry-run requests the emulated API server receives once the
  request is approved, for a deletion (``delete_pod``, crash loop) and a patch
  (``patch_resources``, OOM kill). The plan carries the server's dry-run ``preview`` and an
  RFC 6902 ``diff``; the API (``GET /api/approvals/{id}``) and the CLI (``aiops approvals show``)
  return it.
* Dry-run (``safety.dry_run`` globally, or ``dry_run: true`` on one playbook): a whole run, every
  request approved, leaves the emulated cluster byte-identical (:meth:`ClusterEmulator.snapshot`);
  every write still reached the server, with ``dryRun=All``, so the server validated it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.emulator.emulator import Call
from aiops.settings import SafetySettings
from tests.cli.helpers import arun_cli
from tests.operator import workloads
from tests.support.operator_fixtures import TOKENS, Harness, eventually, make_settings, step_of, writes

FAST_VERIFY = {"verify_poll_seconds": 0.05, "verify_settle_seconds": 0.0, "verify_timeout_seconds": 1.0}


# --- helpers ----------------------------------------------------------------------------------------


def planned(request: dict[str, Any]) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, path, query, body) of every call in an approval request's plan, in order."""
    return [(c["method"], c["path"], c["query"], c["body"]) for c in request["plan"]["calls"]]


def received(calls: list[Call]) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, path, query, body) of recorded calls, ``dryRun`` taken out of the query."""
    return [(c.method, c.path, {k: v for k, v in c.query.items() if k != "dryRun"}, c.body) for c in calls]


async def pending_for(harness: Harness, action: str, *, attempt: int = 0) -> dict[str, Any]:
    """The one pending request for ``action`` (at that re-plan ``attempt``), once it is there."""

    async def there() -> bool:
        return any(r["action"] == action and r["attempt"] == attempt for r in await harness.pending())

    await eventually(there, what=f"a pending {action} request (attempt {attempt})")
    (request,) = [r for r in await harness.pending() if r["action"] == action and r["attempt"] == attempt]
    return request


# --- the plan is what runs ---------------------------------------------------------------------------


async def test_delete_pod_plan_equals_the_calls_made_when_approved(harness: Harness) -> None:
    """The crash-loop restart's request shows one DELETE of the pod with its uid as precondition, a
    whole-object ``remove`` diff and the server's dry-run answer; the API and the CLI return that
    plan; after approval the emulated server received exactly that DELETE (method, path, query,
    body) and no other write, and the request is closed ``executed``."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    await harness.start()
    request = await pending_for(harness, "delete_pod")

    path = f"/api/v1/namespaces/shop/pods/{name}"
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    assert planned(request) == [("DELETE", path, {}, body)]
    [call] = request["plan"]["calls"]
    assert call["object"] == f"Pod/shop/{name}"
    assert call["diff"] == [{"op": "remove", "path": ""}]
    assert call["preview"] is not None and call["preview"]["code"] == 200
    assert request["plan"]["action"] == "delete_pod" and request["plan"]["dry_run"] is False
    # Previewing sent the same DELETE with dryRun=All; nothing was written for real.
    assert received(writes(emu, dry_run=True)) == [("DELETE", path, {}, body)]
    assert writes(emu) == []

    shown = await harness.get(f"/api/approvals/{request['id']}")
    assert shown["plan"] == request["plan"]
    cli = await arun_cli(
        "approvals", "show", request["id"], "--json", "--api-url", harness.base_url, "--token", TOKENS["bob"]
    )
    assert cli.returncode == 0, cli
    assert json.loads(cli.stdout)["plan"] == request["plan"]

    before = len(emu.calls)
    async with running_controllers(emu):
        result = await harness.approve(request["id"])
        run = await harness.finished_run(result["run"]["id"])
    assert writes(emu, since=before) == [Call("DELETE", path, {}, body)], (
        "exactly the planned call, nothing else, was sent for real"
    )
    assert run["state"] == "succeeded", run
    step = step_of(run, "delete_pod")
    assert step["state"] == "succeeded" and step["dry_run"] is False
    assert step["plan"]["calls"] == request["plan"]["calls"]
    assert emu.get_object("v1", "Pod", "shop", name) is None
    closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
    assert closed["outcome"] == "executed"


async def test_patch_resources_plan_equals_the_patch_sent_and_shows_its_diff(harness: Harness) -> None:
    """The OOM remediation's request shows one strategic-merge PATCH of the Deployment (limit 256Mi →
    384Mi, pinned to the resourceVersion read), whose diff is the one RFC 6902 op the server's dry run
    answered; after approval the server received exactly that PATCH, the limit is 384Mi and the
    image is untouched."""
    emu = harness.emulator
    deploy = workloads.seed_oom(emu)
    await harness.start()
    request = await pending_for(harness, "patch_resources")

    path = "/apis/apps/v1/namespaces/shop/deployments/cart"
    body = {
        "metadata": {"resourceVersion": deploy["metadata"]["resourceVersion"]},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "384Mi"}}}]}
            }
        },
    }
    assert planned(request) == [("PATCH", path, {}, body)]
    [call] = request["plan"]["calls"]
    assert call["content_type"] == "application/strategic-merge-patch+json"
    [op] = call["diff"]
    assert {k: op[k] for k in ("op", "path", "value")} == {
        "op": "replace",
        "path": "/spec/template/spec/containers/0/resources/limits/memory",
        "value": "384Mi",
    }
    assert call["preview"]["code"] == 200 and call["preview"]["kind"] == "Deployment"
    assert request["plan"]["summary"] == "Deployment/shop/cart container app: memory limit 256Mi → 384Mi"
    assert (await harness.get(f"/api/approvals/{request['id']}"))["plan"] == request["plan"]
    assert writes(emu) == []

    before = len(emu.calls)
    async with running_controllers(emu):
        result = await harness.approve(request["id"])
        run = await harness.finished_run(result["run"]["id"])
    assert writes(emu, since=before) == [Call("PATCH", path, {}, body)]
    stored = emu.get_object("apps/v1", "Deployment", "shop", "cart")
    assert stored is not None
    [container] = stored["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == "384Mi"
    assert container["image"] == "app:1"
    assert run["state"] == "succeeded", run
    assert step_of(run, "patch_resources")["verification"]["state"] == "verified"
    closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
    assert closed["outcome"] == "executed"


# --- dry-run ------------------------------------------------------------------------------------------


async def test_global_dry_run_drain_leaves_the_cluster_byte_identical(
    emulator: ClusterEmulator, harness: Harness
) -> None:
    """With ``safety.dry_run``, the NotReady-node playbook (cordon, then drain with evictions), every
    request approved, ends ``succeeded`` with nothing changed: the snapshot taken after seeding equals
    the one after the run, byte for byte (resourceVersion counter included). Each write step is
    recorded ``dry_run`` and its request closed ``dry_run``; the approved drain's calls reached the
    server exactly as planned, each with ``dryRun=All``, and no write went out without it."""
    harness.settings = make_settings(emulator, safety=SafetySettings(dry_run=True, **FAST_VERIFY))
    workloads.seed_not_ready_node(emulator, max_unavailable=1)
    seeded = emulator.snapshot()
    await harness.start()

    cordon = await pending_for(harness, "cordon")
    assert cordon["dry_run"] is True and cordon["plan"]["dry_run"] is True
    assert emulator.snapshot() == seeded, "the operator wrote nothing while planning"
    await harness.approve(cordon["id"])
    drain = await pending_for(harness, "drain")
    assert [c["method"] for c in drain["plan"]["calls"]] == ["PATCH", "POST"], "cordon, then one eviction"
    before = len(emulator.calls)
    voted = await harness.approve(drain["id"])  # a drain needs two people (approvals.votes_by_action)
    assert (voted["decided"], voted["votes"], voted["votes_needed"]) == (False, ["alice"], 2)
    assert writes(emulator, since=before, dry_run=True) == [], "one vote sends nothing"
    result = await harness.approve(drain["id"], "bob")
    run = await harness.finished_run(result["run"]["id"])

    assert emulator.snapshot() == seeded
    assert run["state"] == "succeeded", run
    for action in ("cordon", "drain"):
        step = step_of(run, action)
        assert step["state"] == "succeeded" and step["dry_run"] is True, step
        assert step["summary"].startswith("dry run: ") and step["summary"].endswith("(nothing changed)")
        assert step["verification"] == {"state": "skipped", "detail": "dry run: nothing changed"}
    for request in (cordon, drain):
        closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
        assert closed["outcome"] == "dry_run", closed
    assert received(writes(emulator, since=before, dry_run=True)) == planned(drain)
    assert all(c.query.get("dryRun") == "All" for c in writes(emulator, since=before, dry_run=True))
    assert writes(emulator) == []
    assert step_of(run, "drain")["output"]["dry_run"][1]["answer"] == "evicted"


async def test_playbook_dry_run_flag_alone_changes_nothing(
    emulator: ClusterEmulator, harness: Harness, tmp_path: Path
) -> None:
    """``dry_run: true`` on one playbook (from ``playbook_dirs``) with the global flag off: the pod
    restart is planned, approved and sent with ``dryRun=All`` only; the pod is still there, the
    cluster snapshot is unchanged, the step and the request say ``dry_run``."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "rehearse.yaml").write_text(
        "id: rehearse_crash_loop\n"
        "dry_run: true\n"
        "triggers: [crash_loop]\n"
        "steps:\n"
        "  - name: delete the pod\n"
        "    action: delete_pod\n"
        "    risk: medium\n"
        "    params:\n"
        '      namespace: "{{ event.resource.namespace }}"\n'
        '      pod: "{{ event.resource.name }}"\n'
    )
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - name: rehearse\n"
        "    match:\n"
        "      types: [crash_loop]\n"
        "    playbooks: [rehearse_crash_loop]\n"
    )
    harness.settings = make_settings(
        emulator, playbook_dirs=[tmp_path / "playbooks"], rules_file=tmp_path / "rules.yaml"
    )
    assert harness.settings.safety.dry_run is False
    pod = workloads.seed_crash_loop(emulator)
    name = pod["metadata"]["name"]
    seeded = emulator.snapshot()
    await harness.start()

    request = await pending_for(harness, "delete_pod")
    assert request["playbook_id"] == "rehearse_crash_loop" and request["dry_run"] is True
    before = len(emulator.calls)
    result = await harness.approve(request["id"])
    run = await harness.finished_run(result["run"]["id"])

    assert emulator.snapshot() == seeded
    assert emulator.get_object("v1", "Pod", "shop", name) is not None
    assert run["state"] == "succeeded", run
    step = step_of(run, "delete_pod")
    assert step["dry_run"] is True and step["state"] == "succeeded"
    closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
    assert closed["outcome"] == "dry_run"
    assert received(writes(emulator, since=before, dry_run=True)) == planned(request)
    assert writes(emulator) == []
