"""What every action call of the executor is given, and how a write step is planned.

Fed by: :class:`aiops.playbooks.executor.Executor` (a read step's context) and
:class:`aiops.playbooks.writes.WritePath` (a write step's plan, re-plan and apply context).
Consumes: the Kubernetes client, the audit queue and the action limits it is built with, the
action's planner (``Action.plan``), :func:`aiops.actions.facts.complete` (the facts the guards
need) and :func:`aiops.actions.preview.preview` (the server's ``dryRun=All`` answer to a first
plan).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops.actions import base as actions_base
from aiops.actions import facts as facts_mod
from aiops.actions import preview as preview_mod
from aiops.actions.plan import Plan
from aiops.playbooks.runs import Run, StepRecord
from aiops.safety.guard_rules import WriteDecision


@dataclass(frozen=True)
class ActionEnv:
    """The collaborators an action call gets: ``kube`` (:class:`aiops.kube.Kube`), ``audit`` (the
    sink its writes are recorded in) and ``limits``."""

    kube: Any
    audit: actions_base.AuditSink
    limits: actions_base.ActionLimits

    def context(
        self,
        *,
        actor: str | None = None,
        run_id: str | None = None,
        request_id: str | None = None,
        planned_at: datetime | None = None,
        dry_run: bool = False,
        fence: Callable[[], Awaitable[None]] | None = None,
    ) -> actions_base.ActionContext:
        """An :class:`~aiops.actions.base.ActionContext` for one call, as ``actor`` (the approver,
        None for a read or a plan) in run ``run_id`` for approval request ``request_id``."""
        return actions_base.ActionContext(
            kube=self.kube,
            audit=self.audit,
            actor=actor,
            run_id=run_id,
            request_id=request_id,
            limits=self.limits,
            planned_at=planned_at,
            dry_run=dry_run,
            fence=fence,
        )

    async def plan(
        self, action: actions_base.Action, params: Any, *, dry_run: bool, planned_at: datetime | None = None
    ) -> Plan:
        """The write action's plan for ``params``, its facts completed and, for a first plan
        (``planned_at`` None), previewed by the server; a re-plan for the re-check passes the
        approved plan's ``planned_at``. Raises what the planner raises
        (:class:`~aiops.errors.ActionRefused`, :class:`aiops.kube.NotFound`, other API errors)."""
        assert action.plan is not None
        ctx = self.context(planned_at=planned_at, dry_run=dry_run)
        plan = await action.plan(ctx, params)
        plan = await facts_mod.complete(ctx, plan)
        if planned_at is None and not plan.noop:
            plan = await preview_mod.preview(ctx, plan)
        return plan.model_copy(update={"dry_run": dry_run})


def decision(run: Run, rec: StepRecord, plan: Plan) -> WriteDecision:
    """What the guards are asked about: step ``rec`` of ``run`` writing ``plan``."""
    return WriteDecision(
        run_id=run.id,
        step_index=rec.index,
        playbook_id=run.playbook_id,
        incident_id=run.incident_id,
        action=rec.action,
        plan=plan,
        dry_run=rec.dry_run,
    )
