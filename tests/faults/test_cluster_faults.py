"""A Redis Cluster that loses a primary: the store answers StoreUnavailable, then carries on.

A private 3-master cluster without replicas (``tests/support/redis_cluster.py``, its own, since
this test kills a node). The primary of the ``{incidents}`` slot is SIGKILLed: incident calls
fail at once as StoreUnavailable (connection refused); once the other nodes mark it failed
(``cluster-node-timeout`` 2 s) the whole cluster answers ``CLUSTERDOWN``, which is StoreUnavailable
too, naming it, with a retry delay. The node is started again (its ``nodes.conf`` brings its slots
back; without persistence its keys are gone) and the same Store object works again without a
restart of aiops. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from aiops import errors
from aiops.store import Store
from tests.support.redis_cluster import RedisClusterProcesses

BOUND_SECONDS = 20.0


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def _until_unavailable(call: Callable[[], Awaitable[object]], words: str) -> errors.StoreUnavailable:
    """Call until it raises StoreUnavailable with ``words`` in its message; fail after the bound."""
    deadline = time.monotonic() + BOUND_SECONDS
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            await call()
        except errors.StoreUnavailable as exc:
            if words in str(exc):
                return exc
            seen.append(str(exc))
        await asyncio.sleep(0.1)
    raise AssertionError(f"no StoreUnavailable naming {words!r} within {BOUND_SECONDS} s; saw {seen[-3:]}")


async def test_a_lost_primary_is_store_unavailable_and_the_store_recovers(
    private_cluster: RedisClusterProcesses,
) -> None:
    store = Store.connect(private_cluster.url, prefix="aiops-test:cluster-fault:", timeout_seconds=1)
    try:
        assert await store.ping()
        opened = await store.incidents.observe(
            "k1", new_id="i1", opening={}, update={}, member="Pod/ns/p", severity="warning", score=1.0
        )
        assert opened == ("i1", True)
        client = store._r
        assert isinstance(client, RedisCluster)
        port = client.get_node_from_key(store._tagged("incidents", "open")).port
        victim = private_cluster.ports.index(int(port))

        elsewhere = next(
            name
            for name in (f"claim-{i}" for i in range(1000))
            if client.get_node_from_key(store._k("claim", name)).port != port
        )

        private_cluster.kill(victim)
        with pytest.raises(errors.StoreUnavailable, match="did not answer"):
            await store.incidents.open_count()
        down = await _until_unavailable(lambda: store.claim_owner(elsewhere), "CLUSTERDOWN")
        assert down.delay_seconds == 1.0 and not isinstance(down.__cause__, errors.StoreUnavailable)

        private_cluster.restart(victim)
        deadline = time.monotonic() + BOUND_SECONDS
        while True:
            try:
                got = await store.incidents.observe(
                    "k1", new_id="i2", opening={}, update={}, member="Pod/ns/p", severity="warning", score=2.0
                )
                break
            except errors.StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after the node came back"
                await asyncio.sleep(0.1)
        assert got == ("i2", True), "the node came back empty (no persistence): a fresh incident opens"
        assert await store.incidents.open_count() == 1
    finally:
        await store.close()
