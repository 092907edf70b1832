"""The write path: plan, reserve, ask, re-check, apply, verify, escalate — for one write step.

Fed by: :class:`aiops.playbooks.executor.Executor`, which holds one :class:`WritePath` and calls
:meth:`WritePath.plan` for a pending write step (its params rendered and in scope),
:meth:`WritePath.act` once the step waits at its approval request (decided or not: the request
is re-read from Redis here), :meth:`WritePath.after_write` / :meth:`WritePath.verify` to finish
a write whose bookkeeping or verification is owed. Every call answers a :class:`Verdict`.
Consumes: the action's planner and :func:`aiops.actions.registry.applier` (the Kubernetes
writes), the approval gate (open, read, close requests), :mod:`aiops.safety` (guards, re-check,
verifier), the incident linker (is the problem gone?) and the :class:`~aiops.playbooks.book.RunBook`
(saves, claims, outcomes, escalations).

The order is the guarantee (docs/safety.md): plan → reserve (guards) → request → approved, as
re-read from Redis → problem still there → fresh plan equal in intent to the approved one →
guards reserve again → claim → apply with preconditions → close the request → verify in the
background → release. Anything else is a recorded outcome that escalates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ValidationError

from aiops import errors, kube
from aiops.actions import base as actions_base
from aiops.actions import registry as actions_registry
from aiops.actions.plan import Plan
from aiops.approvals import gate as gate_mod
from aiops.approvals.model import ApprovalRequest, ApprovalState, Outcome
from aiops.enrichment.scrub import Scrubber
from aiops.events.incident import Incident, IncidentStatus
from aiops.metrics import Metrics
from aiops.playbooks.book import RunBook
from aiops.playbooks.model import Playbook, Step
from aiops.playbooks.planning import ActionEnv, decision
from aiops.playbooks.runs import Run, RunState, StepRecord, StepState
from aiops.playbooks.verifying import AfterWrite
from aiops.safety import recheck
from aiops.safety.guards import Guards
from aiops.settings import SafetySettings

log = logging.getLogger("aiops.playbooks.executor")


class Verdict(StrEnum):
    """What a step handler tells the run loop: move on to the next step (``next``), stop here for
    now (``wait``: a decision, another executor's claim, or the run ended), process the step again
    (``again``: re-planned), or stop here while its verification goes on in the background
    (``verify``)."""

    NEXT = "next"
    WAIT = "wait"
    AGAIN = "again"
    VERIFY = "verify"


class IncidentLinker(Protocol):
    """Records which runs belong to an incident and reads it back (the Deduplicator implements it)."""

    async def attach_run(self, incident_id: str, run_id: str) -> None:
        """Link ``run_id`` to ``incident_id``."""
        ...

    async def get(self, incident_id: str) -> Incident | None:
        """The incident (to tell whether its problem is gone), or None when unknown."""
        ...


class WritePath:
    """The write steps of every run of one executor. Collaborators, all explicit: ``book`` (run
    bookkeeping), ``actions`` (by name), ``env`` (Kubernetes client, audit, limits), ``gate``,
    ``guards`` and ``verifier`` (None: not configured), ``incidents``, ``safety`` settings,
    ``scrub`` (the run store's: plans are compared as stored), ``metrics`` and ``clock``."""

    def __init__(
        self,
        *,
        book: RunBook,
        actions: Mapping[str, actions_base.Action],
        env: ActionEnv,
        gate: gate_mod.ApprovalGate,
        guards: Guards | None,
        after: AfterWrite,
        incidents: IncidentLinker,
        safety: SafetySettings,
        scrub: Scrubber,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._book = book
        self._actions = actions
        self._env = env
        self._gate = gate
        self._guards = guards
        self._after = after
        self._incidents = incidents
        self._safety = safety
        self._scrub = scrub
        self._metrics = metrics
        self._clock = clock

    # ----------------------------------------------------------------- before the approval

    async def plan(
        self, run: Run, playbook: Playbook, rec: StepRecord, action: actions_base.Action, params: BaseModel
    ) -> Verdict:
        """Plan pending write step ``rec`` (validated ``params``), reserve its guards, and open its
        approval request showing the plan: ``wait`` for the decision. ``next`` when the step
        already has its outcome: refused or failed to plan, nothing to do, or blocked (escalated)."""
        rec.dry_run = self._safety.dry_run or playbook.dry_run
        try:
            plan = await self._env.plan(action, params, dry_run=rec.dry_run)
        except errors.ActionRefused as exc:
            return await self._ended(run, rec, StepState.REFUSED, str(exc))
        except (errors.AiopsError, ValidationError) as exc:
            return await self._ended(run, rec, StepState.FAILED, f"could not plan: {exc}")
        rec.plan = plan
        if plan.noop:
            rec.summary = f"nothing to do: {plan.summary}"
            rec.output = plan.output
            return await self._ended(run, rec, StepState.SKIPPED, None)
        # Reserve now (budget, rate limit, leases): nobody is asked to approve a write the budget
        # has no room for. Given back when the step ends without writing (rejected, expired,
        # not run); taken again, idempotently, right before acting.
        block = await self._guards.acquire(decision(run, rec, plan)) if self._guards else None
        if block is not None:
            await self.blocked(run, rec, block.guard, block.reason)
            return Verdict.NEXT
        request = await self._gate.request(
            run_id=run.id,
            incident_id=run.incident_id,
            playbook_id=playbook.id,
            step_index=rec.index,
            step_name=rec.name,
            action=rec.action,
            risk=rec.risk,
            target=action.target(params),
            params=rec.params,
            plan=rec.plan,
            attempt=rec.attempt,
            dry_run=rec.dry_run,
            requested_by=run.requested_by,
        )
        rec.approval_id = request.id
        rec.state = StepState.AWAITING_APPROVAL
        run.state = RunState.WAITING_APPROVAL
        self._metrics.steps_total.labels(risk=rec.risk.value, outcome="awaiting_approval").inc()
        await self._book.save(run)
        log.info("run %s step %r waits for approval %s", run.id, rec.name, request.id)
        return Verdict.WAIT

    # ----------------------------------------------------------------- after the decision

    async def act(self, run: Run, step: Step, rec: StepRecord) -> Verdict:
        """Step ``rec`` waits at its request: read the request from Redis now and follow it.
        Pending: ``wait`` (expired first when overdue). Rejected or expired: the run ends.
        Approved: the only path to a medium/high action (:meth:`_approved`)."""
        request = await self._gate.get(rec.approval_id) if rec.approval_id else None
        if request is None:
            return await self._ended(run, rec, StepState.FAILED, "approval request not found")
        if request.state == ApprovalState.PENDING and self._clock() >= request.expires_at:
            request = await self._gate.expire(request)  # overdue: the sweeper has not got to it yet
        if request.state == ApprovalState.PENDING:
            return Verdict.WAIT
        if request.state == ApprovalState.REJECTED:
            await self.release(run, rec, wrote=False)
            self._book.outcome(
                rec, StepState.REJECTED, error=f"rejected by {request.decided_by}: {request.reason}"
            )
            await self._book.finish(
                run, RunState.REJECTED, f"step {rec.name!r} rejected by {request.decided_by}"
            )
            return Verdict.WAIT
        if request.state == ApprovalState.EXPIRED:
            await self.expired(run, rec, "approval request expired undecided")
            return Verdict.WAIT
        rec.approved_by = request.decided_by
        return await self._approved(run, step, rec, request)

    async def _approved(self, run: Run, step: Step, rec: StepRecord, request: ApprovalRequest) -> Verdict:
        """An approved write: problem still there, plan still true, guards agree → apply, verify."""
        action = self._actions[step.action]
        gone = await self._problem_gone(run)
        if gone is not None:
            return await self._not_run(run, rec, request, gone)
        approved = rec.plan
        if action.plan is None or approved is None:  # a write always has a plan; refuse otherwise
            return await self._ended(
                run, rec, StepState.FAILED, "no plan recorded for an approved write step"
            )
        params = action.params.model_validate(rec.params)
        try:
            fresh = await self._env.plan(action, params, dry_run=rec.dry_run, planned_at=approved.planned_at)
        except kube.NotFound as exc:
            return await self._not_run(run, rec, request, f"the target is gone: {exc.message}")
        except errors.ActionRefused as exc:
            self._metrics.rechecks_total.labels(outcome="refused").inc()
            return await self._closed(run, rec, request, StepState.REFUSED, f"refused on re-check: {exc}")
        except (errors.AiopsError, ValidationError) as exc:
            return await self._closed(run, rec, request, StepState.FAILED, f"re-check failed: {exc}")
        # The approved plan was stored scrubbed (no env value, no Secret data): the fresh one is
        # judged as scrubbed too, so a secret the approver never saw cannot make it "changed".
        seen, approved_seen = self._scrub.model(fresh), self._scrub.model(approved)
        verdict = recheck.compare(approved_seen, seen)
        self._metrics.rechecks_total.labels(outcome=verdict.verdict).inc()
        if verdict.verdict == "changed":
            return await self._replan(run, rec, request.id, verdict.reason)
        if verdict.verdict == "noop":
            rec.summary = verdict.reason
            return await self._closed(run, rec, request, StepState.SKIPPED, None, reason=verdict.reason)
        shown = {call.intent(): call for call in approved_seen.calls}
        fresh.calls = [
            call.model_copy(
                update={"diff": shown[as_seen.intent()].diff, "preview": shown[as_seen.intent()].preview}
            )
            for call, as_seen in zip(fresh.calls, seen.calls, strict=True)
        ]
        block = await self._guards.acquire(decision(run, rec, fresh)) if self._guards else None
        if block is not None:
            await self._gate.close(request.id, Outcome.NOT_RUN, block.reason, guard=block.guard)
            await self.release(run, rec, wrote=False)  # what was reserved when it was asked for
            await self.blocked(run, rec, block.guard, block.reason)
            return Verdict.NEXT
        result = await self._apply(run, step, rec, fresh, actor=request.decided_by, request_id=request.id)
        if result is None:
            return Verdict.WAIT  # claimed elsewhere
        if result.conflict:
            await self.release(run, rec, wrote=False, plan=fresh)
            return await self._replan(run, rec, request.id, f"the write met 409 Conflict: {result.error}")
        return await self.after_write(run, step, rec, result=result)

    async def _apply(
        self, run: Run, step: Step, rec: StepRecord, plan: Plan, *, actor: str | None, request_id: str
    ) -> actions_base.ActionResult | None:
        """Apply the re-checked plan once (claimed first). None when another executor holds the claim."""
        rec.plan = plan
        if not await self._book.claim(run, rec):
            return None
        action = self._actions[step.action]
        ctx = self._env.context(
            actor=actor,
            run_id=run.id,
            request_id=request_id,
            dry_run=rec.dry_run,
            fence=self._book.write_check(rec),
        )
        try:
            params = action.params.model_validate(rec.params)
            async with asyncio.timeout(step.timeout_seconds):
                result = await actions_registry.applier(action.info)(ctx, params, plan)
        except errors.FenceLost:
            raise  # deposed: nothing more is recorded here; the leader judges the step
        except Exception as exc:  # stage boundary: record, count, never re-run
            self._book.failure(run, rec, exc, timeout_seconds=step.timeout_seconds)
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
                await self._book.save(run)
                return result
            self._book.result(rec, result)
            rec.writes_done = result.writes_done
        await self._book.save(run)
        log.info(
            "run %s step %r %s%s", run.id, rec.name, rec.state, f" (approved by {actor})" if actor else ""
        )
        return result

    # ----------------------------------------------------------------- after the write

    async def after_write(
        self, run: Run, step: Step, rec: StepRecord, *, result: actions_base.ActionResult | None = None
    ) -> Verdict:
        """Close the request with what the write did; then ``verify`` (in the background) or release
        the guards and go on (``next``). Without ``result`` it is rebuilt from the record: the write's
        outcome was recorded but not what follows it (Redis failed in between)."""
        if result is None:
            result = actions_base.ActionResult(
                ok=rec.state == StepState.SUCCEEDED, summary=rec.summary, writes_done=rec.writes_done or 0
            )
        assert rec.plan is not None
        outcome = Outcome.DRY_RUN if rec.dry_run else Outcome.EXECUTED
        await self._gate.close(rec.approval_id or "", outcome, rec.summary or rec.state.value)
        if await self._after.start(run, step, rec):
            return Verdict.VERIFY
        await self.release(run, rec, wrote=result.writes_done > 0)
        return Verdict.NEXT

    async def verify(self, run: Run, step: Step, rec: StepRecord) -> Verdict:
        """Finish the verification of step ``rec``'s write (after it, or resumed after a restart),
        then release its guards: ``next``."""
        await self._after.verify(run, step, rec)
        await self.release(run, rec, wrote=True)
        return Verdict.NEXT

    # ----------------------------------------------------------------- endings

    async def blocked(self, run: Run, rec: StepRecord, guard: str, reason: str) -> None:
        """A guard (or the namespace scope) blocked step ``rec``: ``blocked``, escalated, saved."""
        rec.guard = guard
        self._book.outcome(rec, StepState.BLOCKED, error=f"blocked by {guard}: {reason}")
        await self._book.escalate(run, rec, "blocked", reason, guard=guard)
        await self._book.save(run)

    async def expired(self, run: Run, rec: StepRecord, why: str) -> None:
        """The one way a run ends because the approval of step ``rec`` expired, whichever path
        expired it (a decision that came too late, the sweeper, resume, a run past
        ``runs.max_wait_seconds``): the step's reservations (budget, rate limit, leases) are given
        back, the step and the run end ``expired``."""
        await self.release(run, rec, wrote=False)
        self._book.outcome(rec, StepState.EXPIRED, error=why)
        await self._book.finish(run, RunState.EXPIRED, f"approval for step {rec.name!r} expired")

    async def release(self, run: Run, rec: StepRecord, *, wrote: bool, plan: Plan | None = None) -> None:
        """Give back what step ``rec`` reserved (``wrote``: keep its budget unit); a Redis failure
        is logged, not raised (the leases expire on their own)."""
        plan = plan or rec.plan
        if self._guards is None or plan is None:
            return
        try:
            await self._guards.release(decision(run, rec, plan), wrote=wrote)
        except errors.AiopsError:
            log.warning("run %s step %r: could not release its guard reservations", run.id, rec.name)

    async def _ended(self, run: Run, rec: StepRecord, state: StepState, error: str | None) -> Verdict:
        self._book.outcome(rec, state, error=error)
        await self._book.save(run)
        return Verdict.NEXT

    async def _closed(
        self,
        run: Run,
        rec: StepRecord,
        request: ApprovalRequest,
        state: StepState,
        error: str | None,
        *,
        reason: str | None = None,
    ) -> Verdict:
        """Close the request as not run (with ``reason``, else ``error``), give back the
        reservations and record ``state``."""
        await self._gate.close(request.id, Outcome.NOT_RUN, reason or error or state.value)
        await self.release(run, rec, wrote=False)
        return await self._ended(run, rec, state, error)

    async def _problem_gone(self, run: Run) -> str | None:
        incident = await self._incidents.get(run.incident_id)
        if incident is not None and incident.status == IncidentStatus.RESOLVED:
            when = f" at {incident.resolved_at.isoformat()}" if incident.resolved_at else ""
            return f"the problem is gone: incident {incident.id} resolved{when}"
        return None

    async def _not_run(self, run: Run, rec: StepRecord, request: ApprovalRequest, reason: str) -> Verdict:
        """Close the request without running the step and end the run as stopped."""
        self._metrics.rechecks_total.labels(outcome="gone").inc()
        await self._gate.close(request.id, Outcome.NOT_RUN, reason)
        await self.release(run, rec, wrote=False)
        rec.summary = reason
        self._book.outcome(rec, StepState.SKIPPED)
        await self._book.finish(run, RunState.STOPPED, f"step {rec.name!r} not run: {reason}")
        return Verdict.WAIT

    async def _replan(self, run: Run, rec: StepRecord, request_id: str, reason: str) -> Verdict:
        """The approved plan no longer holds: close its request and plan the step again (a new
        request), or give up after ``safety.max_replans`` and escalate."""
        await self._gate.close(request_id, Outcome.NOT_RUN, f"not run: {reason}; planned again")
        rec.replans.append({"attempt": rec.attempt, "request_id": request_id, "reason": reason})
        if rec.attempt >= self._safety.max_replans:
            self._book.outcome(
                rec, StepState.FAILED, error=f"the target kept changing under the plan: {reason}"
            )
            await self._book.escalate(run, rec, "stale", f"gave up after {rec.attempt + 1} plans: {reason}")
            await self.release(run, rec, wrote=False)
            await self._book.save(run)
            return Verdict.NEXT
        rec.attempt += 1
        rec.state = StepState.PENDING
        rec.approval_id = None
        rec.approved_by = None
        rec.plan = None
        await self._book.save(run)
        log.info("run %s step %r planned again (attempt %d): %s", run.id, rec.name, rec.attempt, reason)
        return Verdict.AGAIN


__all__ = ["IncidentLinker", "Verdict", "WritePath"]
