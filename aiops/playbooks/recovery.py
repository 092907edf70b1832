"""Recovery of runs whose work stopped: after a restart (``resume``) and while running (``reconcile``).

Fed by: the runtime, which calls ``Executor.resume`` once before it starts the operator and
``Executor.reconcile`` on every sweep (``approvals.sweep_interval_seconds``); the executor holds
one :class:`Recovery` and passes both on. Consumes, all given explicitly: the run book (runs,
claims, outcomes, escalations), the executor's :class:`~aiops.playbooks.book.Activity` (what
this process is advancing, and unsaved runs), the approval gate, the write path (to give back
reservations and end expired steps), the audit queue, and ``advance`` (the executor's run loop).

A run's work stops without the run ending when the process dies (SIGKILL, OOM kill, node loss)
or when Redis fails under it (killed, restarted, out of memory, read-only after a failover): the
step's outcome could not be recorded, the approver got 503, and nothing in the process goes on
with it. Both paths judge such a run the same way, step by step:

* a step ``running`` without its claim never started (the executor marks a step running before
  it claims it): it goes back to where it stood, and an approved write is re-checked before it
  runs;
* a step ``running`` whose claim is held by a process that stopped (after a restart: any
  process; while running: this one, with no work of it left) may have acted: its outcome is
  ``unknown``, it is escalated, its leases are released, and it is never run again (a step runs
  at most once); a claim of another live replica is left to that replica;
* everything else is advanced: a decided request the run did not act on, a verification that
  did not finish (it only reads), the bookkeeping after a write whose outcome was recorded.

While running, the executor also keeps in memory the runs whose last save failed (their newest
state, e.g. a write's answer from the API server) and writes them first, and the audit entries
Redis refused are sent (:class:`aiops.audit.AuditQueue`): so a write that landed while Redis was down is
recorded as it happened and verified, not guessed ``unknown``. Only runs idle for
``older_than_seconds`` and not being advanced in this process are touched, and not a run whose
request is pending or was decided within that time (its decider continues it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiops import audit as audit_mod
from aiops import correlation
from aiops.approvals import gate as gate_mod
from aiops.approvals.model import ApprovalState
from aiops.playbooks.book import Activity, RunBook
from aiops.playbooks.runs import Run, RunState, StepRecord, StepState
from aiops.playbooks.writes import WritePath

log = logging.getLogger("aiops.playbooks.executor")


class Recovery:
    """Judges and moves on runs whose work stopped (see the module docstring). ``advance(run_id)``
    moves a run as far as it can go (the executor's run loop, under its lock); ``max_wait``: runs
    older than this expire on resume; ``clock``: the executor's; ``fenced``: claims are fenced
    (leader election), so another instance's claim is from an earlier term, never live work."""

    def __init__(
        self,
        *,
        book: RunBook,
        activity: Activity,
        gate: gate_mod.ApprovalGate,
        writes: WritePath,
        audit: audit_mod.AuditQueue,
        advance: Callable[[str], Awaitable[Run | None]],
        clock: Callable[[], datetime],
        max_wait: timedelta,
        fenced: bool = False,
    ) -> None:
        self._book = book
        self._activity = activity
        self._gate = gate
        self._writes = writes
        self._audit = audit
        self._advance = advance
        self._clock = clock
        self._max_wait = max_wait
        self._fenced = fenced

    async def resume(self) -> list[Run]:
        """After a (re)start, or when this replica begins a leadership term: expire runs past
        ``runs.max_wait_seconds``, judge every active run this process is not advancing (see the
        module docstring; any claim held by a process is a process that stopped) and advance the
        rest. Returns the runs advanced."""
        resumed: list[Run] = []
        for run in await self._book.runs.active():
            if self._activity.busy(run.id):
                continue  # this process's own work from its previous term, still under way
            if self._clock() - run.created_at > self._max_wait:
                await self._expire_stale(run)
                continue
            with correlation.incident(run.incident_id):
                advanced = await self._recover(run, restarted=True)
            if advanced is not None:
                resumed.append(advanced)
        return resumed

    async def reconcile(self, *, older_than_seconds: float) -> list[Run]:
        """While running: send queued audit entries, write runs whose save failed, then judge every
        active run that no work in this process is advancing and that has not changed for
        ``older_than_seconds`` (see the module docstring). Returns the runs it moved on.

        Raises StoreUnavailable while Redis is unavailable (the caller retries later)."""
        await self._audit.flush()
        for run_id in self._activity.unsaved():
            if not self._activity.busy(run_id):
                await self._advance(run_id)  # writes the run's newest state first
        cutoff = self._clock() - timedelta(seconds=older_than_seconds)
        moved: list[Run] = []
        for run in await self._book.runs.active():
            if self._activity.busy(run.id) or run.updated_at > cutoff:
                continue
            if await self._left_to_its_decider(run, cutoff):
                continue
            with correlation.incident(run.incident_id):
                recovered = await self._recover(run, restarted=False)
            if recovered is not None:
                moved.append(recovered)
        return moved

    async def _left_to_its_decider(self, run: Run, cutoff: datetime) -> bool:
        """Whether ``run`` waits at a request that is pending (and not overdue: the sweeper expires
        those), or that was decided after ``cutoff``: whoever decided it continues the run."""
        if run.next_step >= len(run.steps):
            return False
        rec = run.steps[run.next_step]
        if rec.state != StepState.AWAITING_APPROVAL or rec.approval_id is None:
            return False
        request = await self._gate.get(rec.approval_id)
        if request is None:
            return False
        if request.state == ApprovalState.PENDING:
            return self._clock() < request.expires_at
        return request.decided_at is not None and request.decided_at > cutoff

    async def _expire_stale(self, run: Run) -> None:
        """A run past ``runs.max_wait_seconds`` ends expired; its pending requests expire with it."""
        waiting = [rec for rec in run.steps if rec.state == StepState.AWAITING_APPROVAL]
        why = f"no progress within {self._max_wait}; expired on resume"
        for rec in waiting:
            request = await self._gate.get(rec.approval_id) if rec.approval_id else None
            if request is not None:
                await self._gate.expire(request, reason=why)
        if waiting:
            await self._writes.expired(run, waiting[0], why)
        else:
            await self._book.finish(run, RunState.EXPIRED, why)

    async def _recover(self, run: Run, *, restarted: bool) -> Run | None:
        """Judge ``run``'s claimed steps, then advance it (None: left as it is, or ended here)."""
        for rec in run.steps:
            if rec.state != StepState.RUNNING and not rec.verifying:
                continue
            owner = await self._book.claim_owner(run, rec)
            if owner not in (None, self._book.instance_id) and not (restarted or self._fenced):
                return None  # another live replica works on it
            if rec.state != StepState.RUNNING:
                continue  # a verification to finish: advanced below
            if owner is None:
                # Marked running but never claimed: the action never started. Back to where it
                # stood; an approved write is re-checked before it runs.
                rec.state = StepState.AWAITING_APPROVAL if rec.approval_id else StepState.PENDING
                run.state = RunState.RUNNING
                await self._book.save(run)
                log.info("run %s step %r never started; going on", run.id, rec.name)
                continue
            whose = (
                "which stopped" if owner != self._book.instance_id else "(this process) whose work stopped"
            )
            await self._outcome_lost(run, rec, f"claimed by {owner} {whose} before recording an outcome")
            return None
        return await self._advance(run.id)

    async def _outcome_lost(self, run: Run, rec: StepRecord, why: str) -> None:
        """Step ``rec`` may have acted but its outcome is lost: ``unknown``, escalated, its leases
        released (its budget unit kept: it may have written), the run failed. Never re-run."""
        rec.state = StepState.UNKNOWN
        rec.error = f"{why}; not re-run (a step runs at most once): check its target"
        rec.finished_at = self._clock()
        await self._writes.release(run, rec, wrote=True)
        await self._book.escalate(run, rec, "unknown", rec.error)
        await self._book.finish(run, RunState.FAILED, f"step {rec.name!r} outcome unknown: {why}")
