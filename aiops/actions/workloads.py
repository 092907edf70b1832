"""Workload pod-template remediations: rollout_restart, rollback, patch_resources (risk ``medium``/``high``).

Fed by: the executor through the registry, after approval. Consumed by: playbooks for crash loops,
OOM kills and bad rollouts. Audited by the registry. Each is one patch of the pod template
(:func:`_template_plan`), so the controller replaces every pod; ``scale`` is in
:mod:`aiops.actions.scale`.

Every read-modify-write carries the resourceVersion it read, so a concurrent change makes the write
fail with 409 Conflict instead of overwriting it ("API Concepts: Conflicts",
https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts).
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from aiops import errors, kube
from aiops.actions import _common, facts, quantity, reads
from aiops.actions.base import ActionContext
from aiops.actions.plan import Expectation, Facts, Observation, Plan
from aiops.events.model import ObjectRef

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"

#: Deployment annotations ``kubectl rollout undo`` keeps from the Deployment rather than copying
#: from the ReplicaSet (kubectl's polymorphichelpers/rollback.go, ``annotationsToSkip``).
ROLLBACK_KEEP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


class RolloutRestartParams(_common.Params):
    """``rollout_restart``: workload ``kind``/``namespace``/``name``."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    namespace: _common.Namespace
    name: _common.Name

    def target(self) -> str:
        return _common.ref(self.kind, self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The workload restarted."""
        return ObjectRef(api_version="apps/v1", kind=self.kind, namespace=self.namespace, name=self.name)


def _observe_workload(obj: dict[str, Any]) -> Observation:
    """The fields a template write depends on: the pod template (a rollout since would move it),
    ``spec.paused`` and the revision annotation (a rollout or rollback since would move it)."""
    return _common.observe(
        "apps/v1",
        obj,
        "/spec/template",
        "/spec/paused",
        "/metadata/annotations/deployment.kubernetes.io~1revision",
    )


def _rollout_expectation(kind: str, namespace: str, name: str, obj: dict[str, Any]) -> Expectation:
    """The rollout the write starts completes: observedGeneration reaches the new generation."""
    generation = int(_common.meta(obj).get("generation") or 1)
    return Expectation(
        check="rollout_complete",
        api_version="apps/v1",
        kind=kind,
        namespace=namespace,
        name=name,
        values={"min_generation": generation + 1},
    )


def _template_plan(
    ctx: ActionContext,
    action: str,
    obj: dict[str, Any],
    body: Any,
    *,
    patch_type: kube.PatchType,
    effect: str,
    summary: str,
    output: Any,
    also_observed: tuple[Observation, ...] = (),
) -> Plan:
    """The plan of one patch to a workload's pod template (restart, roll back, new limits): the
    controller then replaces every pod, so the write is disruptive and its rollout must complete.
    The workload's pod counts go into the facts from ``obj``, the object just read."""
    kind, meta = str(obj.get("kind")), _common.meta(obj)
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    replicas, unavailable = facts.workload_counts(obj)
    return Plan(
        action=action,
        target=_common.ref(kind, namespace, name),
        planned_at=ctx.now(),
        calls=[
            _common.patch_call("apps/v1", kind, namespace, name, body, patch_type=patch_type, effect=effect)
        ],
        observed=[_observe_workload(obj), *also_observed],
        expect=[_rollout_expectation(kind, namespace, name, obj)],
        facts=Facts(
            workload=_common.ref(kind, namespace, name),
            workload_replicas=replicas,
            workload_unavailable=unavailable,
            disruptive=True,
        ),
        summary=summary,
        output=output,
    )


async def plan_rollout_restart(ctx: ActionContext, params: RolloutRestartParams) -> Plan:
    """Plan what ``kubectl rollout restart`` does: a strategic patch of the pod template annotation
    ``kubectl.kubernetes.io/restartedAt`` to the plan's time (RFC 3339, UTC), with the
    resourceVersion read as precondition; the controller then replaces every pod.

    Raises :class:`aiops.errors.ActionRefused` for a paused Deployment (kubectl refuses it too).
    """
    obj = await ctx.kube.get("apps/v1", params.kind, params.namespace, params.name)
    if (obj.get("spec") or {}).get("paused"):
        raise errors.ActionRefused(f"{params.target()} is paused; resume the rollout before restarting it")
    now = ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "metadata": {"resourceVersion": _common.meta(obj).get("resourceVersion")},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}},
    }
    return _template_plan(
        ctx,
        "rollout_restart",
        obj,
        body,
        patch_type="strategic",
        effect=f"set the pod template annotation {RESTARTED_AT}={now}: every pod is replaced",
        summary=f"restarted {params.target()}",
        output={"restartedAt": now},
    )


class RollbackParams(_common.Params):
    """``rollback``: Deployment ``namespace``/``name`` to ``to_revision`` (None: the previous one)."""

    namespace: _common.Namespace
    name: _common.Name
    to_revision: int | None = Field(default=None, ge=1)

    def target(self) -> str:
        return _common.ref("Deployment", self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The Deployment rolled back."""
        return ObjectRef(api_version="apps/v1", kind="Deployment", namespace=self.namespace, name=self.name)


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(template)
    labels = (clean.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return clean


async def plan_rollback(ctx: ActionContext, params: RollbackParams) -> Plan:
    """Plan what ``kubectl rollout undo`` does client-side (kubectl polymorphichelpers/rollback.go).

    Find the Deployment's ReplicaSets (selector + controller uid), pick ``to_revision`` or the highest
    revision below the current one, and JSON-patch the Deployment: ``spec.template`` := the
    ReplicaSet's template without the ``pod-template-hash`` label, ``metadata.annotations`` := the
    ReplicaSet's annotations plus the Deployment's own in :data:`ROLLBACK_KEEP`, and
    ``metadata.resourceVersion`` := the one read (409 Conflict if it changed meanwhile).

    Raises :class:`aiops.errors.ActionRefused` for a paused Deployment, a missing revision, or a
    target revision whose template is already the current one.
    Output: ``{"from_revision", "to_revision", "replicaset", "images"}``.
    """
    deployment = await ctx.kube.get("apps/v1", "Deployment", params.namespace, params.name)
    if (deployment.get("spec") or {}).get("paused"):
        raise errors.ActionRefused(
            f"{params.target()} is paused; kubectl refuses to roll back a paused Deployment"
        )
    by_revision = {
        rev: rs for rs in await reads.owned_replicasets(ctx, deployment) if (rev := reads.revision_of(rs))
    }
    current = reads.revision_of(deployment) or max(by_revision, default=0)
    if params.to_revision is not None:
        wanted: int | None = params.to_revision if params.to_revision in by_revision else None
    else:
        wanted = max((rev for rev in by_revision if rev < current), default=None)
    if wanted is None:
        which = f"revision {params.to_revision}" if params.to_revision else "no previous revision"
        raise errors.ActionRefused(f"{params.target()}: {which} found in its rollout history")
    rs = by_revision[wanted]
    template = _without_hash((rs.get("spec") or {}).get("template") or {})
    if template == _without_hash((deployment.get("spec") or {}).get("template") or {}):
        raise errors.ActionRefused(
            f"{params.target()}: the current template already matches revision {wanted}"
        )
    kept = {k: v for k, v in _common.annotations_of(deployment).items() if k in ROLLBACK_KEEP}
    notes = kept | {k: v for k, v in _common.annotations_of(rs).items() if k not in ROLLBACK_KEEP}
    patch = [
        {
            "op": "replace",
            "path": "/metadata/resourceVersion",
            "value": _common.meta(deployment)["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": notes},
    ]
    images = [c.get("image") for c in (template.get("spec") or {}).get("containers") or []]
    return _template_plan(
        ctx,
        "rollback",
        deployment,
        patch,
        patch_type="json",
        effect=f"replace the pod template with revision {wanted}'s ({', '.join(map(str, images))})",
        summary=f"rolled {params.target()} back from revision {current} to {wanted}",
        output={
            "from_revision": current,
            "to_revision": wanted,
            "replicaset": _common.meta(rs).get("name"),
            "images": images,
        },
        also_observed=(_common.observe("apps/v1", rs, "/spec/template"),),
    )


class PatchResourcesParams(_common.Params):
    """``patch_resources``: one container's limits. Memory: ``memory_limit`` (a quantity) or
    ``memory_factor`` (× the current limit), clamped to ``limits.max_memory_limit_bytes``."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    namespace: _common.Namespace
    name: _common.Name
    container: _common.Name
    memory_limit: str | None = None
    memory_factor: float | None = Field(default=None, gt=0)
    cpu_limit: str | None = None

    @field_validator("memory_limit", "cpu_limit")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None:
            quantity.parse_quantity(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.memory_limit is not None and self.memory_factor is not None:
            raise ValueError("give memory_limit or memory_factor, not both")
        if self.memory_limit is None and self.memory_factor is None and self.cpu_limit is None:
            raise ValueError("give memory_limit, memory_factor or cpu_limit")
        return self

    def target(self) -> str:
        return _common.ref(self.kind, self.namespace, self.name)

    def object_ref(self) -> ObjectRef:
        """The workload whose pod template is patched."""
        return ObjectRef(api_version="apps/v1", kind=self.kind, namespace=self.namespace, name=self.name)


def _new_memory(params: PatchResourcesParams, current: int | None, ceiling: int) -> tuple[int, bool]:
    """The new memory limit in bytes (rounded up to whole Mi when scaled) and whether it was clamped."""
    if params.memory_limit is not None:
        wanted = quantity.to_bytes(params.memory_limit)
    elif current is None:
        raise errors.ActionRefused(f"container {params.container} has no memory limit to multiply")
    else:
        wanted = -(-int(current * (params.memory_factor or 1)) // 2**20) * 2**20
    return min(wanted, ceiling), wanted > ceiling


async def plan_patch_resources(ctx: ActionContext, params: PatchResourcesParams) -> Plan:
    """Plan a strategic merge patch of one container's limits (containers merge by name, so its image and the
    other containers stay), with the resourceVersion read as precondition; requests are lowered to
    stay <= limits. Quantities: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/

    Raises :class:`aiops.errors.ActionRefused` for an unknown container, or a new memory limit not
    above the current one (e.g. already at the configured maximum).
    Output: ``{"container", "memory_limit": {"from", "to"}, "cpu_limit": {"from", "to"}, "clamped"}``.
    """
    obj = await ctx.kube.get("apps/v1", params.kind, params.namespace, params.name)
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    container = next((c for c in containers if c.get("name") == params.container), None)
    if container is None:
        raise errors.ActionRefused(f"{params.target()} has no container named {params.container!r}")
    resources = container.get("resources") or {}
    limits, requests = dict(resources.get("limits") or {}), dict(resources.get("requests") or {})
    new_limits: dict[str, str] = {}
    new_requests: dict[str, str] = {}
    output: dict[str, Any] = {"container": params.container, "clamped": False}
    if params.memory_limit is not None or params.memory_factor is not None:
        current = quantity.to_bytes(limits["memory"]) if "memory" in limits else None
        ceiling = ctx.limits.max_memory_limit_bytes
        memory, clamped = _new_memory(params, current, ceiling)
        if current is not None and memory <= current:
            why = (
                f"already at the configured maximum ({quantity.format_bytes(ceiling)})"
                if clamped or current >= ceiling
                else "not above it"
            )
            raise errors.ActionRefused(
                f"{params.target()} container {params.container}: memory limit {limits['memory']} is {why};"
                f" refusing to set {quantity.format_bytes(memory)}"
            )
        new_limits["memory"] = quantity.format_bytes(memory)
        if "memory" in requests and quantity.to_bytes(requests["memory"]) > memory:
            new_requests["memory"] = new_limits["memory"]
        output |= {
            "memory_limit": {"from": limits.get("memory"), "to": new_limits["memory"]},
            "clamped": clamped,
        }
    if params.cpu_limit is not None:
        new_limits["cpu"] = params.cpu_limit
        if "cpu" in requests and quantity.parse_quantity(requests["cpu"]) > quantity.parse_quantity(
            params.cpu_limit
        ):
            new_requests["cpu"] = params.cpu_limit
        output["cpu_limit"] = {"from": limits.get("cpu"), "to": params.cpu_limit}
    patch_resources_: dict[str, Any] = {"limits": new_limits}
    if new_requests:
        patch_resources_["requests"] = new_requests
    body = {
        "metadata": {"resourceVersion": _common.meta(obj).get("resourceVersion")},
        "spec": {
            "template": {"spec": {"containers": [{"name": params.container, "resources": patch_resources_}]}}
        },
    }
    changes = ", ".join(f"{k} limit {limits.get(k, 'unset')} → {v}" for k, v in new_limits.items())
    return _template_plan(
        ctx,
        "patch_resources",
        obj,
        body,
        patch_type="strategic",
        effect=f"container {params.container}: {changes}; the controller rolls every pod",
        summary=f"{params.target()} container {params.container}: {changes}",
        output=output,
    )
