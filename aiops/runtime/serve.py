"""Running the services: the kopf operator, uvicorn, the approval sweeper and the alert intake in one loop.

Fed by: :class:`aiops.runtime.services.Services` (built by :func:`aiops.runtime.build`) and a
stop event (``aiops run``: SIGTERM/SIGINT; the demo and tests: their own). Consumes: the kopf
door (``aiops.operator``: its registry is built here from the services' pipeline, owner index,
live playbooks and the Playbook status writer), uvicorn and the supervision of
:mod:`aiops.background`. Supervision: the sweeper and the intake are restarted after a failure;
the operator and the API server cannot be, so either ending early stops everything with
:class:`aiops.errors.ComponentFailed` (exit 1, the pod is restarted).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable

import uvicorn

from aiops import background, errors, operator
from aiops.playbooks.resources import status_writer
from aiops.runtime.leadership import Leadership
from aiops.runtime.services import Services

log = logging.getLogger(__name__)


#: Young-generation threshold of the cyclic garbage collector (CPython's default is 700 allocations).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Freeze what start-up built out of the cyclic collector and collect the young generation less often.

    Everything alive after start-up (kubernetes-asyncio's ~700 generated model classes, pydantic
    schemas, the app) lives for the whole process; ``gc.freeze()`` stops every full collection
    from re-scanning it (Python docs, ``gc.freeze``), and a larger young-generation threshold
    makes collections rarer. Measured on the webhook receiver (bench/webhook_ingest.py): p99
    56 ms → 20 ms, 2,030 → 2,490 payloads/s.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, second, third)


async def _sweep(services: Services, stop: asyncio.Event, *, resume: bool = False) -> None:
    """Every ``approvals.sweep_interval_seconds``: expire undecided approvals past their TTL and end
    their runs, then reconcile runs whose work stopped when Redis failed under them, idle for two
    intervals (``Executor.reconcile``). The cluster itself is never polled. ``resume``: first
    judge and advance every active run (``Executor.resume``: a term begins under leader
    election). Raises what a pass raises: it is supervised (a Redis that refuses writes pauses it
    with a backoff)."""
    interval = services.settings.approvals.sweep_interval_seconds
    if resume:
        await services.executor.resume()
    while not stop.is_set():
        await services.executor.sweep()
        await services.executor.reconcile(older_than_seconds=2 * interval)
        await background.pause(stop, interval)


async def serve(
    services: Services,
    *,
    stop: asyncio.Event,
    operator_ready: asyncio.Event | None = None,
    api_started: asyncio.Event | None = None,
    with_api: bool = True,
) -> None:
    """Run operator, API, sweeper and alert intake until ``stop`` is set.

    Without leader election, resumes persisted runs first (approved steps continue, stale runs
    expire); with it, every replica serves the API, the webhook and chat at once, and the leader's
    work (resume, sweeper, hand-offs, Telegram polling) runs on the holder of the acting Lease
    (:class:`aiops.runtime.leadership.Leadership`, released last on a stop). ``api_started``
    is set once uvicorn listens (its port is then in ``services.settings.api.port`` unless 0).
    The sweeper and the alert intake are supervised (:func:`aiops.background.supervise`): a
    failure restarts them after a backoff, so Redis faults never end the process. The kopf
    operator and the API server cannot simply be restarted: if either ends (or fails) before
    ``stop`` is set, everything is stopped and :class:`aiops.errors.ComponentFailed` is raised,
    so ``aiops run`` exits non-zero and Kubernetes restarts the pod. Returns normally only after
    ``stop`` was set.
    """
    acting = services.leadership or Leadership(None, services.store, services.metrics)
    if not acting.elected:
        await services.executor.resume()
    acting.drain = lambda: services.executor.drain(services.drain_seconds)
    acting.add("sweeper", lambda term: _sweep(services, term, resume=acting.elected))
    acting.add("handoffs", services.executor.follow_handoffs)
    tune_gc()
    registry = operator.build_registry(
        services.pipeline,
        owners=services.owners,
        playbooks=services.playbooks if services.settings.watch_playbook_resources else None,
        server=services.settings.kube.server,
        on_error=lambda stage: services.metrics.pipeline_errors_total.labels(stage=stage).inc(),
        write_status=status_writer(services.kube),
    )

    def supervised(name: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(
            background.supervise(name, work, stop=stop, metrics=services.metrics, logger=log), name=name
        )

    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(
            operator.run(registry, stop_flag=stop, ready_flag=operator_ready), name="operator"
        ),
        asyncio.create_task(acting.run(stop), name="leadership"),
    ]
    if services.settings.alertmanager.enabled:
        tasks.append(supervised("alert-intake", lambda: services.intake.run(stop)))
    if services.chat is not None:
        chat = services.chat
        tasks.append(supervised("chat", lambda: chat.run(stop)))
    server: uvicorn.Server | None = None
    if with_api:
        config = uvicorn.Config(
            services.app,
            host=services.settings.api.host,
            port=services.settings.api.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(_serve_api(server, services), name="api"))
        if api_started is not None:
            helper = asyncio.create_task(_signal_started(server, api_started, services), name="api-started")
            helper.add_done_callback(lambda _: None)
    stopper = asyncio.create_task(stop.wait(), name="stop")
    ended: asyncio.Task[None] | None = None
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            ended = next(task for task in tasks if task in done)
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.wait([stopper, *tasks], timeout=15)
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("%s ended with %r", task.get_name(), task.exception())
    if ended is not None:
        raise errors.ComponentFailed(ended.get_name(), _ended(ended))


async def _serve_api(server: uvicorn.Server, services: Services) -> None:
    """uvicorn's ``serve``, except that a start-up failure (it logs "error while attempting to bind
    on address ... address already in use" and calls ``sys.exit(3)``, which would end the process
    with no word from aiops) becomes :class:`aiops.errors.ComponentFailed` saying what to set."""
    try:
        await server.serve()
    except SystemExit as exc:
        api = services.settings.api
        raise errors.ComponentFailed(
            "api",
            f"the API server could not start on {api.host}:{api.port} (uvicorn exited with {exc.code}; "
            "its error is the line above, e.g. the port is in use): free the port or set "
            "AIOPS_API__PORT / AIOPS_API__HOST (api.port, api.host)",
        ) from None


def _ended(task: asyncio.Task[None]) -> str:
    """Why ``task`` ended before a stop was asked for, for :class:`aiops.errors.ComponentFailed`."""
    name = task.get_name()
    failure = None if task.cancelled() else task.exception()
    if isinstance(failure, errors.ComponentFailed):
        return f"{failure} (stopped everything, exit 1)"
    if task.cancelled():
        why = "was cancelled"
    elif task.exception() is not None:
        why = f"failed: {task.exception()!r}"
    else:
        why = "returned"
    return f"the {name} task {why} while aiops was running; stopped everything (exit 1) to be restarted"


async def _signal_started(server: uvicorn.Server, started: asyncio.Event, services: Services) -> None:
    for _ in range(1500):  # uvicorn has no started-callback; it flips ``started`` (30 s at most)
        if server.started:
            sockets = [sock for srv in server.servers for sock in (srv.sockets or ())]
            services.api_port = int(sockets[0].getsockname()[1]) if sockets else services.settings.api.port
            started.set()
            return
        await asyncio.sleep(0.02)
