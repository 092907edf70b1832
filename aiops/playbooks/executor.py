"""The executor: runs playbook steps, routing each by risk, with every outcome persisted.

Fed by: the pipeline (``start``/``launch`` for a new incident's matched playbooks), the API and
chat (``decide``: an approval decision, then the run goes on), and the runtime (``sweep``: expire
undecided requests; ``resume`` after a restart and ``reconcile`` on every sweep: runs whose work
stopped, see :mod:`aiops.playbooks.recovery`).
Consumes: the playbook registry, the action registry, the approval gate, the run store.

Guarantees, each enforced here:

* LOW steps run at once; a MEDIUM/HIGH step pauses the run and opens an approval request. It
  runs only after the gate, re-read from Redis right before acting, says ``approved``; the
  approver is passed to the action and lands in the audit log.
* A step runs at most once: its execution is claimed with ``SET NX`` (``store.claim``) before
  the action is called. A claimed step whose outcome was never recorded (the process died
  mid-step) is marked ``unknown`` on resume and is never run again.
* What runs is what was approved: params are rendered once, persisted on the step and shown in
  the approval request; execution uses the persisted params.
* Plans before approval: a write step is planned first (``Action.plan``: the exact API calls,
  completed with the facts the guards need and previewed by the API server with ``dryRun=All``);
  the approval request carries that plan, and the plan is what runs.
* Re-check before acting: once approved, the step is planned again with the same ``planned_at``
  and compared (``aiops.safety.recheck``). If the incident is resolved, the step does not run
  and the run stops; if the target changed under the plan, the request is closed with the reason
  and the step is planned and put up for approval again (up to ``safety.max_replans`` times). A
  write that meets 409 Conflict before writing anything is re-planned the same way: never
  overwritten blindly.
* Guards: ``Guards.acquire`` before the request is opened (budget, rate limit and leases are
  reserved then, so nobody is asked to approve a write there is no room for; given back when the
  step ends without writing) and again, on fresh facts, right before acting (storm halts,
  PodDisruptionBudgets, namespaces, pause). A blocked step is never dropped silently: the run
  escalates with the guard's name and reason.
* Verify after acting: the plan's expectations are checked within a bounded time (``Verifier``);
  not verified escalates and, when the step declares ``compensate``, adds the compensating step
  (behind the gate) and skips the rest of the playbook.
* Dry-run (``safety.dry_run`` or the playbook's ``dry_run``): the same path, with every write sent
  as ``dryRun=All``; nothing changes, nothing is verified, no budget is spent.

The run's state machine is here; the write path (plan, guard, re-check, apply, verify, escalate)
is in :mod:`aiops.playbooks.writes`, which the executor inherits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from aiops import audit as audit_mod
from aiops import background, correlation, errors
from aiops.actions import base as actions_base
from aiops.actions._common import Params, Reach
from aiops.approvals import gate as gate_mod
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.events.incident import Incident
from aiops.events.model import ClusterEvent, ObjectRef
from aiops.metrics import Metrics
from aiops.playbooks import recovery, templating, writes
from aiops.playbooks import registry as registry_mod
from aiops.playbooks.model import Playbook, Step, Verify
from aiops.playbooks.runs import (
    TERMINAL_RUN_STATES,
    Run,
    RunState,
    RunStore,
    StepRecord,
    StepState,
)
from aiops.safety import scope
from aiops.safety.guards import Block, Guards
from aiops.safety.verify import Verifier
from aiops.settings import SafetySettings
from aiops.store import Store

log = logging.getLogger(__name__)

#: Longest text output kept on a step record (characters); longer output is cut from the front.
MAX_OUTPUT_CHARS = 64 * 1024


class IncidentLinker(Protocol):
    """Records which runs belong to an incident and reads it back (the Deduplicator implements it)."""

    async def attach_run(self, incident_id: str, run_id: str) -> None:
        """Link ``run_id`` to ``incident_id``."""
        ...

    async def get(self, incident_id: str) -> Incident | None:
        """The incident (to tell whether its problem is gone), or None when unknown."""
        ...


_NEXT, _WAIT, _AGAIN = writes.NEXT, writes.WAIT, writes.AGAIN


def _now() -> datetime:
    return datetime.now(UTC)


def _target(params: Mapping[str, Any]) -> ObjectRef | None:
    """Best-effort target of a step from its params, for approval requests and audit."""
    if "node" in params:
        return ObjectRef(api_version="v1", kind="Node", name=str(params["node"]))
    if "pod" in params:
        return ObjectRef(
            api_version="v1", kind="Pod", namespace=params.get("namespace"), name=str(params["pod"])
        )
    if "deployment" in params:
        return ObjectRef(
            api_version="apps/v1",
            kind="Deployment",
            namespace=params.get("namespace"),
            name=str(params["deployment"]),
        )
    if "name" in params:
        kind = str(params.get("kind") or "Deployment")
        api_version = str(params.get("api_version") or ("v1" if kind in {"Pod", "Node"} else "apps/v1"))
        return ObjectRef(
            api_version=api_version, kind=kind, namespace=params.get("namespace"), name=str(params["name"])
        )
    return None


def _clip(output: Any) -> Any:
    if isinstance(output, str) and len(output) > MAX_OUTPUT_CHARS:
        return "…" + output[-MAX_OUTPUT_CHARS:]
    return output


class Executor(writes.WriteSteps, recovery.Recovery):
    """Runs playbooks for incidents. One per process; several processes may share one Redis."""

    def __init__(
        self,
        *,
        store: Store,
        runs: RunStore,
        playbooks: Callable[[], registry_mod.PlaybookRegistry],
        actions: Mapping[str, actions_base.Action],
        gate: gate_mod.ApprovalGate,
        audit: actions_base.AuditSink,
        kube: Any,
        incidents: IncidentLinker,
        metrics: Metrics,
        limits: actions_base.ActionLimits,
        max_wait_seconds: int = 24 * 3600,
        guards: Guards | None = None,
        verifier: Verifier | None = None,
        safety: SafetySettings | None = None,
        on_escalation: writes.EscalationHook | None = None,
        clock: Callable[[], datetime] = _now,
        instance_id: str | None = None,
    ) -> None:
        self._store = store
        self._runs = runs
        self._playbooks = playbooks
        self._actions = actions
        self._gate = gate
        self._audit = audit_mod.AuditQueue(audit)
        self._kube = kube
        self._incidents = incidents
        self._metrics = metrics
        self._limits = limits
        self._max_wait = timedelta(seconds=max_wait_seconds)
        self._guards = guards
        self._verifier = verifier
        self._safety = safety or SafetySettings()
        self._on_escalation = on_escalation
        self._clock = clock
        self.instance_id = instance_id or f"exec-{secrets.token_hex(6)}"
        self._locks: dict[str, asyncio.Lock] = {}
        self._busy: Counter[str] = Counter()  # run id -> advances under way in this process
        self._unsaved: dict[str, Run] = {}  # run id -> its newest state, whose save Redis refused
        self._background = background.Background(metrics, stage="executor", logger=log)

    # ----------------------------------------------------------------- entry points

    async def start(self, *, incident_id: str, event: ClusterEvent, playbook_id: str) -> Run:
        """Create a run of ``playbook_id`` for the incident and advance it as far as it can go.

        Raises ``registry.UnknownPlaybook`` when the playbook does not exist.
        """
        with correlation.incident(incident_id):
            return await self._start(incident_id=incident_id, event=event, playbook_id=playbook_id)

    async def _start(self, *, incident_id: str, event: ClusterEvent, playbook_id: str) -> Run:
        playbook = self._playbooks().get(playbook_id)
        now = self._clock()
        run = Run(
            id=f"run-{secrets.token_hex(8)}",
            incident_id=incident_id,
            playbook_id=playbook.id,
            event=event,
            created_at=now,
            updated_at=now,
            steps=[
                StepRecord(index=i, name=step.name, action=step.action, risk=step.risk)
                for i, step in enumerate(playbook.steps)
            ],
        )
        await self._save(run)
        await self._incidents.attach_run(incident_id, run.id)
        log.info("run %s started: playbook %s for incident %s", run.id, playbook.id, incident_id)
        return await self._advance(run.id) or run

    def launch(self, *, incident_id: str, event: ClusterEvent, playbook_id: str) -> asyncio.Task[Run | None]:
        """Start a run in the background (the watch handler does not wait for its steps)."""

        return self._background.spawn(
            self.start(incident_id=incident_id, event=event, playbook_id=playbook_id),
            name=f"run:{playbook_id}:{incident_id}",
            what=f"run of {playbook_id} for incident {incident_id}",
        )

    async def decide(
        self, request_id: str, *, approve: bool, actor: str, reason: str | None = None
    ) -> tuple[ApprovalRequest, Run | None]:
        """Approve or reject a request as ``actor`` (the gate decides, once), then continue its run;
        returns the decided request and the run as it then stands.

        Raises what :meth:`ApprovalGate.decide` raises. A decision that comes too late
        (:class:`~aiops.errors.ApprovalExpired`: the gate has expired the request, now or before)
        first ends the run as every expiry does (:meth:`_end_expired`), then raises, so no run
        is left waiting on a request nobody can decide any more. Log lines and step records carry
        the request's incident id (``aiops.correlation``)."""
        try:
            decided = await self._gate.decide(request_id, approve=approve, actor=actor, reason=reason)
        except errors.ApprovalExpired:
            expired = await self._gate.get(request_id)
            if expired is not None:
                with correlation.incident(expired.incident_id):
                    await self._advance(expired.run_id)
            raise
        with correlation.incident(decided.incident_id):
            log.info(
                "approval %s %s by %s: run %s step %r",
                decided.id,
                decided.state.value,
                actor,
                decided.run_id,
                decided.step_name,
            )
            return decided, await self._advance(decided.run_id)

    async def sweep(self) -> list[ApprovalRequest]:
        """Expire undecided requests past their TTL and close their runs; returns the expired."""
        expired = await self._gate.expire_due()
        for request in expired:
            with correlation.incident(request.incident_id):
                await self._advance(request.run_id)
        return expired

    async def wait_idle(self, timeout_seconds: float = 30.0) -> None:
        """Wait for background runs started by :meth:`launch` (used on shutdown and in tests)."""
        await self._background.wait_idle(timeout_seconds)

    async def drain(self, timeout_seconds: float = 10.0) -> int:
        """On shutdown: wait up to ``timeout_seconds`` for background runs and verifications, then
        cancel (and await) the rest; returns how many were cancelled. A cancelled step is left as a
        crash would leave it: :meth:`resume` verifies again or marks an unfinished write unknown."""
        return await self._background.drain(timeout_seconds)

    async def get(self, run_id: str) -> Run | None:
        """The persisted run."""
        return await self._runs.get(run_id)

    # ----------------------------------------------------------------- the state machine

    def _claim_name(self, run_id: str, rec: StepRecord) -> str:
        suffix = f":{rec.attempt}" if rec.attempt else ""
        return f"step:{run_id}:{rec.index}{suffix}"

    def _step_def(self, playbook: Playbook, rec: StepRecord) -> Step:
        """The playbook step behind a record; a compensation record gets its step built from the
        ``compensate`` block of the step it undoes."""
        if rec.compensates is None:
            return playbook.steps[rec.index]
        undo = playbook.steps[rec.compensates].compensate
        if undo is None:
            raise errors.ConfigError(f"step {playbook.steps[rec.compensates].name!r} has no compensate block")
        return Step(
            name=rec.name,
            action=undo.action,
            risk=undo.risk,
            timeout_seconds=undo.timeout_seconds,
            params=undo.params,
            verify=Verify(enabled=True),
        )

    def _dry_run(self, playbook: Playbook) -> bool:
        return self._safety.dry_run or playbook.dry_run

    async def _advance(self, run_id: str) -> Run | None:
        """Move the run as far as it can go now, under its lock. Starts from the newest state this
        process holds for it if its last save failed (written first), else from Redis. When
        Redis fails under it (StoreUnavailable, raised), the run's newest state is kept in memory
        for the next advance (the reconciler's, at the latest)."""
        self._busy[run_id] += 1
        try:
            async with self._locks.setdefault(run_id, asyncio.Lock()):
                run = self._unsaved.pop(run_id, None)
                try:
                    if run is not None:
                        await self._save(run)
                    else:
                        run = await self._runs.get(run_id)
                    return await self._advance_locked(run_id, run)
                except errors.StoreUnavailable:
                    if run is not None:
                        self._keep_unsaved(run)
                    raise
        finally:
            self._busy[run_id] -= 1
            if not self._busy[run_id]:
                del self._busy[run_id]

    def _keep_unsaved(self, run: Run) -> None:
        self._unsaved[run.id] = run
        if len(self._unsaved) > recovery.MAX_UNSAVED_RUNS:
            dropped = next(iter(self._unsaved))
            self._unsaved.pop(dropped)
            log.error("run %s: too many runs wait for Redis; its newest state is dropped", dropped)

    async def _advance_locked(self, run_id: str, run: Run | None) -> Run | None:
        """The body of :meth:`_advance`, with the run lock held and ``run`` as it stands."""
        if run is None or run.state in TERMINAL_RUN_STATES:
            self._locks.pop(run_id, None)
            return run
        try:
            playbook = self._playbooks().get(run.playbook_id)
        except errors.ConfigError as exc:
            await self._finish(run, RunState.FAILED, f"playbook unavailable: {exc}")
            return run
        while run.next_step < len(run.steps):
            rec = run.steps[run.next_step]
            try:
                step = self._step_def(playbook, rec)
            except (errors.ConfigError, IndexError) as exc:
                await self._finish(run, RunState.FAILED, f"step {rec.name!r} unavailable: {exc}")
                return run
            verdict = await self._advance_step(run, playbook, step, rec)
            if verdict == _WAIT or run.state in TERMINAL_RUN_STATES:
                return run
            if verdict == _AGAIN:
                continue
            failed = rec.state in {
                StepState.FAILED,
                StepState.REFUSED,
                StepState.BLOCKED,
                StepState.UNKNOWN,
            }
            if failed and (step.on_failure != "continue" or rec.state == StepState.BLOCKED):
                await self._finish(run, RunState.FAILED, f"step {rec.name!r} {rec.state}: {rec.error}")
                return run
            run.next_step += 1
            await self._save(run)
        unverified = [r for r in run.steps if (r.verification or {}).get("state") == "not_verified"]
        if unverified:
            names = ", ".join(repr(r.name) for r in unverified)
            await self._finish(run, RunState.FAILED, f"not verified: {names}; escalated")
        else:
            await self._finish(run, RunState.SUCCEEDED, None)
        return run

    async def _advance_step(self, run: Run, playbook: Playbook, step: Step, rec: StepRecord) -> str:
        """Move one step forward; returns _NEXT, _WAIT (stop here for now) or _AGAIN (re-planned)."""
        if rec.state == StepState.PENDING:
            action = await self._prepare(run, playbook, step, rec)
            if action is None:
                return _NEXT  # failed, refused, blocked or nothing to do: a recorded outcome
            if action.plan is None:
                return _NEXT if await self._execute_read(run, step, rec) else _WAIT
            request = await self._gate.request(
                run_id=run.id,
                incident_id=run.incident_id,
                playbook_id=playbook.id,
                step_index=rec.index,
                step_name=rec.name,
                action=rec.action,
                risk=rec.risk,
                target=_target(rec.params),
                params=rec.params,
                plan=rec.plan,
                attempt=rec.attempt,
                dry_run=rec.dry_run,
            )
            rec.approval_id = request.id
            rec.state = StepState.AWAITING_APPROVAL
            run.state = RunState.WAITING_APPROVAL
            self._metrics.steps_total.labels(risk=rec.risk.value, outcome="awaiting_approval").inc()
            await self._save(run)
            log.info("run %s step %r waits for approval %s", run.id, rec.name, request.id)
            return _WAIT
        if rec.state == StepState.AWAITING_APPROVAL:
            return await self._after_decision(run, playbook, step, rec)
        if rec.writes_done is not None and rec.verification is None and rec.plan is not None:
            # A write whose outcome was recorded but not what follows it (Redis failed in between):
            # close the request, verify or release, as right after the write.
            result = actions_base.ActionResult(
                ok=rec.state == StepState.SUCCEEDED, summary=rec.summary, writes_done=rec.writes_done
            )
            request_id = rec.approval_id or ""
            return await self._after_write(run, step, rec, rec.plan, result=result, request_id=request_id)
        if rec.state == StepState.SUCCEEDED and (rec.verification or {}).get("state") == "verifying":
            await self._verify(run, step, rec)  # after the write, or resumed mid-verification
            await self._release(run, rec, wrote=True)
            return _NEXT
        # RUNNING: another executor holds the claim, or resume() will judge it. Any other state
        # is terminal for the step: the caller moves on or fails the run.
        return _WAIT if rec.state == StepState.RUNNING else _NEXT

    def _context(self, run: Run, playbook: Playbook, rec: StepRecord) -> dict[str, Any]:
        return {
            "event": run.event.template_context(),
            "incident": {"id": run.incident_id},
            "run": {"id": run.id, "playbook_id": playbook.id},
            "steps": {
                r.name: {"output": r.output, "params": r.params, "state": r.state.value, "summary": r.summary}
                for r in run.steps
                if r.index < rec.index
            },
        }

    async def _prepare(
        self, run: Run, playbook: Playbook, step: Step, rec: StepRecord
    ) -> actions_base.Action | None:
        """Render and validate the params; for a write, plan it and consult the guards.

        Returns the action to go on with, or None when the step already has its outcome."""
        action = self._actions.get(step.action)
        try:
            if action is None:
                raise errors.PermanentError(f"action {step.action!r} is not implemented")
            rendered = await templating.render_params_async(step.params, self._context(run, playbook, rec))
            params = action.params.model_validate(rendered)
        except (errors.AiopsError, ValidationError) as exc:
            self._record_outcome(rec, StepState.FAILED, error=f"invalid params: {exc}")
            await self._save(run)
            return None
        rec.params = params.model_dump(mode="json")
        block = self._scope_block(playbook, action, params)
        if block is not None:  # out of the playbook's or aiops' namespaces: never sent
            await self._blocked(run, rec, block.guard, block.reason)
            return None
        if action.plan is None:
            return action
        rec.dry_run = self._dry_run(playbook)
        try:
            plan = await self._plan(action, params, dry_run=rec.dry_run)
        except errors.ActionRefused as exc:
            self._record_outcome(rec, StepState.REFUSED, error=str(exc))
            await self._save(run)
            return None
        except (errors.AiopsError, ValidationError) as exc:
            self._record_outcome(rec, StepState.FAILED, error=f"could not plan: {exc}")
            await self._save(run)
            return None
        rec.plan = plan
        if plan.noop:
            rec.summary = f"nothing to do: {plan.summary}"
            rec.output = plan.output
            self._record_outcome(rec, StepState.SKIPPED)
            await self._save(run)
            return None
        # Reserve now (budget, rate limit, leases): nobody is asked to approve a write the budget
        # has no room for. Given back when the step ends without writing (rejected, expired,
        # not run); taken again, idempotently, right before acting.
        block = await self._guards.acquire(self._decision(run, rec, plan)) if self._guards else None
        if block is not None:
            await self._blocked(run, rec, block.guard, block.reason)
            return None
        return action

    def _scope_block(self, playbook: Playbook, action: actions_base.Action, params: Any) -> Block | None:
        """Namespace scoping of the step, reads included (:mod:`aiops.safety.scope`)."""
        reach = params.reach() if isinstance(params, Params) else Reach()
        protected = self._guards.protected_namespaces if self._guards else self._safety.protected_namespaces
        return scope.step_scope_block(
            reach,
            writes=action.info.writes,
            home_namespace=playbook.home_namespace,
            settings=self._safety,
            protected=protected,
        )

    async def _after_decision(self, run: Run, playbook: Playbook, step: Step, rec: StepRecord) -> str:
        request = await self._gate.get(rec.approval_id) if rec.approval_id else None
        if request is None:
            self._record_outcome(rec, StepState.FAILED, error="approval request not found")
            await self._save(run)
            return _NEXT
        if request.state == ApprovalState.PENDING and self._clock() >= request.expires_at:
            request = await self._gate.expire(request)  # overdue: the sweeper has not got to it yet
        if request.state == ApprovalState.PENDING:
            return _WAIT
        if request.state == ApprovalState.REJECTED:
            await self._release(run, rec, wrote=False)
            self._record_outcome(
                rec, StepState.REJECTED, error=f"rejected by {request.decided_by}: {request.reason}"
            )
            await self._finish(run, RunState.REJECTED, f"step {rec.name!r} rejected by {request.decided_by}")
            return _WAIT
        if request.state == ApprovalState.EXPIRED:
            await self._end_expired(run, rec, "approval request expired undecided")
            return _WAIT
        # Approved, as recorded in Redis just now: the only path to a medium/high action.
        rec.approved_by = request.decided_by
        return await self._act(run, playbook, step, rec, request)

    async def _execute_read(self, run: Run, step: Step, rec: StepRecord) -> bool:
        """Run a LOW (read) step at once. False when another executor holds its claim."""
        if not await self._claim(run, rec):
            return False
        action = self._actions[step.action]
        ctx = self._ctx(actor=None, run_id=run.id, request_id=None)
        try:
            params = action.params.model_validate(rec.params)
            async with asyncio.timeout(step.timeout_seconds):
                result = await action.run(ctx, params)
        except Exception as exc:  # stage boundary: record, count, never re-run
            self._record_failure(run, rec, step, exc)
        else:
            self._record_result(rec, result)
        await self._save(run)
        log.info("run %s step %r %s", run.id, rec.name, rec.state)
        return True

    async def _claim(self, run: Run, rec: StepRecord) -> bool:
        """Record the step as running, then take its claim (``SET NX``). In that order: a step
        found ``running`` with no claim after a crash never started, and may go on; one with a
        claim of another instance may have, and is never run again. False: claimed elsewhere."""
        rec.state = StepState.RUNNING
        rec.started_at = self._clock()
        rec.incident_id, rec.http_request_id = run.incident_id, correlation.request_id.get()
        run.state = RunState.RUNNING
        await self._save(run)
        if await self._store.claim(self._claim_name(run.id, rec), self.instance_id):
            return True
        log.warning("run %s step %r already claimed elsewhere; not running it again", run.id, rec.name)
        return False

    def _record_result(self, rec: StepRecord, result: actions_base.ActionResult) -> None:
        rec.summary = result.summary
        rec.output = _clip(result.output)
        rec.api_calls = [dataclasses.asdict(call) for call in result.api_calls]
        self._record_outcome(rec, StepState.SUCCEEDED if result.ok else StepState.FAILED, error=result.error)

    def _record_failure(self, run: Run, rec: StepRecord, step: Step, exc: Exception) -> None:
        if isinstance(exc, errors.ActionRefused):
            self._record_outcome(rec, StepState.REFUSED, error=str(exc))
        elif isinstance(exc, TimeoutError):
            self._record_outcome(rec, StepState.FAILED, error=f"timed out after {step.timeout_seconds} s")
        elif isinstance(exc, errors.AiopsError | ValidationError):
            self._record_outcome(rec, StepState.FAILED, error=str(exc))
        else:
            log.error("run %s step %r raised", run.id, rec.name, exc_info=exc)
            self._metrics.pipeline_errors_total.labels(stage="action").inc()
            self._record_outcome(rec, StepState.FAILED, error=f"{type(exc).__name__}: {exc}")

    def _record_outcome(self, rec: StepRecord, state: StepState, *, error: str | None = None) -> None:
        rec.state = state
        rec.error = error
        rec.finished_at = self._clock()
        self._metrics.steps_total.labels(risk=rec.risk.value, outcome=state.value).inc()

    async def _end_expired(self, run: Run, rec: StepRecord, why: str) -> None:
        """The one way a run ends because the approval of step ``rec`` expired, whichever path
        expired it (a decision that came too late, the sweeper, resume, a run past
        ``runs.max_wait_seconds``): the step's reservations (budget, rate limit, leases) are given
        back, the step and the run end ``expired``."""
        await self._release(run, rec, wrote=False)
        self._record_outcome(rec, StepState.EXPIRED, error=why)
        await self._finish(run, RunState.EXPIRED, f"approval for step {rec.name!r} expired")

    async def _finish(self, run: Run, state: RunState, reason: str | None) -> None:
        run.state = state
        run.reason = reason
        await self._save(run)
        self._metrics.runs_total.labels(state=state.value).inc()
        self._locks.pop(run.id, None)
        log.info("run %s %s%s", run.id, state, f": {reason}" if reason else "")

    async def _save(self, run: Run) -> None:
        run.updated_at = self._clock()
        await self._runs.save(run)
