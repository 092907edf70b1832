"""Shutdown closes the Kubernetes client only after the background work that uses it has ended.

``make bench`` logged "RuntimeError: Session is closed" tracebacks: enrichments still queued when
``Services.close`` gave up waiting kept calling the API through the closed client. Here the
emulated API holds the crash-looping pod's log request open (a kmock reaction awaiting a future
the test releases only at the end), so the new incident's enrichment, and the playbook run that
reads the same log, are in flight when the runtime shuts down the way ``aiops run`` does. After
``Services.close`` no such task may be left running and none may have failed on a closed client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually

#: Background task names (aiops.background): enrichments, playbook runs, verifications.
BACKGROUND = ("enrich:", "run:", "verify:")


def _running_background() -> list[str]:
    return sorted(
        t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(BACKGROUND) and not t.done()
    )


async def test_close_cancels_work_in_flight_before_closing_the_kubernetes_client(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    pod = workloads.seed_crash_loop(harness.emulator)
    log_path = f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}/log"
    held: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    harness.emulator[f"get {log_path}"] << held
    services = await harness.start()

    async def log_requested() -> bool:
        return any(call.path == log_path for call in harness.emulator.calls)

    await eventually(log_requested, what="the enrichment to read the pod's log")
    assert any(name.startswith("enrich:") for name in _running_background()), _running_background()
    services.drain_seconds = 0.2
    caplog.set_level(logging.INFO)
    try:
        await harness.shutdown()
        left = _running_background()
    finally:
        if not held.done():
            held.set_result("released")
    await asyncio.sleep(0)  # let anything still alive take its next step, and fail if it will

    assert left == [], f"still running after close: {left}"
    failures = [
        r for r in caplog.records if "Session is closed" in r.getMessage() or r.levelno >= logging.ERROR
    ]
    assert not failures, [f"{r.name}: {r.getMessage()}" for r in failures]
    assert any("shutdown: cancelled" in r.getMessage() for r in caplog.records), "the cancellation is logged"
