"""The store's generic primitives behave the same on Redis and in memory, and fail loudly.

Covers: a dead Redis surfaces as StoreUnavailable (never a raw redis error) while ping() answers
False; claims are first-caller-wins (also under concurrency), expire with their TTL and can be
released; docs, sorted indexes, counters and rolling windows; a test's cleanup touches only its
own prefix; two in-memory stores share nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from aiops import errors
from aiops.store import Store
from aiops.store.sweep import delete_prefix

DEAD_URL = "redis://127.0.0.1:1/0"


async def test_dead_redis_raises_store_unavailable() -> None:
    dead = Store.connect(DEAD_URL, timeout_seconds=1)
    try:
        assert dead.describe() == "redis://127.0.0.1:1/0"
        assert await dead.ping() is False
        with pytest.raises(errors.StoreUnavailable):
            await dead.claim("x", "me")
        with pytest.raises(errors.StoreUnavailable):
            await dead.get_doc("run", "1")
        with pytest.raises(errors.StoreUnavailable):
            await dead.incidents.observe(
                "k", new_id="i", opening={}, update={}, member="m", severity="warning", score=0
            )
        with pytest.raises(errors.TemporaryError):  # StoreUnavailable is a TemporaryError: retry later
            await dead.approvals.pending_count()
    finally:
        await dead.close()


async def test_describe_and_ping(store: Store, memory_store: Store, redis_url: str) -> None:
    assert await store.ping() is True
    assert await memory_store.ping() is True
    assert memory_store.describe() == "in-memory"
    assert store.describe().startswith("redis://")
    assert "@" not in store.describe()  # never credentials


async def test_claim_is_first_caller_wins(any_store: Store) -> None:
    assert await any_store.claim("step:r1:0", "replica-a") is True
    assert await any_store.claim("step:r1:0", "replica-b") is False
    assert await any_store.claim_owner("step:r1:0") == "replica-a"
    await any_store.release("step:r1:0")
    assert await any_store.claim_owner("step:r1:0") is None
    assert await any_store.claim("step:r1:0", "replica-b") is True


async def test_concurrent_claims_have_one_winner(any_store: Store) -> None:
    results = await asyncio.gather(*(any_store.claim("once", f"owner-{i}") for i in range(30)))
    assert results.count(True) == 1
    assert await any_store.claim_owner("once") == f"owner-{results.index(True)}"


async def test_claim_ttl_lets_a_later_caller_in(any_store: Store) -> None:
    assert await any_store.claim("cooldown", "a", ttl_seconds=1) is True
    assert await any_store.claim("cooldown", "b", ttl_seconds=1) is False
    await asyncio.sleep(1.2)
    assert await any_store.claim("cooldown", "b", ttl_seconds=1) is True


async def test_docs_and_indexes(any_store: Store) -> None:
    assert await any_store.get_doc("run", "r1") is None
    await any_store.put_doc("run", "r1", '{"a": 1}')
    await any_store.put_doc("run", "r1", '{"a": 2}')
    assert await any_store.get_doc("run", "r1") == '{"a": 2}'
    with pytest.raises(ValueError):
        await any_store.put_doc("run:x", "r1", "{}")

    for member, score in [("c", 3.0), ("a", 1.0), ("b", 2.0)]:
        await any_store.index_add("runs", member, score)
    assert await any_store.index_members("runs") == ["a", "b", "c"]
    assert await any_store.index_members("runs", min_score=2) == ["b", "c"]
    assert await any_store.index_members("runs", max_score=2, limit=1) == ["a"]
    await any_store.index_remove("runs", "b")
    await any_store.index_remove("runs", "missing")
    assert await any_store.index_members("runs") == ["a", "c"]


async def test_doc_ttl(any_store: Store) -> None:
    await any_store.put_doc("tmp", "1", "{}", ttl_seconds=1)
    assert await any_store.get_doc("tmp", "1") == "{}"
    await asyncio.sleep(1.2)
    assert await any_store.get_doc("tmp", "1") is None


async def test_increment_keeps_the_first_ttl(any_store: Store) -> None:
    assert await any_store.increment("restarts") == 1
    assert await any_store.increment("restarts", 5) == 6
    assert await any_store.increment("hourly", ttl_seconds=1) == 1
    assert await any_store.increment("hourly", ttl_seconds=100) == 2  # does not extend the window
    await asyncio.sleep(1.2)
    assert await any_store.increment("hourly", ttl_seconds=1) == 1


async def test_rolling_window_counts_only_recent_entries(any_store: Store) -> None:
    for i, t in enumerate([100.0, 130.0, 160.0, 190.0]):
        await any_store.record_in_window("restarts:web", f"run-{i}", t, 60)
    # window (130, 190]: 160 and 190 remain; 100 and 130 fell out
    assert await any_store.count_in_window("restarts:web", 190.0, 60) == 2
    assert await any_store.count_in_window("restarts:web", 200.0, 60) == 2
    assert await any_store.count_in_window("restarts:web", 250.0, 60) == 0
    assert await any_store.count_in_window("other", 190.0, 60) == 0


async def test_window_budget_is_never_overspent_by_concurrent_callers(any_store: Store) -> None:
    taken = await asyncio.gather(
        *(any_store.record_in_window_if_below("budget", f"run-{i}", 1000.0, 3600, limit=3) for i in range(25))
    )
    assert taken.count(True) == 3
    assert await any_store.count_in_window("budget", 1000.0, 3600) == 3
    # an hour later the budget is available again
    assert await any_store.record_in_window_if_below("budget", "late", 4601.0, 3600, limit=3) is True


async def test_cleanup_touches_only_its_own_prefix(redis_url: str) -> None:
    mine = Store.connect(redis_url, prefix="aiops-test:cleanup-mine:")
    theirs = Store.connect(redis_url, prefix="aiops-test:cleanup-theirs:")
    try:
        await mine.claim("a", "x")
        await mine.put_doc("d", "1", "{}")
        await theirs.claim("a", "y")
        assert await delete_prefix(mine) == 2
        assert await mine.claim_owner("a") is None
        assert await theirs.claim_owner("a") == "y"
    finally:
        await delete_prefix(mine)
        await delete_prefix(theirs)
        await mine.close()
        await theirs.close()


async def test_in_memory_stores_are_independent() -> None:
    one, two = Store.in_memory(), Store.in_memory()
    try:
        assert await one.claim("x", "one") is True
        assert await two.claim("x", "two") is True
    finally:
        await one.close()
        await two.close()
