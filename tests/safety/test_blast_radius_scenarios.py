"""Blast-radius guards, end to end: real operator (kopf), real API, real Redis, emulated cluster.

Each scenario seeds a failure, lets the operator open its incidents and runs, and checks what the
guards let through: the writes the emulator actually received (``dryRun=All`` previews excluded),
the blocked steps and their escalations, and ``aiops_guard_blocks_total``. Covered: a write budget
under a storm of 50 crash loops, a node storm, PodDisruptionBudgets, empty or unmatched targets,
paused and protected namespaces, and the per-playbook per-target rate limit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.settings import SafetySettings
from tests.operator import workloads
from tests.support import kube_fixtures as kf
from tests.support.operator_fixtures import WRITE_METHODS, Harness, eventually, make_settings, step_of, writes

PLAYBOOKS = Path(__file__).parent / "playbooks"


def _safety(**overrides: Any) -> SafetySettings:
    """The test harness's fast verification defaults, plus ``overrides``."""
    values: dict[str, Any] = {
        "verify_poll_seconds": 0.05,
        "verify_settle_seconds": 0.0,
        "verify_timeout_seconds": 1.0,
    }
    return SafetySettings(**(values | overrides))


def _rules_file(tmp_path: Path, *playbooks: str, types: str = "crash_loop") -> Path:
    """A rules file routing ``types`` events in every namespace (kube-system included), with no
    cooldown, to ``playbooks``."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - name: test routing\n"
        "    match:\n"
        f"      types: [{types}]\n"
        f"    playbooks: [{', '.join(playbooks)}]\n"
        "    cooldown_seconds: 0\n"
    )
    return path


async def _metric(harness: Harness, name: str, labels: dict[str, str]) -> float:
    """The value of sample ``name`` with labels including ``labels`` on ``GET /metrics`` (0 when absent)."""
    async with harness.api(None) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _runs(harness: Harness, incident_type: str) -> list[dict[str, Any]]:
    """Every run of every incident of ``incident_type``."""
    runs: list[dict[str, Any]] = []
    for incident in await harness.get("/api/incidents?limit=1000"):
        if incident["type"] == incident_type:
            runs.extend([await harness.get(f"/api/runs/{run_id}") for run_id in incident["run_ids"]])
    return runs


async def _ended_runs(
    harness: Harness,
    incident_type: str,
    count: int,
    *,
    poll_seconds: float = 0.0,
    timeout_seconds: float = 15.0,
) -> list[dict[str, Any]]:
    """Wait until ``count`` runs of ``incident_type`` incidents exist and all of them ended."""
    runs: list[dict[str, Any]] = []

    async def ended() -> bool:
        await asyncio.sleep(poll_seconds)
        runs[:] = await _runs(harness, incident_type)
        return len(runs) == count and all(r["state"] not in ("running", "waiting_approval") for r in runs)

    await eventually(ended, timeout_seconds=timeout_seconds, what=f"{count} {incident_type} run(s) to end")
    return runs


def _assert_blocked_before_request(run: dict[str, Any], action: str, guard: str, reason: str) -> None:
    """``run`` failed at its ``action`` step, blocked by ``guard`` before any approval was asked,
    with a matching escalation whose reason contains ``reason``."""
    step = step_of(run, action)
    assert (step["state"], step["guard"]) == ("blocked", guard), step
    assert step["approval_id"] is None, "no approval is asked for a write a guard forbids"
    assert reason in step["error"], step["error"]
    assert run["state"] == "failed", run
    [escalation] = run["escalations"]
    assert (escalation["kind"], escalation["guard"], escalation["step"]) == ("blocked", guard, step["name"])
    assert reason in escalation["reason"], escalation


# ------------------------------------------------------------------------------- budget


def _seed_many_crash_loops(emu: ClusterEmulator, count: int, namespace: str = "shop") -> list[str]:
    """``count`` one-replica Deployments in ``namespace``, each with one crash-looping pod; their pods."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    pods = []
    for i in range(count):
        name = f"app{i:02d}"
        deploy = emu.put_object(kf.deployment(name, namespace, replicas=1, revision=1))
        rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="5d9c7b8f6"))
        pod = kf.pod(f"{name}-5d9c7b8f6-x2k4p", namespace, labels=rs["metadata"]["labels"], owner=rs)
        pods.append(emu.put_object(workloads.crashing(pod, restarts=5))["metadata"]["name"])
    return pods


async def test_fifty_crash_loops_at_once_are_capped_by_the_namespace_budget(
    harness: Harness, tmp_path: Path
) -> None:
    """50 Deployments crash-loop in one namespace with ``budget_per_namespace=5``: the budget is
    reserved when a request is opened, so only 5 people are asked; approving them deletes exactly
    5 pods for real (each verified); each of the other 45 runs ends ``failed`` with its delete_pod
    step ``blocked`` by the ``budget`` guard before any request was opened, and an escalation
    naming the namespace budget; ``aiops_guard_blocks_total{guard="budget"}`` counts the 45."""
    emu = harness.emulator
    pods = _seed_many_crash_loops(emu, 50)
    harness.settings = make_settings(
        emu,
        safety=_safety(budget_per_namespace=5, budget_per_cluster=200),
        playbook_dirs=[PLAYBOOKS / "restart_only"],
        rules_file=_rules_file(tmp_path, "restart_only"),
    )
    await harness.start()

    async def all_decided() -> bool:
        # Asking reserves a unit of the budget: 5 restarts are asked, the other 45 are blocked.
        await asyncio.sleep(0.2)
        blocked = await _metric(harness, "aiops_guard_blocks_total", {"guard": "budget"})
        return len(await harness.pending()) == 5 and blocked == 45.0

    await eventually(all_decided, timeout_seconds=30, what="5 restart requests and 45 blocked runs")

    approved: set[str] = set()
    # A slower controller tick than the default: every emulator pass over 50 workloads costs.
    async with running_controllers(emu, healthy=True, interval_seconds=0.25):

        async def approve_all() -> bool:
            await asyncio.sleep(0.2)
            fresh = [r for r in await harness.pending() if r["id"] not in approved]
            for request in fresh:
                assert request["action"] == "delete_pod"
                approved.add(request["id"])
            await asyncio.gather(*(harness.approve(r["id"], reason="test") for r in fresh))
            return not fresh

        await eventually(approve_all, timeout_seconds=30, what="every pending request to be decided")
        runs = await _ended_runs(harness, "crash_loop", 50, poll_seconds=0.5)

    real_deletes = writes(emu, "DELETE", "/pods/")
    assert len(real_deletes) == 5, [c.path for c in real_deletes]
    assert writes(emu, "POST") == [] and writes(emu, "PATCH") == []
    deleted = {c.path.rsplit("/", 1)[-1] for c in real_deletes}
    assert deleted <= set(pods) and len(deleted) == 5

    succeeded = [r for r in runs if r["state"] == "succeeded"]
    blocked = [r for r in runs if step_of(r, "delete_pod")["state"] == "blocked"]
    assert len(succeeded) == 5 and len(blocked) == 45, sorted(r["state"] for r in runs)
    assert {step_of(r, "delete_pod")["params"]["pod"] for r in succeeded} == deleted
    for run in succeeded:
        assert step_of(run, "delete_pod")["verification"]["state"] == "verified"
        assert run["escalations"] == []
    before_request: list[str | None] = []
    after_approval: list[str] = []
    for run in blocked:
        step = step_of(run, "delete_pod")
        assert run["state"] == "failed" and step["guard"] == "budget", step
        [escalation] = run["escalations"]
        assert (escalation["kind"], escalation["guard"]) == ("blocked", "budget")
        assert "namespace shop already had 5 writes" in escalation["reason"], escalation
        assert "budget 5, safety.budget_per_namespace" in escalation["reason"], escalation
        if step["approval_id"]:
            after_approval.append(step["approval_id"])
        else:
            before_request.append(None)
    assert (len(before_request), after_approval, len(approved)) == (45, [], 5)
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "budget"}) == 45.0
    assert await _metric(harness, "aiops_escalations_total", {"reason": "budget"}) == 45.0
    audit = await harness.get("/api/audit")
    assert sorted(e["target"].rsplit("/", 1)[-1] for e in audit if e["action"] == "delete_pod") == sorted(
        deleted
    )


# ------------------------------------------------------------------------------- node storm


async def test_half_the_nodes_not_ready_blocks_every_cordon_and_drain(harness: Harness) -> None:
    """2 of 4 nodes NotReady (more than ``ok_not_ready_nodes=1`` and more than 45%): both node
    incidents' cordon steps are blocked by ``node_storm`` before any approval is asked, the runs
    escalate with the numbers, and no node is patched, no pod evicted or deleted."""
    emu = harness.emulator
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    for name in ("worker-1", "worker-2"):
        emu.put_object(kf.node(name))
    for name in ("worker-3", "worker-4"):
        emu.put_object(kf.node(name, ready=False))
    deploy = emu.put_object(kf.deployment("api", "shop", replicas=2, revision=1))
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="6c9d8f7b5"))
    for suffix, node in (("aaaaa", "worker-3"), ("bbbbb", "worker-4")):
        emu.put_object(
            kf.pod(f"api-6c9d8f7b5-{suffix}", "shop", labels=rs["metadata"]["labels"], owner=rs, node=node)
        )
    await harness.start()

    runs = await _ended_runs(harness, "node_not_ready", 2)
    assert sorted(step_of(r, "cordon")["params"]["node"] for r in runs) == ["worker-3", "worker-4"]
    for run in runs:
        _assert_blocked_before_request(run, "cordon", "node_storm", "2 of 4 nodes are NotReady (50%)")
        assert step_of(run, "drain")["state"] == "pending", "the drain is never reached"
    assert await harness.pending() == []
    assert writes(emu, "PATCH", "/nodes/") == [] and writes(emu, "PUT", "/nodes/") == []
    assert writes(emu, "POST", "/eviction") == [] and writes(emu, "DELETE") == []
    cordoned = emu.get_object("v1", "Node", None, "worker-3")
    assert cordoned is not None and not (cordoned.get("spec") or {}).get("unschedulable")
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "node_storm"}) == 2.0


async def test_one_node_of_four_not_ready_may_be_cordoned(harness: Harness) -> None:
    """The contrast: 1 of 4 nodes NotReady is within ``ok_not_ready_nodes``: the cordon is put up
    for approval (not blocked), so the node-storm halt above is the guard's doing."""
    emu = harness.emulator
    for name in ("worker-1", "worker-2", "worker-3"):
        emu.put_object(kf.node(name))
    emu.put_object(kf.node("worker-4", ready=False))
    await harness.start()

    async def cordon_waits() -> bool:
        return any(r["action"] == "cordon" for r in await harness.pending())

    await eventually(cordon_waits, what="the cordon to wait for approval")
    (request,) = await harness.pending()
    assert request["params"]["node"] == "worker-4"
    assert writes(emu, "PATCH", "/nodes/") == []
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "node_storm"}) == 0.0


# ------------------------------------------------------------------------------- PDBs


async def test_ready_pod_under_an_exhausted_pdb_is_not_deleted(harness: Harness) -> None:
    """A crash-looping pod still reported Ready, covered by a PodDisruptionBudget (minAvailable 1)
    whose computed status allows 0 disruptions: the restart is blocked by ``pdb`` before approval,
    naming the budget, and no DELETE is sent."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    ready_crashing = workloads.crashing(pod, restarts=5)
    ready_crashing["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    emu.put_object(ready_crashing)
    emu.put_object(kf.pdb("web", "shop", match_labels={"app": "web"}, min_available=1))
    assert (emu.pdb_status("shop", "web") or {}).get("disruptionsAllowed") == 0
    await harness.start()

    (run,) = await _ended_runs(harness, "crash_loop", 1)
    _assert_blocked_before_request(
        run,
        "delete_pod",
        "pdb",
        f"deleting shop/{pod['metadata']['name']} would violate PodDisruptionBudget shop/web",
    )
    assert writes(emu, "DELETE") == []
    assert emu.get_object("v1", "Pod", "shop", pod["metadata"]["name"]) is not None
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "pdb"}) == 1.0


def _seed_one_of_three_crashing(emu: ClusterEmulator, *, min_available: int) -> str:
    """Deployment web (3 replicas, 2 available): two Ready pods and one crash-looping (not Ready)
    pod, under an IfHealthyBudget PodDisruptionBudget with ``min_available``; the crashing pod."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    manifest = kf.deployment("web", "shop", replicas=3, revision=1)
    manifest["status"] = {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 3}
    deploy = emu.put_object(manifest)
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="5d9c7b8f6"))
    labels = rs["metadata"]["labels"]
    for suffix in ("aaaaa", "bbbbb"):
        emu.put_object(kf.pod(f"web-5d9c7b8f6-{suffix}", "shop", labels=labels, owner=rs, node="worker-1"))
    crashing = kf.pod("web-5d9c7b8f6-ccccc", "shop", labels=labels, owner=rs, node="worker-1")
    emu.put_object(workloads.crashing(crashing, restarts=5))
    emu.put_object(kf.pdb("web", "shop", match_labels={"app": "web"}, min_available=min_available))
    return "web-5d9c7b8f6-ccccc"


async def test_unready_pod_under_a_healthy_enough_budget_may_be_deleted(harness: Harness) -> None:
    """The Eviction API's IfHealthyBudget rule: a pod that is not Ready may go while the budget has
    currentHealthy ≥ desiredHealthy (2 ≥ 2, although 0 disruptions are allowed): the restart is put
    up for approval, and once approved exactly that pod is deleted."""
    emu = harness.emulator
    crashing = _seed_one_of_three_crashing(emu, min_available=2)
    status = emu.pdb_status("shop", "web") or {}
    assert (status.get("currentHealthy"), status.get("desiredHealthy"), status.get("disruptionsAllowed")) == (
        2,
        2,
        0,
    )
    await harness.start()

    async def restart_waits() -> bool:
        return any(r["action"] == "delete_pod" for r in await harness.pending())

    await eventually(restart_waits, what="the restart to wait for approval")
    (request,) = await harness.pending()
    assert request["params"]["pod"] == crashing
    async with running_controllers(emu, healthy=True):
        body = await harness.approve(request["id"], reason="test")
        run = await harness.finished_run(body["run"]["id"])
    assert step_of(run, "delete_pod")["state"] == "succeeded", run
    assert [c.path for c in writes(emu, "DELETE")] == [f"/api/v1/namespaces/shop/pods/{crashing}"]
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "pdb"}) == 0.0


async def test_unready_pod_under_an_unhealthy_budget_is_not_deleted(harness: Harness) -> None:
    """Same workload under minAvailable 3: currentHealthy 2 < desiredHealthy 3, so even the unready
    pod may not go (IfHealthyBudget): blocked by ``pdb`` before approval, no DELETE."""
    emu = harness.emulator
    crashing = _seed_one_of_three_crashing(emu, min_available=3)
    await harness.start()
    (run,) = await _ended_runs(harness, "crash_loop", 1)
    _assert_blocked_before_request(
        run,
        "delete_pod",
        "pdb",
        f"deleting the unready pod shop/{crashing} is refused by PodDisruptionBudget shop/web",
    )
    assert writes(emu, "DELETE") == []


# ------------------------------------------------------------------------------- empty targets


async def test_empty_or_unmatched_targets_touch_nothing(harness: Harness, tmp_path: Path) -> None:
    """Three delete_pod steps on one crash loop: a selector rendering empty and a pod name ``""``
    fail param validation (an empty value is dropped, so neither pod nor selector is given) and a
    selector matching no pod is ``skipped`` ("nothing matched"); no approval is asked and nothing is
    written, least of all to a pod collection path."""
    emu = harness.emulator
    workloads.seed_crash_loop(emu)
    harness.settings = make_settings(
        emu,
        playbook_dirs=[PLAYBOOKS / "selectors"],
        rules_file=_rules_file(
            tmp_path, "delete_by_empty_selector", "delete_by_unmatched_selector", "delete_by_empty_pod_name"
        ),
    )
    await harness.start()
    runs = {r["playbook_id"]: r for r in await _ended_runs(harness, "crash_loop", 3)}

    for playbook in ("delete_by_empty_selector", "delete_by_empty_pod_name"):
        run = runs[playbook]
        step = step_of(run, "delete_pod")
        assert (run["state"], step["state"]) == ("failed", "failed"), run
        assert step["error"].startswith("invalid params"), step["error"]
        assert "give exactly one of pod or selector" in step["error"], step["error"]
        assert "selector" not in step["params"] and "pod" not in step["params"], step["params"]
        assert step["plan"] is None and step["approval_id"] is None

    unmatched = runs["delete_by_unmatched_selector"]
    step = step_of(unmatched, "delete_pod")
    assert (unmatched["state"], step["state"]) == ("succeeded", "skipped"), unmatched
    assert "nothing matched" in step["summary"], step["summary"]
    assert step["approval_id"] is None and step["plan"]["calls"] == []

    assert await harness.pending() == []
    assert writes(emu) == []
    collection = [
        c
        for c in emu.calls_matching()
        if c.method in WRITE_METHODS and (c.path.endswith("/pods") or c.path.endswith("/pods/"))
    ]
    assert collection == [], "no write (not even a dry run) to a pod collection"
    assert await harness.get("/api/audit") == []


# ------------------------------------------------------------------------------- pause, protected


@pytest.mark.parametrize(
    ("where", "guard", "reason"),
    [
        ("annotated", "paused", 'namespace shop is paused: it is annotated aiops.io/paused="true"'),
        ("setting", "paused", "all automated writes are paused (safety.paused is true)"),
        ("kube-system", "protected", "namespace kube-system is protected"),
    ],
)
async def test_paused_or_protected_namespace_gets_no_write(
    harness: Harness, tmp_path: Path, where: str, guard: str, reason: str
) -> None:
    """The crash-loop restart is blocked before any approval is asked when the namespace is
    annotated ``aiops.io/paused: "true"``, when ``safety.paused`` is set, or when the pod lives in
    the protected ``kube-system`` (routed there by a rule without exclusions); nothing is deleted.
    In kube-system the write-only playbook runs: the reads of ``crash_loop_remediation`` would be
    refused first (tests/safety/test_names_and_read_scope.py)."""
    emu = harness.emulator
    namespace = "kube-system" if where == "kube-system" else "shop"
    playbook = "restart_only" if where == "kube-system" else "crash_loop_remediation"
    pod = workloads.seed_crash_loop(emu, namespace=namespace)
    if where == "annotated":
        emu.put_object(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "shop", "annotations": {"aiops.io/paused": "true"}},
            }
        )
    harness.settings = make_settings(
        emu,
        safety=_safety(paused=where == "setting"),
        playbook_dirs=[PLAYBOOKS / "restart_only"],
        rules_file=_rules_file(tmp_path, playbook),
    )
    await harness.start()

    (run,) = await _ended_runs(harness, "crash_loop", 1, timeout_seconds=5)  # blocked within ~1 s
    _assert_blocked_before_request(run, "delete_pod", guard, reason)
    reads = 0 if where == "kube-system" else 2
    assert [s["state"] for s in run["steps"] if s["risk"] == "low"] == ["succeeded"] * reads
    assert writes(emu) == []
    assert emu.get_object("v1", "Pod", namespace, pod["metadata"]["name"]) is not None
    assert await harness.pending() == []
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": guard}) == 1.0


# ------------------------------------------------------------------------------- rate limit


async def test_same_playbook_on_the_same_pod_within_the_rate_limit_is_blocked(
    harness: Harness, tmp_path: Path
) -> None:
    """A restart of pod web-…-x2k4p is approved and written; the pod comes back under the same
    name (a fresh uid), recovers, then crashes again: the new incident's run of the same playbook
    on the same target within ``rate_limit_seconds`` is blocked by ``rate_limit`` before approval,
    naming the earlier run; exactly one DELETE reached the cluster."""
    emu = harness.emulator
    pod = workloads.seed_crash_loop(emu)
    name = pod["metadata"]["name"]
    rs = emu.get_object("apps/v1", "ReplicaSet", "shop", "web-5d9c7b8f6")
    assert rs is not None
    harness.settings = make_settings(emu, rules_file=_rules_file(tmp_path, "crash_loop_remediation"))
    await harness.start()

    async def restart_waits() -> bool:
        return any(r["action"] == "delete_pod" for r in await harness.pending())

    await eventually(restart_waits, what="the first restart to wait for approval")
    (request,) = await harness.pending()
    body = await harness.approve(request["id"], reason="test")
    first_run_id = body["run"]["id"]
    assert emu.get_object("v1", "Pod", "shop", name) is None
    # The pod comes back under the same name (as a StatefulSet would recreate it), Ready.
    back = emu.put_object(kf.pod(name, "shop", labels=rs["metadata"]["labels"], owner=rs, node="worker-1"))
    assert back["metadata"]["uid"] != pod["metadata"]["uid"]
    first = await harness.finished_run(first_run_id)
    assert first["state"] == "succeeded", first

    async def first_incident_resolved() -> bool:
        incidents = [i for i in await harness.get("/api/incidents") if i["type"] == "crash_loop"]
        return len(incidents) == 1 and incidents[0]["status"] == "resolved"

    await eventually(first_incident_resolved, what="the first incident to resolve")
    emu.put_object(workloads.crashing(back, restarts=3))

    runs = await _ended_runs(harness, "crash_loop", 2)
    (second,) = [r for r in runs if r["id"] != first_run_id]
    assert step_of(second, "delete_pod")["params"]["pod"] == name
    _assert_blocked_before_request(
        second,
        "delete_pod",
        "rate_limit",
        # Keyed on the workload: the replacement pod is the same problem, whatever its name.
        f"playbook crash_loop_remediation already wrote to Deployment/shop/web within the last 14400 s "
        f"(run {first_run_id})",
    )
    assert len(writes(emu, "DELETE", "/pods/")) == 1
    assert emu.get_object("v1", "Pod", "shop", name) is not None
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "rate_limit"}) == 1.0


async def test_a_rejected_request_gives_its_budget_back(harness: Harness, tmp_path: Path) -> None:
    """The budget unit reserved when a request is opened returns when nobody approves it: with a
    namespace budget of 1, a rejected restart leaves room for the next crash loop's request (it is
    asked, not blocked), and nothing is deleted."""
    emu = harness.emulator
    [first_pod] = _seed_many_crash_loops(emu, 1)
    harness.settings = make_settings(
        emu,
        safety=_safety(budget_per_namespace=1),
        playbook_dirs=[PLAYBOOKS / "restart_only"],
        rules_file=_rules_file(tmp_path, "restart_only"),
    )
    await harness.start()

    async def asked(pod: str) -> bool:
        return [r["params"]["pod"] for r in await harness.pending()] == [pod]

    await eventually(lambda: asked(first_pod), what="the first restart request")
    (request,) = await harness.pending()
    async with harness.api("alice") as api:
        response = await api.post(f"/api/approvals/{request['id']}/reject", json={"reason": "not now"})
    assert response.status_code == 200, response.text

    deploy = emu.put_object(kf.deployment("late", "shop", replicas=1, revision=1))
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="7c8d9e0f1"))
    late = kf.pod("late-7c8d9e0f1-abcde", "shop", labels=rs["metadata"]["labels"], owner=rs)
    emu.put_object(workloads.crashing(late, restarts=5))
    await eventually(lambda: asked("late-7c8d9e0f1-abcde"), what="the second restart request")
    assert await _metric(harness, "aiops_guard_blocks_total", {"guard": "budget"}) == 0.0
    assert writes(emu, "DELETE", "/pods/") == []
