"""build_message from real domain objects: header, facts, findings, RCA, steps, pending, decision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from aiops.approvals.model import ApprovalState
from aiops.chat.message import MAX_FINDINGS, IncidentMessage, build_message, short
from tests.chat import domain


def test_header_and_facts_come_from_the_incident() -> None:
    message = build_message(domain.incident(count=3))
    header = message.header
    assert (header.incident_id, header.severity, header.status) == ("inc-1", "warning", "open")
    assert header.resource == "Deployment/shop/checkout"
    assert (header.event_type, header.reason, header.count) == ("crash_loop", "BackOff", 3)
    assert header.last_seen - header.first_seen == timedelta(minutes=4)
    facts = dict(message.facts)
    assert facts["message"] == "Back-off restarting failed container app in pod checkout"
    assert facts["resource"] == "Pod/shop/checkout-7d9f-abcde"
    assert (facts["container"], facts["restarts"]) == ("app", "7")
    assert "exit_code" not in facts
    assert message.findings == () and message.rca is None and message.steps == ()
    assert message.pending is None and message.decision is None


def test_findings_are_the_most_frequent_and_the_rca_is_summarised() -> None:
    message = build_message(domain.incident(), enrichment=domain.enrichment())
    assert [f.category for f in message.findings] == ["java_oom", "panic", "db_timeout"][:MAX_FINDINGS]
    assert message.findings[0].sample == "java_oom sample"
    assert message.rca == "The JVM runs out of heap. (out_of_memory, confidence 80%)"


def test_steps_show_their_result_or_their_error() -> None:
    message = build_message(domain.incident(), runs=[domain.run()])
    assert [(s.name, s.state, s.risk) for s in message.steps] == [
        ("logs", "succeeded", "low"),
        ("restart", "awaiting_approval", "medium"),
        ("scale", "failed", "high"),
    ]
    assert message.steps[0].result == "read 200 lines from app"
    assert message.steps[1].result == "", "a waiting step shows no error left from before"
    assert message.steps[2].result == "409 Conflict: the object changed"


def test_the_newest_pending_request_is_the_pending_step_with_its_plan() -> None:
    approvals = [domain.request("old", minutes=0), domain.request("new", minutes=5)]
    pending = build_message(domain.incident(), approvals=approvals).pending
    assert pending is not None
    assert (pending.request_id, pending.step, pending.risk) == ("new", "restart", "medium")
    assert pending.target == "Deployment/shop/checkout"
    assert pending.expires_at == domain.T0 + timedelta(minutes=20)
    assert pending.plan[0] == "Plan: restart_deployment on Deployment/shop/checkout"
    assert "PATCH /apis/apps/v1/namespaces/shop/deployments/checkout" in "\n".join(pending.plan)
    assert any(
        line.strip().startswith("+ /spec/template/metadata/annotations/restartedAt") for line in pending.plan
    )
    assert (pending.votes, pending.votes_needed) == ((), 1)


def test_the_pending_step_shows_the_votes_so_far() -> None:
    voting = domain.request("drain", minutes=0).model_copy(update={"votes": ["alice"], "votes_needed": 2})
    pending = build_message(domain.incident(), approvals=[voting]).pending
    assert pending is not None and (pending.votes, pending.votes_needed) == (("alice",), 2)


def test_the_latest_decision_stands_and_not_run_says_why() -> None:
    approvals = [
        domain.request("a", state=ApprovalState.REJECTED, minutes=0),
        domain.request("b", state=ApprovalState.APPROVED, minutes=3),
    ]
    decision = build_message(domain.incident(), approvals=approvals).decision
    assert decision is not None
    assert (decision.verdict, decision.by, decision.reason) == ("approved", "alice", "looks right")
    assert decision.line() == "restart: approved by alice at 2026-12-03 15:04:00Z — looks right"
    gone = [domain.request("c", state=ApprovalState.APPROVED, closed=domain.NOT_RUN)]
    decision = build_message(domain.incident(), approvals=gone).decision
    assert decision is not None and (decision.verdict, decision.reason) == ("not_run", "the problem was gone")
    expired = [domain.request("d", state=ApprovalState.EXPIRED)]
    decision = build_message(domain.incident(), approvals=expired).decision
    assert decision is not None and decision.by is None and decision.line().startswith("restart: expired at")


def test_requests_of_other_incidents_are_left_out() -> None:
    message = build_message(domain.incident(), approvals=[domain.request("x", incident_id="inc-2")])
    assert message.pending is None


def test_the_message_round_trips_as_json_and_is_frozen() -> None:
    message = build_message(
        domain.incident(),
        runs=[domain.run()],
        enrichment=domain.enrichment(),
        approvals=[domain.request("r")],
    )
    assert IncidentMessage.model_validate_json(message.model_dump_json()) == message
    with pytest.raises(ValidationError):
        message.header.count = 9  # type: ignore[misc]


def test_short_flattens_and_cuts() -> None:
    assert short("a\n b\tc") == "a b c"
    assert short("x" * 10, 5) == "xxxx…"
