"""Node remediations: cordon, uncordon (risk ``medium``) and drain (risk ``high``).

Fed by: the executor through the registry, after approval. Consumed by: playbooks for NotReady
nodes and node pressure. Audited by the registry.

``drain`` follows ``kubectl drain`` (k8s.io/kubectl/pkg/drain: cordon, then filter the node's pods,
then evict each through the Eviction API so PodDisruptionBudgets hold) without ``--force``:
https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/ and
https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from aiops import errors, kube
from aiops.actions import _common
from aiops.actions.base import ActionContext, ActionResult

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


class NodeParams(_common.Params):
    """``cordon`` / ``uncordon``: the node's name."""

    node: str

    def target(self) -> str:
        return _common.ref("Node", None, self.node)


async def _set_unschedulable(ctx: ActionContext, node: str, unschedulable: bool) -> bool:
    """Patch ``spec.unschedulable`` (as kubectl does: true, or removed); False when already so."""
    current = await ctx.kube.get("v1", "Node", None, node)
    if bool((current.get("spec") or {}).get("unschedulable")) == unschedulable:
        return False
    body = {"spec": {"unschedulable": True if unschedulable else None}}
    await ctx.kube.patch("v1", "Node", None, node, body, patch_type="strategic")
    return True


async def cordon(ctx: ActionContext, params: NodeParams) -> ActionResult:
    """Mark the node unschedulable. Output: ``{"changed": bool}``."""
    changed = await _set_unschedulable(ctx, params.node, True)
    summary = f"cordoned node {params.node}" if changed else f"node {params.node} was already cordoned"
    return ActionResult(ok=True, summary=summary, output={"changed": changed})


async def uncordon(ctx: ActionContext, params: NodeParams) -> ActionResult:
    """Mark the node schedulable again. Output: ``{"changed": bool}``."""
    changed = await _set_unschedulable(ctx, params.node, False)
    summary = f"uncordoned node {params.node}" if changed else f"node {params.node} was already schedulable"
    return ActionResult(ok=True, summary=summary, output={"changed": changed})


class DrainParams(_common.Params):
    """``drain``: ``timeout_seconds`` bounds the eviction retries (capped by the limits' timeout)."""

    node: str
    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0)

    def target(self) -> str:
        return _common.ref("Node", None, self.node)


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
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        controller = _common.controller_of(pod)
        if MIRROR_ANNOTATION in _common.annotations_of(pod):
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


async def _evict_one(ctx: ActionContext, pod: dict[str, Any], deadline: float) -> str | None:
    """Evict, retrying 429 with exponential backoff until ``deadline`` (loop time); None on success,
    else why the pod is still there."""
    loop = asyncio.get_running_loop()
    meta = _common.meta(pod)
    delay = ctx.limits.eviction_retry_seconds
    while True:
        try:
            await ctx.kube.evict(meta["namespace"], meta["name"])
            return None
        except kube.NotFound:
            return None  # already gone
        except kube.TooManyRequests as exc:
            reason = "; ".join(exc.causes) or exc.message
            if loop.time() + delay > deadline:
                return reason
            await asyncio.sleep(delay)
            delay *= 2
        except kube.ApiError as exc:
            return str(exc)


async def drain(ctx: ActionContext, params: DrainParams) -> ActionResult:
    """Cordon the node, then evict its pods through the Eviction API (never a plain delete).

    A 429 (a PodDisruptionBudget forbids it now) is retried with exponential backoff from
    ``limits.eviction_retry_seconds`` until the timeout; pods still blocked make the result ok=False,
    naming them with the budget's message. Raises :class:`aiops.errors.ActionRefused` (leaving the
    node cordoned, as kubectl does) when a pod may not be evicted without ``--force``-like options.
    Output: ``{"cordoned", "evicted": [ns/name], "skipped": [{pod, reason}], "failed": [{pod, reason}]}``.
    """
    cordoned = await _set_unschedulable(ctx, params.node, True)
    pods = await ctx.kube.list("v1", "Pod", None, field_selector=f"spec.nodeName={params.node}")
    to_evict, skipped, refusals = sort_pods(pods, params)
    if refusals:
        raise errors.ActionRefused(
            f"node {params.node} is cordoned but cannot be drained: " + "; ".join(refusals)
        )
    timeout = ctx.limits.eviction_timeout_seconds
    if params.timeout_seconds is not None:
        timeout = min(timeout, params.timeout_seconds)
    deadline = asyncio.get_running_loop().time() + timeout
    outcomes = await asyncio.gather(*(_evict_one(ctx, pod, deadline) for pod in to_evict))
    evicted = [_name(pod) for pod, why in zip(to_evict, outcomes, strict=True) if why is None]
    failed = [
        {"pod": _name(pod), "reason": why}
        for pod, why in zip(to_evict, outcomes, strict=True)
        if why is not None
    ]
    output = {"cordoned": cordoned, "evicted": evicted, "skipped": skipped, "failed": failed}
    if failed:
        blocked = "; ".join(f"{f['pod']}: {f['reason']}" for f in failed)
        summary = f"node {params.node}: {len(failed)} pod(s) could not be evicted ({blocked})"
        return ActionResult(ok=False, summary=summary, output=output, error=summary)
    if not to_evict:
        return ActionResult(ok=True, summary=f"node {params.node} cordoned; no pods to evict", output=output)
    return ActionResult(
        ok=True, summary=f"drained node {params.node}: evicted {len(evicted)} pod(s)", output=output
    )
