"""The kopf operator: the only module importing kopf. Handlers glue watch bodies to the pipeline.

Fed by: the Kubernetes watch streams kopf maintains (pods, nodes, deployments, replicasets,
horizontalpodautoscalers, jobs, persistentvolumeclaims, core/v1 events, and aiops Playbook
custom resources). Consumes: ``aiops.pipeline.Pipeline`` and the live playbook registry.

Every handler is ``@kopf.on.event``: it never stores progress or diff-base annotations, and
event posting is disabled, so the operator never writes onto users' pods, nodes or
deployments. There is no polling loop: everything is driven by watch events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from typing import Any

import kopf

from aiops import errors
from aiops.events.model import ClusterEvent, ObjectRef
from aiops.pipeline import Pipeline
from aiops.playbooks import loader as playbook_loader
from aiops.playbooks import registry as registry_mod
from aiops.rules.engine import RuleMatch
from aiops.sources import kubewatch

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


class OwnerIndex:
    """``Pod/ns/name`` or ``ReplicaSet/ns/name`` → owning workload, kept from those watches.

    Lets an Event about a pod (BackOff, Unhealthy) or a ReplicaSet (FailedCreate) fold onto the
    same incident as the object's own status. Memory: one small entry per owned object.
    """

    def __init__(self) -> None:
        self._owners: dict[str, ObjectRef] = {}

    def update(self, body: Mapping[str, Any], *, deleted: bool) -> None:
        """Record or forget the owner of the pod or ReplicaSet in ``body``."""
        key = kubewatch.member_key(body)
        if key is None:
            return
        owner = None if deleted else kubewatch.owner_of(body)
        if owner is None:
            self._owners.pop(key, None)
        else:
            self._owners[key] = owner

    def lookup(self, pod_key: str) -> ObjectRef | None:
        """The owner of the pod, or None if unknown or bare."""
        return self._owners.get(pod_key)

    def __len__(self) -> int:
        return len(self._owners)


#: Cooldown of a Playbook custom resource's routing, per subject (seconds): as the default rules.
RESOURCE_COOLDOWN_SECONDS = 900

#: Writes the ``status`` of a Playbook custom resource: (body, desired status) → None.
StatusWriter = Callable[[Mapping[str, Any], dict[str, Any]], Awaitable[None]]


class LivePlaybooks:
    """The current playbook registry: file playbooks plus valid ``Playbook`` custom resources.

    A Playbook resource applies to events about objects in its own namespace (never to
    cluster-scoped subjects such as Nodes), routed by its ``triggers``: ``kubectl apply`` of a
    resource is a team's explicit, namespaced intent; cluster-wide routing stays in the rules
    file. A resource that fails validation is ignored (it never replaces a working playbook)
    and its problems are reported on its ``status``.
    """

    def __init__(self, registry: registry_mod.PlaybookRegistry) -> None:
        self._registry = registry
        self._namespaces: dict[str, str] = {}  # resource playbook id -> its namespace
        self._lock = threading.Lock()  # apply() runs in worker threads

    def current(self) -> registry_mod.PlaybookRegistry:
        """The registry as of now (an immutable snapshot)."""
        return self._registry

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add or replace the playbook of a Playbook resource; returns the status to report.

        The status is ``{"accepted": bool, "playbookId": str|None, "problems": [str],
        "observedGeneration": int|None}``. Validation (templates trial-rendered under their
        budget) may take a moment: the operator calls this in a worker thread, so the registry
        swap is under a lock.
        """
        metadata = body.get("metadata") or {}
        status: dict[str, Any] = {"observedGeneration": metadata.get("generation")}
        try:
            playbook = playbook_loader.playbook_from_resource(body)
            with self._lock:
                self._registry = self._registry.with_resource(playbook)
        except errors.ValidationFailed as exc:
            log.error("ignoring invalid Playbook resource: %s", exc)
            return {
                **status,
                "accepted": False,
                "playbookId": None,
                "problems": [str(p) for p in exc.problems],
            }
        except errors.ConfigError as exc:
            log.error("ignoring Playbook resource: %s", exc)
            return {**status, "accepted": False, "playbookId": None, "problems": [str(exc)]}
        with self._lock:
            self._namespaces[playbook.id] = str(metadata.get("namespace") or "")
        log.info("playbook %s loaded from %s", playbook.id, playbook.source)
        return {**status, "accepted": True, "playbookId": playbook.id, "problems": []}

    def remove(self, body: Mapping[str, Any]) -> None:
        """Forget the playbook defined by a deleted Playbook custom resource (by its id and source,
        as :func:`aiops.playbooks.loader.playbook_from_resource` derives them; nothing is validated)."""
        playbook_id, source = playbook_loader.resource_identity(body)
        with self._lock:
            before = self._registry
            self._registry = self._registry.without(playbook_id, source=source)
            if self._registry is not before:
                self._namespaces.pop(playbook_id, None)

    def routes(self, event: ClusterEvent) -> list[RuleMatch]:
        """Resource playbooks whose triggers include the event type, for subjects in their namespace."""
        namespace = event.subject.namespace
        if namespace is None:
            return []
        matches: list[RuleMatch] = []
        for playbook_id, home in list(self._namespaces.items()):
            if home != namespace or not self._registry.is_resource(playbook_id):
                continue
            playbook = self._registry.get(playbook_id)
            if event.type in playbook.triggers:
                matches.append(RuleMatch(playbook.source, playbook.id, RESOURCE_COOLDOWN_SECONDS))
        return matches


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
