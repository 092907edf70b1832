"""The ``{fence}`` key family on a real Redis, the in-memory store and a Redis Cluster.

Covers: every term begun gets a greater epoch (also when the Lease's own transitions restart,
as after the Lease was deleted); a step is claimed once, and only in the current term (a claim
in an earlier term writes nothing and says so); the claim names its owner and term; the write
check (``is_current``) follows the newest term; the hand-off queue gives runs back oldest first,
each once.
"""

from __future__ import annotations

from aiops.store import Store
from aiops.store.fences import Claim


async def test_each_term_is_newer_than_every_earlier_one(any_store: Store) -> None:
    fences = any_store.fences
    assert await fences.current("lease") is None
    first = await fences.begin_term("lease", holder="a", transitions=3, since=1.0)
    second = await fences.begin_term("lease", holder="b", transitions=4, since=2.0)
    assert first is not None and second is not None
    # A candidate that won the Lease before b did (fewer transitions) and was paused before it
    # recorded its term no longer holds the Lease: refused, nothing written.
    assert await fences.begin_term("lease", holder="a", transitions=3, since=2.5) is None
    assert await fences.current("lease") == second
    # The Lease was deleted and created again: its transitions start at 0, the epoch does not
    # (the leader forces its term after the refusals, as it keeps holding the Lease).
    third = await fences.begin_term("lease", holder="a", transitions=0, since=3.0, force=True)
    assert third is not None
    assert first.epoch < second.epoch < third.epoch
    assert await fences.current("lease") == third
    assert third.token == f"{third.epoch}/0/a"
    assert not await fences.is_current("lease", second.epoch)
    assert await fences.is_current("lease", third.epoch)
    # The holder of the current term took the Lease back (its loop stalled past the renew
    # deadline) with nobody beginning a term in between: its term, and its work, continue.
    assert await fences.begin_term("lease", holder="a", transitions=0, since=3.5) == third
    other = await fences.begin_term("other-lease", holder="c", transitions=0, since=4.0)
    assert other is not None and other.epoch == 1  # leases are apart
    assert await fences.is_current("lease", third.epoch)


async def test_a_step_is_claimed_once_and_only_in_the_current_term(any_store: Store) -> None:
    fences = any_store.fences
    old = await fences.begin_term("lease", holder="a", transitions=0, since=1.0)
    assert old is not None
    assert await fences.claim("lease", "step:run-1:2", owner="exec-a", epoch=old.epoch) is True
    assert await fences.claim("lease", "step:run-1:2", owner="exec-a", epoch=old.epoch) is False
    assert await fences.claim_of("step:run-1:2") == Claim(owner="exec-a", epoch=old.epoch)

    new = await fences.begin_term("lease", holder="b", transitions=1, since=2.0)
    assert new is not None
    # The deposed leader claims nothing more: the script refuses and writes nothing.
    assert await fences.claim("lease", "step:run-2:0", owner="exec-a", epoch=old.epoch) is None
    assert await fences.claim_of("step:run-2:0") is None
    # The new leader finds the old claim standing: a step runs at most once.
    assert await fences.claim("lease", "step:run-1:2", owner="exec-b", epoch=new.epoch) is False
    assert await fences.claim("lease", "step:run-2:0", owner="exec b with spaces", epoch=new.epoch) is True
    assert await fences.claim_of("step:run-2:0") == Claim(owner="exec b with spaces", epoch=new.epoch)
    assert await fences.claim_of("step:never") is None


async def test_the_hand_off_queue_gives_each_run_once_oldest_first(any_store: Store) -> None:
    fences = any_store.fences
    assert await fences.take_handoffs("lease") == []
    for run_id in ("run-1", "run-2", "run-3"):
        await fences.hand_off("lease", run_id)
    assert await fences.take_handoffs("lease", most=2) == ["run-1", "run-2"]
    await fences.hand_off("lease", "run-4")
    assert await fences.take_handoffs("lease") == ["run-3", "run-4"]
    assert await fences.take_handoffs("lease") == []
