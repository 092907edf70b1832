"""Pod remediation: ``delete_pod`` (risk ``medium``), so that the pod's controller replaces it.

Fed by: the executor through the registry, after approval. Consumed by: playbooks for stuck or
crash-looping replicas. Audited by the registry.
"""

from __future__ import annotations

from pydantic import Field

from aiops import errors
from aiops.actions import _common
from aiops.actions.base import ActionContext, ActionResult


class DeletePodParams(_common.Params):
    """``delete_pod``: pod ``namespace``/``pod``; ``grace_period_seconds`` None keeps the pod's own."""

    namespace: str
    pod: str
    grace_period_seconds: int | None = Field(default=None, ge=0)

    def target(self) -> str:
        return _common.ref("Pod", self.namespace, self.pod)


async def delete_pod(ctx: ActionContext, params: DeletePodParams) -> ActionResult:
    """Delete the pod, with its uid as a precondition (never a same-named successor).

    Raises :class:`aiops.errors.ActionRefused` when the pod has no controller ownerReference:
    nothing would recreate it ("Owners and Dependents",
    https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/).
    Output: ``{"pod": name, "uid": uid, "controller": "Kind/name"}``.
    """
    pod = await ctx.kube.get("v1", "Pod", params.namespace, params.pod)
    controller = _common.controller_of(pod)
    if controller is None:
        raise errors.ActionRefused(
            f"{params.target()} has no controller: deleting it would remove it, not restart it"
        )
    uid = str(_common.meta(pod).get("uid", ""))
    await ctx.kube.delete(
        "v1",
        "Pod",
        params.namespace,
        params.pod,
        grace_period_seconds=params.grace_period_seconds,
        preconditions={"uid": uid} if uid else None,
    )
    owner = f"{controller.get('kind')}/{controller.get('name')}"
    return ActionResult(
        ok=True,
        summary=f"deleted {params.target()}; {owner} will replace it",
        output={"pod": params.pod, "uid": uid, "controller": owner},
    )
