"""Job detector: a raw ``batch/v1/Job`` body -> a Job that has failed for good.

Fed by: the operator's Job watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup; the owner is the CronJob when the Job was created by one (its controller
``ownerReference``), so repeated failing runs of a CronJob fold into one incident.

Rule, from the Kubernetes API reference (``JobStatus``, ``JobCondition``): condition ``Failed``
with status ``True`` (reasons ``BackoffLimitExceeded``, ``DeadlineExceeded``,
``PodFailurePolicy``, ``MaxFailedIndexesExceeded``) -> ``job_failed``. Critical when no pod
succeeded (``status.succeeded`` 0 or missing), else warning (part of the work got done).

Details keys: ``condition``, ``failed``, ``succeeded``, ``active``, ``backoff_limit``,
``completions``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)


def detect_job(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a ``batch/v1/Job`` body; ``[]`` when running, complete or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    spec = fields.get_map(body, "spec")
    status = fields.require_map(body, "status")
    failed = fields.conditions(status).get("Failed", {})
    if fields.get_str(failed, "status") != "True":
        return []
    succeeded = fields.get_int(status, "succeeded") or 0
    return [
        model.ClusterEvent(
            type=model.EventType.JOB_FAILED,
            severity=model.Severity.CRITICAL if succeeded == 0 else model.Severity.WARNING,
            resource=resource,
            owner=owners.resolve_owner(body),
            reason=fields.get_str(failed, "reason"),
            message=fields.get_str(failed, "message"),
            labels=fields.labels_of(fields.get_map(body, "metadata")),
            details={
                "condition": "Failed",
                "failed": fields.get_int(status, "failed") or 0,
                "succeeded": succeeded,
                "active": fields.get_int(status, "active") or 0,
                "backoff_limit": fields.get_int(spec, "backoffLimit"),
                "completions": fields.get_int(spec, "completions"),
            },
            observed_at=now,
        )
    ]
