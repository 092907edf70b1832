"""Who may approve, and N distinct approvers: the policy and votes through the gate.

Covers: ``ApprovalPolicy.person``/``allows``/``votes_needed`` (API identities keep the old rule,
chat identities need a listed identity, person or Slack user group, Telegram's anonymous admin
and service ids never); a two-approver drain (one vote leaves it pending at 1/2, the same person
again from another channel is refused, a second person's vote approves it with both named); one
reject ends it; the run's requester cannot approve; ``on_change`` hears every change and its
failures are swallowed; 100 concurrent votes and decisions from distinct approvers across
channels take exactly one decision. Real Redis (``store``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from aiops import errors
from aiops.actions.catalog import Risk
from aiops.approvals.gate import ApprovalGate
from aiops.approvals.model import ApprovalRequest, ApprovalState, Outcome
from aiops.approvals.policy import ApprovalPolicy
from aiops.metrics import Metrics
from aiops.store import Store

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
ANONYMOUS_ADMIN, SERVICE = "telegram:1087968824", "telegram:777000"

PEOPLE = {
    "alice": frozenset({"alice", "slack:T1/U1", "telegram:42"}),
    "bob": frozenset({"slack:T1/U2", "telegram:43"}),
    "carol": frozenset({"carol-token"}),
}
POLICY = ApprovalPolicy(
    approvers={
        Risk.HIGH: frozenset({"alice", "bob", "carol-token", "slack-group:S9", ANONYMOUS_ADMIN, "ops-bot"}),
        Risk.MEDIUM: frozenset(),
    },
    people=PEOPLE,
    votes={Risk.HIGH: 1, Risk.MEDIUM: 1},
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def ask(
    gate: ApprovalGate, *, action: str = "drain", requested_by: str | None = None
) -> ApprovalRequest:
    return await gate.request(
        run_id="run-1",
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


def test_a_person_is_any_of_their_identities() -> None:
    assert POLICY.person("slack:T1/U1") == POLICY.person("telegram:42") == POLICY.person("alice") == "alice"
    assert POLICY.person("telegram:43") == "bob"
    assert POLICY.person("slack:T1/U7") == "slack:T1/U7"  # unmapped: the identity itself
    assert POLICY.identities("telegram:43") == {"bob", "slack:T1/U2", "telegram:43"}


def test_api_identities_keep_the_allow_list_rule() -> None:
    assert POLICY.allows(Risk.MEDIUM, "anyone")  # empty list: any authenticated API identity
    assert not POLICY.allows(Risk.MEDIUM, "")
    assert POLICY.allows(Risk.HIGH, "alice") and POLICY.allows(Risk.HIGH, "ops-bot")
    assert not POLICY.allows(Risk.HIGH, "intern")


def test_chat_identities_need_a_listed_identity_person_or_group() -> None:
    assert not POLICY.allows(Risk.MEDIUM, "slack:T1/U1"), "an empty list lets nobody decide from chat"
    assert POLICY.allows(Risk.HIGH, "slack:T1/U1")  # alice is listed by name
    assert POLICY.allows(Risk.HIGH, "telegram:43")  # bob is listed as a person
    assert not POLICY.allows(Risk.HIGH, "slack:T1/U7")
    assert POLICY.allows(Risk.HIGH, "slack:T1/U7", groups=("S1", "S9"))  # in the listed user group
    assert not POLICY.allows(Risk.HIGH, "slack:T1/U7", groups=("S1",))
    assert not POLICY.allows(Risk.HIGH, "telegram:9")


def test_telegram_anonymous_admin_and_service_ids_never_approve() -> None:
    assert not POLICY.allows(Risk.HIGH, ANONYMOUS_ADMIN), "listed, and still refused"
    assert not POLICY.allows(Risk.MEDIUM, SERVICE)
    assert not POLICY.allows(Risk.HIGH, SERVICE, groups=("S9",))


def test_votes_needed_per_action_over_risk() -> None:
    assert ApprovalPolicy().votes_needed(Risk.HIGH, "drain") == 2  # the default
    assert ApprovalPolicy().votes_needed(Risk.HIGH, "rollback") == 1
    policy = ApprovalPolicy(votes={Risk.HIGH: 3}, votes_by_action={"drain": 2, "cordon": 1})
    assert policy.votes_needed(Risk.HIGH, "rollback") == 3
    assert policy.votes_needed(Risk.HIGH, "drain") == 2
    assert policy.votes_needed(Risk.HIGH, "cordon") == 1
    assert policy.votes_needed(Risk.MEDIUM, "delete_pod") == 1


async def test_a_two_approver_drain(store: Store) -> None:
    changes: list[ApprovalRequest] = []

    async def on_change(request: ApprovalRequest) -> None:
        changes.append(request)

    metrics = Metrics()
    gate = ApprovalGate(store, POLICY, metrics=metrics, clock=Clock(), on_change=on_change)
    request = await ask(gate)
    assert (request.votes_needed, request.votes) == (2, [])

    first = await gate.decide(request.id, approve=True, actor="alice", reason="node is gone")
    assert first.state is ApprovalState.PENDING and first.votes == ["alice"] and first.decided_by is None
    stored = await gate.get(request.id)
    assert stored is not None and (stored.state, stored.votes) == (ApprovalState.PENDING, ["alice"])
    assert [c.votes for c in changes] == [["alice"]]
    assert (
        metrics.registry.get_sample_value("aiops_approval_decision_seconds_count", {"decision": "approved"})
        is None
    )

    for same_person in ("slack:T1/U1", "telegram:42", "alice"):  # one person, every channel
        with pytest.raises(errors.AlreadyVoted) as again:
            await gate.decide(request.id, approve=True, actor=same_person)
        assert (again.value.person, again.value.votes, again.value.votes_needed) == ("alice", ["alice"], 2)

    decided = await gate.decide(request.id, approve=True, actor="telegram:43")
    assert decided.state is ApprovalState.APPROVED
    assert decided.decided_by == "bob" and decided.votes == ["alice", "bob"]
    assert decided.reason == "approved by alice, bob"
    assert await gate.get(request.id) == decided
    assert await gate.pending_count() == 0
    assert [c.state for c in changes] == [ApprovalState.PENDING, ApprovalState.APPROVED]
    sample = {"decision": "approved"}
    assert metrics.registry.get_sample_value("aiops_approval_decision_seconds_count", sample) == 1

    with pytest.raises(errors.AlreadyDecided) as late:
        await gate.decide(request.id, approve=True, actor="carol-token")
    assert late.value.decided_by == "bob"


async def test_one_reject_ends_it(store: Store) -> None:
    gate = ApprovalGate(store, POLICY, clock=Clock())
    request = await ask(gate)
    await gate.decide(request.id, approve=True, actor="slack:T1/U1")
    rejected = await gate.decide(request.id, approve=False, actor="slack:T1/U2", reason="wrong node")
    assert (rejected.state, rejected.decided_by, rejected.reason) == (
        ApprovalState.REJECTED,
        "bob",
        "wrong node",
    )
    assert rejected.votes == ["alice"]
    with pytest.raises(errors.AlreadyDecided):
        await gate.decide(request.id, approve=True, actor="carol-token")


async def test_the_requester_cannot_approve(store: Store) -> None:
    gate = ApprovalGate(store, POLICY, clock=Clock())
    request = await ask(gate, action="rollback", requested_by="slack:T1/U1")  # alice triggered it
    assert request.requested_by == "slack:T1/U1" and request.votes_needed == 1
    for alice in ("alice", "telegram:42", "slack:T1/U1"):
        with pytest.raises(errors.NotAllowed, match="triggered"):
            await gate.decide(request.id, approve=True, actor=alice)
    stored = await gate.get(request.id)
    assert stored is not None and stored.state is ApprovalState.PENDING and stored.votes == []
    approved = await gate.decide(request.id, approve=True, actor="telegram:43")
    assert approved.decided_by == "bob"


async def test_the_requester_may_reject_their_own_run(store: Store) -> None:
    gate = ApprovalGate(store, POLICY, clock=Clock())
    request = await ask(gate, requested_by="alice")
    rejected = await gate.decide(request.id, approve=False, actor="telegram:42")
    assert (rejected.state, rejected.decided_by) == (ApprovalState.REJECTED, "alice")


async def test_telegram_anonymous_admin_is_refused_by_the_gate(store: Store) -> None:
    gate = ApprovalGate(store, POLICY, clock=Clock())
    request = await ask(gate)
    for nobody in (ANONYMOUS_ADMIN, SERVICE):
        with pytest.raises(errors.NotAllowed):
            await gate.decide(request.id, approve=True, actor=nobody)
        with pytest.raises(errors.NotAllowed):
            await gate.decide(request.id, approve=False, actor=nobody)
    assert (await gate.get(request.id)).votes == []  # type: ignore[union-attr]


async def test_a_failing_on_change_is_logged_not_raised(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: ApprovalRequest) -> None:
        raise RuntimeError("chat is down")

    clock = Clock()
    gate = ApprovalGate(store, POLICY, clock=clock, on_change=broken)
    request = await ask(gate)
    assert (await gate.decide(request.id, approve=True, actor="alice")).votes == ["alice"]
    assert (await gate.decide(request.id, approve=True, actor="bob")).state is ApprovalState.APPROVED
    assert "telling of its change failed" in caplog.text


async def test_on_change_hears_expiry_and_close(store: Store) -> None:
    heard: list[tuple[ApprovalState, bool]] = []

    async def on_change(request: ApprovalRequest) -> None:
        heard.append((request.state, request.closed is not None))

    clock = Clock()
    gate = ApprovalGate(store, POLICY, clock=clock, on_change=on_change)
    request = await ask(gate)
    clock.now += timedelta(seconds=901)
    assert [r.id for r in await gate.expire_due()] == [request.id]
    await gate.close(request.id, Outcome.NOT_RUN, "expired")
    assert heard == [(ApprovalState.EXPIRED, False), (ApprovalState.EXPIRED, True)]


async def test_100_concurrent_votes_across_channels_take_one_decision(store: Store) -> None:
    people = {f"p{i}": frozenset({f"slack:T1/U{i}", f"telegram:{1000 + i}", f"api-{i}"}) for i in range(100)}
    policy = ApprovalPolicy(approvers={Risk.HIGH: frozenset(people)}, people=people)
    gate = ApprovalGate(store, policy, clock=Clock())
    request = await ask(gate)
    actors = [sorted(people[f"p{i}"])[i % 3] for i in range(100)]  # a third per channel
    outcomes = await asyncio.gather(
        *(gate.decide(request.id, approve=True, actor=actor) for actor in actors), return_exceptions=True
    )
    decided = [o for o in outcomes if isinstance(o, ApprovalRequest) and o.state is ApprovalState.APPROVED]
    counted = [o for o in outcomes if isinstance(o, ApprovalRequest) and o.state is ApprovalState.PENDING]
    late = [o for o in outcomes if isinstance(o, errors.AlreadyDecided)]
    assert (len(decided), len(counted), len(late)) == (1, 1, 98), outcomes
    stored = await gate.get(request.id)
    assert stored is not None and stored == decided[0]
    assert stored.votes == [counted[0].votes[0], stored.decided_by]


async def test_100_concurrent_approvals_and_rejections_take_one_decision(store: Store) -> None:
    people = {f"p{i}": frozenset({f"slack:T1/U{i}", f"telegram:{1000 + i}"}) for i in range(100)}
    policy = ApprovalPolicy(approvers={Risk.HIGH: frozenset(people)}, people=people)
    gate = ApprovalGate(store, policy, clock=Clock())
    request = await ask(gate)
    outcomes = await asyncio.gather(
        *(
            gate.decide(
                request.id, approve=i % 4 != 0, actor=f"slack:T1/U{i}" if i % 2 else f"telegram:{1000 + i}"
            )
            for i in range(100)
        ),
        return_exceptions=True,
    )
    unexpected = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, errors.AlreadyDecided)
    ]
    assert unexpected == []
    decisions = [
        o for o in outcomes if isinstance(o, ApprovalRequest) and o.state is not ApprovalState.PENDING
    ]
    assert len(decisions) == 1
    stored = await gate.get(request.id)
    assert (
        stored is not None
        and stored.state is decisions[0].state
        and stored.decided_by == decisions[0].decided_by
    )
