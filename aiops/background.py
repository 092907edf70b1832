"""Background work started at a stage boundary: kept referenced, failures logged once and counted.

Used by the executor (playbook runs) and the enricher (incident enrichment): the watch handler
starts work and returns; a failure of that work is logged with its description, counted in
``aiops_pipeline_errors_total{stage}`` and never raised to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiops.metrics import Metrics

T = TypeVar("T")


class Background:
    """The running background tasks of one stage (``stage`` labels the error metric)."""

    def __init__(self, metrics: Metrics, *, stage: str, logger: logging.Logger) -> None:
        self._metrics = metrics
        self._stage = stage
        self._log = logger
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str, what: str) -> asyncio.Task[T | None]:
        """Run ``work`` as a task; on an exception log ``what failed`` and return None."""

        async def _guarded() -> T | None:
            try:
                return await work
            except Exception:  # stage boundary: background work must not take the pipeline down
                self._log.exception("%s failed", what)
                self._metrics.pipeline_errors_total.labels(stage=self._stage).inc()
                return None

        task = asyncio.create_task(_guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_idle(self, timeout_seconds: float = 30.0) -> None:
        """Wait (at most ``timeout_seconds``) for the tasks running now."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_seconds)

    async def drain(self, timeout_seconds: float = 10.0) -> int:
        """On shutdown: wait (at most ``timeout_seconds``) for the tasks running now, then cancel the
        rest and wait until they have ended, so none of them uses a client closed after this.

        Returns how many were cancelled. A cancelled task ends as if the process had stopped there:
        what it had recorded stays, and the next start resumes from it (see ``Executor.resume``).
        """
        await self.wait_idle(timeout_seconds)
        left = [task for task in self._tasks if not task.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left)
            self._log.warning(
                "shutdown: cancelled %d %s task(s) still running after %g s",
                len(left),
                self._stage,
                timeout_seconds,
            )
        return len(left)
