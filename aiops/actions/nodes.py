"""Node remediations: cordon, uncordon (risk ``medium``) and drain (risk ``high``).

Fed by: the executor through the registry, after approval. Consumed by: playbooks for NotReady
nodes and node pressure. Audited by the registry.

``drain`` follows ``kubectl drain`` (k8s.io/kubectl/pkg/drain: cordon, then filter the node's pods,
then evict each through the Eviction API so PodDisruptionBudgets hold) without ``--force``:
https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/ and
https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from aiops import bodies, errors, kube
from aiops.actions import _common
from aiops.actions.base import ActionContext
from aiops.actions.plan import Expectation, Facts, Plan, PlannedCall, PodRemoval
from aiops.events.model import ObjectRef

MIRROR_ANNOTATION = bodies.MIRROR_ANNOTATION


class NodeParams(_common.Params):
    """``cordon`` / ``uncordon``: the node's name."""

    node: _common.Name

    def target(self) -> str:
        return _common.ref("Node", None, self.node)

    def object_ref(self) -> ObjectRef:
        """The Node cordoned or uncordoned."""
        return ObjectRef(api_version="v1", kind="Node", namespace=None, name=self.node)

    def reach(self) -> _common.Reach:
        """A Node is cluster-scoped."""
        return _common.Reach(cluster=True)


def _unschedulable_call(node: dict[str, Any], name: str, unschedulable: bool) -> PlannedCall:
    """The patch kubectl sends (``spec.unschedulable``: true, or removed), pinned to the
    resourceVersion read."""
    body = {
        "metadata": {"resourceVersion": _common.meta(node).get("resourceVersion")},
        "spec": {"unschedulable": True if unschedulable else None},
    }
    return _common.patch_call(
        "v1",
        "Node",
        None,
        name,
        body,
        patch_type="strategic",
        effect=f"mark node {name} {'unschedulable (cordon)' if unschedulable else 'schedulable (uncordon)'}",
    )


async def _plan_schedulable(ctx: ActionContext, params: NodeParams, *, unschedulable: bool) -> Plan:
    node = await ctx.kube.get("v1", "Node", None, params.node)
    already = bool((node.get("spec") or {}).get("unschedulable")) == unschedulable
    action = "cordon" if unschedulable else "uncordon"
    if already:
        summary = (
            f"node {params.node} was already cordoned"
            if unschedulable
            else f"node {params.node} was already schedulable"
        )
    else:
        summary = f"cordoned node {params.node}" if unschedulable else f"uncordoned node {params.node}"
    return Plan(
        action=action,
        target=params.target(),
        planned_at=ctx.now(),
        calls=[] if already else [_unschedulable_call(node, params.node, unschedulable)],
        observed=[_common.observe("v1", node, "/spec/unschedulable")],
        expect=[]
        if already
        else [
            Expectation(
                check="node_unschedulable" if unschedulable else "node_schedulable",
                api_version="v1",
                kind="Node",
                name=params.node,
            )
        ],
        facts=Facts(node=params.node, disruptive=unschedulable and not already),
        summary=summary,
        output={"changed": not already},
    )


async def plan_cordon(ctx: ActionContext, params: NodeParams) -> Plan:
    """Plan marking the node unschedulable (no call when it already is). Output: ``{"changed": bool}``."""
    return await _plan_schedulable(ctx, params, unschedulable=True)


async def plan_uncordon(ctx: ActionContext, params: NodeParams) -> Plan:
    """Plan marking the node schedulable again (no call when it is). Output: ``{"changed": bool}``."""
    return await _plan_schedulable(ctx, params, unschedulable=False)


class DrainParams(_common.Params):
    """``drain``: ``timeout_seconds`` bounds the eviction retries (capped by the limits' timeout)."""

    node: _common.Name
    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0)

    def target(self) -> str:
        return _common.ref("Node", None, self.node)

    def object_ref(self) -> ObjectRef:
        """The Node drained."""
        return ObjectRef(api_version="v1", kind="Node", namespace=None, name=self.node)

    def reach(self) -> _common.Reach:
        """A Node, and its pods in every namespace."""
        return _common.Reach(cluster=True)


def _name(pod: dict[str, Any]) -> str:
    return f"{_common.meta(pod).get('namespace')}/{_common.meta(pod).get('name')}"


def sort_pods(
    pods: list[dict[str, Any]], params: DrainParams
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[str]]:
    """kubectl drain's pod filters: (pods to evict, skipped ``{pod, reason}``, refusal reasons).

    Mirror pods and (with ``ignore_daemonsets``) DaemonSet pods are skipped; DaemonSet pods without
    it, pods with emptyDir volumes (without ``delete_emptydir_data``) and pods with no controller
    are refusals — except finished pods (Succeeded/Failed), which may always go.
    """
    evict: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    refusals: list[str] = []
    for pod in pods:
        finished = bodies.pod_finished(pod)
        controller = bodies.controller_owner(pod)
        if bodies.mirror_pod(pod):
            skipped.append({"pod": _name(pod), "reason": "mirror pod (managed by the kubelet)"})
        elif controller is not None and controller.get("kind") == "DaemonSet":
            if params.ignore_daemonsets:
                skipped.append({"pod": _name(pod), "reason": "DaemonSet-managed"})
            else:
                refusals.append(f"{_name(pod)}: DaemonSet-managed (set ignore_daemonsets)")
        elif controller is None and not finished:
            refusals.append(f"{_name(pod)}: no controller; evicting it would remove it for good")
        elif (
            not finished
            and not params.delete_emptydir_data
            and any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or [])
        ):
            refusals.append(f"{_name(pod)}: has emptyDir data (set delete_emptydir_data)")
        else:
            evict.append(pod)
    return evict, skipped, refusals


async def plan_drain(ctx: ActionContext, params: DrainParams) -> Plan:
    """Plan what ``kubectl drain`` does: cordon the node (unless it is), then evict each of its pods
    through the Eviction API (never a plain delete), each eviction retrying 429 (a
    PodDisruptionBudget forbids it now) until the timeout.

    Raises :class:`aiops.errors.ActionRefused`, before anything is written, when a pod may not be
    evicted without ``--force``-like options (see :func:`sort_pods`).
    Output: ``{"cordoned", "evicted": [ns/name], "skipped": [{pod, reason}], "failed": [{pod, reason}]}``.
    """
    node = await ctx.kube.get("v1", "Node", None, params.node)
    pods = await ctx.kube.list("v1", "Pod", None, field_selector=f"spec.nodeName={params.node}")
    to_evict, skipped, refusals = sort_pods(pods, params)
    if refusals:
        raise errors.ActionRefused(f"node {params.node} cannot be drained: " + "; ".join(refusals))
    timeout = ctx.limits.eviction_timeout_seconds
    if params.timeout_seconds is not None:
        timeout = min(timeout, params.timeout_seconds)
    cordoned = not (node.get("spec") or {}).get("unschedulable")
    calls = [_unschedulable_call(node, params.node, True)] if cordoned else []
    observed = [_common.observe("v1", node, "/spec/unschedulable")]
    removals: list[PodRemoval] = []
    for pod in to_evict:
        meta = _common.meta(pod)
        namespace, name = str(meta["namespace"]), str(meta["name"])
        calls.append(
            PlannedCall(
                method="POST",
                path=kube.resource_path("v1", "Pod", namespace, name, "eviction"),
                body={
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": name, "namespace": namespace},
                },
                object=_common.ref("Pod", namespace, name),
                effect=f"evict pod {namespace}/{name} (its PodDisruptionBudget permitting)",
                retry_429_seconds=timeout,
            )
        )
        observed.append(_common.observe("v1", pod))
        removals.append(
            PodRemoval(
                namespace=namespace,
                name=name,
                uid=meta.get("uid"),
                ready=bodies.pod_ready(pod, exclude_terminating=True),
                labels=bodies.labels_of(pod),
            )
        )
    summary = (
        f"drained node {params.node}: evicted {len(to_evict)} pod(s)"
        if to_evict
        else f"node {params.node} cordoned; no pods to evict"
    )
    return Plan(
        action="drain",
        target=params.target(),
        planned_at=ctx.now(),
        calls=calls,
        observed=observed,
        expect=[Expectation(check="node_drained", api_version="v1", kind="Node", name=params.node)],
        facts=Facts(node=params.node, pod_removals=removals, disruptive=True, drain=True),
        summary=summary,
        output={"cordoned": cordoned, "evicted": [], "skipped": skipped, "failed": []},
    )
