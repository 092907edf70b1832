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
from aiops.events.model import ObjectRef


class ApprovalState(StrEnum):
    """pending → approved | rejected | expired; every transition out of pending happens once."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalRequest(BaseModel):
    """A request to run one step of one playbook run.

    ``id`` is unguessable (``secrets.token_urlsafe(16)``, 128 bits). ``params`` are the step's
    rendered parameters, exactly what will run. ``expires_at`` = ``created_at`` + the TTL for
    ``risk``. ``decided_by``/``decided_at``/``reason`` are set once, by the one decision.
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
    created_at: datetime
    expires_at: datetime
    state: ApprovalState = ApprovalState.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
