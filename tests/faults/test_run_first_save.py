"""A run whose first save meets a Redis outage waits for Redis and starts, rather than vanishing.

The runtime's executor (``runtime.build``: the real store, executor and emulated cluster) on a
private ``redis-server`` with its append-only file. An incident is open; Redis is SIGKILLed; the
executor launches the incident's playbook, as the pipeline does for a new incident; Redis comes
back. Before the fix the launch failed at the run's first save, was logged, and nothing ever
launched it again: the incident kept no remediation. Now the run waits for Redis (with backoff,
bounded), is saved, attached to its incident, and its read steps run.
"""

from __future__ import annotations

import asyncio
import time

from aiops import runtime
from aiops.emulator import ClusterEmulator
from aiops.events.model import ClusterEvent, EventType, ObjectRef
from aiops.settings import LeaderElectionSettings
from aiops.store import Store
from tests.operator import workloads
from tests.support.operator_fixtures import make_settings
from tests.support.redis_process import RedisProcess

BOUND = 20.0


async def test_a_run_launched_while_redis_is_down_starts_once_it_is_back(
    emulator: ClusterEmulator, redis_process: RedisProcess
) -> None:
    pod = workloads.seed_crash_loop(emulator)
    store = Store.connect(redis_process.url, prefix="aiops:", timeout_seconds=1)
    # The executor alone, without serve(): no Lease campaign, so it acts without one.
    settings = make_settings(emulator, leader_election=LeaderElectionSettings(enabled=False))
    services = await runtime.build(settings, store=store)
    try:
        event = ClusterEvent(
            type=EventType.CRASH_LOOP,
            resource=ObjectRef(api_version="v1", kind="Pod", namespace="shop", name=pod["metadata"]["name"]),
            owner=ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="web"),
            reason="BackOff",
            message="Back-off restarting failed container",
        )
        incident = (await services.dedup.observe(event)).incident
        await redis_process.kill()

        task = services.executor.launch(
            incident_id=incident.id, event=event, playbook_id="crash_loop_remediation"
        )
        await asyncio.sleep(1.5)  # the first save meets the dead Redis, and waits
        assert not task.done(), "the run gave up while Redis was down"
        await redis_process.start()

        async with asyncio.timeout(BOUND):
            run = await task
        assert run is not None
        stored = await services.runs.get(run.id)
        assert stored is not None and stored.steps[0].state.value == "succeeded", stored
        reloaded = await services.dedup.get(incident.id)
        assert reloaded is not None and reloaded.run_ids == [run.id]
    finally:
        started = time.monotonic()
        await services.close()
        assert time.monotonic() - started < BOUND
