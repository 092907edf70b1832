"""The stateless guards: pause, namespaces, protected, empty target, node and workload storms, PDBs.

Each guard is shown blocking and passing at its boundary, through ``Guards.check`` and
``Guards.acquire`` on the real Redis (``store``), with the Block's guard name, its reason and the
``aiops_guard_blocks_total`` counter. Covers: a no-op plan passes even when paused; pause by
setting and by namespace annotation (case-insensitive); include/exclude globs; kube-system and the
operator's own namespace are protected, but a drain may evict there unless kube-system is paused;
collection paths, ``//``, trailing ``/`` and non-eviction POSTs are refused; 5 of 10 NotReady nodes
stop a cordon or drain while 1 of 2 does not; a mostly unavailable workload stops a restart but not
a rollback; PodDisruptionBudget rules of the Eviction API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aiops.actions.plan import Facts, Plan, PlannedCall, PodRemoval
from aiops.metrics import Metrics
from aiops.safety.guard_rules import Block, WriteDecision, call_target_problem
from aiops.safety.guards import Guards
from aiops.settings import SafetySettings
from aiops.store import Store

POD_DELETE = PlannedCall(method="DELETE", path="/api/v1/namespaces/shop/pods/web-1", object="Pod/shop/web-1")


def make_plan(
    *,
    action: str = "delete_pod",
    target: str = "Pod/shop/web-1",
    calls: list[PlannedCall] | None = None,
    namespaces: dict[str, dict[str, str]] | None = None,
    **facts: Any,
) -> Plan:
    return Plan(
        action=action,
        target=target,
        planned_at=datetime(2026, 1, 1, tzinfo=UTC),
        calls=[POD_DELETE] if calls is None else calls,
        facts=Facts(namespaces={"shop": {}} if namespaces is None else namespaces, **facts),
    )


def decision(plan: Plan, *, run: str = "run-1", step: int = 0, action: str | None = None) -> WriteDecision:
    return WriteDecision(
        run_id=run,
        step_index=step,
        playbook_id="pb",
        incident_id="inc-1",
        action=action or plan.action,
        plan=plan,
    )


def guards(store: Store, metrics: Metrics | None = None, **settings: Any) -> Guards:
    return Guards(store, SafetySettings(**settings), metrics=metrics, protected_namespaces=["aiops-system"])


async def both(g: Guards, d: WriteDecision) -> Block | None:
    """check and acquire agree; the acquire is released so the next call starts clean."""
    checked = await g.check(d)
    acquired = await g.acquire(d)
    assert checked == acquired
    await g.release(d, wrote=False)
    return acquired


async def test_noop_plan_passes_even_when_paused(store: Store) -> None:
    g = guards(store, paused=True)
    assert await both(g, decision(make_plan(calls=[]))) is None


async def test_paused_setting_blocks_everything_and_is_counted(store: Store) -> None:
    metrics = Metrics()
    block = await both(guards(store, metrics, paused=True), decision(make_plan()))
    assert block is not None and block.guard == "paused"
    assert "safety.paused" in block.reason
    assert metrics.guard_blocks_total.labels(guard="paused")._value.get() == 2
    assert metrics.registry.get_sample_value("aiops_guard_decision_seconds_count", {"phase": "check"}) == 1
    assert metrics.registry.get_sample_value("aiops_guard_decision_seconds_count", {"phase": "acquire"}) == 1


@pytest.mark.parametrize("value", ["true", "TRUE", " True "])
async def test_pause_annotation_blocks_its_namespace(store: Store, value: str) -> None:
    plan = make_plan(namespaces={"shop": {"aiops.io/paused": value}})
    block = await both(guards(store), decision(plan))
    assert block is not None and block.guard == "paused"
    assert "namespace shop" in block.reason and "aiops.io/paused" in block.reason


@pytest.mark.parametrize("value", ["false", "", "yes"])
async def test_pause_annotation_other_values_pass(store: Store, value: str) -> None:
    plan = make_plan(namespaces={"shop": {"aiops.io/paused": value}})
    assert await both(guards(store), decision(plan)) is None


async def test_namespace_globs(store: Store) -> None:
    g = guards(store, namespaces=["team-*", "shop"], exclude_namespaces=["team-secret*"])
    assert await both(g, decision(make_plan(namespaces={"team-a": {}}))) is None
    assert await both(g, decision(make_plan(namespaces={"shop": {}}))) is None
    outside = await both(g, decision(make_plan(namespaces={"billing": {}})))
    assert outside is not None and outside.guard == "namespace" and "billing" in outside.reason
    excluded = await both(g, decision(make_plan(namespaces={"team-secrets": {}})))
    assert excluded is not None and excluded.guard == "namespace" and "team-secret*" in excluded.reason


@pytest.mark.parametrize("ns", ["kube-system", "aiops-system"])
async def test_protected_namespaces(store: Store, ns: str) -> None:
    block = await both(guards(store), decision(make_plan(namespaces={ns: {}})))
    assert block == Block("protected", f"namespace {ns} is protected: aiops neither reads nor writes there")


def drain_plan(kube_system_notes: dict[str, str]) -> Plan:
    evict = PlannedCall(
        method="POST",
        path="/api/v1/namespaces/kube-system/pods/coredns-1/eviction",
        object="Pod/kube-system/coredns-1",
    )
    cordon = PlannedCall(method="PATCH", path="/api/v1/nodes/node-1", object="Node/-/node-1")
    return make_plan(
        action="drain",
        target="Node/-/node-1",
        calls=[cordon, evict],
        namespaces={"kube-system": kube_system_notes},
        node="node-1",
        disruptive=True,
        drain=True,
        pod_removals=[PodRemoval(namespace="kube-system", name="coredns-1", ready=True)],
    )


async def test_drain_may_evict_in_kube_system(store: Store) -> None:
    assert await both(guards(store), decision(drain_plan({}))) is None


async def test_drain_is_blocked_when_kube_system_is_paused(store: Store) -> None:
    block = await both(guards(store), decision(drain_plan({"aiops.io/paused": "true"})))
    assert block is not None and block.guard == "paused" and "kube-system" in block.reason


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/namespaces/shop/pods"),
        ("DELETE", "/api/v1/namespaces/shop/pods/"),
        ("DELETE", "/api/v1/namespaces/shop//web-1"),
        ("DELETE", "/apis/apps/v1/namespaces/shop/deployments"),
        ("PATCH", "/apis/apps/v1/deployments"),
        ("DELETE", "/api/v1/nodes"),
        ("DELETE", "/api/v1/namespaces"),
        ("PUT", "/api/v1/namespaces/shop/pods?labelSelector="),
        ("POST", "/api/v1/namespaces/shop/pods"),
        ("POST", "/apis/apps/v1/namespaces/shop/deployments/web/rollback"),
        ("DELETE", "/healthz"),
    ],
)
async def test_empty_target_blocks_collections(store: Store, method: Any, path: str) -> None:
    call = PlannedCall(method=method, path=path, object="Pod/shop/-")
    assert call_target_problem(call) is not None
    block = await both(guards(store), decision(make_plan(calls=[POD_DELETE, call])))
    assert block is not None and block.guard == "empty_target" and path in block.reason


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/namespaces/shop/pods/web-1"),
        ("DELETE", "/api/v1/namespaces/shop/pods/pods"),  # a pod named "pods" is one object
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web"),
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/scale"),
        ("PATCH", "/api/v1/nodes/node-1"),
        ("PUT", "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web"),
        ("POST", "/api/v1/namespaces/shop/pods/web-1/eviction"),
    ],
)
async def test_empty_target_passes_named_objects(store: Store, method: Any, path: str) -> None:
    call = PlannedCall(method=method, path=path, object="x")
    assert call_target_problem(call) is None
    assert await both(guards(store), decision(make_plan(calls=[call]))) is None


def node_plan(action: str, bad: int, total: int) -> Plan:
    call = PlannedCall(method="PATCH", path="/api/v1/nodes/node-1", object="Node/-/node-1")
    return make_plan(
        action=action,
        target="Node/-/node-1",
        calls=[call],
        namespaces={},
        node="node-1",
        nodes_total=total,
        nodes_not_ready=bad,
        disruptive=True,
        drain=action == "drain",
    )


@pytest.mark.parametrize("action", ["cordon", "drain"])
async def test_node_storm_blocks_half_the_nodes_not_ready(store: Store, action: str) -> None:
    block = await both(guards(store), decision(node_plan(action, 5, 10)))
    assert block is not None and block.guard == "node_storm"
    assert "5 of 10 nodes are NotReady (50%)" in block.reason and "45%" in block.reason


@pytest.mark.parametrize(("bad", "total"), [(1, 2), (4, 10), (2, 100)])
async def test_node_storm_passes_within_the_limits(store: Store, bad: int, total: int) -> None:
    assert await both(guards(store), decision(node_plan("cordon", bad, total))) is None


async def test_node_storm_ignores_non_disruptive_actions(store: Store) -> None:
    plan = node_plan("uncordon", 5, 10).model_copy(
        update={"facts": Facts(nodes_total=10, nodes_not_ready=5, disruptive=False)}
    )
    assert await both(guards(store), decision(plan)) is None


def workload_plan(action: str, replicas: int, down: int) -> Plan:
    call = PlannedCall(method="PATCH", path="/apis/apps/v1/namespaces/shop/deployments/web", object="x")
    return make_plan(
        action=action,
        target="Deployment/shop/web",
        calls=[call],
        workload="Deployment/shop/web",
        workload_replicas=replicas,
        workload_unavailable=down,
        disruptive=True,
    )


async def test_workload_storm_blocks_a_restart_of_a_mostly_down_workload(store: Store) -> None:
    block = await both(guards(store), decision(workload_plan("restart_workload", 4, 3)))
    assert block is not None and block.guard == "workload_storm"
    assert "3 of 4 pods of Deployment/shop/web are unavailable (75% > 50%)" in block.reason


@pytest.mark.parametrize(("replicas", "down"), [(4, 2), (2, 2), (10, 5)])
async def test_workload_storm_passes_at_the_boundary(store: Store, replicas: int, down: int) -> None:
    # half down is not more than half; fewer than workload_min_pods (3) desired pods is exempt
    assert await both(guards(store), decision(workload_plan("restart_workload", replicas, down))) is None


async def test_workload_storm_allows_a_rollback(store: Store) -> None:
    assert await both(guards(store), decision(workload_plan("rollback", 4, 4))) is None


def pdb_plan(*, ready: bool, budgets: list[dict[str, Any]]) -> Plan:
    evict = PlannedCall(
        method="POST", path="/api/v1/namespaces/shop/pods/web-1/eviction", object="Pod/shop/web-1"
    )
    removal = PodRemoval(namespace="shop", name="web-1", ready=ready, budgets=budgets)
    return make_plan(calls=[evict], pod_removals=[removal], disruptive=True)


def budget(allowed: int, healthy: int, desired: int, policy: str | None = None) -> dict[str, Any]:
    return {
        "name": "web-pdb",
        "disruptions_allowed": allowed,
        "current_healthy": healthy,
        "desired_healthy": desired,
        "unhealthy_pod_eviction_policy": policy,
    }


async def test_pdb_blocks_a_ready_pod_without_allowed_disruptions(store: Store) -> None:
    block = await both(guards(store), decision(pdb_plan(ready=True, budgets=[budget(0, 2, 2)])))
    assert block == Block(
        "pdb",
        "evicting shop/web-1 would violate PodDisruptionBudget shop/web-pdb "
        "(needs 2 healthy pods, has 2; 0 disruptions allowed)",
    )


async def test_pdb_passes_a_ready_pod_with_one_disruption_allowed(store: Store) -> None:
    assert await both(guards(store), decision(pdb_plan(ready=True, budgets=[budget(1, 3, 2)]))) is None


async def test_pdb_unready_pod_under_if_healthy_budget(store: Store) -> None:
    g = guards(store)
    block = await both(g, decision(pdb_plan(ready=False, budgets=[budget(0, 1, 2)])))
    assert block is not None and block.guard == "pdb" and "IfHealthyBudget" in block.reason
    # healthy enough: an unready pod may go even with 0 disruptions allowed
    assert await both(g, decision(pdb_plan(ready=False, budgets=[budget(0, 2, 2)]))) is None


async def test_pdb_unready_pod_always_allow(store: Store) -> None:
    plan = pdb_plan(ready=False, budgets=[budget(0, 0, 2, "AlwaysAllow")])
    assert await both(guards(store), decision(plan)) is None


async def test_pdb_two_budgets_block(store: Store) -> None:
    plan = pdb_plan(ready=True, budgets=[budget(5, 5, 1), {**budget(5, 5, 1), "name": "other"}])
    block = await both(guards(store), decision(plan))
    assert block is not None and block.guard == "pdb"
    assert "2 PodDisruptionBudgets (shop/web-pdb, shop/other)" in block.reason


async def test_pod_without_budget_passes(store: Store) -> None:
    assert await both(guards(store), decision(pdb_plan(ready=True, budgets=[]))) is None


async def test_blocked_acquire_reserves_nothing(store: Store) -> None:
    g = guards(store, budget_per_namespace=1)
    storm = decision(workload_plan("restart_workload", 4, 4), run="storm")
    assert (await g.acquire(storm)) is not None
    # the budget unit and the rate limit are still free for another write
    assert await g.acquire(decision(workload_plan("restart_workload", 4, 0), run="ok")) is None
