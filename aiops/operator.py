"""The kopf operator: the only module importing kopf. Handlers glue watch bodies to the pipeline.

Fed by: the Kubernetes watch streams kopf maintains (pods, nodes, deployments, replicasets,
horizontalpodautoscalers, jobs, persistentvolumeclaims, core/v1 events, and aiops Playbook
custom resources). Consumes: ``aiops.pipeline.Pipeline``, the owner index
(``aiops.sources.kubewatch.owner_index.OwnerIndex``) and the live playbook registry with its
status writer (``aiops.playbooks.resources``). This module holds no domain state: each handler
translates kopf's call into one call on those (import-linter contract "Only aiops.operator
imports kopf").

Every handler is ``@kopf.on.event``: it never stores progress or diff-base annotations, and
kopf's event posting is disabled, so the operator never writes onto users' pods, nodes or
deployments (the only Events aiops creates are about its own Playbook resources, by the status
writer). There is no polling loop: everything is driven by watch events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import kopf

from aiops import errors
from aiops.pipeline import Pipeline
from aiops.playbooks.resources import LivePlaybooks, StatusWriter
from aiops.sources.kubewatch.owner_index import OwnerIndex

log = logging.getLogger(__name__)

#: (group, version, plural) of every watched kind. Cited: the Kubernetes API reference, "Workload
#: Resources", "Cluster Resources", "Config and Storage Resources".
WATCHED: tuple[tuple[str, str, str], ...] = (
    ("", "v1", "pods"),
    ("", "v1", "nodes"),
    ("", "v1", "persistentvolumeclaims"),
    ("", "v1", "events"),
    ("apps", "v1", "deployments"),
    ("apps", "v1", "replicasets"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("batch", "v1", "jobs"),
)
PLAYBOOK_RESOURCE = ("aiops.dev", "v1alpha1", "playbooks")


def build_registry(
    pipeline: Pipeline,
    *,
    owners: OwnerIndex,
    playbooks: LivePlaybooks | None,
    server: str | None,
    on_error: Callable[[str], None] | None = None,
    write_status: StatusWriter | None = None,
) -> kopf.OperatorRegistry:
    """A kopf registry with one ``on.event`` handler per watched kind (no global registry).

    ``server``: when set, kopf logs in to that URL without credentials (the emulator, tests);
    otherwise kopf's own login handlers use the service account or kubeconfig.
    ``write_status``: reports a Playbook resource's acceptance on its own ``status`` (only when
    it changed, so the write's own watch event does not loop).
    """
    registry = kopf.OperatorRegistry()

    if server is not None:

        @kopf.on.login(registry=registry)
        def _login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=server, insecure=True)

    else:

        @kopf.on.login(registry=registry)
        async def _login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    def _make_handler(plural: str) -> Callable[..., Any]:
        async def _handler(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
            deleted = event.get("type") == "DELETED"
            raw = dict(body)
            try:
                if plural in ("pods", "replicasets"):
                    owners.update(raw, deleted=deleted)
                if deleted:
                    await pipeline.deleted(raw)
                else:
                    await pipeline.observe(raw)
            except errors.TemporaryError as exc:
                # kopf's on.event handlers are not retried; the next watch event re-evaluates.
                log.warning("%s: %s; will re-evaluate on the next watch event", plural, exc)
                if on_error is not None:
                    on_error(plural)

        _handler.__name__ = f"on_{plural}"
        return _handler

    for group, version, plural in WATCHED:
        kopf.on.event(group, version, plural, registry=registry)(_make_handler(plural))

    if playbooks is not None:
        live = playbooks

        @kopf.on.event(*PLAYBOOK_RESOURCE, registry=registry)
        async def _playbook_resources(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
            if event.get("type") == "DELETED":
                live.remove(dict(body))
                return
            # Off the event loop: validating trial-renders the templates (bounded, but not free).
            status = await asyncio.to_thread(live.apply, dict(body))
            current = {key: (body.get("status") or {}).get(key) for key in status}
            if write_status is not None and current != status:  # only on change: no write loop
                try:
                    await write_status(body, status)
                except errors.AiopsError as exc:
                    log.warning("could not report the status of a Playbook resource: %s", exc)

    return registry


def operator_settings() -> kopf.OperatorSettings:
    """kopf settings: no event posting (never write onto users' objects), quick watch restarts,
    short-lived per-object workers (memory)."""
    settings = kopf.OperatorSettings()
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.reconnect_backoff = 1.0
    settings.networking.request_timeout = 30
    settings.peering.standalone = True
    # A per-object worker exits after 1 s without events instead of 5 s: with 10,000 pods listed
    # at start, that is the difference between ~255 and ~205 MiB (bench/operator_rss.py).
    settings.queueing.idle_timeout = 1.0
    return settings


class _NotKopfsTasks(Collection["asyncio.Task[Any]"]):
    """The tasks kopf must leave alone when it shuts down: every task whose coroutine is not kopf's.

    ``kopf.operator()`` assumes that every task created after its start is its own and cancels
    them all on exit, which would cancel uvicorn's connections, running playbook steps and the
    caller itself in an embedding process. ``kopf.run_tasks(ignored=...)`` is the documented way
    to exclude tasks; membership here is decided by where the task's coroutine is defined.
    """

    def __contains__(self, task: object) -> bool:
        if not isinstance(task, asyncio.Task):
            return False
        code = getattr(task.get_coro(), "cr_code", None)
        filename = getattr(code, "co_filename", "")
        return f"{os.sep}kopf{os.sep}" not in filename

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(())

    def __len__(self) -> int:
        return 0


async def run(
    registry: kopf.OperatorRegistry,
    *,
    stop_flag: asyncio.Event,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set. Cluster-wide, standalone (no peering).

    On exit kopf cancels its own tasks only (see :class:`_NotKopfsTasks`). SIGTERM and SIGINT
    (pod termination, Ctrl-C) set ``stop_flag``, so the whole process stops as asked, not the
    operator alone: kopf's own handlers (which ``spawn_tasks`` installs in the main thread) would
    stop only the operator, and the runtime treats an operator that ends by itself as a failure.
    """
    tasks = await kopf.spawn_tasks(
        registry=registry,
        settings=operator_settings(),
        clusterwide=True,
        standalone=True,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )
    if threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop_flag.set)
    await kopf.run_tasks(tasks, ignored=_NotKopfsTasks())
