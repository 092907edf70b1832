"""Node detector: a raw ``v1/Node`` body -> readiness and resource-pressure problems.

Fed by: the operator's Node watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup (the subject is the Node itself, cluster-scoped: ``Node/-/<name>``) and the
node playbooks (cordon, drain).

Rules, from the Kubernetes API reference (``NodeStatus.conditions``, ``NodeCondition`` types as
set by the kubelet and the node lifecycle controller):

* ``Ready`` with status ``False`` (kubelet reports, e.g. reason ``KubeletNotReady``) or
  ``Unknown`` (the kubelet stopped posting status; reason ``NodeStatusUnknown``) ->
  ``node_not_ready``, **critical**: every pod on the node is affected.
* ``MemoryPressure``, ``DiskPressure``, ``PIDPressure`` with status ``True`` -> one
  ``node_pressure`` event per condition, warning. Events share one dedup key
  (``node_pressure:Node/-/<name>``); ``details["condition"]`` tells them apart.

A cordoned node (``spec.unschedulable: true``) still reports; ``details["unschedulable"]`` says so.
Details keys: ``condition``, ``status`` (the condition status), ``unschedulable``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops import bodies
from aiops.events import model
from aiops.sources.kubewatch import fields

log = logging.getLogger(__name__)

PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


def detect_node(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a ``v1/Node`` body; ``[]`` when Ready without pressure, or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    meta = fields.get_map(body, "metadata")
    status = fields.require_map(body, "status")
    conditions = fields.conditions(status)
    labels = fields.labels_of(meta)
    unschedulable = fields.get_bool(fields.get_map(body, "spec"), "unschedulable")

    def event(
        type_: model.EventType, severity: model.Severity, condition: Mapping[str, Any]
    ) -> model.ClusterEvent:
        return model.ClusterEvent(
            type=type_,
            severity=severity,
            resource=resource,
            reason=fields.get_str(condition, "reason"),
            message=fields.get_str(condition, "message"),
            labels=labels,
            details={
                "condition": fields.require_str(condition, "type"),
                "status": fields.get_str(condition, "status"),
                "unschedulable": unschedulable,
            },
            observed_at=now,
        )

    events: list[model.ClusterEvent] = []
    if bodies.node_not_ready(body):
        events.append(event(model.EventType.NODE_NOT_READY, model.Severity.CRITICAL, conditions["Ready"]))
    for name in PRESSURE_CONDITIONS:
        pressure = conditions.get(name)
        if pressure is not None and fields.get_str(pressure, "status") == "True":
            events.append(event(model.EventType.NODE_PRESSURE, model.Severity.WARNING, pressure))
    return events
