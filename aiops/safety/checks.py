"""The conditions a verification checks: one read of the cluster per call, judged in words.

Fed by: :class:`aiops.safety.verify.Verifier`, which calls :data:`CHECKS` ``[expectation.check]``
with its :class:`aiops.kube.Kube` on every poll of an :class:`aiops.actions.plan.Expectation`.
Consumed by: the verifier's settle loop, which turns a series of :class:`Look` into a
:class:`~aiops.safety.verify.CheckOutcome`. Split from :mod:`aiops.safety.verify` (the polling
loop): a new condition, or a change to how one is judged, is made here.

Each check only reads (GET and LIST); an API error or a NotFound propagates to the verifier, which
counts it as one observation that does not hold. The rules of every condition, with their
sources (the Pod lifecycle docs, kubectl's ``rollout_status.go`` and ``drain/filters.go``), are in
the module docstring of :mod:`aiops.safety.verify`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops import bodies
from aiops.actions.plan import Expectation
from aiops.kube import Kube

__all__ = ["CHECKS", "MIRROR_ANNOTATION", "Check", "Look", "Restarts", "name_of"]

#: Annotation the kubelet puts on a mirror pod (the API object of a static pod).
MIRROR_ANNOTATION = bodies.MIRROR_ANNOTATION

#: How many pod names a detail lists before it says "and N more".
_MAX_LISTED = 5

#: Restart key ``(pod uid, container name)`` → (``ns/pod`` shown in details, ``restartCount``).
Restarts = dict[tuple[str, str], tuple[str, int]]


@dataclass(frozen=True)
class Look:
    """One observation: whether the condition holds, in words, and (pod_replaced) restart counts."""

    holds: bool
    detail: str
    restarts: Restarts = field(default_factory=dict)


#: One condition: reads the expectation's object (``kube``), answers one observation. Raises
#: :class:`aiops.kube.ApiError` (NotFound included) and lookup/type errors on malformed bodies.
Check = Callable[[Kube, Expectation], Awaitable[Look]]


async def pod_replaced(kube: Kube, e: Expectation) -> Look:
    old_uid = str(e.values.get("old_uid") or "")
    controller_uid = str(e.values.get("controller_uid") or "")
    controller = str(e.values.get("controller") or controller_uid).replace("/", " ", 1)
    if not controller_uid:
        return Look(False, "the expectation names no controller_uid: nothing replaces the pod")
    pods = await kube.list(e.api_version, e.kind, e.namespace)
    restarts: Restarts = {}
    for pod in pods:
        meta = _map(pod, "metadata")
        if old_uid and meta.get("uid") == old_uid and not bodies.terminating(pod):
            return Look(False, f"old pod {_pod_name(pod)} (uid {old_uid}) still exists")
    owned = [
        p
        for p in pods
        if not bodies.terminating(p)
        and any(r.get("uid") == controller_uid for r in bodies.owner_references(p))
    ]
    if not owned:
        return Look(False, f"no pod of {controller} exists yet")
    ready = [p for p in owned if bodies.pod_ready(p)]
    for pod in owned:
        uid = str(_map(pod, "metadata").get("uid") or _pod_name(pod))
        for status in bodies.container_statuses(pod):
            restarts[uid, str(status.get("name") or "?")] = (_pod_name(pod), bodies.restart_count(status))
    for pod in owned:
        for status in bodies.container_statuses(pod):
            if bodies.waiting(status).get("reason") == "CrashLoopBackOff":
                return Look(
                    False,
                    f"pod {_pod_name(pod)} is in CrashLoopBackOff (container {status.get('name')}, "
                    f"restarts {bodies.restart_count(status)})",
                    restarts,
                )
    counts = f"{len(ready)}/{len(owned)} pods of {controller} Ready"
    if len(ready) < len(owned):
        pod = next(p for p in owned if not bodies.pod_ready(p))
        return Look(False, f"{counts}; pod {_pod_name(pod)} is not Ready ({_why_not_ready(pod)})", restarts)
    return Look(True, f"{counts}, none in CrashLoopBackOff", restarts)


async def rollout_complete(kube: Kube, e: Expectation) -> Look:
    obj = await kube.get(e.api_version, e.kind, e.namespace, e.name)
    meta, spec, status = _map(obj, "metadata"), _map(obj, "spec"), _map(obj, "status")
    name = _name(e)
    wanted_generation = max(_int(e.values.get("min_generation")), _int(meta.get("generation")))
    observed = _int(status.get("observedGeneration"))
    if observed < wanted_generation or (e.kind == "StatefulSet" and observed == 0):
        return Look(
            False,
            f"waiting for {name} spec update to be observed "
            f"(observedGeneration {observed} < {wanted_generation})",
        )
    if e.kind == "Deployment":
        return _deployment_rollout(name, spec, status)
    if e.kind == "StatefulSet":
        return _statefulset_rollout(name, spec, status)
    if e.kind == "DaemonSet":
        return _daemonset_rollout(name, spec, status)
    return Look(False, f"rollout status is not defined for kind {e.kind}")


async def replicas_ready(kube: Kube, e: Expectation) -> Look:
    obj = await kube.get(e.api_version, e.kind, e.namespace, e.name)
    spec, status = _map(obj, "spec"), _map(obj, "status")
    wanted = _int(e.values.get("replicas"))
    desired = _int(spec.get("replicas"), default=1)
    ready, current = _int(status.get("readyReplicas")), _int(status.get("replicas"))
    name = _name(e)
    if desired != wanted:
        return Look(False, f"{name} wants {desired} replicas, not {wanted}")
    if wanted == 0:
        if current:
            return Look(False, f"{name} scaled to 0 but {current} pods remain")
        return Look(True, f"{name} scaled to 0, no pods remain")
    if ready < wanted:
        return Look(False, f"{ready}/{wanted} replicas of {name} ready")
    return Look(True, f"{ready}/{wanted} replicas of {name} ready")


async def autoscaler_ceiling(kube: Kube, e: Expectation) -> Look:
    obj = await kube.get(e.api_version, e.kind, e.namespace, e.name)
    wanted = _int(e.values.get("max_replicas"))
    actual = _map(obj, "spec").get("maxReplicas")
    return Look(actual == wanted, f"{_name(e)} maxReplicas is {actual} (expected {wanted})")


async def node_cordon(kube: Kube, e: Expectation) -> Look:
    obj = await kube.get(e.api_version, e.kind, e.namespace, e.name)
    cordoned = bool(_map(obj, "spec").get("unschedulable"))
    wanted = e.check == "node_unschedulable"
    return Look(cordoned == wanted, f"node {e.name} is {'un' if cordoned else ''}schedulable")


async def node_drained(kube: Kube, e: Expectation) -> Look:
    obj = await kube.get(e.api_version, e.kind, e.namespace, e.name)
    if not _map(obj, "spec").get("unschedulable"):
        return Look(False, f"node {e.name} is schedulable (not cordoned)")
    pods = await kube.list("v1", "Pod", None, field_selector=f"spec.nodeName={e.name}")
    left = [p for p in pods if not _drain_ignores(p)]
    if left:
        names = [_pod_name(p) for p in left]
        shown = ", ".join(names[:_MAX_LISTED]) + (
            f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
        )
        return Look(False, f"node {e.name} still runs {len(left)} pod(s): {shown}")
    ignored = len(pods) - len(left)
    return Look(
        True,
        f"node {e.name} is cordoned and drained"
        + (f" ({ignored} DaemonSet, mirror, finished or terminating pod(s) left)" if ignored else ""),
    )


# --- rollout rules (kubectl rollout_status.go) -------------------------------------------------


def _deployment_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Look:
    """``DeploymentStatusViewer.Status``, once the spec update is observed."""
    for cond in bodies.conditions(status):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return Look(False, f"{name} exceeded its progress deadline")
    desired = _int(spec.get("replicas"), default=1)
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    waiting = f"waiting for {name} rollout to finish: "
    if updated < desired:
        return Look(False, f"{waiting}{updated} out of {desired} new replicas have been updated")
    if replicas > updated:
        return Look(False, f"{waiting}{replicas - updated} old replicas are pending termination")
    if available < updated:
        return Look(False, f"{waiting}{available} of {updated} updated replicas are available")
    return Look(True, f"{name} successfully rolled out ({available}/{desired} updated replicas available)")


def _statefulset_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Look:
    """``StatefulSetStatusViewer.Status``, plus the revision check whenever there is no partition."""
    strategy = _map(spec, "updateStrategy")
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return Look(False, f"rollout status is only available for RollingUpdate strategy ({name})")
    desired = _int(spec.get("replicas"), default=1)
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    if ready < desired:
        return Look(False, f"waiting for {desired - ready} pods of {name} to be ready")
    partition = _int(_map(strategy, "rollingUpdate").get("partition"))
    if updated < desired - partition:
        return Look(
            False,
            f"waiting for {name} rollout to finish: {updated} out of {desired - partition} new pods updated",
        )
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if not partition and current and update and current != update:
        return Look(
            False, f"waiting for {name} rolling update to complete: {updated} pods at revision {update}"
        )
    return Look(True, f"{name} rolling update complete: {updated}/{desired} pods updated and ready")


def _daemonset_rollout(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Look:
    """``DaemonSetStatusViewer.Status``, once the spec update is observed."""
    if (_map(spec, "updateStrategy").get("type") or "RollingUpdate") != "RollingUpdate":
        return Look(False, f"rollout status is only available for RollingUpdate strategy ({name})")
    desired = _int(status.get("desiredNumberScheduled"))
    updated, available = _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable"))
    waiting = f"waiting for {name} rollout to finish: "
    if updated < desired:
        return Look(False, f"{waiting}{updated} out of {desired} new pods have been updated")
    if available < desired:
        return Look(False, f"{waiting}{available} of {desired} updated pods are available")
    return Look(True, f"{name} successfully rolled out ({available}/{desired} pods available)")


# --- reading raw bodies (lenient: missing or null → empty) ---------------------------------------


def _map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _map_of(obj.get(key))


def _map_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _int(value: object, *, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _name(e: Expectation) -> str:
    """``Deployment shop/web`` or ``Node n1``."""
    return f"{e.kind} {e.namespace}/{e.name}" if e.namespace else f"{e.kind} {e.name}"


def _pod_name(pod: Mapping[str, Any]) -> str:
    meta = _map(pod, "metadata")
    return f"{meta.get('namespace') or '-'}/{meta.get('name') or '?'}"


def _why_not_ready(pod: Mapping[str, Any]) -> str:
    for status in bodies.container_statuses(pod):
        reason = bodies.waiting(status).get("reason")
        if reason:
            return f"container {status.get('name')} waiting: {reason}"
    return f"phase {_map(pod, 'status').get('phase') or 'unknown'}"


def _drain_ignores(pod: Mapping[str, Any]) -> bool:
    """Whether a pod on the node does not stop it counting as drained (kubectl drain's filters)."""
    if bodies.terminating(pod) or bodies.pod_finished(pod) or bodies.mirror_pod(pod):
        return True
    controller = bodies.controller_owner(pod)
    return controller is not None and controller.get("kind") == "DaemonSet"


def name_of(e: Expectation) -> str:
    """``Deployment shop/web`` or ``Node n1``."""
    return _name(e)


#: Every condition by its ``Expectation.check`` name (``aiops.actions.plan.ExpectationCheck``).
CHECKS: dict[str, Check] = {
    "pod_replaced": pod_replaced,
    "rollout_complete": rollout_complete,
    "replicas_ready": replicas_ready,
    "autoscaler_ceiling": autoscaler_ceiling,
    "node_unschedulable": node_cordon,
    "node_schedulable": node_cordon,
    "node_drained": node_drained,
}
