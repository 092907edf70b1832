"""An approval request is decided exactly once, whoever and however many try.

Covers: request → approve / reject records who, when and why; a second decision is refused with
AlreadyDecided naming the first; 20 concurrent approvers (and approvers against rejecters) get
one success; expire_due racing an approve on another replica has one winner; a request is
idempotent per (run, step), also under concurrency; a restarted gate decides a pending request.
Runs against the real Redis and the in-memory store.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiops import errors
from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.approvals.policy import ApprovalPolicy
from aiops.events.model import ObjectRef
from aiops.metrics import Metrics
from aiops.store import Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock: ``clock()`` is now; ``advance(seconds)`` moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def ask(
    gate: ApprovalGate, *, run_id: str = "run-1", step_index: int = 0, **overrides: Any
) -> ApprovalRequest:
    fields: dict[str, Any] = {
        "incident_id": "inc-1",
        "playbook_id": "crashloop-restart",
        "step_name": "restart",
        "action": "rollout_restart",
        "risk": Risk.MEDIUM,
        "target": ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="web"),
        "params": {"grace_seconds": 30},
    }
    fields.update(overrides)
    return await gate.request(run_id=run_id, step_index=step_index, **fields)


async def test_request_then_approve(any_store: Store) -> None:
    clock, metrics = Clock(), Metrics()
    gate = ApprovalGate(any_store, ApprovalPolicy(), metrics=metrics, clock=clock)
    request = await ask(gate)
    assert re.fullmatch(r"[0-9a-f]{32}", request.id)  # token_hex(16): 128 bits, never "-..."
    assert request.state is ApprovalState.PENDING
    assert request.expires_at == T0 + timedelta(seconds=900)
    assert await gate.pending_count() == 1
    assert metrics.registry.get_sample_value("aiops_approvals_pending") == 1

    clock.advance(42)
    approved = await gate.decide(request.id, approve=True, actor="alice", reason="looks right")
    assert approved.state is ApprovalState.APPROVED
    assert (approved.decided_by, approved.decided_at, approved.reason) == (
        "alice",
        T0 + timedelta(seconds=42),
        "looks right",
    )
    assert await gate.get(request.id) == approved
    assert approved.params == {"grace_seconds": 30}
    assert approved.target == request.target
    assert await gate.pending_count() == 0
    sample = metrics.registry.get_sample_value
    assert sample("aiops_approvals_pending") == 0
    assert sample("aiops_approval_decision_seconds_sum", {"decision": "approved"}) == 42
    assert sample("aiops_approval_decision_seconds_count", {"decision": "approved"}) == 1


async def test_request_then_reject(any_store: Store) -> None:
    gate = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    request = await ask(gate)
    rejected = await gate.decide(request.id, approve=False, actor="bob", reason="not now")
    assert rejected.state is ApprovalState.REJECTED
    assert rejected.decided_by == "bob"
    assert [r.id for r in await gate.list(state=ApprovalState.REJECTED)] == [request.id]
    assert await gate.list(state=ApprovalState.PENDING) == []


async def test_a_second_decision_is_refused_and_names_the_first(any_store: Store) -> None:
    gate = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    request = await ask(gate)
    await gate.decide(request.id, approve=True, actor="alice")
    with pytest.raises(errors.AlreadyDecided) as refused:
        await gate.decide(request.id, approve=False, actor="bob")
    assert refused.value.state == "approved"
    assert refused.value.decided_by == "alice"
    assert "approved by alice" in str(refused.value)
    stored = await gate.get(request.id)
    assert stored is not None and stored.state is ApprovalState.APPROVED and stored.decided_by == "alice"


async def test_twenty_concurrent_approvals_yield_one_success(any_store: Store) -> None:
    gate = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    request = await ask(gate)
    outcomes = await asyncio.gather(
        *(gate.decide(request.id, approve=True, actor=f"user-{i}") for i in range(20)), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, ApprovalRequest)]
    refused = [o for o in outcomes if isinstance(o, errors.AlreadyDecided)]
    assert len(winners) == 1 and len(refused) == 19
    stored = await gate.get(request.id)
    assert stored is not None and stored.decided_by == winners[0].decided_by
    assert {r.decided_by for r in refused} == {winners[0].decided_by}


async def test_approvers_racing_rejecters_on_two_replicas_have_one_winner(any_store: Store) -> None:
    replica_a = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    replica_b = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    request = await ask(replica_a)
    outcomes = await asyncio.gather(
        *(
            gate.decide(request.id, approve=i % 2 == 0, actor=f"user-{i}")
            for i in range(10)
            for gate in (replica_a, replica_b)
        ),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, ApprovalRequest)]
    assert len(winners) == 1
    assert all(isinstance(o, errors.AlreadyDecided) for o in outcomes if o is not winners[0])
    assert await replica_b.get(request.id) == winners[0]


async def test_expire_due_racing_approve_has_one_winner(any_store: Store) -> None:
    # replica A's clock is one second before the deadline, replica B's (the sweeper) at it
    approver = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock(T0 + timedelta(seconds=899)))
    sweeper = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock(T0 + timedelta(seconds=900)))
    requester = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    requests = [await ask(requester, run_id=f"run-{i}") for i in range(20)]

    async def approve(request: ApprovalRequest) -> bool:
        try:
            await approver.decide(request.id, approve=True, actor="alice")
        except errors.ApprovalExpired:
            return False
        return True

    approvals, expired = await asyncio.gather(
        asyncio.gather(*(approve(r) for r in requests)), sweeper.expire_due()
    )
    expired_ids = {r.id for r in expired}
    for request, approved in zip(requests, approvals, strict=True):
        stored = await requester.get(request.id)
        assert stored is not None
        assert approved != (request.id in expired_ids)  # exactly one of them won
        assert stored.state is (ApprovalState.APPROVED if approved else ApprovalState.EXPIRED)
    assert await requester.pending_count() == 0


async def test_request_is_idempotent_per_run_step(any_store: Store) -> None:
    gate = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    first = await ask(gate)
    again = await ask(gate, params={"grace_seconds": 99})
    assert again == first
    concurrent = await asyncio.gather(*(ask(gate, run_id="run-2") for _ in range(20)))
    assert len({r.id for r in concurrent}) == 1
    other_step = await ask(gate, step_index=1)
    assert other_step.id != first.id
    assert await gate.pending_count() == 3
    await gate.decide(first.id, approve=True, actor="alice")
    decided_again = await ask(gate)  # a retried executor learns the decision
    assert decided_again.id == first.id and decided_again.state is ApprovalState.APPROVED


async def test_a_restarted_gate_can_decide_a_pending_request(any_store: Store) -> None:
    request = await ask(ApprovalGate(any_store, ApprovalPolicy(), clock=Clock()))
    restarted = ApprovalGate(any_store, ApprovalPolicy(), clock=Clock())
    assert [r.id for r in await restarted.list(state=ApprovalState.PENDING)] == [request.id]
    approved = await restarted.decide(request.id, approve=True, actor="alice")
    assert approved.state is ApprovalState.APPROVED
