"""Approval requests: what a medium/high step asks a person to allow, and how it was decided.

Fed by: the executor (``aiops.playbooks.executor``) which opens requests through the gate.
Consumed by: the gate (``aiops.approvals.gate``), the API, the CLI and, later, chat buttons.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan
from aiops.events.model import ObjectRef


class ApprovalState(StrEnum):
    """pending → approved | rejected | expired; every transition out of pending happens once."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Outcome(StrEnum):
    """What became of a decided request: the step ``executed``, was ``dry_run`` (sent with
    ``dryRun=All``), or was ``not_run`` (the problem was gone, the target changed under the plan,
    a guard blocked it, or it failed before writing); see :class:`RequestOutcome`."""

    EXECUTED = "executed"
    DRY_RUN = "dry_run"
    NOT_RUN = "not_run"


class RequestOutcome(BaseModel):
    """The closing note of a request: ``outcome``, why, when, and the guard that blocked it (if any)."""

    outcome: Outcome
    reason: str
    at: datetime
    guard: str | None = None


class ApprovalRequest(BaseModel):
    """A request to run one step of one playbook run.

    ``id`` is unguessable (``secrets.token_hex(16)``, 128 bits; hex, so it never starts with ``-``
    and reads as an option on a command line). ``params`` are the step's
    rendered parameters; ``plan`` the exact API calls the step will make, with the diff the API
    server answered in a dry run (None for a step without writes). ``attempt`` counts re-plans of
    the step (0 for the first plan). ``expires_at`` = ``created_at`` + the TTL for ``risk``.
    ``decided_by``/``decided_at``/``reason`` are set once, by the one decision; ``closed`` says
    what became of the step afterwards. ``votes``: the people who approved so far, in order (each
    once); ``votes_needed``: how many distinct people must approve (fixed when the request opens,
    from the policy); ``requested_by``: who triggered the run (an identity or person; None when
    the operator did), who may not approve it.
    """

    id: str
    run_id: str
    incident_id: str
    playbook_id: str
    step_index: int
    step_name: str
    action: str
    risk: Risk
    target: ObjectRef | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    plan: Plan | None = None
    attempt: int = 0
    dry_run: bool = False
    created_at: datetime
    expires_at: datetime
    state: ApprovalState = ApprovalState.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    closed: RequestOutcome | None = None
    votes: list[str] = Field(default_factory=list)
    votes_needed: int = 1
    requested_by: str | None = None
