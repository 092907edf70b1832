"""The click handler: who may click, one vote per person, one decision, every refusal audited.

Covers :class:`aiops.chat.decide.Decider` on the real Redis store with the real gate and audit
log: retried deliveries dropped (per channel), chats not configured refused (a channel missing
from the map allows none), unknown requests, non-approvers and Telegram's anonymous admin
refused; the optional access review; a two-approver drain clicked from Slack and Telegram (vote
1/2, the same person again refused, the second person decides, a later click told who and when);
the requester refused; an expired request answered late; the executor path; every refusal, vote
and decision in the audit log; ``aiops_chat_decision_seconds``; StoreUnavailable propagates.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from aiops import errors
from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest, ApprovalState
from aiops.approvals.policy import ApprovalPolicy
from aiops.audit import AuditLog
from aiops.chat.clicks import ChatIdentity, Click, ClickOutcome
from aiops.chat.decide import Decider
from aiops.metrics import Metrics
from aiops.store import Store

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
SLACK_CHANNEL, TELEGRAM_GROUP = "C0123", "-100777"
ALLOWED = {"slack": frozenset({SLACK_CHANNEL}), "telegram": frozenset({TELEGRAM_GROUP})}
POLICY = ApprovalPolicy(
    approvers={
        Risk.HIGH: frozenset({"alice", "bob", "telegram:1087968824"}),
        Risk.MEDIUM: frozenset({"alice"}),
    },
    people={
        "alice": frozenset({"slack:T1/U1", "telegram:42"}),
        "bob": frozenset({"slack:T1/U2", "telegram:43"}),
    },
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def slack(user: str, *, chat: str = SLACK_CHANNEL, groups: tuple[str, ...] = ()) -> ChatIdentity:
    return ChatIdentity(channel="slack", user_id=user, team_id="T1", chat_id=chat, groups=groups)


def telegram(user: int, *, chat: str = TELEGRAM_GROUP) -> ChatIdentity:
    return ChatIdentity(channel="telegram", user_id=str(user), chat_id=chat)


def click(who: ChatIdentity, request_id: str, *, approve: bool = True, delivery: str | None = None) -> Click:
    return Click(identity=who, request_id=request_id, approve=approve, delivery_id=delivery)


class Rig:
    def __init__(self, store: Store, *, access: object | None = None) -> None:
        self.clock = Clock()
        self.metrics = Metrics()
        self.gate = ApprovalGate(store, POLICY, clock=self.clock)
        self.audit = AuditLog(store)
        self.decider = Decider(
            self.gate,
            self.audit,
            store,
            allowed_chats=ALLOWED,
            access=access,  # type: ignore[arg-type]
            metrics=self.metrics,
            clock=lambda: self.clock().timestamp(),
        )

    async def ask(self, *, action: str = "drain", requested_by: str | None = None) -> ApprovalRequest:
        return await self.gate.request(
            run_id=f"run-{action}",
            incident_id="inc-1",
            playbook_id="node_not_ready_remediation",
            step_index=1,
            step_name="drain the node",
            action=action,
            risk=Risk.HIGH,
            target=None,
            params={},
            requested_by=requested_by,
        )

    def decided(self, channel: str) -> float:
        """How many chat decisions ``aiops_chat_decision_seconds`` observed for ``channel``."""
        value = self.metrics.registry.get_sample_value(
            "aiops_chat_decision_seconds_count", {"channel": channel}
        )
        return value or 0.0


async def test_a_two_approver_drain_from_slack_and_telegram(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask()
    async with asyncio.timeout(10):
        voted = await rig.decider.handle(click(slack("U1"), request.id, delivery="d1"))
        assert (voted.outcome, voted.text) == (ClickOutcome.VOTED, "vote 1/2 recorded")
        assert voted.request is not None and voted.request.votes == ["alice"]

        again = await rig.decider.handle(click(telegram(42), request.id, delivery="d2"))  # alice again
        assert (again.outcome, again.text) == (ClickOutcome.REFUSED, "your vote already counts (votes 1/2)")

        decided = await rig.decider.handle(click(telegram(43), request.id, delivery="d3"))
        assert (decided.outcome, decided.text) == (ClickOutcome.DECIDED, "approved")
        assert decided.request is not None and decided.request.decided_by == "bob"

        late = await rig.decider.handle(click(slack("U2"), request.id, approve=False, delivery="d4"))
        assert (late.outcome, late.text) == (
            ClickOutcome.LATE,
            "already approved by bob at 2026-12-03 15:00:00Z",
        )

        entries = await rig.audit.list()
    assert [(e.action, e.actor, e.ok) for e in reversed(entries)] == [
        ("approval.vote", "alice", True),
        ("approval.refused", "alice", False),
        ("approval.decided", "bob", True),
    ]
    refused = entries[1]
    assert refused.params["identity"] == "telegram:42" and refused.params["channel"] == "telegram"
    assert refused.params["chat"] == TELEGRAM_GROUP and refused.request_id == request.id
    assert refused.summary == "your vote already counts (votes 1/2)" and refused.incident_id == "inc-1"
    assert rig.decided("telegram") == 1 and rig.decided("slack") == 0  # only the deciding click


async def test_a_retried_delivery_is_handled_once_per_channel(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask(action="rollback")  # one approver
    first = await rig.decider.handle(click(slack("U1"), request.id, delivery="trigger-1"))
    assert first.outcome is ClickOutcome.DECIDED
    retried = await rig.decider.handle(click(slack("U1"), request.id, delivery="trigger-1"))
    assert (retried.outcome, retried.request) == (ClickOutcome.DUPLICATE, None)
    other_channel = await rig.decider.handle(click(telegram(43), request.id, delivery="trigger-1"))
    assert other_channel.outcome is ClickOutcome.LATE, "the same id from another service is another delivery"
    assert [e.action for e in await rig.audit.list()] == ["approval.decided"]


async def test_chats_not_configured_are_refused_and_audited(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask()
    elsewhere = await rig.decider.handle(click(slack("U1", chat="C0999"), request.id))
    assert (elsewhere.outcome, elsewhere.text) == (ClickOutcome.REFUSED, "this chat may not decide")
    unknown_channel = ChatIdentity(channel="matrix", user_id="u1", chat_id=SLACK_CHANNEL)
    assert (await rig.decider.handle(click(unknown_channel, request.id))).outcome is ClickOutcome.REFUSED
    no_chat = ChatIdentity(channel="telegram", user_id="42")
    assert (await rig.decider.handle(click(no_chat, request.id))).outcome is ClickOutcome.REFUSED
    entries = await rig.audit.list()
    assert [e.action for e in entries] == ["approval.refused"] * 3
    assert entries[-1].params["chat"] == "C0999" and entries[-1].params["identity"] == "slack:T1/U1"
    stored = await rig.gate.get(request.id)
    assert stored is not None and stored.votes == [] and stored.state is ApprovalState.PENDING


async def test_unknown_requests_non_approvers_and_anonymous_admins_are_refused(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask()
    unknown = await rig.decider.handle(click(slack("U1"), "0" * 32))
    assert (unknown.outcome, unknown.request) == (ClickOutcome.REFUSED, None)
    stranger = await rig.decider.handle(click(slack("U9"), request.id))
    assert (stranger.outcome, stranger.text) == (
        ClickOutcome.REFUSED,
        "you are not an approver for high-risk steps",
    )
    anonymous = await rig.decider.handle(click(telegram(1087968824), request.id))  # listed, still refused
    assert anonymous.outcome is ClickOutcome.REFUSED and "anonymous" in anonymous.text
    service = await rig.decider.handle(click(telegram(777000), request.id, approve=False))
    assert service.outcome is ClickOutcome.REFUSED
    entries = await rig.audit.list()
    assert [e.action for e in entries] == ["approval.refused"] * 4
    assert [e.params["identity"] for e in reversed(entries)] == [
        "slack:T1/U1",
        "slack:T1/U9",
        "telegram:1087968824",
        "telegram:777000",
    ]
    assert (await rig.gate.get(request.id)).state is ApprovalState.PENDING  # type: ignore[union-attr]


async def test_the_requester_is_refused(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask(action="rollback", requested_by="alice")
    own = await rig.decider.handle(click(telegram(42), request.id))
    assert (own.outcome, own.text) == (ClickOutcome.REFUSED, "you triggered this run and may not approve it")
    (entry,) = await rig.audit.list()
    assert (entry.action, entry.actor, entry.summary) == ("approval.refused", "alice", own.text)
    assert (await rig.decider.handle(click(slack("U2"), request.id))).outcome is ClickOutcome.DECIDED


async def test_an_expired_request_is_late(store: Store) -> None:
    rig = Rig(store)
    request = await rig.ask()
    rig.clock.now += timedelta(seconds=900)
    late = await rig.decider.handle(click(slack("U1"), request.id))
    assert (late.outcome, late.text) == (ClickOutcome.LATE, "already expired at 2026-12-03 15:15:00Z")
    assert late.request is not None and late.request.state is ApprovalState.EXPIRED
    again = await rig.decider.handle(click(slack("U2"), request.id))
    assert (again.outcome, again.text) == (ClickOutcome.LATE, late.text)


class Access:
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.asked: list[tuple[str, str]] = []

    async def allows(self, person: str, request: ApprovalRequest) -> tuple[bool, str]:
        self.asked.append((person, request.id))
        return self.allowed, "RBAC: bob may not create pods/eviction in shop"


async def test_the_access_review_must_allow_an_approval(store: Store) -> None:
    access = Access(allowed=False)
    rig = Rig(store, access=access)
    request = await rig.ask()
    refused = await rig.decider.handle(click(slack("U2"), request.id))
    assert (refused.outcome, refused.text) == (
        ClickOutcome.REFUSED,
        "RBAC: bob may not create pods/eviction in shop",
    )
    assert access.asked == [("bob", request.id)]
    assert (await rig.audit.list())[0].summary == refused.text
    access.allowed = True
    assert (await rig.decider.handle(click(slack("U2"), request.id))).outcome is ClickOutcome.VOTED


async def test_100_concurrent_clicks_across_channels_take_one_decision(store: Store) -> None:
    people = {f"p{i}": frozenset({f"slack:T1/U{i}", f"telegram:{1000 + i}"}) for i in range(100)}
    policy = ApprovalPolicy(approvers={Risk.HIGH: frozenset(people)}, people=people)
    rig = Rig(store)
    rig.gate = gate = ApprovalGate(store, policy, clock=rig.clock)
    decider = Decider(gate, rig.audit, store, allowed_chats=ALLOWED, metrics=rig.metrics)
    request = await rig.ask()
    who = [slack(f"U{i}") if i % 2 else telegram(1000 + i) for i in range(100)]
    async with asyncio.timeout(20):
        answers = await asyncio.gather(
            *(decider.handle(click(w, request.id, delivery=f"d{i}")) for i, w in enumerate(who))
        )
    outcomes = [a.outcome for a in answers]
    assert (outcomes.count(ClickOutcome.DECIDED), outcomes.count(ClickOutcome.VOTED)) == (1, 1)
    assert outcomes.count(ClickOutcome.LATE) == 98
    stored = await gate.get(request.id)
    assert stored is not None and stored.state is ApprovalState.APPROVED and len(stored.votes) == 2
    actions = [e.action for e in await rig.audit.list()]
    assert sorted(actions) == ["approval.decided", "approval.vote"]


async def test_store_unavailable_propagates_and_the_delivery_is_not_remembered(store: Store) -> None:
    rig = Rig(store)
    dead = Store.connect("redis://127.0.0.1:1/0", timeout_seconds=1)
    try:
        decider = Decider(rig.gate, rig.audit, dead, allowed_chats=ALLOWED)
        with pytest.raises(errors.StoreUnavailable):
            await decider.handle(click(slack("U1"), "0" * 32, delivery="d1"))
    finally:
        await dead.close()
    # Redis down under the gate: the delivery is forgotten, so its retry is handled.
    broken = Store.connect("redis://127.0.0.1:1/0", timeout_seconds=1)
    try:
        gate = ApprovalGate(broken, POLICY, clock=rig.clock)
        decider = Decider(gate, rig.audit, store, allowed_chats=ALLOWED)
        with pytest.raises(errors.StoreUnavailable):
            await decider.handle(click(slack("U1"), "0" * 32, delivery="d2"))
    finally:
        await broken.close()
    assert await store.claim_owner("click:slack:d2") is None
    assert (
        await rig.decider.handle(click(slack("U1"), "0" * 32, delivery="d2"))
    ).outcome is ClickOutcome.REFUSED
