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

The run's state machine and the read steps are here. The executor holds its parts and calls
them, nothing inherited: :class:`~aiops.playbooks.writes.WritePath` (plan, guard, request,
re-check, apply, escalate; verification in :mod:`aiops.playbooks.verifying`),
:class:`~aiops.playbooks.recovery.Recovery` (runs whose work stopped) and the
:class:`~aiops.playbooks.book.RunBook` they all record through.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from aiops import audit as audit_mod
from aiops import background, correlation, errors
from aiops.actions import base as actions_base
from aiops.actions._common import Params, Reach
from aiops.approvals import gate as gate_mod
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.clock import Clock, utcnow
from aiops.events.model import ClusterEvent
from aiops.metrics import Metrics
from aiops.playbooks import registry as registry_mod
from aiops.playbooks import templating
from aiops.playbooks.book import Activity, EscalationHook, RunBook
from aiops.playbooks.fencing import Fencing
from aiops.playbooks.model import Playbook, Step
from aiops.playbooks.planning import ActionEnv
from aiops.playbooks.reads import ReadPath
from aiops.playbooks.recovery import Recovery
from aiops.playbooks.runs import TERMINAL_RUN_STATES, Run, RunState, RunStore, StepRecord, StepState
from aiops.playbooks.verifying import AfterWrite
from aiops.playbooks.writes import IncidentLinker, Verdict, WritePath
from aiops.safety import scope
from aiops.safety.guard_rules import Block
from aiops.safety.guards import Guards
from aiops.safety.verify import VerificationState, Verifier
from aiops.settings import SafetySettings
from aiops.store import Store

__all__ = ["FIRST_SAVE_PATIENCE_SECONDS", "Executor", "IncidentLinker"]

log = logging.getLogger(__name__)


#: How long a new run waits for Redis to take its first save before it is given up (seconds).
FIRST_SAVE_PATIENCE_SECONDS = 300.0


class Executor:
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
        on_escalation: EscalationHook | None = None,
        clock: Clock = utcnow,
        instance_id: str | None = None,
        fencing: Fencing | None = None,
    ) -> None:
        self._runs = runs
        self._fencing = fencing
        self._playbooks = playbooks
        self._actions = actions
        self._gate = gate
        self._incidents = incidents
        self._guards = guards
        self._safety = safety or SafetySettings()
        self._clock = clock
        self.instance_id = instance_id or f"exec-{secrets.token_hex(6)}"
        self._locks: dict[str, asyncio.Lock] = {}
        self._activity = Activity()  # advances under way here; runs whose save Redis refused
        self._background = background.Background(metrics, stage="executor", logger=log)
        audit_queue = audit_mod.AuditQueue(audit)
        self._env = ActionEnv(kube=kube, audit=audit_queue, limits=limits)
        self._book = RunBook(
            runs=runs,
            store=store,
            metrics=metrics,
            clock=clock,
            instance_id=self.instance_id,
            on_finished=self._forget_lock,
            on_escalation=on_escalation,
            fencing=fencing,
        )
        self._writes = WritePath(
            book=self._book,
            actions=actions,
            env=self._env,
            gate=gate,
            guards=guards,
            after=AfterWrite(book=self._book, verifier=verifier, safety=self._safety, metrics=metrics),
            incidents=incidents,
            safety=self._safety,
            scrub=runs.scrub,
            metrics=metrics,
            clock=clock,
        )
        self._reads = ReadPath(book=self._book, env=self._env)
        self._recovery = Recovery(
            book=self._book,
            activity=self._activity,
            gate=gate,
            writes=self._writes,
            audit=audit_queue,
            advance=self._advance,
            clock=clock,
            max_wait=timedelta(seconds=max_wait_seconds),
            fenced=fencing is not None,
        )

    # ----------------------------------------------------------------- entry points

    async def start(
        self, *, incident_id: str, event: ClusterEvent, playbook_id: str, requested_by: str | None = None
    ) -> Run:
        """Create a run of ``playbook_id`` for the incident and advance it as far as it can go.
        ``requested_by``: the identity that asked for the run (None: the operator), who may not
        approve its steps.

        Raises ``registry.UnknownPlaybook`` when the playbook does not exist.
        """
        with correlation.incident(incident_id):
            return await self._start(
                incident_id=incident_id, event=event, playbook_id=playbook_id, requested_by=requested_by
            )

    async def _start(
        self, *, incident_id: str, event: ClusterEvent, playbook_id: str, requested_by: str | None
    ) -> Run:
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
            requested_by=requested_by,
        )
        await self._first_save(run)
        if not self.acting():
            await self._hand_off(run.id)
            log.info("run %s created for incident %s; handed to the leader", run.id, incident_id)
            return run
        log.info("run %s started: playbook %s for incident %s", run.id, playbook.id, incident_id)
        return await self._advance(run.id) or run

    async def _first_save(self, run: Run) -> None:
        """Persist a new run and attach it to its incident, retrying while Redis is unavailable
        (with :class:`aiops.background.Backoff`, at most :data:`FIRST_SAVE_PATIENCE_SECONDS`):
        nothing has happened yet, so waiting for Redis loses nothing, where giving up would lose
        the incident's remediation (before, a run whose first save met a Redis outage was gone,
        and nothing launched it again). Raises :class:`aiops.errors.StoreUnavailable` once the
        patience is spent (the failure is then logged and counted by the launcher)."""
        backoff = background.Backoff(first_seconds=0.5, max_seconds=10.0)
        deadline = asyncio.get_running_loop().time() + FIRST_SAVE_PATIENCE_SECONDS
        while True:
            try:
                await self._book.save(run, new=True)
                await self._incidents.attach_run(run.incident_id, run.id)
                return
            except errors.StoreUnavailable as exc:
                delay = backoff.next(exc.delay_seconds)
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise
                log.warning(
                    "run %s not saved yet, Redis unavailable (retry in %.1f s): %s", run.id, delay, exc
                )
                await asyncio.sleep(delay)

    def launch(self, *, incident_id: str, event: ClusterEvent, playbook_id: str) -> asyncio.Task[Run | None]:
        """Start a run in the background (the watch handler does not wait for its steps)."""

        return self._background.spawn(
            self.start(incident_id=incident_id, event=event, playbook_id=playbook_id),
            name=f"run:{playbook_id}:{incident_id}",
            what=f"run of {playbook_id} for incident {incident_id}",
        )

    async def decide(
        self,
        request_id: str,
        *,
        approve: bool,
        actor: str,
        reason: str | None = None,
        groups: Iterable[str] = (),
        on_decided: Callable[[ApprovalRequest], Awaitable[None]] | None = None,
    ) -> tuple[ApprovalRequest, Run | None]:
        """Approve or reject a request as ``actor`` (``groups``: a chat clicker's Slack user
        groups; the gate decides, once), then continue its run; returns the request and the run as
        they then stand. A vote that counted but did not decide (the request needs more distinct
        approvers) returns the request still pending and leaves the run waiting.

        ``on_decided`` is awaited with the request as the gate left it (decided, or pending with
        the new vote) before the run continues, so what it records (the chat's audit entry of the
        click) precedes the step's own effects.

        Raises what :meth:`ApprovalGate.decide` raises. A decision that comes too late
        (:class:`~aiops.errors.ApprovalExpired`: the gate has expired the request, now or before)
        first ends the run as every expiry does (:meth:`WritePath.expired`), then raises, so no run
        is left waiting on a request nobody can decide any more. Log lines and step records carry
        the request's incident id (``aiops.correlation``)."""
        try:
            decided = await self._gate.decide(
                request_id, approve=approve, actor=actor, groups=groups, reason=reason
            )
        except errors.ApprovalExpired:
            expired = await self._gate.get(request_id)
            if expired is not None:
                with correlation.incident(expired.incident_id):
                    await self._advance(expired.run_id)
            raise
        if on_decided is not None:
            await on_decided(decided)
        if decided.state is ApprovalState.PENDING:  # a vote counted; more approvers needed
            return decided, await self._runs.get(decided.run_id)
        if not self.acting():
            await self._hand_off(decided.run_id)
            return decided, await self._runs.get(decided.run_id)
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

    async def resume(self) -> list[Run]:
        """After a (re)start: judge and advance every active run (:meth:`Recovery.resume`)."""
        return await self._recovery.resume()

    async def reconcile(self, *, older_than_seconds: float) -> list[Run]:
        """While running: move on runs whose work stopped (:meth:`Recovery.reconcile`). Raises
        StoreUnavailable while Redis is unavailable (the caller retries later)."""
        return await self._recovery.reconcile(older_than_seconds=older_than_seconds)

    # ----------------------------------------------------------------- leader election

    def acting(self) -> bool:
        """Whether this executor moves runs on: always without leader election; under it, only
        while this replica leads (:mod:`aiops.playbooks.fencing`)."""
        return self._fencing is None or self._fencing.acting()

    async def _hand_off(self, run_id: str) -> None:
        """Queue ``run_id`` for the leader; best effort (a run missed here is found by the
        leader's reconcile once idle for two sweep intervals, or by its next term's resume)."""
        if self._fencing is None:
            return
        try:
            await self._fencing.hand_off(run_id)
        except errors.StoreUnavailable as exc:
            log.warning("run %s not handed to the leader (%s); its reconcile finds it", run_id, exc)

    async def follow_handoffs(self, stop: asyncio.Event, *, poll_seconds: float = 0.25) -> None:
        """While this replica leads (until ``stop``): advance, in the background, every run the
        other replicas queued (runs they created, approvals they decided), within
        ``poll_seconds``. Raises StoreUnavailable (the caller supervises and restarts it)."""
        if self._fencing is None:
            await stop.wait()
            return
        while not stop.is_set():
            for run_id in await self._fencing.handed_off():
                self._background.spawn(
                    self._advance(run_id), name=f"handoff:{run_id}", what=f"handed-off run {run_id}"
                )
            await background.pause(stop, poll_seconds)

    # ----------------------------------------------------------------- the state machine

    def _forget_lock(self, run_id: str) -> None:
        """A run ended: its lock is no longer needed."""
        self._locks.pop(run_id, None)

    async def _advance(self, run_id: str) -> Run | None:
        """Move the run as far as it can go now, under its lock. Starts from the newest state this
        process holds for it if its last save failed (written first), else from Redis. When
        Redis fails under it (StoreUnavailable, raised), the run's newest state is kept in memory
        for the next advance (the reconciler's, at the latest)."""
        if not self.acting():
            await self._hand_off(run_id)
            return None
        self._activity.enter(run_id)
        try:
            async with self._locks.setdefault(run_id, asyncio.Lock()):
                run = self._activity.take_unsaved(run_id)
                try:
                    if run is not None:
                        await self._book.save(run)
                    else:
                        run = await self._runs.get(run_id)
                    return await self._advance_locked(run_id, run)
                except errors.StoreUnavailable:
                    if run is not None:
                        self._activity.keep_unsaved(run)
                    raise
        except errors.FenceLost as exc:
            # Deposed mid-run: nothing more is written or recorded here; the leader's recovery
            # judges the run as it stands (aiops.playbooks.fencing).
            log.warning("run %s left to the leader: %s", run_id, exc)
            self._locks.pop(run_id, None)
            return None
        finally:
            self._activity.leave(run_id)

    async def _advance_locked(self, run_id: str, run: Run | None) -> Run | None:
        """The body of :meth:`_advance`, with the run lock held and ``run`` as it stands."""
        if run is None or run.state in TERMINAL_RUN_STATES:
            self._locks.pop(run_id, None)
            return run
        try:
            playbook = self._playbooks().get(run.playbook_id)
        except errors.ConfigError as exc:
            await self._book.finish(run, RunState.FAILED, f"playbook unavailable: {exc}")
            return run
        while run.next_step < len(run.steps):
            rec = run.steps[run.next_step]
            try:
                step = playbook.step_at(rec.index, compensates=rec.compensates, name=rec.name)
            except (errors.ConfigError, IndexError) as exc:
                await self._book.finish(run, RunState.FAILED, f"step {rec.name!r} unavailable: {exc}")
                return run
            verdict = await self._advance_step(run, playbook, step, rec)
            if verdict == Verdict.VERIFY:
                # Verification takes up to its timeout: it continues in the background (and again
                # after a restart: it only reads), so the approver gets the write's outcome at once.
                self._background.spawn(
                    self._advance(run.id), name=f"verify:{run.id}", what=f"verification of run {run.id}"
                )
                return run
            if verdict == Verdict.WAIT or run.state in TERMINAL_RUN_STATES:
                return run
            if verdict == Verdict.AGAIN:
                continue
            failed = rec.state in {
                StepState.FAILED,
                StepState.REFUSED,
                StepState.BLOCKED,
                StepState.UNKNOWN,
            }
            if failed and (step.on_failure != "continue" or rec.state == StepState.BLOCKED):
                await self._book.finish(run, RunState.FAILED, f"step {rec.name!r} {rec.state}: {rec.error}")
                return run
            run.next_step += 1
            await self._book.save(run)
        unverified = [
            r.name
            for r in run.steps
            if r.verification is not None and r.verification.state == VerificationState.NOT_VERIFIED
        ]
        if unverified:
            names = ", ".join(repr(name) for name in unverified)
            await self._book.finish(run, RunState.FAILED, f"not verified: {names}; escalated")
        else:
            await self._book.finish(run, RunState.SUCCEEDED, None)
        return run

    async def _advance_step(self, run: Run, playbook: Playbook, step: Step, rec: StepRecord) -> Verdict:
        """Move one step forward: a pending step is prepared (and a read run at once, a write
        planned and put up for approval); a step at its request goes to the write path."""
        if rec.state == StepState.PENDING:
            prepared = await self._prepare(run, playbook, step, rec)
            if prepared is None:
                return Verdict.NEXT  # failed or blocked: a recorded outcome
            action, params = prepared
            if action.plan is None:
                return await self._reads.run(run, step, rec, action)
            return await self._writes.plan(run, playbook, rec, action, params)
        if rec.state == StepState.AWAITING_APPROVAL:
            return await self._writes.act(run, step, rec)
        if rec.writes_done is not None and rec.verification is None and rec.plan is not None:
            # A write whose outcome was recorded but not what follows it (Redis failed in between):
            # close the request, verify or release, as right after the write.
            return await self._writes.after_write(run, step, rec)
        if rec.state == StepState.SUCCEEDED and rec.verifying:
            return await self._writes.verify(run, step, rec)  # after the write, or resumed
        # RUNNING: another executor holds the claim, or resume() will judge it. Any other state
        # is terminal for the step: the caller moves on or fails the run.
        return Verdict.WAIT if rec.state == StepState.RUNNING else Verdict.NEXT

    async def _prepare(
        self, run: Run, playbook: Playbook, step: Step, rec: StepRecord
    ) -> tuple[actions_base.Action, BaseModel] | None:
        """Render and validate the params and check the step's namespace scope.

        Returns the action and its validated params, or None when the step already has its
        outcome (invalid params: failed; out of scope: blocked and escalated)."""
        action = self._actions.get(step.action)
        try:
            if action is None:
                raise errors.PermanentError(f"action {step.action!r} is not implemented")
            rendered = await templating.render_params_async(step.params, run.template_context(rec.index))
            params = action.params.model_validate(rendered)
        except (errors.AiopsError, ValidationError) as exc:
            self._book.outcome(rec, StepState.FAILED, error=f"invalid params: {exc}")
            await self._book.save(run)
            return None
        rec.params = params.model_dump(mode="json")
        block = self._scope_block(playbook, action, params)
        if block is not None:  # out of the playbook's or aiops' namespaces: never sent
            await self._writes.blocked(run, rec, block.guard, block.reason)
            return None
        return action, params

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
