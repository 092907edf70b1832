"""The crash-loop scenario end to end with the store on a Redis Cluster (``redis+cluster://``).

The same scenario and assertions as ``test_crash_loop_end_to_end``: one incident however many
watch events arrive, reads at once, the restart waits for approval, the approved delete lands
once with an audit entry. Here ``REDIS_URL`` is the session's private 3-master cluster
(``redis_cluster_url``), and the store is built from it the way ``aiops run`` builds it
(``Store.connect(settings.redis_url, prefix=settings.redis_prefix)``): incidents, approvals, the
guards' reservations, runs and audit all live on the cluster, each family in its hash tag's slot.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from aiops.emulator.emulator import ClusterEmulator
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from tests.operator.test_crash_loop_end_to_end import (
    test_one_incident_reads_at_once_restart_after_approval as crash_loop_scenario,
)
from tests.support.operator_fixtures import Harness, make_settings


@pytest.fixture
async def cluster_harness(emulator: ClusterEmulator, redis_cluster_url: str) -> AsyncIterator[Harness]:
    """A not-yet-started harness whose settings point ``redis_url`` at the cluster."""
    settings = make_settings(
        emulator, redis_url=redis_cluster_url, redis_prefix=f"aiops-test:{uuid.uuid4()}:"
    )
    store = Store.connect(settings.redis_url, prefix=settings.redis_prefix)
    harness = Harness(emulator, store, settings)
    try:
        yield harness
    finally:
        await harness.stop()
        await delete_prefix(store)
        await store.close()


async def test_crash_loop_end_to_end_on_a_redis_cluster(cluster_harness: Harness) -> None:
    assert cluster_harness.store.cluster and cluster_harness.store.describe().startswith("redis+cluster://")
    await crash_loop_scenario(cluster_harness)
    keys = [
        str(k) async for k in cluster_harness.store._r.scan_iter(match=cluster_harness.store.prefix + "*")
    ]
    for tag in ("{incidents}", "{approvals}", "{guards}"):
        assert any(tag in key for key in keys), f"no {tag} key was written: {keys}"
