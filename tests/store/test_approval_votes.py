"""Votes on an approval request: each voter once, the N-th vote takes the one decision.

Covers ``store.approvals.vote`` (one Lua script on the ``{approvals}`` family): counted votes in
order, a repeated voter, the deciding vote leaving the pending indexes and starting retention of
the request, its step key and its votes; a standing decision answers every later vote; the
``seen`` check; many concurrent voters → exactly one deciding vote; ``fetch`` returns the votes.
Runs on a single Redis, in memory and on a Redis Cluster (``any_store``).
"""

from __future__ import annotations

import asyncio

from aiops.store import Store
from aiops.store.approvals import VoteResult

DECISION = '{"state": "approved"}'


async def _open(store: Store, request_id: str = "apr-1") -> None:
    await store.approvals.create("run-1", 0, new_id=request_id, request_json="{}", created=1.0, expires=2.0)


async def _vote(
    store: Store, voter: str, *, needed: int = 2, seen: int | None = None, request_id: str = "apr-1"
) -> VoteResult:
    return await store.approvals.vote(
        request_id,
        voter,
        needed=needed,
        decision_json_if_won=DECISION,
        run_id="run-1",
        step_index=0,
        retention_seconds=60,
        seen=seen,
    )


async def test_votes_count_once_each_and_the_needed_one_decides(any_store: Store) -> None:
    await _open(any_store)
    assert await any_store.approvals.pending_count() == 1

    first = await _vote(any_store, "alice")
    assert (first.status, first.decision, first.votes) == ("counted", None, ["alice"])
    again = await _vote(any_store, "alice")
    assert (again.status, again.votes) == ("again", ["alice"])
    stored = await any_store.approvals.fetch("apr-1")
    assert stored is not None and stored.votes == ["alice"] and stored.decision is None
    assert await any_store.approvals.pending_count() == 1

    second = await _vote(any_store, "bob")
    assert (second.status, second.decision, second.votes) == ("decided-now", DECISION, ["alice", "bob"])
    assert await any_store.approvals.pending_count() == 0
    assert await any_store.approvals.due(10.0) == []
    stored = await any_store.approvals.fetch("apr-1")
    assert stored is not None and stored.decision == DECISION and stored.votes == ["alice", "bob"]

    late = await _vote(any_store, "carol")
    assert (late.status, late.decision, late.votes) == ("decided", DECISION, ["alice", "bob"])
    won, standing = await any_store.approvals.decide(
        "apr-1", '{"state": "rejected"}', run_id="run-1", step_index=0, retention_seconds=60
    )
    assert (won, standing) == (False, DECISION)


async def test_retention_covers_the_votes(any_store: Store) -> None:
    await _open(any_store)
    await _vote(any_store, "alice")
    await _vote(any_store, "bob")
    client = any_store._r
    for key in ("request:apr-1", "votes:apr-1", "step:run-1:0"):
        ttl = await client.ttl(any_store._tagged("approvals", *key.split(":")))
        assert 0 < ttl <= 60, (key, ttl)


async def test_a_decision_leaves_the_votes_with_the_request(any_store: Store) -> None:
    await _open(any_store)
    await _vote(any_store, "alice", needed=3)
    won, _ = await any_store.approvals.decide(
        "apr-1", '{"state": "rejected"}', run_id="run-1", step_index=0, retention_seconds=60
    )
    assert won
    assert 0 < await any_store._r.ttl(any_store._tagged("approvals", "votes", "apr-1")) <= 60
    late = await _vote(any_store, "bob", needed=3)
    assert (late.status, late.decision, late.votes) == ("decided", '{"state": "rejected"}', ["alice"])


async def test_unknown_request_and_stale_count(any_store: Store) -> None:
    assert (await _vote(any_store, "alice", request_id="nope")).status == "unknown"
    assert await any_store.approvals.fetch("nope") is None
    await _open(any_store)
    await _vote(any_store, "alice")
    stale = await _vote(any_store, "bob", seen=0)  # built its decision before alice's vote
    assert (stale.status, stale.votes) == ("stale", ["alice"])
    assert (await any_store.approvals.fetch("apr-1")).votes == ["alice"]  # type: ignore[union-attr]
    counted = await _vote(any_store, "carol", needed=3, seen=0)  # not deciding: no check
    assert counted.status == "counted"
    assert (await _vote(any_store, "bob", needed=3, seen=2)).status == "decided-now"


async def test_concurrent_voters_take_exactly_one_decision(any_store: Store) -> None:
    await _open(any_store)
    results = await asyncio.gather(*(_vote(any_store, f"p{i}", needed=3) for i in range(50)))
    statuses = [r.status for r in results]
    assert statuses.count("decided-now") == 1
    assert statuses.count("counted") == 2
    assert statuses.count("decided") == 47
    stored = await any_store.approvals.fetch("apr-1")
    assert stored is not None and len(stored.votes) == 3 and len(set(stored.votes)) == 3
