"""Redis refusing writes is StoreUnavailable (a TemporaryError), never a raw Redis error.

Against private ``redis-server`` processes (tests/support/redis_process.py): at ``maxmemory`` with
``noeviction`` every write answers ``OOM``; a primary demoted by a failover answers ``READONLY``.
Both must reach callers as :class:`aiops.errors.StoreUnavailable` naming the cause and what to do,
whether the write is a plain command or a Lua script (single-key or over a family's keys), while reads keep
working; once Redis accepts writes again the same store goes on without a reconnect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from aiops import errors
from aiops.store import Store
from aiops.store.alerts import AlertStream
from tests.support.redis_process import RedisProcess


def _writes(store: Store) -> dict[str, Callable[[], Awaitable[object]]]:
    """One write of each kind the store sends: plain, Lua over a family's keys, single-key Lua. (A script
    whose first write is not refused may go on writing under OOM: Redis does not abort a script
    half-way, so the guards' reserve script is not in this list.)"""
    stream = AlertStream(store)
    return {
        "put_doc (SET)": lambda: store.put_doc("run", "r2", "{}"),
        "claim (SET NX)": lambda: store.claim("step:r2:0", "me"),
        "incidents.observe (Lua)": lambda: store.incidents.observe(
            "k", new_id="i2", opening={}, update={}, member="Pod/ns/p", severity="warning", score=1.0
        ),
        "increment (Lua)": lambda: store.increment("c"),
        "alert record (Lua)": lambda: stream.record("p2", b"{}", [("seen-2", 0)]),
        "audit (XADD)": lambda: store.audit.append("{}", max_entries=10),
    }


async def _refused(store: Store, match: str) -> None:
    for name, write in _writes(store).items():
        with pytest.raises(errors.StoreUnavailable, match=match) as caught:
            await write()
        assert isinstance(caught.value, errors.TemporaryError), name
        assert caught.value.delay_seconds > 0, name


async def test_out_of_memory_is_store_unavailable_and_reads_still_work(redis_process: RedisProcess) -> None:
    store = Store.connect(redis_process.url, prefix="faults:")
    try:
        await store.put_doc("run", "r1", '{"id": "r1"}')
        await redis_process.fill_memory()
        await _refused(store, r"out of memory \(OOM: .*raise maxmemory")
        assert await store.get_doc("run", "r1") == '{"id": "r1"}'
        await redis_process.free_memory()
        for write in _writes(store).values():
            await write()
    finally:
        await store.close()


async def test_a_demoted_primary_is_store_unavailable_until_promoted_again(
    redis_servers: Callable[..., Awaitable[RedisProcess]],
) -> None:
    primary = await redis_servers(appendonly=True)
    other = await redis_servers(appendonly=True)
    store = Store.connect(primary.url, prefix="faults:")
    try:
        await store.put_doc("run", "r1", '{"id": "r1"}')
        # A failover: the other server becomes the primary; ours is demoted to its replica.
        await other.replicate(primary)
        await other.promote()
        await primary.replicate(other)
        await _refused(store, r"read-only replica \(READONLY: .*point REDIS_URL")
        assert await store.get_doc("run", "r1") == '{"id": "r1"}'
        await primary.promote()
        for write in _writes(store).values():
            await write()
    finally:
        await store.close()


async def test_a_killed_redis_is_store_unavailable_and_comes_back_with_its_data(
    redis_process: RedisProcess,
) -> None:
    store = Store.connect(redis_process.url, prefix="faults:", timeout_seconds=1)
    try:
        await store.put_doc("run", "r1", '{"id": "r1"}')
        await redis_process.kill()
        with pytest.raises(errors.StoreUnavailable, match="did not answer"):
            await store.get_doc("run", "r1")
        await _refused(store, "did not answer")
        await redis_process.start()  # the append-only file brings the data back
        assert await store.get_doc("run", "r1") == '{"id": "r1"}'
    finally:
        await store.close()
