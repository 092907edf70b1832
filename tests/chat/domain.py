"""Real domain objects for the chat tests: an incident, a run with steps, an enrichment, approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan, PlannedCall
from aiops.approvals.model import ApprovalRequest, ApprovalState, Outcome, RequestOutcome
from aiops.enrichment.enricher import Enrichment
from aiops.enrichment.rca.model import LogFinding, RcaResult, RootCause
from aiops.events.incident import Incident
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.playbooks.runs import Run, StepRecord, StepState

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
DEPLOY = ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="checkout")
POD = ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="checkout-7d9f-abcde")


def incident(incident_id: str = "inc-1", *, count: int = 3) -> Incident:
    """An open crash-loop incident on shop/checkout, seen ``count`` times from T0."""
    event = ClusterEvent(
        type=EventType.CRASH_LOOP,
        resource=POD,
        owner=DEPLOY,
        reason="BackOff",
        message="Back-off restarting failed container app\nin pod checkout",
        details={"container": "app", "restarts": 7, "exit_code": None},
        observed_at=T0,
    )
    return Incident(
        id=incident_id,
        dedup_key="k",
        fingerprint="f",
        type="crash_loop",
        severity="warning",
        subject=DEPLOY,
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=4),
        event_count=count,
        members=[POD.key],
        first_event=event,
        last_event=event,
    )


def plan() -> Plan:
    """A restart plan with one PATCH and its dry-run diff."""
    return Plan(
        action="restart_deployment",
        target=DEPLOY.key,
        planned_at=T0,
        calls=[
            PlannedCall(
                method="PATCH",
                path="/apis/apps/v1/namespaces/shop/deployments/checkout",
                object=DEPLOY.key,
                effect="sets restartedAt: pods are replaced one by one",
                diff=[
                    {"op": "add", "path": "/spec/template/metadata/annotations/restartedAt", "value": "now"}
                ],
            )
        ],
    )


def run(incident_id: str = "inc-1") -> Run:
    """A run with a succeeded read step and a restart waiting for approval."""
    return Run(
        id="run-1",
        incident_id=incident_id,
        playbook_id="crash-loop",
        event=incident(incident_id).last_event,
        created_at=T0,
        updated_at=T0,
        steps=[
            StepRecord(
                index=0,
                name="logs",
                action="get_logs",
                risk=Risk.LOW,
                state=StepState.SUCCEEDED,
                summary="read 200 lines\nfrom app",
            ),
            StepRecord(
                index=1,
                name="restart",
                action="restart_deployment",
                risk=Risk.MEDIUM,
                state=StepState.AWAITING_APPROVAL,
                error="should not show while waiting",
            ),
            StepRecord(
                index=2,
                name="scale",
                action="scale",
                risk=Risk.HIGH,
                state=StepState.FAILED,
                summary="nothing",
                error="409 Conflict: the object changed",
            ),
        ],
    )


def enrichment(incident_id: str = "inc-1") -> Enrichment:
    """Four findings (the least frequent is left out) and a heuristic RCA."""
    findings = [
        LogFinding(category=c, severity="error", count=n, first_line=1, last_line=9, samples=[f"{c} sample"])
        for c, n in (("db_timeout", 2), ("java_oom", 40), ("panic", 5), ("tls", 1))
    ]
    return Enrichment(
        incident_id=incident_id,
        at=T0,
        incident_type="crash_loop",
        findings=findings,
        rca=RcaResult(summary="The JVM runs out of heap.", category=RootCause.OUT_OF_MEMORY, confidence=0.8),
    )


def request(
    request_id: str,
    *,
    state: ApprovalState = ApprovalState.PENDING,
    minutes: int = 0,
    incident_id: str = "inc-1",
    closed: RequestOutcome | None = None,
) -> ApprovalRequest:
    """An approval request for the restart step, created ``minutes`` after T0."""
    created = T0 + timedelta(minutes=minutes)
    decided = state != ApprovalState.PENDING
    return ApprovalRequest(
        id=request_id,
        run_id="run-1",
        incident_id=incident_id,
        playbook_id="crash-loop",
        step_index=1,
        step_name="restart",
        action="restart_deployment",
        risk=Risk.MEDIUM,
        target=DEPLOY,
        plan=plan(),
        created_at=created,
        expires_at=created + timedelta(minutes=15),
        state=state,
        decided_by="alice" if state in (ApprovalState.APPROVED, ApprovalState.REJECTED) else None,
        decided_at=created + timedelta(minutes=1) if decided else None,
        reason="looks right" if decided else None,
        closed=closed,
    )


NOT_RUN = RequestOutcome(outcome=Outcome.NOT_RUN, reason="the problem was gone", at=T0)
