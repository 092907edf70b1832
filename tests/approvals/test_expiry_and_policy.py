"""Requests expire when nobody decides in time, and only allowed people may decide.

Covers: expiry at exactly expires_at (TTL per risk, from an injected clock); deciding after
expiry is refused with ApprovalExpired and records the expiry; expire_due moves only overdue
requests and counts them; the approver allow-list per risk (empty = anyone authenticated) is
checked before any claim; unknown ids; listings. Runs on the real Redis and in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiops import errors
from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.approvals.policy import ApprovalPolicy
from aiops.metrics import Metrics
from aiops.store import Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def ask(gate: ApprovalGate, *, run_id: str = "run-1", risk: Risk = Risk.MEDIUM) -> ApprovalRequest:
    return await gate.request(
        run_id=run_id,
        incident_id="inc-1",
        playbook_id="pb",
        step_index=0,
        step_name="step",
        action="delete_pod" if risk is Risk.MEDIUM else "drain",
        risk=risk,
        target=None,
        params={},
    )


POLICY = ApprovalPolicy(
    ttl_seconds={Risk.MEDIUM: 600, Risk.HIGH: 120},
    approvers={Risk.HIGH: frozenset({"sre-lead"}), Risk.MEDIUM: frozenset()},
    votes_by_action={},  # one approver decides (votes: tests/approvals/test_votes.py)
)


async def test_deciding_at_the_deadline_is_refused_and_expires_the_request(any_store: Store) -> None:
    clock, metrics = Clock(), Metrics()
    gate = ApprovalGate(any_store, POLICY, metrics=metrics, clock=clock)
    request = await ask(gate, risk=Risk.HIGH)
    assert request.expires_at == T0 + timedelta(seconds=120)
    clock.advance(120)
    with pytest.raises(errors.ApprovalExpired):
        await gate.decide(request.id, approve=True, actor="sre-lead")
    stored = await gate.get(request.id)
    assert stored is not None
    assert stored.state is ApprovalState.EXPIRED
    assert stored.decided_by is None and stored.decided_at == clock.now
    with pytest.raises(errors.ApprovalExpired):  # and stays refused
        await gate.decide(request.id, approve=False, actor="sre-lead")
    assert metrics.registry.get_sample_value("aiops_approvals_expired_total") == 1
    assert await gate.pending_count() == 0


async def test_expire_due_moves_only_overdue_requests(any_store: Store) -> None:
    clock, metrics = Clock(), Metrics()
    gate = ApprovalGate(any_store, POLICY, metrics=metrics, clock=clock)
    high = await ask(gate, run_id="r-high", risk=Risk.HIGH)  # expires after 120 s
    medium = await ask(gate, run_id="r-medium", risk=Risk.MEDIUM)  # after 600 s
    clock.advance(119)
    assert await gate.expire_due() == []
    clock.advance(1)
    expired = await gate.expire_due()
    assert [r.id for r in expired] == [high.id]
    assert expired[0].state is ApprovalState.EXPIRED
    assert await gate.expire_due() == []  # once
    assert [r.id for r in await gate.list(state=ApprovalState.PENDING)] == [medium.id]
    approved = await gate.decide(medium.id, approve=True, actor="anyone")
    assert approved.state is ApprovalState.APPROVED
    sample = metrics.registry.get_sample_value
    assert sample("aiops_approvals_expired_total") == 1
    assert sample("aiops_approvals_pending") == 0


async def test_only_listed_approvers_may_decide_a_risk(any_store: Store) -> None:
    gate = ApprovalGate(any_store, POLICY, clock=Clock())
    high = await ask(gate, run_id="r-high", risk=Risk.HIGH)
    with pytest.raises(errors.NotAllowed):
        await gate.decide(high.id, approve=True, actor="intern")
    stored = await gate.get(high.id)
    assert stored is not None and stored.state is ApprovalState.PENDING  # nothing claimed
    assert (await gate.decide(high.id, approve=True, actor="sre-lead")).decided_by == "sre-lead"

    medium = await ask(gate, run_id="r-medium")  # empty set: any authenticated identity
    with pytest.raises(errors.NotAllowed):
        await gate.decide(medium.id, approve=True, actor="")
    assert (await gate.decide(medium.id, approve=True, actor="intern")).state is ApprovalState.APPROVED


async def test_not_allowed_is_checked_before_already_decided(any_store: Store) -> None:
    gate = ApprovalGate(any_store, POLICY, clock=Clock())
    high = await ask(gate, risk=Risk.HIGH)
    await gate.decide(high.id, approve=False, actor="sre-lead")
    with pytest.raises(errors.NotAllowed):
        await gate.decide(high.id, approve=True, actor="intern")


async def test_unknown_request(any_store: Store) -> None:
    gate = ApprovalGate(any_store, POLICY, clock=Clock())
    assert await gate.get("nope") is None
    with pytest.raises(errors.ApprovalNotFound):
        await gate.decide("nope", approve=True, actor="alice")
    with pytest.raises(errors.ApprovalNotFound):
        await gate.decide("x:decision", approve=True, actor="alice")


async def test_listing_orders(any_store: Store) -> None:
    clock = Clock()
    gate = ApprovalGate(any_store, POLICY, clock=clock)
    ids = []
    for i in range(3):
        ids.append((await ask(gate, run_id=f"run-{i}")).id)
        clock.advance(1)
    await gate.decide(ids[1], approve=True, actor="alice")
    assert [r.id for r in await gate.list(state=ApprovalState.PENDING)] == [ids[0], ids[2]]  # oldest first
    assert [r.id for r in await gate.list()] == ids[::-1]  # newest first
    assert [r.id for r in await gate.list(limit=1)] == [ids[2]]
    assert [r.id for r in await gate.list(state=ApprovalState.APPROVED)] == [ids[1]]


async def test_decided_requests_are_kept_for_the_retention(any_store: Store) -> None:
    import asyncio

    gate = ApprovalGate(any_store, ApprovalPolicy(retention_seconds=1), clock=Clock())
    request = await ask(gate)
    await asyncio.sleep(1.1)
    assert await gate.get(request.id) is not None  # pending requests never expire by TTL
    await gate.decide(request.id, approve=True, actor="alice")
    await asyncio.sleep(1.2)
    assert await gate.get(request.id) is None
    assert await gate.list() == []
