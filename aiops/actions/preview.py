"""Preview a plan: ask the API server what each call would do (``dryRun=All``) and keep it as a diff.

Fed by: the executor, right after a write step is planned and before its approval request is
opened. Consumed by: the approval request (API, CLI, chat show ``diff`` per call) and the PDB guard
(an eviction the server already refuses with 429 is in ``preview``).

A dry-run request runs admission, validation and preconditions like the real one and stores
nothing ("API Concepts: Dry-run", https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run),
so the diff is what the server itself would do, not our guess at strategic-merge semantics.
The diff is RFC 6902 (``jsonpatch.make_patch``) from the object as read now to the answer, with
the metadata the server maintains (``plan.NOISE_POINTERS``) left out.

Errors: a 409 (the plan is already stale) and other refusals (403 RBAC, 422 invalid) propagate as
:class:`aiops.kube.ApiError`: a plan the server rejects is never put up for approval. A 429 on an
eviction is not an error here; it is recorded in ``preview`` (a PodDisruptionBudget forbids it now).
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from aiops import kube
from aiops.actions import _common
from aiops.actions import apply as apply_mod
from aiops.actions.base import ActionContext
from aiops.actions.plan import NOISE_POINTERS, Plan, PlannedCall

#: The diff recorded for a deletion or an eviction: the whole object goes.
REMOVED = [{"op": "remove", "path": ""}]


def diff(before: Any, after: Any) -> list[dict[str, Any]]:
    """RFC 6902 operations turning ``before`` into ``after``, metadata noise and ``status`` left out.

    A ``replace`` or ``remove`` also carries ``was``: the value it replaces, for people reading the
    plan (RFC 6902 §4: members an operation does not define are ignored by appliers).
    """
    clean = _clean(before)
    ops: list[dict[str, Any]] = jsonpatch.make_patch(clean, _clean(after)).patch
    for op in ops:
        if op.get("op") in ("replace", "remove"):
            op["was"] = _common.pointer_get(clean, str(op.get("path", "")))
    return ops


def _clean(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    cleaned = {k: v for k, v in obj.items() if k != "status"}
    meta = cleaned.get("metadata")
    if isinstance(meta, dict):
        noise = {p.rsplit("/", 1)[1] for p in NOISE_POINTERS}
        cleaned["metadata"] = {k: v for k, v in meta.items() if k not in noise}
    return cleaned


async def _preview_call(ctx: ActionContext, call: PlannedCall) -> PlannedCall:
    if call.method in ("DELETE", "POST"):
        try:
            answer = await apply_mod.send(ctx, call, dry_run=True)
        except kube.TooManyRequests as exc:
            if not call.path.endswith("/eviction"):
                raise
            summary = {"code": 429, "reason": exc.reason, "message": exc.message, "causes": exc.causes}
            return call.model_copy(update={"diff": REMOVED, "preview": summary})
        return call.model_copy(update={"diff": REMOVED, "preview": kube.summarize(answer)})
    before = await ctx.kube.request("GET", call.path)
    answer = await apply_mod.send(ctx, call, dry_run=True)
    return call.model_copy(update={"diff": diff(before, answer), "preview": kube.summarize(answer)})


async def preview(ctx: ActionContext, plan: Plan) -> Plan:
    """``plan`` with ``diff`` and ``preview`` filled in for every call (see the module docstring)."""
    calls = [await _preview_call(ctx, call) for call in plan.calls]
    return plan.model_copy(update={"calls": calls})
