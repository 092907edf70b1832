"""The ``scale`` remediation (risk ``medium``): a workload's replica count, or an autoscaler's ceiling.

Fed by: the executor through the registry, after approval (playbooks for saturation and for a
compensation that scales back). Consumed by: :mod:`aiops.actions.registry`; audited there.
Split from :mod:`aiops.actions.workloads` (pod-template writes), which changes for other reasons.

The write carries the resourceVersion it read, so a concurrent change makes it fail with 409
Conflict instead of overwriting it ("API Concepts: Conflicts",
https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts); the Scale subresource
carries its parent's resourceVersion.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from aiops import errors
from aiops.actions import _common, facts
from aiops.actions.base import ActionContext
from aiops.actions.plan import Expectation, Facts, Plan
from aiops.events.model import ObjectRef


class ScaleParams(_common.Params):
    """``scale``: exactly one of ``replicas`` (absolute) or ``delta`` (relative); at most ``max_replicas``.

    For ``kind: HorizontalPodAutoscaler`` the number scaled is the autoscaler's ceiling,
    ``spec.maxReplicas``: the HPA owns its target's replica count and would revert a direct scale
    at its next sync (Kubernetes API reference, HorizontalPodAutoscaler v2), so raising the
    ceiling is the scale that sticks.
    """

    kind: Literal["Deployment", "StatefulSet", "ReplicaSet", "HorizontalPodAutoscaler"] = "Deployment"
    namespace: _common.Namespace
    name: _common.Name
    replicas: int | None = None
    delta: int | None = None
    max_replicas: int = Field(ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.replicas is None) == (self.delta is None):
            raise ValueError("give exactly one of replicas or delta")
        return self

    def target(self) -> str:
        return _common.ref(self.kind, self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The workload scaled, or the autoscaler whose ceiling is raised."""
        return ObjectRef(
            api_version="autoscaling/v2" if self.kind == "HorizontalPodAutoscaler" else "apps/v1",
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
        )


async def plan_scale(ctx: ActionContext, params: ScaleParams) -> Plan:
    """Plan a merge patch of the Scale subresource's ``spec.replicas``, with the object's
    resourceVersion as precondition (the Scale carries its parent's).

    A HorizontalPodAutoscaler's ``spec.maxReplicas`` is patched instead (merge patch, same
    precondition); its ``minReplicas`` is the floor. Raises :class:`aiops.errors.ActionRefused`
    when the result is below the floor (0, or minReplicas) or above ``max_replicas``.
    Output: ``{"from": N, "to": M}``; no call when already at M.
    """
    if params.kind == "HorizontalPodAutoscaler":
        obj = await ctx.kube.get("autoscaling/v2", params.kind, params.namespace, params.name)
        spec = obj.get("spec") or {}
        before = int(spec.get("maxReplicas", 0))
        after = _bounded(params, before, floor=max(1, int(spec.get("minReplicas") or 1)), what="maxReplicas")
        api_version, subresource = "autoscaling/v2", None
        observed = _common.observe("autoscaling/v2", obj, "/spec/maxReplicas", "/spec/scaleTargetRef")
        expect = Expectation(
            check="autoscaler_ceiling",
            api_version="autoscaling/v2",
            kind=params.kind,
            namespace=params.namespace,
            name=params.name,
            values={"max_replicas": after},
        )
        body = {"metadata": {"resourceVersion": _common.meta(obj).get("resourceVersion")}}
        body["spec"] = {"maxReplicas": after}
        effect = f"set spec.maxReplicas {before} → {after}"
        done = f"raised the ceiling of {params.target()} from {before} to {after} replicas"
        same = f"{params.target()} already allows at most {after} replicas"
        workload = Facts()
    else:
        obj = await ctx.kube.get("apps/v1", params.kind, params.namespace, params.name)
        before = int((obj.get("spec") or {}).get("replicas", 1))
        after = _bounded(params, before, floor=0, what="replicas")
        api_version, subresource = "apps/v1", "scale"
        observed = _common.observe("apps/v1", obj, "/spec/replicas")
        expect = Expectation(
            check="replicas_ready",
            api_version="apps/v1",
            kind=params.kind,
            namespace=params.namespace,
            name=params.name,
            values={"replicas": after},
        )
        body = {"metadata": {"resourceVersion": _common.meta(obj).get("resourceVersion")}}
        body["spec"] = {"replicas": after}
        effect = f"set replicas {before} → {after} through the scale subresource"
        done = f"scaled {params.target()} from {before} to {after}"
        same = f"{params.target()} already has {after} replicas"
        replicas, unavailable = facts.workload_counts(obj)
        workload = Facts(
            workload=params.target(), workload_replicas=replicas, workload_unavailable=unavailable
        )
    calls = []
    if after != before:
        calls.append(
            _common.patch_call(
                api_version,
                params.kind,
                params.namespace,
                params.name,
                body,
                patch_type="merge",
                effect=effect,
                subresource=subresource,
            )
        )
    return Plan(
        action="scale",
        target=params.target(),
        planned_at=ctx.now(),
        calls=calls,
        observed=[observed],
        expect=[expect] if calls else [],
        facts=workload.model_copy(update={"disruptive": after < before}),
        summary=done if calls else same,
        output={"from": before, "to": after},
    )


def _bounded(params: ScaleParams, before: int, *, floor: int, what: str) -> int:
    """The count ``params`` asks for, or :class:`aiops.errors.ActionRefused` outside [floor, max]."""
    after = params.replicas if params.replicas is not None else before + (params.delta or 0)
    if after < floor or after > params.max_replicas:
        raise errors.ActionRefused(
            f"{params.target()}: {what} {after} is outside the allowed range {floor}..{params.max_replicas}"
        )
    return after
