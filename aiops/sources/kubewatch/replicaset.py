"""ReplicaSet detector: a raw ``apps/v1/ReplicaSet`` body -> pods it cannot create.

Fed by: the operator's ReplicaSet watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup; the event's resource is the ReplicaSet and its owner the Deployment from
the ReplicaSet's controller ``ownerReference``, so the problem folds onto the Deployment.

Rule, from the Kubernetes API reference (``ReplicaSetStatus``, ``ReplicaSetCondition``): the
only condition type is ``ReplicaFailure``; status ``True`` (reason ``FailedCreate``: quota,
admission webhook, missing ServiceAccount, ...) -> ``replication_failure``. Critical when
``spec.replicas`` (default 1) > 0 and no replica is available, else warning.

Details keys: ``condition``, ``desired_replicas``, ``available_replicas``, ``ready_replicas``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)


def detect_replicaset(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for an ``apps/v1/ReplicaSet`` body; ``[]`` when healthy or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    spec = fields.get_map(body, "spec")
    status = fields.require_map(body, "status")
    failure = fields.conditions(status).get("ReplicaFailure", {})
    if fields.get_str(failure, "status") != "True":
        return []
    desired = fields.get_int(spec, "replicas")
    desired = 1 if desired is None else desired
    available = fields.get_int(status, "availableReplicas") or 0
    critical = desired > 0 and available == 0
    return [
        model.ClusterEvent(
            type=model.EventType.REPLICATION_FAILURE,
            severity=model.Severity.CRITICAL if critical else model.Severity.WARNING,
            resource=resource,
            owner=owners.resolve_owner(body),
            reason=fields.get_str(failure, "reason"),
            message=fields.get_str(failure, "message"),
            labels=fields.labels_of(fields.get_map(body, "metadata")),
            details={
                "condition": "ReplicaFailure",
                "desired_replicas": desired,
                "available_replicas": available,
                "ready_replicas": fields.get_int(status, "readyReplicas") or 0,
            },
            observed_at=now,
        )
    ]
