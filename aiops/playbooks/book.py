"""The run book: how the executor's parts record a run's progress (persist, claim, count, end).

Fed by: :class:`aiops.playbooks.executor.Executor` (the run loop and the read steps),
:class:`aiops.playbooks.writes.WritePath` (write steps) and :class:`aiops.playbooks.recovery.Recovery`
(runs whose work stopped), which share one :class:`RunBook` and one :class:`Activity`.
Consumes: the run store (:class:`aiops.playbooks.runs.RunStore`, Redis), the claim of
:class:`aiops.store.Store` (``SET NX``), the metrics (``aiops_steps_total``, ``aiops_runs_total``,
``aiops_pipeline_errors_total{stage="action"}``) and an injected clock.

What changes on a step record is decided by the record itself (:meth:`StepRecord.end`,
:meth:`~StepRecord.take_result`, :meth:`~StepRecord.take_failure`); the book stamps the time,
counts the outcome and saves. Every method may raise :class:`aiops.errors.StoreUnavailable`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiops import correlation
from aiops.actions.base import ActionResult
from aiops.metrics import Metrics
from aiops.playbooks.fencing import Fencing
from aiops.playbooks.runs import Escalation, Run, RunState, RunStore, StepRecord, StepState
from aiops.store import Store

log = logging.getLogger("aiops.playbooks.executor")

#: Most runs kept in memory after their save failed; beyond it the oldest is dropped (judged from
#: Redis instead: its running step then becomes ``unknown``, never re-run).
MAX_UNSAVED_RUNS = 10_000

#: Called for every escalation (chat posts it; the runtime logs it). Must not raise.
EscalationHook = Callable[[Run, Escalation], Awaitable[None]]


class RunBook:
    """Persists runs and records step outcomes, with the time from ``clock`` and the counts in
    ``metrics``. ``instance_id`` owns the step claims this process takes; ``on_finished(run_id)``
    is called when a run ends (the executor drops the run's lock); ``on_escalation`` hears every
    escalation (:meth:`escalate`). ``fencing`` (under leader election): claims are fenced and a
    run is saved only while this replica leads (:mod:`aiops.playbooks.fencing`)."""

    def __init__(
        self,
        *,
        runs: RunStore,
        store: Store,
        metrics: Metrics,
        clock: Callable[[], datetime],
        instance_id: str,
        on_finished: Callable[[str], None],
        on_escalation: EscalationHook | None = None,
        fencing: Fencing | None = None,
    ) -> None:
        self.runs = runs
        self.fencing = fencing
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.instance_id = instance_id
        self._on_finished = on_finished
        self._on_escalation = on_escalation

    async def save(self, run: Run, *, new: bool = False) -> None:
        """Stamp ``run.updated_at`` and persist it (scrubbed, by the run store). Under fencing a run
        is saved only in this replica's current term (:class:`aiops.errors.FenceLost` otherwise,
        nothing saved: a deposed leader never writes an older state over the new leader's; one
        Redis read per save); ``new``: the first save of a run created here, which any replica
        may make."""
        if self.fencing is not None and not new:
            await self.fencing.ensure_current()
        run.updated_at = self._clock()
        await self.runs.save(run)

    async def finish(self, run: Run, state: RunState, reason: str | None) -> None:
        """End ``run`` in ``state`` with ``reason``, persist it and count it."""
        run.state = state
        run.reason = reason
        await self.save(run)
        self._metrics.runs_total.labels(state=state.value).inc()
        self._on_finished(run.id)
        log.info("run %s %s%s", run.id, state, f": {reason}" if reason else "")

    def outcome(self, rec: StepRecord, state: StepState, *, error: str | None = None) -> None:
        """Record step ``rec`` ending in ``state`` now, and count it (not saved: the caller saves)."""
        rec.end(state, at=self._clock(), error=error)
        self.count(rec)

    def result(self, rec: StepRecord, result: ActionResult) -> None:
        """Record an action's result on ``rec`` (:meth:`StepRecord.take_result`) and count it."""
        rec.take_result(result, at=self._clock())
        self.count(rec)

    def failure(self, run: Run, rec: StepRecord, exc: Exception, *, timeout_seconds: float) -> None:
        """Record an action that raised (:meth:`StepRecord.take_failure`) and count it; an
        unexpected exception is logged with its traceback and counted as a pipeline error."""
        if rec.take_failure(exc, timeout_seconds=timeout_seconds, at=self._clock()):
            log.error("run %s step %r raised", run.id, rec.name, exc_info=exc)
            self._metrics.pipeline_errors_total.labels(stage="action").inc()
        self.count(rec)

    def count(self, rec: StepRecord) -> None:
        """Count ``rec``'s current state in ``aiops_steps_total{risk, outcome}``."""
        self._metrics.steps_total.labels(risk=rec.risk.value, outcome=rec.state.value).inc()

    async def escalate(
        self, run: Run, rec: StepRecord, kind: str, reason: str, *, guard: str | None = None
    ) -> None:
        """Hand step ``rec``'s problem to people: an :class:`Escalation` on the run (not saved: the
        caller saves), counted (``aiops_escalations_total{reason}``), logged and passed to the
        hook. ``kind``: blocked | not_verified | stale | unknown; ``guard`` when blocked. A hook
        failure is logged and counted, never raised: a notifier never stops the run."""
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

    async def claim(self, run: Run, rec: StepRecord) -> bool:
        """Record the step as running, then take its claim (``SET NX``). In that order: a step
        found ``running`` with no claim after a crash never started, and may go on; one with a
        claim of another instance may have, and is never run again. False: claimed elsewhere.

        Under fencing the claim is taken in this replica's current term only and the term's token
        is recorded on the step (``rec.fence``); raises :class:`aiops.errors.FenceLost` when the
        term is over (the step is then left running without a claim: it never started)."""
        rec.state = StepState.RUNNING
        rec.started_at = self._clock()
        rec.incident_id, rec.http_request_id = run.incident_id, correlation.request_id.get()
        run.state = RunState.RUNNING
        await self.save(run)
        name = rec.claim_name(run.id)
        if self.fencing is not None:
            term = await self.fencing.claim(name, self.instance_id)
            if term is not None:
                rec.fence = term.token
                return True
        elif await self._store.claim(name, self.instance_id):
            return True
        log.warning("run %s step %r already claimed elsewhere; not running it again", run.id, rec.name)
        return False

    def write_check(self, rec: StepRecord) -> Callable[[], Awaitable[None]] | None:
        """The fence check before each write of step ``rec`` (claimed in the term its ``fence``
        token names); None without fencing."""
        if self.fencing is None or rec.fence is None:
            return None
        return self.fencing.write_check(int(rec.fence.split("/", 1)[0]))

    async def claim_owner(self, run: Run, rec: StepRecord) -> str | None:
        """Who holds step ``rec``'s claim (an instance id), None when nobody took it. Under
        fencing the fenced claim is read first, then an unfenced one (taken before leader
        election was on)."""
        name = rec.claim_name(run.id)
        if self.fencing is not None and (claim := await self.fencing.claim_of(name)) is not None:
            return claim.owner
        return await self._store.claim_owner(name)


class Activity:
    """What this process is doing with runs, in memory: how many advances of each run are under
    way, and the newest state of runs whose save Redis refused (written first on their next
    advance; at most :data:`MAX_UNSAVED_RUNS`, the oldest dropped)."""

    def __init__(self) -> None:
        self._busy: Counter[str] = Counter()
        self._unsaved: dict[str, Run] = {}

    def enter(self, run_id: str) -> None:
        """An advance of ``run_id`` starts."""
        self._busy[run_id] += 1

    def leave(self, run_id: str) -> None:
        """An advance of ``run_id`` ended."""
        self._busy[run_id] -= 1
        if not self._busy[run_id]:
            del self._busy[run_id]

    def busy(self, run_id: str) -> bool:
        """Whether an advance of ``run_id`` is under way in this process."""
        return self._busy[run_id] > 0

    def keep_unsaved(self, run: Run) -> None:
        """Keep ``run``'s newest state, whose save failed, for its next advance."""
        self._unsaved[run.id] = run
        if len(self._unsaved) > MAX_UNSAVED_RUNS:
            dropped = next(iter(self._unsaved))
            self._unsaved.pop(dropped)
            log.error("run %s: too many runs wait for Redis; its newest state is dropped", dropped)

    def take_unsaved(self, run_id: str) -> Run | None:
        """The unsaved newest state of ``run_id`` (forgotten here), or None."""
        return self._unsaved.pop(run_id, None)

    def unsaved(self) -> list[str]:
        """The ids of runs whose newest state waits to be saved."""
        return list(self._unsaved)
