"""Planners: the exact calls, their preconditions, what they observed, what they expect; the
server's dry-run preview; empty targets never mean "everything"; selectors bounded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aiops import errors, kube
from aiops.actions import apply, facts, preview
from aiops.actions.base import Action, ActionContext
from aiops.actions.plan import Plan
from aiops.emulator import ClusterEmulator
from tests.support.kube_fixtures import deployment, node, pdb, pod, replicaset


async def _plan(actions: dict[str, Action], ctx: ActionContext, action_name: str, /, **params: Any) -> Plan:
    action = actions[action_name]
    assert action.plan is not None
    return await action.plan(ctx, action.params.model_validate(params))


def _crash_pod(emulator: ClusterEmulator, name: str = "web-abc-1", **labels: str) -> dict[str, Any]:
    deploy = emulator.put_object(deployment("web"))
    rs = emulator.put_object(replicaset(deploy, revision=1, image="app:1", hash_="abc"))
    return emulator.put_object(pod(name, owner=rs, ready=False, labels={"app": "web", **labels}))


async def test_delete_pod_plan_pins_the_uid_and_expects_a_replacement(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """One DELETE with the pod's uid as precondition; the workload is the ReplicaSet's Deployment."""
    stored = _crash_pod(emulator)
    uid = stored["metadata"]["uid"]
    plan = await _plan(actions, ctx, "delete_pod", namespace="default", pod="web-abc-1")
    [call] = plan.calls
    assert (call.method, call.path) == ("DELETE", "/api/v1/namespaces/default/pods/web-abc-1")
    assert call.body == {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
    assert [o.uid for o in plan.observed] == [uid]
    [expect] = plan.expect
    assert (expect.check, expect.values["old_uid"], expect.values["controller"]) == (
        "pod_replaced",
        uid,
        "ReplicaSet/web-abc",
    )
    assert plan.facts.workload == "Deployment/default/web" and plan.facts.disruptive
    assert [(r.name, r.ready) for r in plan.facts.pod_removals] == [("web-abc-1", False)]
    assert emulator.get_object("v1", "Pod", "default", "web-abc-1") is not None, "planning writes nothing"


async def test_preview_asks_the_server_and_records_the_diff(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """A scale plan previewed with dryRun=All: the diff names the field with its old and new value,
    the stored object does not change, and facts carry the namespace and the nodes."""
    emulator.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    emulator.put_object(node("n1"))
    emulator.put_object(deployment("web", replicas=3))
    before = emulator.snapshot()
    plan = await _plan(actions, ctx, "scale", namespace="default", name="web", delta="-1", max_replicas="5")
    plan = await preview.preview(ctx, await facts.complete(ctx, plan))
    [call] = plan.calls
    assert call.path == "/apis/apps/v1/namespaces/default/deployments/web/scale"
    assert (
        call.body["metadata"]["resourceVersion"]
        == emulator.get_object("apps/v1", "Deployment", "default", "web")["metadata"]["resourceVersion"]
    )
    assert {"op": "replace", "path": "/spec/replicas", "value": 2, "was": 3} in call.diff
    assert call.preview is not None and call.preview["code"] == 200
    assert plan.facts.disruptive, "scaling down takes pods away"
    assert (plan.facts.nodes_total, plan.facts.nodes_not_ready) == (1, 0)
    assert plan.facts.namespaces == {"default": {}}
    assert emulator.snapshot() == before


async def test_names_that_render_empty_are_refused(actions: dict[str, Action]) -> None:
    """An empty name would address the collection ("everything"): params refuse it outright."""
    for name, params in (
        ("delete_pod", {"namespace": "default", "pod": ""}),
        ("delete_pod", {"namespace": "", "pod": "x"}),
        ("cordon", {"node": ""}),
        ("drain", {"node": " "}),
        ("rollout_restart", {"namespace": "default", "name": ""}),
        ("scale", {"namespace": "default", "name": "", "replicas": 1, "max_replicas": 2}),
        ("delete_pod", {"namespace": "default", "selector": "  "}),
    ):
        with pytest.raises(ValidationError):
            actions[name].params.model_validate(params)


async def test_a_selector_that_matches_nothing_plans_nothing(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """Target set empty → a no-op plan (and applying it sends nothing), never a collection delete."""
    _crash_pod(emulator)
    plan = await _plan(actions, ctx, "delete_pod", namespace="default", selector="app=nothing-here")
    assert plan.noop and "nothing matched" in plan.summary
    result = await apply.apply(ctx, plan)
    assert result.ok and result.writes_done == 0
    assert emulator.calls_matching("DELETE") == []


async def test_a_selector_is_bounded_and_stays_within_one_workload(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """max_pods caps what one step may delete; pods without a controller are skipped, not deleted."""
    stored = _crash_pod(emulator, "web-abc-1", tier="x")
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": stored["metadata"]["ownerReferences"][0]}
    rs = emulator.get_object("apps/v1", "ReplicaSet", "default", rs["metadata"]["name"])
    assert rs is not None
    emulator.put_object(pod("web-abc-2", owner=rs, labels={"app": "web", "tier": "x"}))
    emulator.put_object(pod("loner", labels={"app": "web", "tier": "x"}))
    with pytest.raises(errors.ActionRefused, match="matches 2 pods; at most 1"):
        await _plan(actions, ctx, "delete_pod", namespace="default", selector="tier=x")
    plan = await _plan(actions, ctx, "delete_pod", namespace="default", selector="tier=x", max_pods="2")
    assert sorted(c.object for c in plan.calls) == ["Pod/default/web-abc-1", "Pod/default/web-abc-2"]
    assert plan.output["skipped"] == [
        {"pod": "loner", "reason": "no controller; deleting it would remove it for good"}
    ]


async def test_drain_plan_lists_every_eviction_and_its_budget(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """Cordon first, then one Eviction per pod; the facts carry each pod's budget as the server
    reports it (status computed like the disruption controller), so the guard can pre-check it."""
    emulator.put_object(node("n1"))
    deploy = emulator.put_object(deployment("web", replicas=2))
    rs = emulator.put_object(replicaset(deploy, revision=1, image="app:1", hash_="abc"))
    emulator.put_object(pod("web-abc-1", owner=rs, node="n1", labels={"app": "web"}))
    emulator.put_object(pod("web-abc-2", owner=rs, node="n2", labels={"app": "web"}))
    emulator.put_object(pdb("web", "default", match_labels={"app": "web"}, min_available=2))
    plan = await facts.complete(ctx, await _plan(actions, ctx, "drain", node="n1"))
    assert [(c.method, c.path.rsplit("/", 2)[-2:]) for c in plan.calls] == [
        ("PATCH", ["nodes", "n1"]),
        ("POST", ["web-abc-1", "eviction"]),
    ]
    [removal] = plan.facts.pod_removals
    [budget] = removal.budgets
    assert (budget["name"], budget["disruptions_allowed"]) == ("web", 0)
    assert plan.facts.drain and plan.facts.node == "n1"
    assert [e.check for e in plan.expect] == ["node_drained"]


async def test_a_stale_precondition_is_a_conflict_and_nothing_is_written(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """A concurrent change after planning: the write answers 409, apply says conflict with no
    write done, and the concurrent change stands (never a blind overwrite)."""
    emulator.put_object(deployment("web", replicas=3))
    plan = await _plan(actions, ctx, "scale", namespace="default", name="web", replicas="4", max_replicas="5")
    live = emulator.get_object("apps/v1", "Deployment", "default", "web")
    assert live is not None
    live["spec"]["replicas"] = 6  # someone else scaled it meanwhile
    emulator.put_object(live)
    result = await apply.apply(ctx, plan)
    assert (result.ok, result.conflict, result.writes_done) == (False, True, 0)
    after = emulator.get_object("apps/v1", "Deployment", "default", "web")
    assert after is not None and after["spec"]["replicas"] == 6


async def test_cordon_of_a_cordoned_node_plans_no_call(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """Already as wanted → no call, nothing to verify, not disruptive."""
    emulator.put_object(node("n1", unschedulable=True))
    plan = await _plan(actions, ctx, "cordon", node="n1")
    assert plan.noop and plan.expect == [] and not plan.facts.disruptive
    assert plan.summary == "node n1 was already cordoned"


async def test_dry_run_apply_changes_nothing(
    actions: dict[str, Action], ctx: ActionContext, emulator: ClusterEmulator
) -> None:
    """ctx.dry_run: every call goes out with dryRun=All; the cluster is byte-identical after."""
    _crash_pod(emulator)
    before = emulator.snapshot()
    plan = await _plan(actions, ctx, "delete_pod", namespace="default", pod="web-abc-1")
    dry = ActionContext(kube=ctx.kube, audit=ctx.audit, limits=ctx.limits, dry_run=True)
    result = await apply.apply(dry, plan)
    assert result.ok and result.summary.startswith("dry run:")
    [sent] = emulator.calls_matching("DELETE")
    assert sent.query.get("dryRun") == "All"
    assert emulator.snapshot() == before
    assert isinstance(kube.summarize({"kind": "Pod"}), dict)
