"""Complete a plan's :class:`Facts`: the cluster state the blast-radius guards decide on.

Fed by: the executor, after a write step is planned (and again when it is re-planned right before
acting, so the guards decide on fresh facts). Consumed by: ``aiops.safety.guards``.

Reads (GET/LIST only), each only when the plan needs it:

* every namespace the plan writes in, for its annotations (the pause annotation);
* for a disruptive plan: all Nodes, counting those whose ``Ready`` condition is not ``True``
  (Node v1 reference, ``status.conditions``), for the node-storm halt;
* the disrupted workload, for its desired and unavailable pods (``spec.replicas``,
  ``status.unavailableReplicas`` or desired − ``availableReplicas``; DaemonSet:
  ``desiredNumberScheduled``/``numberUnavailable``), for the workload-storm halt;
* for each pod deleted or evicted, the PodDisruptionBudgets in its namespace whose selector
  matches it, with their ``status`` as the disruption controller keeps it (PodDisruptionBudget v1
  reference: ``disruptionsAllowed``, ``currentHealthy``, ``desiredHealthy``).
"""

from __future__ import annotations

from typing import Any

from aiops import bodies, kube
from aiops.actions import _common
from aiops.actions.base import ActionContext
from aiops.actions.plan import Plan, PodRemoval

_WORKLOAD_API = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "DaemonSet": "apps/v1",
}


def _namespace_of(object_key: str) -> str | None:
    _, namespace, _ = object_key.split("/", 2)
    return None if namespace == "-" else namespace


def workload_counts(obj: bodies.DeploymentBody | dict[str, Any]) -> tuple[int, int]:
    """(desired pods, unavailable pods) of a Deployment, StatefulSet, ReplicaSet or DaemonSet."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if obj.get("kind") == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        return desired, int(
            status.get("numberUnavailable") or max(0, desired - int(status.get("numberAvailable") or 0))
        )
    desired = int(spec.get("replicas", 1))
    if "unavailableReplicas" in status:
        return desired, int(status["unavailableReplicas"])
    ready = status.get("availableReplicas", status.get("readyReplicas", 0))
    return desired, max(0, desired - int(ready or 0))


async def _budgets(
    ctx: ActionContext, removal: PodRemoval, cache: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    if removal.namespace not in cache:
        cache[removal.namespace] = await ctx.kube.list("policy/v1", "PodDisruptionBudget", removal.namespace)
    found = []
    for pdb in cache[removal.namespace]:
        if bodies.selector_matches((pdb.get("spec") or {}).get("selector"), removal.labels):
            status = pdb.get("status") or {}
            found.append(
                {
                    "name": bodies.meta(pdb).get("name"),
                    "disruptions_allowed": int(status.get("disruptionsAllowed") or 0),
                    "current_healthy": int(status.get("currentHealthy") or 0),
                    "desired_healthy": int(status.get("desiredHealthy") or 0),
                    "unhealthy_pod_eviction_policy": (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
                    or "IfHealthyBudget",
                }
            )
    return found


async def _annotations(ctx: ActionContext, namespace: str) -> dict[str, str]:
    """The namespace's annotations. Fails closed: a namespace that cannot be read (even 404) makes
    the plan fail, so a pause annotation is never missed."""
    return _common.annotations_of(await ctx.kube.get("v1", "Namespace", None, namespace))


async def complete(ctx: ActionContext, plan: Plan) -> Plan:
    """``plan`` with its facts filled in from the cluster (see the module docstring).

    Raises :class:`aiops.kube.ApiError` when a read fails (the plan is then not put up).
    """
    facts = plan.facts.model_copy(deep=True)
    written = {namespace for call in plan.calls if (namespace := _namespace_of(call.object))}
    written |= {removal.namespace for removal in facts.pod_removals}
    for namespace in sorted(written):
        facts.namespaces[namespace] = await _annotations(ctx, namespace)
    if facts.disruptive and not plan.noop:
        nodes = await ctx.kube.list("v1", "Node")
        facts.nodes_total = len(nodes)
        facts.nodes_not_ready = sum(1 for node in nodes if not bodies.node_ready(node))
    if facts.workload and facts.workload_replicas is None and not plan.noop:  # unless the planner read it
        kind, namespace, name = facts.workload.split("/", 2)
        if kind in _WORKLOAD_API:
            try:
                obj = await ctx.kube.get(_WORKLOAD_API[kind], kind, namespace, name)
            except kube.NotFound:
                obj = None
            if obj is not None:
                facts.workload_replicas, facts.workload_unavailable = workload_counts(obj)
    cache: dict[str, list[dict[str, Any]]] = {}
    facts.pod_removals = [
        removal.model_copy(update={"budgets": await _budgets(ctx, removal, cache)})
        for removal in facts.pod_removals
    ]
    return plan.model_copy(update={"facts": facts})
