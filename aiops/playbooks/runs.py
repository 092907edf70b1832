"""Playbook runs: the persisted record of one playbook executing for one incident.

Fed by: the executor, which creates runs, appends step outcomes and moves the run state.
Consumed by: the API (``/api/runs``), the CLI, the demo report, and the executor itself when
it resumes runs after a restart. Runs live in Redis through ``aiops.store``; nothing about a
run is kept only in memory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from aiops import errors
from aiops.actions.base import ActionResult
from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan
from aiops.enrichment.scrub import Scrubber
from aiops.events.model import ClusterEvent
from aiops.safety.verify import Verification, VerificationState

if TYPE_CHECKING:
    from aiops import store as store_mod


#: Longest text output kept on a step record (characters); longer output is cut from the front.
MAX_OUTPUT_CHARS = 64 * 1024


def clip(output: Any) -> Any:
    """``output``, with a string longer than :data:`MAX_OUTPUT_CHARS` cut to its tail after ``…``."""
    if isinstance(output, str) and len(output) > MAX_OUTPUT_CHARS:
        return "…" + output[-MAX_OUTPUT_CHARS:]
    return output


class RunState(StrEnum):
    """running → waiting_approval ⇄ running → succeeded | failed | rejected | expired | stopped.

    ``stopped``: the run ended without acting because the situation changed before an approved
    step ran (the problem was gone, or the target was deleted).
    """

    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STOPPED = "stopped"


TERMINAL_RUN_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.REJECTED, RunState.EXPIRED, RunState.STOPPED}
)


class StepState(StrEnum):
    """A step's outcome. ``unknown``: it was claimed but the process died before recording the
    outcome; it is never re-run (at-most-once), and the run fails with that reason. ``blocked``: a
    blast-radius guard stopped it (``StepRecord.guard`` names which). ``skipped``: nothing to do
    (the plan was empty, the problem was gone, or an earlier step was not verified)."""

    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    REJECTED = "rejected"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


#: Step states in which a step ended without doing its job; its ``error`` says why.
ENDED_BADLY_STEP_STATES = frozenset(
    {
        StepState.FAILED,
        StepState.REFUSED,
        StepState.REJECTED,
        StepState.EXPIRED,
        StepState.BLOCKED,
        StepState.UNKNOWN,
    }
)


class StepRecord(BaseModel):
    """One step of a run: the rendered params, the plan, the approval (if any) and the outcome.

    ``api_calls`` are dicts with method, path, status, body and response (see
    ``aiops.actions.base.ApiCall``); ``output`` is the action's JSON-compatible output.
    ``plan``: for a write, the :class:`aiops.actions.plan.Plan` as approved (JSON); ``attempt``
    counts re-plans (the target changed under an approved plan, or a write met 409);
    ``replans`` keeps why each earlier plan was dropped. ``verification``: after a write, a
    :class:`~aiops.safety.verify.Verification` (JSON ``{"state", "detail", "checks"}``).
    ``compensates``: the index of the step this one undoes (a playbook's ``compensate``).
    ``guard``: the blast-radius guard that blocked it. ``dry_run``: sent with ``dryRun=All``.
    ``incident_id``/``http_request_id``: the correlation ids in force when the step started
    (``aiops.correlation``; the second is the ``X-Request-ID`` of the approve call, if any).
    ``writes_done``: for an applied write, how many of its plan's calls were sent (None before
    the apply; a crash mid-apply counts them all); set with the outcome, so the bookkeeping after
    a write (close the request, verify, release) can resume from the record.
    ``fence``: under leader election, the fencing token (``<epoch>/<leaseTransitions>/<holder>``,
    :class:`aiops.store.fences.Term`) of the term the step was claimed in; its writes were checked
    against it.
    """

    index: int
    name: str
    action: str
    risk: Risk
    state: StepState = StepState.PENDING
    params: dict[str, Any] = Field(default_factory=dict)
    approval_id: str | None = None
    approved_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: str = ""
    output: Any = None
    api_calls: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    plan: Plan | None = None
    attempt: int = 0
    replans: list[dict[str, Any]] = Field(default_factory=list)
    verification: Verification | None = None
    compensates: int | None = None
    guard: str | None = None
    dry_run: bool = False
    incident_id: str | None = None
    http_request_id: str | None = None
    writes_done: int | None = None
    fence: str | None = None

    # ------------------------------------------------------------------ bookkeeping

    def claim_name(self, run_id: str) -> str:
        """The name of this step's at-most-once claim (``store.claim``): ``step:<run>:<index>``,
        with ``:<attempt>`` after a re-plan (a new plan is a new execution)."""
        suffix = f":{self.attempt}" if self.attempt else ""
        return f"step:{run_id}:{self.index}{suffix}"

    @property
    def verifying(self) -> bool:
        """Whether a verification of this step's write is under way (or owed after a restart)."""
        return self.verification is not None and self.verification.state == VerificationState.VERIFYING

    def end(self, state: StepState, *, at: datetime, error: str | None = None) -> None:
        """Record the step's outcome ``state`` (and ``error``, None clearing it) at ``at``."""
        self.state = state
        self.error = error
        self.finished_at = at

    def take_result(self, result: ActionResult, *, at: datetime) -> None:
        """Record an action's result: summary, output (clipped, :func:`clip`), API calls, and
        ``succeeded`` or ``failed`` with its error."""
        self.summary = result.summary
        self.output = clip(result.output)
        self.api_calls = [dataclasses.asdict(call) for call in result.api_calls]
        self.end(StepState.SUCCEEDED if result.ok else StepState.FAILED, at=at, error=result.error)

    def take_failure(self, exc: Exception, *, timeout_seconds: float, at: datetime) -> bool:
        """Record an action that raised ``exc``: ``refused`` for :class:`~aiops.errors.ActionRefused`,
        else ``failed`` (a timeout after ``timeout_seconds`` says so). Returns True when ``exc`` was
        unexpected (not a timeout, an :class:`~aiops.errors.AiopsError` or a validation error): a
        bug the caller logs and counts."""
        if isinstance(exc, errors.ActionRefused):
            self.end(StepState.REFUSED, at=at, error=str(exc))
        elif isinstance(exc, TimeoutError):
            self.end(StepState.FAILED, at=at, error=f"timed out after {timeout_seconds} s")
        elif isinstance(exc, errors.AiopsError | ValidationError):
            self.end(StepState.FAILED, at=at, error=str(exc))
        else:
            self.end(StepState.FAILED, at=at, error=f"{type(exc).__name__}: {exc}")
            return True
        return False


class Escalation(BaseModel):
    """A run handing a problem to people: a guard blocked a write, a write was not verified, or a
    plan kept changing. ``kind``: blocked | not_verified | stale | unknown; ``guard`` when blocked."""

    at: datetime
    step: str
    kind: str
    reason: str
    guard: str | None = None


class Run(BaseModel):
    """A playbook run for an incident. ``next_step`` is the index of the first unfinished step.
    ``requested_by``: the identity that triggered the run (None when the operator started it on
    its own), who may not approve its steps (:meth:`aiops.approvals.gate.ApprovalGate.decide`)."""

    id: str
    incident_id: str
    playbook_id: str
    event: ClusterEvent
    state: RunState = RunState.RUNNING
    created_at: datetime
    updated_at: datetime
    next_step: int = 0
    steps: list[StepRecord] = Field(default_factory=list)
    reason: str | None = None
    escalations: list[Escalation] = Field(default_factory=list)
    requested_by: str | None = None

    def template_context(self, before: int) -> dict[str, Any]:
        """What a step's params templates see (``aiops.playbooks.templating``): ``event``,
        ``incident`` (``id``), ``run`` (``id``, ``playbook_id``) and ``steps``: every step before
        index ``before`` by name, with its ``output``, ``params``, ``state`` and ``summary``."""
        return {
            "event": self.event.template_context(),
            "incident": {"id": self.incident_id},
            "run": {"id": self.id, "playbook_id": self.playbook_id},
            "steps": {
                r.name: {"output": r.output, "params": r.params, "state": r.state.value, "summary": r.summary}
                for r in self.steps
                if r.index < before
            },
        }


class RunStore:
    """Runs as JSON documents in Redis, with an index by creation time and one of active runs.

    Every run is scrubbed before it is written (``scrub``: the runtime's, built from
    ``enrichment.redact_patterns``; the built-in rules when None): step outputs, API calls, plans,
    errors and escalations never reach Redis, the API or the CLI with a secret in them
    (docs/redaction.md). The caller's ``Run`` is not modified. ``on_saved(run)`` is called after
    each save (the chat feed; it must return at once and never raise). Raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer.
    """

    _KIND = "run"
    _ALL = "runs"
    _ACTIVE = "runs:active"

    def __init__(
        self,
        store: store_mod.Store,
        *,
        scrub: Scrubber | None = None,
        on_saved: Callable[[Run], None] | None = None,
    ) -> None:
        self._store = store
        self.scrub = scrub or Scrubber()
        self._on_saved = on_saved

    async def save(self, run: Run) -> None:
        """Persist ``run``, scrubbed, and keep the active index in step with its state."""
        await self._store.put_doc(self._KIND, run.id, json.dumps(self.scrub(run.model_dump(mode="json"))))
        await self._store.index_add(self._ALL, run.id, run.created_at.timestamp())
        if run.state in TERMINAL_RUN_STATES:
            await self._store.index_remove(self._ACTIVE, run.id)
        else:
            await self._store.index_add(self._ACTIVE, run.id, run.created_at.timestamp())
        if self._on_saved is not None:
            self._on_saved(run)

    async def get(self, run_id: str) -> Run | None:
        """The run, or None when unknown."""
        raw = await self._store.get_doc(self._KIND, run_id)
        return Run.model_validate_json(raw) if raw else None

    async def active(self) -> list[Run]:
        """Runs not yet in a terminal state, oldest first."""
        runs = [await self.get(run_id) for run_id in await self._store.index_members(self._ACTIVE)]
        return [run for run in runs if run is not None]

    async def recent(self, *, limit: int = 100) -> list[Run]:
        """The newest ``limit`` runs, newest first."""
        ids = await self._store.index_members(self._ALL)
        runs = [await self.get(run_id) for run_id in reversed(ids[-limit:])]
        return [run for run in runs if run is not None]
