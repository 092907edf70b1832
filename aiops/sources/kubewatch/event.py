"""Event detector: a raw core/v1 ``Event`` body -> the problem it reports about its involvedObject.

Fed by: the operator's Event watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup, alongside the status detectors. Events carry what object status cannot:
probe failures and volume mount failures are detected *only* here.

The resource is the ``involvedObject`` (uid included), so ``resource.key`` equals the
:func:`~aiops.sources.kubewatch.owners.member_key` of that object. The owner is ``None``: an
Event does not say which workload its pod belongs to, and a name like ``web-5d9c7b8f6-x2x9q``
proves nothing (bare pods may be named anything); callers that watch pods can fold the event
onto :func:`~aiops.sources.kubewatch.owners.owner_of` of the pod. Labels are ``{}``. Events
never prove recovery (they are not withdrawn when a problem ends).

Rules (reasons and messages as emitted by the kubelet, scheduler and controllers; see the
Kubernetes API reference for ``Event`` and ``pkg/kubelet/events``):

=============================================  ==============================================
``Warning BackOff`` "Back-off restarting        crash_loop
failed container ..."
``Warning BackOff`` "Back-off pulling image"    image_pull_backoff
``Warning Unhealthy`` (Liveness, Readiness or   probe_failure (``details["probe"]``)
Startup probe failed/errored)
``Warning FailedMount``, ``FailedAttachVolume``  volume_mount_failed
``Warning FailedScheduling``                    pod_unschedulable
``Warning FailedCreate`` on a ReplicaSet, Job,  replication_failure
StatefulSet or DaemonSet
``Warning Evicted``                             pod_evicted
``NodeNotReady`` (``Normal``, on a Node or Pod)  node_not_ready: critical on a Node, else warning
=============================================  ==============================================

Everything else yields ``[]``; severity is warning unless stated. Details keys: ``via``
(``"event"``), ``event_count`` (the largest of ``count``, ``series.count``, ``deprecatedCount``;
1 if absent), ``container`` (from ``involvedObject.fieldPath`` such as ``spec.containers{app}``),
``node`` (``source.host``), ``component`` and, for probes, ``probe``. ``events.k8s.io/v1``
bodies (``regarding``, ``note``, ``deprecatedSource``, ``reportingController``) are read too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields

log = logging.getLogger(__name__)

FAILED_CREATE_KINDS = frozenset({"ReplicaSet", "Job", "StatefulSet", "DaemonSet"})
_SIMPLE_WARNINGS: Mapping[str, model.EventType] = {
    "Unhealthy": model.EventType.PROBE_FAILURE,
    "FailedMount": model.EventType.VOLUME_MOUNT_FAILED,
    "FailedAttachVolume": model.EventType.VOLUME_MOUNT_FAILED,
    "FailedScheduling": model.EventType.POD_UNSCHEDULABLE,
    "Evicted": model.EventType.POD_EVICTED,
}
_FIELD_PATH = re.compile(r"^spec\.(?:initContainers|containers|ephemeralContainers)\{(?P<name>[^}]+)\}")
_PROBES = frozenset({"Liveness", "Readiness", "Startup"})


def detect_event(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a core/v1 ``Event`` body; ``[]`` for unrelated reasons or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def classify(event_type: str, reason: str, message: str, involved_kind: str) -> model.EventType | None:
    """The aiops event type an Event's ``type``/``reason``/``message`` reports, or ``None``."""
    if reason == "NodeNotReady":
        return model.EventType.NODE_NOT_READY
    if event_type != "Warning":
        return None
    if reason == "BackOff":
        text = message.lower()
        if text.startswith("back-off restarting failed container"):
            return model.EventType.CRASH_LOOP
        if text.startswith("back-off pulling image"):
            return model.EventType.IMAGE_PULL_BACKOFF
        return None
    if reason == "FailedCreate":
        return model.EventType.REPLICATION_FAILURE if involved_kind in FAILED_CREATE_KINDS else None
    return _SIMPLE_WARNINGS.get(reason)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    involved = fields.get_map(body, "involvedObject") or fields.get_map(body, "regarding")
    kind = fields.require_str(involved, "kind")
    reason = fields.get_str(body, "reason")
    message = fields.get_str(body, "message") or fields.get_str(body, "note")
    found = classify(fields.get_str(body, "type"), reason, message, kind)
    if found is None:
        return []
    namespace = fields.get_str(involved, "namespace") or None
    resource = model.ObjectRef(
        api_version=fields.get_str(involved, "apiVersion") or fields.DEFAULT_API_VERSIONS.get(kind, ""),
        kind=kind,
        namespace=None if kind in fields.CLUSTER_SCOPED_KINDS else namespace,
        name=fields.require_str(involved, "name"),
        uid=fields.get_str(involved, "uid") or None,
    )
    source = fields.get_map(body, "source") or fields.get_map(body, "deprecatedSource")
    component = (
        fields.get_str(source, "component")
        or fields.get_str(body, "reportingComponent")
        or fields.get_str(body, "reportingController")
    )
    details: dict[str, str | int | float | bool | None] = {
        "via": "event",
        "event_count": _count(body),
        "node": fields.get_str(source, "host") or None,
        "component": component or None,
    }
    if match := _FIELD_PATH.match(fields.get_str(involved, "fieldPath")):
        details["container"] = match["name"]
    if found is model.EventType.PROBE_FAILURE:
        probe = message.split(" ", 1)[0]
        details["probe"] = probe if probe in _PROBES else None
    critical = found is model.EventType.NODE_NOT_READY and kind == "Node"
    return [
        model.ClusterEvent(
            type=found,
            severity=model.Severity.CRITICAL if critical else model.Severity.WARNING,
            resource=resource,
            reason=reason,
            message=message,
            details=details,
            observed_at=now,
        )
    ]


def _count(body: Mapping[str, Any]) -> int:
    """How many times the Event was seen: the largest of ``count``, ``series.count`` and
    ``deprecatedCount`` (1 when none is set)."""
    counts = (
        fields.get_int(body, "count"),
        fields.get_int(fields.get_map(body, "series"), "count"),
        fields.get_int(body, "deprecatedCount"),
    )
    return max([count for count in counts if count is not None] or [1])
