"""ClusterEvent: the one shape every source produces and every later stage consumes.

Fed by: ``aiops.sources.kubewatch`` (detectors over watched Kubernetes objects) and, later,
``aiops.sources.alertmanager``. Consumed by: dedup (``aiops.events.dedup``), rules, playbooks.

The dedup key names *the ongoing problem*: the event type plus the subject, which is the owning
workload (Deployment, StatefulSet, DaemonSet, Job, CronJob) where the pod is only one replica of
it, else the resource itself. Two sources reporting the same problem share the key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from aiops.clock import utcnow


class EventSource(StrEnum):
    """Where an event came from."""

    KUBERNETES = "kubernetes"
    ALERTMANAGER = "alertmanager"


class Severity(StrEnum):
    """How urgent a problem is; ordered info < warning < critical (see :func:`severity_rank`)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def severity_rank(severity: Severity) -> int:
    """0 for info, 1 for warning, 2 for critical."""
    return _SEVERITY_RANK[severity]


class EventType(StrEnum):
    """The failure shapes aiops recognises. ``ALERT`` is a generic Alertmanager alert."""

    CRASH_LOOP = "crash_loop"
    OOM_KILLED = "oom_killed"
    IMAGE_PULL_BACKOFF = "image_pull_backoff"
    CREATE_CONTAINER_CONFIG_ERROR = "create_container_config_error"
    PROBE_FAILURE = "probe_failure"
    VOLUME_MOUNT_FAILED = "volume_mount_failed"
    POD_UNSCHEDULABLE = "pod_unschedulable"
    POD_EVICTED = "pod_evicted"
    PVC_PENDING = "pvc_pending"
    NODE_NOT_READY = "node_not_ready"
    NODE_PRESSURE = "node_pressure"
    REPLICATION_FAILURE = "replication_failure"
    ROLLOUT_STUCK = "rollout_stuck"
    HPA_MAXED = "hpa_maxed"
    JOB_FAILED = "job_failed"
    ALERT = "alert"


#: Owner kinds that are "the real subject" of a pod's problem: incidents fold onto them.
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"})


class ObjectRef(BaseModel):
    """A Kubernetes object reference, with fields spelled as the API spells them.

    ``namespace`` is ``None`` for cluster-scoped kinds (Node, PersistentVolume).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str | None = None
    name: str
    uid: str | None = None

    @property
    def key(self) -> str:
        """``Kind/namespace/name`` (``-`` for no namespace): the identity used in dedup keys."""
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"

    def __str__(self) -> str:
        return self.key


class ClusterEvent(BaseModel):
    """One observation of a problem.

    ``labels`` are the resource's labels (or the alert's labels); ``details`` carries
    detector-specific facts (``restart_count``, ``exit_code``, ``container``, ``node``, ...) as
    JSON scalars. ``observed_at`` is timezone-aware UTC. ``fingerprint`` is derived from
    :attr:`dedup_key` (16 hex chars of SHA-256) unless a source supplies its own.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: EventSource = EventSource.KUBERNETES
    type: EventType
    severity: Severity = Severity.WARNING
    resource: ObjectRef
    owner: ObjectRef | None = None
    reason: str = ""
    message: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    observed_at: datetime = Field(default_factory=utcnow)
    fingerprint_override: str | None = Field(default=None, exclude=True, repr=False)

    @property
    def subject(self) -> ObjectRef:
        """The object the incident is about: the owning workload when there is one, else the resource."""
        if self.owner is not None and self.owner.kind in WORKLOAD_KINDS:
            return self.owner
        return self.resource

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dedup_key(self) -> str:
        """``type:Kind/namespace/name`` of the subject: one incident per key while the problem lasts."""
        return f"{self.type.value}:{self.subject.key}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fingerprint(self) -> str:
        """16 lowercase hex chars identifying the problem (SHA-256 of :attr:`dedup_key`)."""
        if self.fingerprint_override:
            return self.fingerprint_override
        return hashlib.sha256(self.dedup_key.encode()).hexdigest()[:16]

    def template_context(self) -> dict[str, Any]:
        """The mapping playbook templates see as ``event``: this model as JSON-compatible data."""
        data = self.model_dump(mode="json", by_alias=False)
        data["subject"] = self.subject.model_dump(mode="json")
        return data
