"""The alert intake keeps consuming through Redis faults, loses no acknowledged alert, and never
dead-letters one because Redis refused a write.

Against private ``redis-server`` processes: the real :class:`Intake` and :class:`AlertStream`, and
the real :class:`Deduplicator` as the consumer's handler (an alert opens an incident, a write).

* FLUSHALL, and a SIGKILL of a Redis without persistence, remove the stream and its consumer
  group: every later read would answer ``NOGROUP``. The consumer recreates the group and goes on:
  every alert recorded afterwards opens its incident.
* At ``maxmemory`` with ``noeviction`` the handler's writes answer ``OOM``: the alerts already
  recorded (acknowledged to Alertmanager) stay unacknowledged in the stream, none goes to the
  dead-letter stream, and once memory is freed every one opens its incident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from aiops.events.dedup import Deduplicator
from aiops.events.model import ClusterEvent
from aiops.metrics import Metrics
from aiops.sources.alertmanager import intake as intake_mod
from aiops.sources.alertmanager import parse_payload
from aiops.store import Store
from aiops.store.alerts import AlertStream
from tests.alertmanager.payloads import alert, payload
from tests.support.redis_process import RedisProcess

#: Bound of every wait in these tests (seconds); never an assertion about time.
BOUND = 15.0


@dataclass
class Consumer:
    """A running intake consumer with the store, stream, deduplicator and metrics it uses."""

    store: Store
    stream: AlertStream
    dedup: Deduplicator
    metrics: Metrics
    intake: intake_mod.Intake
    task: asyncio.Task[None]
    stop: asyncio.Event
    sent: int = 0

    async def record(self, count: int) -> None:
        """Record ``count`` alerts about distinct pods, as the webhook does before answering 200."""
        for _ in range(count):
            self.sent += 1
            body = payload(alert("CPUThrottlingHigh", {"namespace": "shop", "pod": f"pod-{self.sent:04d}"}))
            await self.intake.record(parse_payload(body), body)

    async def until(self, what: str, predicate: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            if self.task.done():
                failure = None if self.task.cancelled() else self.task.exception()
                raise AssertionError(f"the consumer ended while waiting for {what}") from failure
            if await predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {BOUND} s waiting for {what}")

    async def incidents(self) -> int:
        return await self.store.incidents.open_count()


@pytest.fixture
async def consumer(redis_process: RedisProcess) -> AsyncIterator[Consumer]:
    store = Store.connect(redis_process.url, prefix="faults:", timeout_seconds=2)
    metrics = Metrics()
    dedup = Deduplicator(store, metrics=metrics)

    async def handle(event: ClusterEvent, duplicate: bool) -> None:
        await dedup.observe(event, member=event.resource.key)

    stream = AlertStream(store)
    intake = intake_mod.Intake(stream, consumer="c1", handle=handle, metrics=metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop, block_ms=50))
    running = Consumer(store, stream, dedup, metrics, intake, task, stop)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait([task], timeout=BOUND)
        task.cancel()
        await store.close()


async def _opened(consumer: Consumer, count: int) -> None:
    async def opened() -> bool:
        return await consumer.incidents() == count

    await consumer.until(f"{count} incidents", opened)


@pytest.mark.parametrize("fault", ["flushall", "sigkill without persistence"])
async def test_the_consumer_group_is_recreated_when_redis_lost_its_data(
    consumer: Consumer, redis_process: RedisProcess, fault: str
) -> None:
    await consumer.record(3)
    await _opened(consumer, 3)
    if fault == "flushall":
        await redis_process.flushall()
    else:
        redis_process.appendonly = False  # comes back empty
        await redis_process.kill()
        await redis_process.start()
    await consumer.record(4)  # recorded after the loss: the stream exists again, its group does not
    await _opened(consumer, 4)
    assert await consumer.stream.dead_letters() == []
    assert not consumer.task.done()


async def test_out_of_memory_keeps_acknowledged_alerts_and_dead_letters_none(
    consumer: Consumer, redis_process: RedisProcess
) -> None:
    await consumer.record(1)
    await _opened(consumer, 1)
    consumer.stop.set()  # hold the consumer while alerts are recorded, to fill memory before it reads
    await consumer.task
    await consumer.record(10)
    await redis_process.fill_memory()
    consumer.stop = asyncio.Event()
    consumer.task = asyncio.create_task(consumer.intake.run(consumer.stop, block_ms=50))

    async def refused() -> bool:  # it met OOM, paused, and met it again: still going
        seen = consumer.metrics.registry.get_sample_value(
            "aiops_pipeline_errors_total", {"stage": "alert-intake"}
        )
        return (seen or 0) >= 2

    await consumer.until("the consumer to meet OOM twice", refused)
    assert await consumer.incidents() == 1
    await redis_process.free_memory()
    await _opened(consumer, 11)

    async def drained() -> bool:
        return await consumer.stream.backlog() == 0

    await consumer.until("every entry acknowledged", drained)
    assert await consumer.stream.dead_letters() == []
