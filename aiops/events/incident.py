"""Incident: one ongoing problem, opened by the first ClusterEvent with a new dedup key.

Fed by: ``aiops.events.dedup`` (which creates, updates and resolves incidents in Redis).
Consumed by: the pipeline (rules and playbooks run for new incidents), the API and the CLI.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from aiops.events.model import ClusterEvent, ObjectRef


class IncidentStatus(StrEnum):
    """``open`` while the problem lasts; ``resolved`` when every member recovered or was deleted."""

    OPEN = "open"
    RESOLVED = "resolved"


class SuppressReason(StrEnum):
    """Why an event did not start anything, as counted on the incident and in metrics.

    duplicate: the problem already has an open incident; cooldown: a rule fired for it recently;
    muted: excluded by namespace or mute settings; budget: a remediation budget was spent.
    """

    DUPLICATE = "duplicate"
    COOLDOWN = "cooldown"
    MUTED = "muted"
    BUDGET = "budget"


class Incident(BaseModel):
    """One ongoing problem.

    ``members`` are the ``Kind/namespace/name`` keys of resources currently showing the problem
    (several pods of one Deployment fold into one incident); the incident resolves when the last
    member recovers or is deleted. ``suppressed`` counts events by :class:`SuppressReason` value.
    ``run_ids`` lists playbook runs started for it. Times are timezone-aware UTC.
    """

    id: str
    dedup_key: str
    fingerprint: str
    type: str
    severity: str
    subject: ObjectRef
    status: IncidentStatus = IncidentStatus.OPEN
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None
    event_count: int = 1
    members: list[str] = Field(default_factory=list)
    suppressed: dict[str, int] = Field(default_factory=dict)
    run_ids: list[str] = Field(default_factory=list)
    first_event: ClusterEvent
    last_event: ClusterEvent
