"""Background work: kept referenced, failures logged once and counted, long-lived tasks supervised.

Used by the executor (playbook runs) and the enricher (incident enrichment) through
:class:`Background`: the watch handler starts work and returns; a failure of that work is logged
with its description, counted in ``aiops_pipeline_errors_total{stage}`` and never raised to the
caller. Used by the runtime (``runtime.serve``) through :func:`supervise`: the sweeper and the
alert intake run for the life of the process, and a crash (a bug, or Redis refusing for longer
than the task itself waits) restarts the task after an exponential backoff instead of ending it.
:class:`Backoff` is the delay sequence both use; the alert intake uses it for its own pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiops import errors
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
        """Run ``work`` as a task; on an exception log ``what failed`` and return None. A
        TemporaryError (Redis unavailable) is logged as a warning without a traceback: whoever
        owns the work picks it up again (the executor's reconciler does for runs)."""

        async def _guarded() -> T | None:
            try:
                return await work
            except errors.TemporaryError as exc:
                self._log.warning("%s stopped: %s", what, exc)
                self._metrics.pipeline_errors_total.labels(stage=self._stage).inc()
                return None
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


class Backoff:
    """Delays for retrying after consecutive failures: ``first_seconds``, then doubling, at most
    ``max_seconds``; :meth:`reset` after a success starts again from ``first_seconds``.

    The doubling with a cap is the "exponential backoff" of the Google SRE book ("Handling
    Overload", clients retrying); one process retries alone, so no jitter is added.
    """

    def __init__(self, *, first_seconds: float = 0.5, max_seconds: float = 30.0) -> None:
        self.first_seconds = first_seconds
        self.max_seconds = max_seconds
        self._next = first_seconds

    def next(self, at_least: float = 0.0) -> float:
        """The delay before the next attempt (seconds, at least ``at_least``, at most the cap)."""
        delay = min(max(self._next, at_least), self.max_seconds)
        self._next = min(self._next * 2, self.max_seconds)
        return delay

    def reset(self) -> None:
        """A success: the next failure waits ``first_seconds`` again."""
        self._next = self.first_seconds


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def supervise(
    name: str,
    work: Callable[[], Awaitable[None]],
    *,
    stop: asyncio.Event,
    metrics: Metrics,
    logger: logging.Logger,
    backoff: Backoff | None = None,
    healthy_seconds: float = 60.0,
) -> None:
    """Run ``work()`` until ``stop`` is set, starting it again whenever it raises or returns early.

    Each failure is logged once (a TemporaryError such as Redis refusing writes as a warning; any
    other exception with its traceback) and counted in ``aiops_task_restarts_total{task=name}``;
    the next start waits ``backoff`` (default 0.5 s doubling to 30 s), or less if ``stop`` is set
    meanwhile. A run that lasted ``healthy_seconds`` resets the backoff. Returns once ``stop`` is
    set (cancellation propagates). For work that can start again from scratch (it keeps its state
    in Redis): the sweeper, the alert intake.
    """
    backoff = backoff or Backoff()
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        at_least = 0.0
        try:
            await work()
            if stop.is_set():
                return
            problem, trace = "returned while the operator runs", False
        except errors.TemporaryError as exc:  # Redis refusing for longer than the task waits itself
            problem, trace, at_least = f"paused: {exc}", False, exc.delay_seconds
        except Exception:  # the supervisor's boundary: log, count, start the task again
            problem, trace = "failed", True
        if loop.time() - started >= healthy_seconds:
            backoff.reset()
        delay = backoff.next(at_least)
        logger.log(
            logging.WARNING if problem.startswith("paused") else logging.ERROR,
            "%s %s; starting it again in %.1f s",
            name,
            problem,
            delay,
            exc_info=trace,
        )
        metrics.task_restarts_total.labels(task=name).inc()
        await pause(stop, delay)
