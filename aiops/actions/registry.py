"""The built-in actions, one per name in ``catalog.CATALOG``, each wrapped in the shared contract.

Fed by: ``aiops.runtime`` (``builtin_actions()`` once at start-up). Consumed by: the playbook
executor and the chat copilot, which look actions up by name.

A write action is a planner (``plan``): ``run`` plans and applies the plan at once
(``aiops.actions.apply``); the executor calls ``plan`` and ``apply`` apart, with the approval,
the re-check and the guards in between. The wrapper gives every action the same behaviour
(``aiops.actions.base``):

* the API calls it made are recorded (``Kube.recording``) into ``ActionResult.api_calls``;
* an API failure (:class:`aiops.kube.ApiError`, e.g. a 409 Conflict) becomes ``ok=False`` with the
  error, not an exception; :class:`aiops.errors.ActionRefused` propagates;
* a write action (``ActionInfo.writes``) records exactly one :class:`AuditEntry` whatever the
  outcome: succeeded, failed, refused or cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiops import errors, kube
from aiops.actions import _common, apply, nodes, pods, reads, scale, workloads
from aiops.actions.base import Action, ActionContext, ActionResult, ApiCall, AuditEntry, PlanFn
from aiops.actions.catalog import CATALOG, ActionInfo
from aiops.actions.plan import Plan

log = logging.getLogger(__name__)

_Impl = Callable[[ActionContext, Any], Awaitable[ActionResult]]

#: Reads: name → (params model, implementation).
_READS: dict[str, tuple[type[_common.Params], _Impl]] = {
    "describe": (reads.DescribeParams, reads.describe),
    "events": (reads.EventsParams, reads.events),
    "logs": (reads.LogsParams, reads.logs),
    "rollout_history": (reads.RolloutHistoryParams, reads.rollout_history),
    "notify": (reads.NotifyParams, reads.notify),
}

#: Writes: name → (params model, planner). With ``_READS``, must cover exactly ``CATALOG``.
_WRITES: dict[str, tuple[type[_common.Params], PlanFn]] = {
    "delete_pod": (pods.DeletePodParams, pods.plan_delete_pod),
    "rollout_restart": (workloads.RolloutRestartParams, workloads.plan_rollout_restart),
    "rollback": (workloads.RollbackParams, workloads.plan_rollback),
    "scale": (scale.ScaleParams, scale.plan_scale),
    "patch_resources": (workloads.PatchResourcesParams, workloads.plan_patch_resources),
    "cordon": (nodes.NodeParams, nodes.plan_cordon),
    "uncordon": (nodes.NodeParams, nodes.plan_uncordon),
    "drain": (nodes.DrainParams, nodes.plan_drain),
}

#: How long recording an audit entry may take when the run is being cancelled (seconds).
_AUDIT_ON_CANCEL_SECONDS = 5.0


def params_model(action: str) -> type[_common.Params] | None:
    """The params model of catalog action ``action`` (``extra="forbid"``), None for an unknown name.

    The model is the action's signature: its fields are the params a step may give, those
    without a default are required. Used to check playbooks before they run
    (:mod:`aiops.actions.signature`).
    """
    found = _READS.get(action) or _WRITES.get(action)
    return found[0] if found is not None else None


def builtin_actions() -> dict[str, Action]:
    """Every catalog action, implemented: ``{name: Action(info, params model, run)}``.

    Raises ``RuntimeError`` if the implementations and the catalog disagree (a programming error).
    """
    implemented = set(_READS) | set(_WRITES)
    if implemented != set(CATALOG) or any(CATALOG[name].writes for name in _READS):
        raise RuntimeError(f"actions and catalog differ: {sorted(implemented ^ set(CATALOG))}")
    actions = {
        name: Action(info=CATALOG[name], params=model, run=_wrap(CATALOG[name], impl))
        for name, (model, impl) in _READS.items()
    }
    for name, (model, planner) in _WRITES.items():
        actions[name] = Action(
            info=CATALOG[name],
            params=model,
            run=_wrap(CATALOG[name], _plan_and_apply(planner)),
            plan=planner,
        )
    return actions


def _plan_and_apply(planner: PlanFn) -> _Impl:
    async def run(ctx: ActionContext, params: Any) -> ActionResult:
        plan: Plan = await planner(ctx, params)
        return await apply.apply(ctx, plan)

    run.__doc__ = planner.__doc__
    return run


def applier(info: ActionInfo) -> Callable[[ActionContext, Any, Plan], Awaitable[ActionResult]]:
    """For the executor: apply an approved, re-checked ``plan`` of write action ``info`` with the
    registry's shared behaviour (API calls recorded, API failures as ``ok=False``, exactly one
    audit entry). Call as ``await applier(info)(ctx, params, plan)``."""

    async def _apply(ctx: ActionContext, params: Any, plan: Plan) -> ActionResult:
        async def impl(ctx: ActionContext, params: Any) -> ActionResult:
            return await apply.apply(ctx, plan)

        return await _wrap(info, impl)(ctx, params)

    return _apply


async def _audit(
    ctx: ActionContext, info: ActionInfo, params: Any, *, ok: bool, summary: str, calls: list[ApiCall]
) -> None:
    target = params.target() if isinstance(params, _common.Params) else "-"
    dumped = params.model_dump(mode="json") if isinstance(params, _common.Params) else {}
    entry = AuditEntry(
        action=info.name,
        target=target,
        params=dumped,
        actor=ctx.actor,
        run_id=ctx.run_id,
        request_id=ctx.request_id,
        ok=ok,
        summary=summary,
        api_calls=list(calls),
    )
    await ctx.audit.record(entry)


def _wrap(info: ActionInfo, impl: _Impl) -> _Impl:
    async def run(ctx: ActionContext, params: Any) -> ActionResult:
        with ctx.kube.recording() as calls:
            try:
                result = await impl(ctx, params)
            except errors.ActionRefused as exc:
                if info.writes:
                    await _audit(ctx, info, params, ok=False, summary=f"refused: {exc}", calls=calls)
                raise
            except kube.ApiError as exc:
                result = ActionResult(ok=False, summary=f"{info.name} failed: {exc}", error=str(exc))
            except asyncio.CancelledError:
                if info.writes:
                    audit = _audit(ctx, info, params, ok=False, summary="cancelled (timed out?)", calls=calls)
                    try:
                        await asyncio.wait_for(audit, _AUDIT_ON_CANCEL_SECONDS)
                    except (errors.AiopsError, TimeoutError):
                        log.warning("could not audit the cancelled %s on %s", info.name, params)
                raise
        result.api_calls = list(calls)
        if info.writes:
            await _audit(ctx, info, params, ok=result.ok, summary=result.summary, calls=calls)
        return result

    run.__name__ = run.__qualname__ = info.name
    run.__doc__ = impl.__doc__
    return run
