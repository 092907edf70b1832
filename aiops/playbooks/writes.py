"""The write path of the executor: plan, guard, re-check, apply, verify, escalate.

Fed by: :class:`aiops.playbooks.executor.Executor`, which inherits :class:`WriteSteps` and calls
``_plan``/``_decision`` while preparing a write step and ``_act`` once its request is approved.
Consumes: the action planners and ``aiops.actions.apply`` (through the registry's applier), the
approval gate (to close requests with their outcome), ``aiops.safety`` (guards, re-check,
verifier), the incident linker (is the problem gone?) and the escalation hook.

The order is the guarantee (docs/safety.md): problem still there → fresh plan equal in intent to
the approved one → guards reserve → claim → apply with preconditions → close the request →
verify in the background → release. Anything else is a recorded outcome that escalates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from aiops import audit as audit_mod
from aiops import background, errors, kube
from aiops.actions import base as actions_base
from aiops.actions import facts as facts_mod
from aiops.actions import preview as preview_mod
from aiops.actions import registry as actions_registry
from aiops.actions.plan import Plan
from aiops.approvals import gate as gate_mod
from aiops.approvals.model import ApprovalRequest, Outcome
from aiops.events.incident import IncidentStatus
from aiops.metrics import Metrics
from aiops.playbooks.model import Playbook, Step
from aiops.playbooks.runs import Escalation, Run, RunState, RunStore, StepRecord, StepState
from aiops.safety import recheck
from aiops.safety.guards import Guards, WriteDecision
from aiops.safety.verify import Verifier
from aiops.settings import SafetySettings
from aiops.store import Store

if TYPE_CHECKING:
    from aiops.playbooks.executor import IncidentLinker

log = logging.getLogger("aiops.playbooks.executor")

#: Called for every escalation (chat posts it; the runtime logs it). Must not raise.
EscalationHook = Callable[[Run, Escalation], Awaitable[None]]

#: What a step handler tells the run loop: move on, stop here for now, or process the step again.
NEXT, WAIT, AGAIN = "next", "wait", "again"


class WriteSteps:
    """The write-step half of the executor (a mixin: the executor owns the state it uses)."""

    _store: Store
    _gate: gate_mod.ApprovalGate
    _guards: Guards | None
    _verifier: Verifier | None
    _safety: SafetySettings
    _on_escalation: EscalationHook | None
    _clock: Callable[[], datetime]
    _metrics: Metrics
    _actions: Mapping[str, actions_base.Action]
    _incidents: IncidentLinker
    _kube: Any
    _audit: audit_mod.AuditQueue
    _limits: actions_base.ActionLimits
    _background: background.Background
    _runs: RunStore

    # Provided by the executor (the run's bookkeeping).
    async def _save(self, run: Run) -> None:
        raise NotImplementedError

    async def _advance(self, run_id: str) -> Run | None:
        raise NotImplementedError

    async def _finish(self, run: Run, state: RunState, reason: str | None) -> None:
        raise NotImplementedError

    async def _claim(self, run: Run, rec: StepRecord) -> bool:
        raise NotImplementedError

    def _record_outcome(self, rec: StepRecord, state: StepState, *, error: str | None = None) -> None:
        raise NotImplementedError

    def _record_result(self, rec: StepRecord, result: actions_base.ActionResult) -> None:
        raise NotImplementedError

    def _record_failure(self, run: Run, rec: StepRecord, step: Step, exc: Exception) -> None:
        raise NotImplementedError

    async def _plan(
        self, action: actions_base.Action, params: Any, *, dry_run: bool, planned_at: datetime | None = None
    ) -> Plan:
        """The action's plan, its facts completed and, for a first plan, previewed by the server."""
        assert action.plan is not None
        ctx = self._ctx(actor=None, run_id=None, request_id=None, planned_at=planned_at, dry_run=dry_run)
        plan = await action.plan(ctx, params)
        plan = await facts_mod.complete(ctx, plan)
        if planned_at is None and not plan.noop:
            plan = await preview_mod.preview(ctx, plan)
        return plan.model_copy(update={"dry_run": dry_run})

    def _ctx(
        self,
        *,
        actor: str | None,
        run_id: str | None,
        request_id: str | None,
        planned_at: datetime | None = None,
        dry_run: bool = False,
    ) -> actions_base.ActionContext:
        return actions_base.ActionContext(
            kube=self._kube,
            audit=self._audit,
            actor=actor,
            run_id=run_id,
            request_id=request_id,
            limits=self._limits,
            planned_at=planned_at,
            dry_run=dry_run,
        )

    def _decision(self, run: Run, rec: StepRecord, plan: Plan) -> WriteDecision:
        return WriteDecision(
            run_id=run.id,
            step_index=rec.index,
            playbook_id=run.playbook_id,
            incident_id=run.incident_id,
            action=rec.action,
            plan=plan,
            dry_run=rec.dry_run,
        )

    async def _act(
        self, run: Run, playbook: Playbook, step: Step, rec: StepRecord, request: ApprovalRequest
    ) -> str:
        """An approved write: problem still there, plan still true, guards agree → apply, verify."""
        action = self._actions[step.action]
        gone = await self._problem_gone(run)
        if gone is not None:
            return await self._not_run(run, rec, request, gone, stop=True)
        approved = rec.plan
        if action.plan is None or approved is None:  # a write always has a plan; refuse otherwise
            self._record_outcome(rec, StepState.FAILED, error="no plan recorded for an approved write step")
            await self._save(run)
            return NEXT
        params = action.params.model_validate(rec.params)
        try:
            fresh = await self._plan(action, params, dry_run=rec.dry_run, planned_at=approved.planned_at)
        except kube.NotFound as exc:
            return await self._not_run(run, rec, request, f"the target is gone: {exc.message}", stop=True)
        except errors.ActionRefused as exc:
            self._metrics.rechecks_total.labels(outcome="refused").inc()
            await self._gate.close(request.id, Outcome.NOT_RUN, f"refused on re-check: {exc}")
            await self._release(run, rec, wrote=False)
            self._record_outcome(rec, StepState.REFUSED, error=f"refused on re-check: {exc}")
            await self._save(run)
            return NEXT
        except (errors.AiopsError, ValidationError) as exc:
            await self._gate.close(request.id, Outcome.NOT_RUN, f"re-check failed: {exc}")
            await self._release(run, rec, wrote=False)
            self._record_outcome(rec, StepState.FAILED, error=f"re-check failed: {exc}")
            await self._save(run)
            return NEXT
        # The approved plan was stored scrubbed (no env value, no Secret data): the fresh one is
        # judged as scrubbed too, so a secret the approver never saw cannot make it "changed".
        seen, approved_seen = self._runs.scrub.model(fresh), self._runs.scrub.model(approved)
        verdict = recheck.compare(approved_seen, seen)
        self._metrics.rechecks_total.labels(outcome=verdict.verdict).inc()
        if verdict.verdict == "changed":
            return await self._replan(run, rec, request.id, verdict.reason)
        if verdict.verdict == "noop":
            await self._gate.close(request.id, Outcome.NOT_RUN, verdict.reason)
            await self._release(run, rec, wrote=False)
            rec.summary = verdict.reason
            self._record_outcome(rec, StepState.SKIPPED)
            await self._save(run)
            return NEXT
        shown = {call.intent(): call for call in approved_seen.calls}
        fresh.calls = [
            call.model_copy(
                update={"diff": shown[as_seen.intent()].diff, "preview": shown[as_seen.intent()].preview}
            )
            for call, as_seen in zip(fresh.calls, seen.calls, strict=True)
        ]
        decision = self._decision(run, rec, fresh)
        block = await self._guards.acquire(decision) if self._guards else None
        if block is not None:
            await self._gate.close(request.id, Outcome.NOT_RUN, block.reason, guard=block.guard)
            await self._release(run, rec, wrote=False)  # what was reserved when it was asked for
            await self._blocked(run, rec, block.guard, block.reason)
            return NEXT
        result = await self._execute_write(
            run, step, rec, fresh, actor=request.decided_by, request_id=request.id
        )
        if result is None:
            return WAIT  # claimed elsewhere
        if result.conflict:
            await self._release(run, rec, wrote=False, plan=fresh)
            return await self._replan(run, rec, request.id, f"the write met 409 Conflict: {result.error}")
        return await self._after_write(run, step, rec, fresh, result=result, request_id=request.id)

    async def _after_write(
        self,
        run: Run,
        step: Step,
        rec: StepRecord,
        fresh: Plan,
        *,
        result: actions_base.ActionResult,
        request_id: str,
    ) -> str:
        """Close the request with what happened; start verification or release the guards."""
        outcome = Outcome.DRY_RUN if rec.dry_run else Outcome.EXECUTED
        await self._gate.close(request_id, outcome, rec.summary or rec.state.value)
        if rec.state == StepState.SUCCEEDED and not rec.dry_run and self._verifiable(step, fresh):
            # Verification takes up to its timeout: it continues in the background (and again
            # after a restart: it only reads), so the approver gets the write's outcome at once.
            rec.verification = {
                "state": "verifying",
                "detail": f"checking {len(fresh.expect)} expectation(s)",
            }
            await self._save(run)
            self._background.spawn(
                self._advance(run.id), name=f"verify:{run.id}", what=f"verification of run {run.id}"
            )
            return WAIT
        why = "dry run: nothing changed" if rec.dry_run else "nothing to check"
        if rec.state != StepState.SUCCEEDED:
            why = "the write failed"
        elif not step.verify.enabled:
            why = "disabled for this step"
        elif self._verifier is None:
            why = "no verifier configured"
        rec.verification = {"state": "skipped", "detail": why}
        self._metrics.verifications_total.labels(action=rec.action, outcome="skipped").inc()
        await self._save(run)
        await self._release(run, rec, wrote=result.writes_done > 0, plan=fresh)
        return NEXT

    def _verifiable(self, step: Step, plan: Plan) -> bool:
        return step.verify.enabled and bool(plan.expect) and self._verifier is not None

    async def _problem_gone(self, run: Run) -> str | None:
        incident = await self._incidents.get(run.incident_id)
        if incident is not None and incident.status == IncidentStatus.RESOLVED:
            when = f" at {incident.resolved_at.isoformat()}" if incident.resolved_at else ""
            return f"the problem is gone: incident {incident.id} resolved{when}"
        return None

    async def _not_run(
        self, run: Run, rec: StepRecord, request: ApprovalRequest, reason: str, *, stop: bool
    ) -> str:
        """Close the request without running the step; with ``stop`` end the run as stopped."""
        self._metrics.rechecks_total.labels(outcome="gone").inc()
        await self._gate.close(request.id, Outcome.NOT_RUN, reason)
        await self._release(run, rec, wrote=False)
        rec.summary = reason
        self._record_outcome(rec, StepState.SKIPPED)
        if stop:
            await self._finish(run, RunState.STOPPED, f"step {rec.name!r} not run: {reason}")
            return WAIT
        await self._save(run)
        return NEXT

    async def _replan(self, run: Run, rec: StepRecord, request_id: str, reason: str) -> str:
        """The approved plan no longer holds: close its request and plan the step again (a new
        request), or give up after ``safety.max_replans`` and escalate."""
        await self._gate.close(request_id, Outcome.NOT_RUN, f"not run: {reason}; planned again")
        rec.replans.append({"attempt": rec.attempt, "request_id": request_id, "reason": reason})
        if rec.attempt >= self._safety.max_replans:
            self._record_outcome(
                rec, StepState.FAILED, error=f"the target kept changing under the plan: {reason}"
            )
            await self._escalate(run, rec, "stale", f"gave up after {rec.attempt + 1} plans: {reason}")
            await self._release(run, rec, wrote=False)
            await self._save(run)
            return NEXT
        rec.attempt += 1
        rec.state = StepState.PENDING
        rec.approval_id = None
        rec.approved_by = None
        rec.plan = None
        await self._save(run)
        log.info("run %s step %r planned again (attempt %d): %s", run.id, rec.name, rec.attempt, reason)
        return AGAIN

    async def _blocked(self, run: Run, rec: StepRecord, guard: str, reason: str) -> None:
        rec.guard = guard
        self._record_outcome(rec, StepState.BLOCKED, error=f"blocked by {guard}: {reason}")
        await self._escalate(run, rec, "blocked", reason, guard=guard)
        await self._save(run)

    async def _escalate(
        self, run: Run, rec: StepRecord, kind: str, reason: str, *, guard: str | None = None
    ) -> None:
        escalation = Escalation(at=self._clock(), step=rec.name, kind=kind, reason=reason, guard=guard)
        run.escalations.append(escalation)
        self._metrics.escalations_total.labels(reason=guard or kind).inc()
        log.warning("run %s escalated at step %r (%s): %s", run.id, rec.name, guard or kind, reason)
        if self._on_escalation is not None:
            try:
                await self._on_escalation(run, escalation)
            except Exception:  # stage boundary: a notifier failure never stops the run
                log.exception("escalation hook failed for run %s", run.id)
                self._metrics.pipeline_errors_total.labels(stage="escalation").inc()

    async def _release(self, run: Run, rec: StepRecord, *, wrote: bool, plan: Plan | None = None) -> None:
        plan = plan or rec.plan
        if self._guards is None or plan is None:
            return
        try:
            await self._guards.release(self._decision(run, rec, plan), wrote=wrote)
        except errors.AiopsError:
            log.warning("run %s step %r: could not release its guard reservations", run.id, rec.name)

    async def _verify(self, run: Run, step: Step, rec: StepRecord) -> None:
        """Check the plan's expectations (read-only); not verified escalates, skips the rest of the
        playbook and queues the step's compensation, if it declares one."""
        expectations = list(rec.plan.expect) if rec.plan is not None else []
        if self._verifier is None or not expectations:
            rec.verification = {"state": "skipped", "detail": "nothing to check"}
            await self._save(run)
            return
        settle = step.verify.settle_seconds
        timeout = step.verify.timeout_seconds
        expectations = [
            e.model_copy(
                update={
                    "settle_seconds": self._safety.verify_settle_seconds if settle is None else settle,
                    "timeout_seconds": self._safety.verify_timeout_seconds if timeout is None else timeout,
                }
            )
            for e in expectations
        ]
        result = await self._verifier.verify(expectations)
        rec.verification = result.as_dict()
        outcome = "verified" if result.verified else "not_verified"
        self._metrics.verifications_total.labels(action=rec.action, outcome=outcome).inc()
        if result.verified:
            await self._save(run)
            return
        await self._escalate(run, rec, "not_verified", f"{rec.summary}, but not verified: {result.detail}")
        for later in run.steps[rec.index + 1 :]:
            if later.state == StepState.PENDING and later.compensates is None:
                later.summary = f"skipped: step {rec.name!r} was not verified"
                self._record_outcome(later, StepState.SKIPPED)
        if step.compensate is not None and rec.compensates is None:
            run.steps.append(
                StepRecord(
                    index=len(run.steps),
                    name=f"compensate: {rec.name}",
                    action=step.compensate.action,
                    risk=step.compensate.risk,
                    compensates=rec.index,
                )
            )
        await self._save(run)

    async def _execute_write(
        self, run: Run, step: Step, rec: StepRecord, plan: Plan, *, actor: str | None, request_id: str | None
    ) -> actions_base.ActionResult | None:
        """Apply the re-checked plan once (claimed first). None when another executor holds the claim."""
        rec.plan = plan
        if not await self._claim(run, rec):
            return None
        action = self._actions[step.action]
        ctx = self._ctx(actor=actor, run_id=run.id, request_id=request_id, dry_run=rec.dry_run)
        try:
            params = action.params.model_validate(rec.params)
            async with asyncio.timeout(step.timeout_seconds):
                result = await actions_registry.applier(action.info)(ctx, params, plan)
        except Exception as exc:  # stage boundary: record, count, never re-run
            self._record_failure(run, rec, step, exc)
            # A timeout or crash mid-plan: whether something was written is unknown, so count it
            # as written (the budget unit is kept, never given back for a write that happened).
            result = actions_base.ActionResult(
                ok=False, summary=rec.error or "", error=rec.error, writes_done=len(plan.calls)
            )
            rec.writes_done = result.writes_done
        else:
            if result.conflict:
                rec.api_calls = [dataclasses.asdict(call) for call in result.api_calls]
                rec.error = result.error
                await self._save(run)
                return result
            self._record_result(rec, result)
            rec.writes_done = result.writes_done
        await self._save(run)
        log.info(
            "run %s step %r %s%s", run.id, rec.name, rec.state, f" (approved by {actor})" if actor else ""
        )
        return result
