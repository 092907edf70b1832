"""After a write: start its verification, finish it, and what a failed one does to the run.

Fed by: :class:`aiops.playbooks.writes.WritePath`, right after a write (:meth:`AfterWrite.start`)
and when the run loop reaches a step still ``verifying`` (:meth:`AfterWrite.verify`: in the
background right after the write, or after a restart: verification only reads).
Consumes: :class:`aiops.safety.verify.Verifier` (the plan's expectations, with the step's
``verify`` settle/timeout or the ``safety`` defaults), the run book (saves, outcomes,
escalations) and the metrics (``aiops_verifications_total{action, outcome}``).

Not verified escalates (``not_verified``), skips the rest of the playbook and, when the step
declares ``compensate``, appends the compensating step (run behind the gate like any write).
"""

from __future__ import annotations

from aiops.actions.plan import Plan
from aiops.metrics import Metrics
from aiops.playbooks.book import RunBook
from aiops.playbooks.model import Step
from aiops.playbooks.runs import Run, StepRecord, StepState
from aiops.safety.verify import Verification, VerificationState, Verifier
from aiops.settings import SafetySettings


class AfterWrite:
    """Verification of write steps, for one executor. ``verifier`` None: nothing is verified."""

    def __init__(
        self, *, book: RunBook, verifier: Verifier | None, safety: SafetySettings, metrics: Metrics
    ) -> None:
        self._book = book
        self._verifier = verifier
        self._safety = safety
        self._metrics = metrics

    def verifiable(self, step: Step, plan: Plan) -> bool:
        """Whether a write of ``step`` with ``plan`` gets verified (enabled, something to expect,
        a verifier configured)."""
        return step.verify.enabled and bool(plan.expect) and self._verifier is not None

    async def start(self, run: Run, step: Step, rec: StepRecord) -> bool:
        """Right after the write of ``rec``: mark it ``verifying`` and save (True: the caller
        continues the run in the background, so the approver gets the write's outcome at once), or
        record why it is ``skipped`` and save (False)."""
        assert rec.plan is not None
        if rec.state == StepState.SUCCEEDED and not rec.dry_run and self.verifiable(step, rec.plan):
            rec.verification = Verification(
                state=VerificationState.VERIFYING, detail=f"checking {len(rec.plan.expect)} expectation(s)"
            )
            await self._book.save(run)
            return True
        why = "dry run: nothing changed" if rec.dry_run else "nothing to check"
        if rec.state != StepState.SUCCEEDED:
            why = "the write failed"
        elif not step.verify.enabled:
            why = "disabled for this step"
        elif self._verifier is None:
            why = "no verifier configured"
        rec.verification = Verification(state=VerificationState.SKIPPED, detail=why)
        self._metrics.verifications_total.labels(action=rec.action, outcome="skipped").inc()
        await self._book.save(run)
        return False

    async def verify(self, run: Run, step: Step, rec: StepRecord) -> None:
        """Check the plan's expectations (read-only) and save the outcome; not verified escalates,
        skips the rest of the playbook and queues the step's compensation, if it declares one."""
        expectations = list(rec.plan.expect) if rec.plan is not None else []
        if self._verifier is None or not expectations:
            rec.verification = Verification(state=VerificationState.SKIPPED, detail="nothing to check")
            await self._book.save(run)
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
        rec.verification = result.record()
        outcome = "verified" if result.verified else "not_verified"
        self._metrics.verifications_total.labels(action=rec.action, outcome=outcome).inc()
        if result.verified:
            await self._book.save(run)
            return
        await self._book.escalate(
            run, rec, "not_verified", f"{rec.summary}, but not verified: {result.detail}"
        )
        for later in run.steps[rec.index + 1 :]:
            if later.state == StepState.PENDING and later.compensates is None:
                later.summary = f"skipped: step {rec.name!r} was not verified"
                self._book.outcome(later, StepState.SKIPPED)
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
        await self._book.save(run)
