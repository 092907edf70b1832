"""Pod detector: a raw ``v1/Pod`` body -> the problems its status shows right now.

Fed by: the operator's Pod watch (and the ``detect`` CLI) through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup, which folds a pod's events onto its workload (see :mod:`.owners`).

Rules, from the Kubernetes API reference (``PodStatus``, ``PodCondition``, ``ContainerStatus``,
``ContainerStateWaiting`` / ``ContainerStateTerminated`` reasons as set by the kubelet); each is
checked for ``containerStatuses`` and ``initContainerStatuses`` alike, one event per container:

==============================  ===============================================================
crash_loop                      ``state.waiting.reason == "CrashLoopBackOff"``
oom_killed                      ``state.terminated`` or ``lastState.terminated`` reason
                                ``OOMKilled``, while *recent*: the container has not come back
                                (it is waiting), or ``finishedAt`` is at most
                                :data:`OOM_RECENT_SECONDS` before ``now``. Otherwise the last
                                state would report a long-healed OOM for the pod's lifetime.
                                A crash-looping OOM container yields both events.
image_pull_backoff              waiting reason ``ImagePullBackOff``, ``ErrImagePull`` or
                                ``InvalidImageName``
create_container_config_error   waiting reason ``CreateContainerConfigError`` or
                                ``CreateContainerError``
pod_evicted                     ``status.phase == "Failed"`` and ``status.reason == "Evicted"``
pod_unschedulable               condition ``PodScheduled`` ``False``, reason ``Unschedulable``
==============================  ===============================================================

Not detected here, on purpose: ``probe_failure`` (a running container with ``ready: false``
looks the same during ``initialDelaySeconds``, startup and a failing readiness probe; the status
records no cause) and ``volume_mount_failed`` (``ContainerCreating`` is normal while volumes
attach). Both come only from core/v1 Events (``Unhealthy``, ``FailedMount``): see :mod:`.event`.
A pod with ``metadata.deletionTimestamp`` is going away and yields ``[]``.

Severity: ``crash_loop`` and ``oom_killed`` are critical for a bare pod (no owner) that is not
Ready, since then the pod *is* the workload and nothing serves; a pod of a workload cannot see
its siblings, so it reports warning (the Deployment detector reports 0-available as critical).
Everything else is warning.

Details keys: ``container``, ``init_container``, ``restart_count``, ``node``, plus
``exit_code``/``last_reason``/``signal`` (crash_loop, from ``lastState.terminated``),
``exit_code``/``memory_limit`` (oom_killed), ``image`` (image_pull_backoff), ``condition``
(pod_unschedulable).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops import bodies
from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)

#: How long after an OOM kill a recovered (running) container still reports ``oom_killed``.
OOM_RECENT_SECONDS = 600.0

IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
CONFIG_ERROR_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})

Details = dict[str, str | int | float | bool | None]


@dataclass(frozen=True)
class _Pod:
    """What every event of one pod shares."""

    resource: model.ObjectRef
    owner: model.ObjectRef | None
    labels: dict[str, str]
    node: str | None
    now: datetime
    down: bool  # bare pod that is not Ready: the whole "workload" is unavailable

    def event(
        self, type_: model.EventType, reason: str, message: str, details: Details, *, critical: bool = False
    ) -> model.ClusterEvent:
        return model.ClusterEvent(
            type=type_,
            severity=model.Severity.CRITICAL if critical and self.down else model.Severity.WARNING,
            resource=self.resource,
            owner=self.owner,
            reason=reason,
            message=message,
            labels=self.labels,
            details={**details, "node": self.node},
            observed_at=self.now,
        )


def detect_pod(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a ``v1/Pod`` body; ``[]`` when healthy, terminating or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    meta = fields.get_map(body, "metadata")
    status = fields.require_map(body, "status")
    spec = fields.get_map(body, "spec")
    resource = fields.ref_of(body)
    if fields.get_str(meta, "deletionTimestamp"):
        return []
    conditions = fields.conditions(status)
    owner = owners.resolve_owner(body)
    ready = bodies.pod_ready(body)
    pod = _Pod(
        resource=resource,
        owner=owner,
        labels=fields.labels_of(meta),
        node=fields.get_str(spec, "nodeName") or None,
        now=now,
        down=owner is None and not ready,
    )
    events = _pod_level(pod, status, conditions)
    limits = _memory_limits(spec)
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for container in fields.get_list(status, key):
            events.extend(_container(pod, container, init=init, limits=limits))
    return events


def _pod_level(
    pod: _Pod, status: Mapping[str, Any], conditions: Mapping[str, Mapping[str, Any]]
) -> list[model.ClusterEvent]:
    """``pod_unschedulable`` and ``pod_evicted``, from ``PodStatus`` and its conditions."""
    events: list[model.ClusterEvent] = []
    scheduled = conditions.get("PodScheduled", {})
    if (
        fields.get_str(scheduled, "status") == "False"
        and fields.get_str(scheduled, "reason") == "Unschedulable"
    ):
        events.append(
            pod.event(
                model.EventType.POD_UNSCHEDULABLE,
                "Unschedulable",
                fields.get_str(scheduled, "message"),
                {"condition": "PodScheduled"},
            )
        )
    if fields.get_str(status, "phase") == "Failed" and fields.get_str(status, "reason") == "Evicted":
        events.append(
            pod.event(model.EventType.POD_EVICTED, "Evicted", fields.get_str(status, "message"), {})
        )
    return events


def _container(
    pod: _Pod, container: Mapping[str, Any], *, init: bool, limits: Mapping[str, str]
) -> list[model.ClusterEvent]:
    """The events one ``ContainerStatus`` shows."""
    name = fields.require_str(container, "name")
    state = fields.get_map(container, "state")
    waiting = fields.get_map(state, "waiting")
    last = fields.get_map(fields.get_map(container, "lastState"), "terminated")
    reason = fields.get_str(waiting, "reason")
    message = fields.get_str(waiting, "message")
    base: Details = {
        "container": name,
        "init_container": init,
        "restart_count": fields.get_int(container, "restartCount") or 0,
    }
    events: list[model.ClusterEvent] = []
    if reason == "CrashLoopBackOff":
        details = {
            **base,
            "exit_code": fields.get_int(last, "exitCode"),
            "last_reason": fields.get_str(last, "reason") or None,
        }
        if (signal := fields.get_int(last, "signal")) is not None:
            details["signal"] = signal
        events.append(pod.event(model.EventType.CRASH_LOOP, reason, message, details, critical=True))
    oom = _recent_oom(fields.get_map(state, "terminated"), last, waiting=bool(waiting), now=pod.now)
    if oom is not None:
        details = {**base, "exit_code": fields.get_int(oom, "exitCode"), "memory_limit": limits.get(name)}
        text = fields.get_str(oom, "message") or f"container {name} was killed for exceeding its memory limit"
        events.append(pod.event(model.EventType.OOM_KILLED, "OOMKilled", text, details, critical=True))
    if reason in IMAGE_PULL_REASONS:
        details = {**base, "image": fields.get_str(container, "image") or None}
        events.append(pod.event(model.EventType.IMAGE_PULL_BACKOFF, reason, message, details))
    if reason in CONFIG_ERROR_REASONS:
        events.append(pod.event(model.EventType.CREATE_CONTAINER_CONFIG_ERROR, reason, message, base))
    return events


def _recent_oom(
    terminated: Mapping[str, Any], last: Mapping[str, Any], *, waiting: bool, now: datetime
) -> Mapping[str, Any] | None:
    """The ``ContainerStateTerminated`` proving a recent OOM kill (see :data:`OOM_RECENT_SECONDS`)."""
    for term in (terminated, last):
        if fields.get_str(term, "reason") != "OOMKilled":
            continue
        finished = fields.parse_time(fields.get_str(term, "finishedAt"))
        if waiting or finished is None or (now - finished).total_seconds() <= OOM_RECENT_SECONDS:
            return term
    return None


def _memory_limits(spec: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> ``resources.limits.memory`` (e.g. ``"256Mi"``), for containers that set one."""
    limits: dict[str, str] = {}
    for key in ("initContainers", "containers"):
        for container in fields.get_list(spec, key):
            resources = fields.get_map(container, "resources")
            memory = fields.get_map(resources, "limits").get("memory")
            if isinstance(memory, str):
                limits[fields.require_str(container, "name")] = memory
    return limits
