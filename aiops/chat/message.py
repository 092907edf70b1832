"""The channel-neutral incident message: what every chat channel shows about one incident.

Fed by: the domain objects aiops already keeps (an :class:`aiops.events.incident.Incident`, its
playbook :class:`aiops.playbooks.runs.Run` records, its :class:`aiops.enrichment.enricher.Enrichment`
and its :class:`aiops.approvals.model.ApprovalRequest` s), through :func:`build_message`. Consumed
by: each channel's renderer (:mod:`aiops.chat.console` today; Slack and Telegram later), and the
delivery outbox (:mod:`aiops.chat.outbox`), which stores a message as JSON.

One message per incident, re-rendered and edited in place as it changes: the header, the facts,
the top log findings, the RCA summary, the steps with their results, the step waiting for a
decision with its plan (the exact API calls and the dry-run diff, as
:func:`aiops.approvals.render.plan_lines` writes them), and the last decision. Everything here has
already been scrubbed upstream (``aiops.enrichment.scrub``) before it was stored; the builder adds
nothing from elsewhere and does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.approvals.render import plan_lines
from aiops.enrichment.enricher import Enrichment
from aiops.events.incident import Incident
from aiops.playbooks.runs import ENDED_BADLY_STEP_STATES, Run, StepState

__all__ = [
    "MAX_FINDINGS",
    "MAX_RESULT_CHARS",
    "Decision",
    "Finding",
    "Header",
    "IncidentMessage",
    "PendingStep",
    "Step",
    "build_message",
    "short",
]

#: Most log findings shown on a message (the most frequent first).
MAX_FINDINGS = 3

#: Longest short result of a step, a fact value or a finding sample (characters); longer is cut.
MAX_RESULT_CHARS = 200


def short(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    """``text`` on one line (newlines become spaces), cut to ``limit`` characters with ``…``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Header(_Frozen):
    """Who and what: the incident id, severity, status (``open``/``resolved``), the resource
    (``Kind/namespace/name``, ``-`` for no namespace), the event type and reason, how many events
    folded into it, and when it was first and last seen (timezone-aware UTC)."""

    incident_id: str
    severity: str
    status: str
    resource: str
    event_type: str
    reason: str
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None


class Finding(_Frozen):
    """One log finding: its category, severity, how many lines (or traces) matched, a sample."""

    category: str
    severity: str
    count: int
    sample: str = ""


class Step(_Frozen):
    """One playbook step as shown: run id, index, name, action, risk, state, a short result."""

    run_id: str
    index: int
    name: str
    action: str
    risk: str
    state: str
    result: str = ""


class PendingStep(_Frozen):
    """The step waiting for a person: the approval request id, the step, its risk, when the request
    expires (UTC), the plan as text lines (API calls, server dry-run answers, diffs), and the votes
    so far (``votes``: who approved, in order) of the ``votes_needed`` distinct approvers."""

    request_id: str
    step: str
    action: str
    risk: str
    target: str
    expires_at: datetime
    plan: tuple[str, ...] = ()
    votes: tuple[str, ...] = ()
    votes_needed: int = 1


class Decision(_Frozen):
    """The last decision on the incident's approvals: ``approved``, ``rejected``, ``expired`` or
    ``not_run`` (approved but not run), by whom (None for an expiry), when, and why."""

    verdict: str
    step: str
    by: str | None = None
    at: datetime | None = None
    reason: str | None = None

    def line(self) -> str:
        """One sentence, e.g. ``approved by alice at 2026-12-03 15:00:00Z: restart pods``."""
        text = f"{self.step}: {self.verdict}"
        if self.by:
            text += f" by {self.by}"
        if self.at:
            text += f" at {self.at.strftime('%Y-%m-%d %H:%M:%SZ')}"
        return text + (f" — {self.reason}" if self.reason else "")


class IncidentMessage(_Frozen):
    """Everything a channel renders about one incident. ``facts``: ordered (label, value) pairs;
    ``rca``: the RCA summary with its category and confidence, or None before enrichment."""

    header: Header
    facts: tuple[tuple[str, str], ...] = ()
    findings: tuple[Finding, ...] = ()
    rca: str | None = None
    steps: tuple[Step, ...] = ()
    pending: PendingStep | None = None
    decision: Decision | None = None

    @property
    def incident_id(self) -> str:
        """The incident this message is about."""
        return self.header.incident_id


def _facts(incident: Incident) -> tuple[tuple[str, str], ...]:
    event = incident.last_event
    facts: list[tuple[str, str]] = []
    if event.message:
        facts.append(("message", short(event.message)))
    if event.resource.key != incident.subject.key:
        facts.append(("resource", event.resource.key))
    if len(incident.members) > 1:
        facts.append(("members", str(len(incident.members))))
    for name, value in sorted(event.details.items()):
        if value is not None:
            facts.append((name, short(str(value))))
    return tuple(facts)


def _step_result(record_state: StepState, summary: str, error: str | None) -> str:
    """The error of a step that ended badly, else its summary (an error left on a step that is
    waiting or running again, e.g. from an earlier attempt, is not its result)."""
    if error and record_state in ENDED_BADLY_STEP_STATES:
        return short(error)
    return short(summary)


def _steps(runs: Iterable[Run]) -> tuple[Step, ...]:
    return tuple(
        Step(
            run_id=run.id,
            index=record.index,
            name=record.name,
            action=record.action,
            risk=str(record.risk),
            state=str(record.state),
            result=_step_result(record.state, record.summary, record.error),
        )
        for run in sorted(runs, key=lambda r: r.created_at)
        for record in run.steps
    )


def _pending(approvals: list[ApprovalRequest]) -> PendingStep | None:
    waiting = [a for a in approvals if a.state == ApprovalState.PENDING]
    if not waiting:
        return None
    request = max(waiting, key=lambda a: a.created_at)
    plan = tuple(plan_lines(request.plan.model_dump(mode="json"))) if request.plan else ()
    return PendingStep(
        request_id=request.id,
        step=request.step_name,
        action=request.action,
        risk=str(request.risk),
        target=request.target.key if request.target else "-",
        expires_at=request.expires_at,
        plan=plan,
        votes=tuple(request.votes),
        votes_needed=request.votes_needed,
    )


def _decision(approvals: list[ApprovalRequest]) -> Decision | None:
    decided = [a for a in approvals if a.state != ApprovalState.PENDING]
    if not decided:
        return None
    request = max(decided, key=lambda a: a.decided_at or a.created_at)
    verdict, reason = str(request.state), request.reason
    if request.closed is not None and request.closed.outcome == "not_run":
        verdict, reason = "not_run", request.closed.reason
    return Decision(
        verdict=verdict,
        step=request.step_name,
        by=request.decided_by,
        at=request.decided_at,
        reason=short(reason) if reason else None,
    )


def build_message(
    incident: Incident,
    runs: Iterable[Run] = (),
    enrichment: Enrichment | None = None,
    approvals: Iterable[ApprovalRequest] = (),
) -> IncidentMessage:
    """The message for ``incident`` from what is known of it: its ``runs`` (their steps, oldest run
    first), its ``enrichment`` (top :data:`MAX_FINDINGS` findings by count, the RCA) and its
    approval ``approvals`` (the newest pending one becomes the pending step, the latest decided one
    the decision line). Pure: no I/O, never raises on missing parts (they are left out)."""
    requests = [a for a in approvals if a.incident_id == incident.id]
    findings: tuple[Finding, ...] = ()
    rca = None
    if enrichment is not None:
        top = sorted(enrichment.findings, key=lambda f: -f.count)[:MAX_FINDINGS]
        findings = tuple(
            Finding(
                category=f.category,
                severity=f.severity,
                count=f.count,
                sample=short(f.samples[0]) if f.samples else "",
            )
            for f in top
        )
        result = enrichment.rca
        rca = f"{short(result.summary, 600)} ({result.category}, confidence {result.confidence:.0%})"
    event = incident.last_event
    header = Header(
        incident_id=incident.id,
        severity=incident.severity,
        status=str(incident.status),
        resource=incident.subject.key,
        event_type=incident.type,
        reason=event.reason,
        count=incident.event_count,
        first_seen=incident.first_seen,
        last_seen=incident.last_seen,
        resolved_at=incident.resolved_at,
        resolution=incident.resolution,
    )
    return IncidentMessage(
        header=header,
        facts=_facts(incident),
        findings=findings,
        rca=rca,
        steps=_steps(runs),
        pending=_pending(requests),
        decision=_decision(requests),
    )
