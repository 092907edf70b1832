"""Pod remediation: ``delete_pod`` (risk ``medium``), so that the pod's controller replaces it.

Fed by: the executor through the registry, after approval. Consumed by: playbooks for stuck or
crash-looping replicas. Audited by the registry.

The planner reads the pod (or the pods a label selector picks) and plans one DELETE per pod with
the pod's uid as precondition, so a same-named successor is never deleted instead ("API
Concepts", DeleteOptions ``preconditions``). A selector that matches nothing plans nothing: an
empty target set is a no-op, never "everything"; an empty selector is refused outright.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from aiops import bodies, errors, kube
from aiops.actions import _common
from aiops.actions.base import ActionContext
from aiops.actions.plan import Expectation, Facts, Observation, Plan, PlannedCall, PodRemoval
from aiops.events.model import ObjectRef


class DeletePodParams(_common.Params):
    """``delete_pod``: ``namespace`` and exactly one of ``pod`` (a name) or ``selector`` (a label
    selector, ``app=web,tier in (a,b)``, never empty); ``grace_period_seconds`` None keeps the
    pod's own; ``max_pods`` bounds how many pods a selector may delete in one step."""

    namespace: _common.Namespace
    pod: _common.Name | None = None
    selector: str | None = None
    grace_period_seconds: int | None = Field(default=None, ge=0)
    max_pods: int = Field(default=1, ge=1, le=50)

    @field_validator("selector")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("an empty selector would select every pod; name the pods to delete")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.pod is None) == (self.selector is None):
            raise ValueError("give exactly one of pod or selector")
        return self

    def target(self) -> str:
        if self.pod is not None:
            return _common.ref("Pod", self.namespace, self.pod)
        return f"Pod/{self.namespace}/{{{self.selector}}}"

    def object_ref(self) -> ObjectRef | None:
        """The pod deleted; None for a label selector (no single object)."""
        if self.pod is None:
            return None
        return ObjectRef(api_version="v1", kind="Pod", namespace=self.namespace, name=self.pod)


async def _workload(ctx: ActionContext, pod: dict[str, Any], controller: bodies.OwnerReference) -> str:
    """The workload a pod belongs to, ``Kind/namespace/name``: a ReplicaSet's Deployment when it has one."""
    namespace = _common.meta(pod).get("namespace")
    if controller.get("kind") == "ReplicaSet":
        try:
            rs = await ctx.kube.get("apps/v1", "ReplicaSet", namespace, str(controller.get("name")))
        except kube.NotFound:
            rs = None
        owner = bodies.controller_owner(rs) if rs else None
        if owner is not None and owner.get("kind") == "Deployment":
            return _common.ref("Deployment", namespace, str(owner.get("name")))
    return _common.ref(str(controller.get("kind")), namespace, str(controller.get("name")))


async def plan_delete_pod(ctx: ActionContext, params: DeletePodParams) -> Plan:
    """Plan one DELETE per pod (uid precondition), expecting each controller to replace its pod.

    Raises :class:`aiops.errors.ActionRefused` when a named pod has no controller ownerReference
    (nothing would recreate it: "Owners and Dependents",
    https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/), when a
    selector matches more than ``max_pods`` pods, or when they belong to more than one workload.
    Output: ``{"pod", "uid", "controller"}`` for a named pod; ``{"pods": [{"pod", "uid",
    "controller"}], "skipped": [{pod, reason}]}`` for a selector.
    """
    if params.pod is not None:
        pods = [await ctx.kube.get("v1", "Pod", params.namespace, params.pod)]
    else:
        pods = await ctx.kube.list("v1", "Pod", params.namespace, label_selector=params.selector)
    chosen: list[tuple[dict[str, Any], bodies.OwnerReference]] = []
    skipped: list[dict[str, str]] = []
    for pod in pods:
        controller = bodies.controller_owner(pod)
        name = str(_common.meta(pod).get("name"))
        if controller is None:
            if params.pod is not None:
                raise errors.ActionRefused(
                    f"{params.target()} has no controller: deleting it would remove it, not restart it"
                )
            skipped.append({"pod": name, "reason": "no controller; deleting it would remove it for good"})
        elif bodies.terminating(pod):
            skipped.append({"pod": name, "reason": "already terminating"})
        else:
            chosen.append((pod, controller))
    if len(chosen) > params.max_pods:
        raise errors.ActionRefused(
            f"{params.target()} matches {len(chosen)} pods;"
            f" at most {params.max_pods} may be deleted in one step"
        )
    workloads = {await _workload(ctx, pod, controller) for pod, controller in chosen}
    if len(workloads) > 1:
        raise errors.ActionRefused(
            f"{params.target()} spans several workloads: {', '.join(sorted(workloads))}"
        )
    calls: list[PlannedCall] = []
    observed: list[Observation] = []
    expect: list[Expectation] = []
    removals: list[PodRemoval] = []
    done: list[dict[str, str]] = []
    query = (
        {"gracePeriodSeconds": str(params.grace_period_seconds)}
        if params.grace_period_seconds is not None
        else {}
    )
    for pod, controller in chosen:
        meta = _common.meta(pod)
        name, uid = str(meta.get("name")), str(meta.get("uid") or "")
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}} if uid else None
        owner = f"{controller.get('kind')}/{controller.get('name')}"
        calls.append(
            PlannedCall(
                method="DELETE",
                path=kube.resource_path("v1", "Pod", params.namespace, name),
                query=query,
                body=body,
                object=_common.ref("Pod", params.namespace, name),
                effect=f"delete pod {params.namespace}/{name} (uid {uid}); {owner} replaces it",
            )
        )
        observed.append(_common.observe("v1", pod))
        expect.append(
            Expectation(
                check="pod_replaced",
                api_version="v1",
                kind="Pod",
                namespace=params.namespace,
                name=name,
                values={"old_uid": uid, "controller_uid": controller.get("uid"), "controller": owner},
            )
        )
        removals.append(
            PodRemoval(
                namespace=params.namespace,
                name=name,
                uid=uid or None,
                ready=bodies.pod_ready(pod, exclude_terminating=True),
                labels=bodies.labels_of(pod),
            )
        )
        done.append({"pod": name, "uid": uid, "controller": owner})
    if not calls:
        summary = f"{params.target()}: no pod to delete (nothing matched)"
    elif len(calls) == 1:
        summary = f"deleted {calls[0].object}; {done[0]['controller']} will replace it"
    else:
        summary = f"deleted {len(calls)} pods of {next(iter(workloads))}"
    output: dict[str, Any] = dict(done[0]) if params.pod is not None else {"pods": done, "skipped": skipped}
    return Plan(
        action="delete_pod",
        target=params.target(),
        planned_at=ctx.now(),
        calls=calls,
        observed=observed,
        expect=expect,
        facts=Facts(workload=next(iter(workloads), None), pod_removals=removals, disruptive=bool(calls)),
        summary=summary,
        output=output,
    )
