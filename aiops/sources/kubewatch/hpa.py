"""HorizontalPodAutoscaler detector: a raw ``autoscaling/v2`` HPA body -> scaling pinned at its ceiling.

Fed by: the operator's HPA watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup; the event's owner is the HPA's ``spec.scaleTargetRef`` (usually a
Deployment), so ``hpa_maxed`` is keyed on the workload the HPA scales.

Rule, from the Kubernetes API reference (``HorizontalPodAutoscalerStatus`` and
``HorizontalPodAutoscalerCondition`` of ``autoscaling/v2``): ``status.currentReplicas >=
spec.maxReplicas`` and either condition ``ScalingLimited`` is ``True`` with reason
``TooManyReplicas`` (the controller wanted more than the maximum), or ``status.desiredReplicas >
spec.maxReplicas`` -> ``hpa_maxed``, warning. An ``autoscaling/v1`` body carries no conditions
and only matches through the desired-replicas clause.

Details keys: ``condition``, ``current_replicas``, ``desired_replicas``, ``min_replicas``,
``max_replicas``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)


def detect_hpa(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a HorizontalPodAutoscaler body; ``[]`` when below its max or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    spec = fields.get_map(body, "spec")
    status = fields.require_map(body, "status")
    maximum = fields.get_int(spec, "maxReplicas")
    minimum = fields.get_int(spec, "minReplicas")  # API default 1
    current = fields.get_int(status, "currentReplicas") or 0
    desired = fields.get_int(status, "desiredReplicas") or 0
    if maximum is None:
        raise fields.Malformed("spec.maxReplicas: required")
    limited = fields.conditions(status).get("ScalingLimited", {})
    too_many = (
        fields.get_str(limited, "status") == "True" and fields.get_str(limited, "reason") == "TooManyReplicas"
    )
    if current < maximum or not (too_many or desired > maximum):
        return []
    if too_many:
        reason, message = "TooManyReplicas", fields.get_str(limited, "message")
    else:
        reason, message = "DesiredAboveMax", f"desired {desired} replicas, capped at maxReplicas {maximum}"
    return [
        model.ClusterEvent(
            type=model.EventType.HPA_MAXED,
            severity=model.Severity.WARNING,
            resource=resource,
            owner=owners.resolve_owner(body),
            reason=reason,
            message=message,
            labels=fields.labels_of(fields.get_map(body, "metadata")),
            details={
                "condition": "ScalingLimited" if too_many else None,
                "current_replicas": current,
                "desired_replicas": desired,
                "min_replicas": 1 if minimum is None else minimum,
                "max_replicas": maximum,
            },
            observed_at=now,
        )
    ]
