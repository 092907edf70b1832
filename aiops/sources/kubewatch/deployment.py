"""Deployment detector: a raw ``apps/v1/Deployment`` body -> stuck rollouts and 0-available workloads.

Fed by: the operator's Deployment watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup; the subject is the Deployment itself, the same subject its pods and
ReplicaSets fold onto (see :mod:`.owners`), so a Deployment and its pods share dedup keys.

Rules, from the Kubernetes API reference (``DeploymentStatus``, ``DeploymentCondition``) and the
Deployment controller's documented condition reasons:

* ``Progressing`` with status ``False`` and reason ``ProgressDeadlineExceeded`` ->
  ``rollout_stuck``, unless ``spec.paused`` (a paused rollout is not stuck). Critical when no
  replica is available, else warning (the old ReplicaSet still serves).
* ``spec.replicas`` > 0 (the API default is 1), ``status.availableReplicas`` 0 or missing, and
  ``Available`` with status ``False`` -> ``replication_failure``, critical. Its reason and message
  come from a ``ReplicaFailure: True`` condition when there is one (e.g. ``FailedCreate``:
  quota exceeded), else from ``Available`` (``MinimumReplicasUnavailable``).
  ``spec.replicas: 0`` is healthy.

Details keys: ``condition``, ``desired_replicas``, ``available_replicas``, ``updated_replicas``,
``unavailable_replicas``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)


def detect_deployment(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for an ``apps/v1/Deployment`` body; ``[]`` when healthy or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    meta = fields.get_map(body, "metadata")
    spec = fields.get_map(body, "spec")
    status = fields.require_map(body, "status")
    conditions = fields.conditions(status)
    desired = fields.get_int(spec, "replicas")
    desired = 1 if desired is None else desired
    available = fields.get_int(status, "availableReplicas") or 0
    none_available = desired > 0 and available == 0
    counts: dict[str, str | int | float | bool | None] = {
        "desired_replicas": desired,
        "available_replicas": available,
        "updated_replicas": fields.get_int(status, "updatedReplicas") or 0,
        "unavailable_replicas": fields.get_int(status, "unavailableReplicas") or 0,
    }
    owner = owners.resolve_owner(body)
    labels = fields.labels_of(meta)

    def event(type_: model.EventType, critical: bool, condition: Mapping[str, Any]) -> model.ClusterEvent:
        return model.ClusterEvent(
            type=type_,
            severity=model.Severity.CRITICAL if critical else model.Severity.WARNING,
            resource=resource,
            owner=owner,
            reason=fields.get_str(condition, "reason"),
            message=fields.get_str(condition, "message"),
            labels=labels,
            details={"condition": fields.require_str(condition, "type"), **counts},
            observed_at=now,
        )

    events: list[model.ClusterEvent] = []
    progressing = conditions.get("Progressing", {})
    if (
        not fields.get_bool(spec, "paused")
        and fields.get_str(progressing, "status") == "False"
        and fields.get_str(progressing, "reason") == "ProgressDeadlineExceeded"
    ):
        events.append(event(model.EventType.ROLLOUT_STUCK, none_available, progressing))
    available_condition = conditions.get("Available", {})
    if none_available and fields.get_str(available_condition, "status") == "False":
        failure = conditions.get("ReplicaFailure", {})
        cause = failure if fields.get_str(failure, "status") == "True" else available_condition
        events.append(event(model.EventType.REPLICATION_FAILURE, True, cause))
    return events
