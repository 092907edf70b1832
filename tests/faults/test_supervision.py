"""What ends the process, and what never does.

``runtime.serve`` supervises the sweeper and the alert intake (a failure restarts them after a
backoff) but cannot restart the kopf operator or the API server: when one of those ends on its
own, ``serve`` raises :class:`aiops.errors.ComponentFailed` (``aiops run`` exits non-zero and
Kubernetes restarts the pod) instead of returning as if stopped (exit 0, before the fix).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiops import background, errors, runtime
from aiops.emulator import ClusterEmulator
from aiops.metrics import Metrics
from aiops.store import Store
from tests.support.operator_fixtures import make_settings

log = logging.getLogger(__name__)


@pytest.mark.parametrize("component", ["operator", "api"])
async def test_serve_fails_when_the_operator_or_the_api_ends_by_itself(
    emulator: ClusterEmulator, store: Store, component: str
) -> None:
    services = await runtime.build(make_settings(emulator), store=store)
    stop = asyncio.Event()
    ready, started = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(
        runtime.serve(services, stop=stop, operator_ready=ready, api_started=started)
    )
    try:
        await asyncio.wait_for(asyncio.gather(ready.wait(), started.wait()), timeout=20)
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == component]
        task.cancel()  # it ended without a stop being asked for (a crash, kopf giving up, ...)
        with pytest.raises(errors.ComponentFailed, match=f"the {component} task was cancelled") as failed:
            await asyncio.wait_for(serving, timeout=30)
        assert failed.value.component == component
        assert stop.is_set()  # everything else was stopped too
    finally:
        stop.set()
        await asyncio.wait([serving], timeout=30)
        await services.executor.wait_idle(timeout_seconds=10)
        await services.kube.close()


async def test_supervise_restarts_a_failing_task_until_stopped() -> None:
    metrics = Metrics()
    stop = asyncio.Event()
    starts = 0

    async def work() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise errors.StoreUnavailable("Redis refuses writes: out of memory", delay_seconds=0.01)
        if starts == 2:
            raise RuntimeError("a bug")
        if starts == 3:
            return  # returned while it should run
        await stop.wait()

    supervisor = asyncio.create_task(
        background.supervise(
            "sweeper",
            work,
            stop=stop,
            metrics=metrics,
            logger=log,
            backoff=background.Backoff(first_seconds=0.01, max_seconds=0.05),
        )
    )
    for _ in range(500):
        if starts == 4:
            break
        await asyncio.sleep(0.01)
    assert starts == 4 and not supervisor.done()
    stop.set()
    await asyncio.wait_for(supervisor, timeout=5)
    assert metrics.registry.get_sample_value("aiops_task_restarts_total", {"task": "sweeper"}) == 3


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = background.Backoff(first_seconds=0.5, max_seconds=3)
    assert [backoff.next() for _ in range(5)] == [0.5, 1, 2, 3, 3]
    backoff.reset()
    assert backoff.next(at_least=0.7) == 0.7
    assert backoff.next() == 1
