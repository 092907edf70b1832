"""Sample ClusterEvents, one realistic shape per event type the built-in playbooks handle.

Used by the playbook and rules tests; built by hand to mirror what the kubewatch detectors emit
(a pod with its owning workload, a Node, a Deployment, an HPA).
"""

from __future__ import annotations

from typing import Any

from aiops.events.model import ClusterEvent, EventSource, EventType, ObjectRef, Severity


def pod_event(
    event_type: EventType = EventType.CRASH_LOOP,
    *,
    namespace: str = "shop",
    owner_kind: str | None = "Deployment",
    labels: dict[str, str] | None = None,
    severity: Severity = Severity.WARNING,
    source: EventSource = EventSource.KUBERNETES,
    details: dict[str, Any] | None = None,
) -> ClusterEvent:
    """A problem of pod ``web-7d4f9-abcde`` in ``namespace``, owned by workload ``web`` (or bare)."""
    owner = (
        ObjectRef(api_version="apps/v1", kind=owner_kind, namespace=namespace, name="web")
        if owner_kind
        else None
    )
    return ClusterEvent(
        type=event_type,
        severity=severity,
        source=source,
        resource=ObjectRef(
            api_version="v1", kind="Pod", namespace=namespace, name="web-7d4f9-abcde", uid="u1"
        ),
        owner=owner,
        reason="BackOff",
        message="Back-off restarting failed container",
        labels={"app": "web"} if labels is None else labels,
        details={"container": "app", "restart_count": 7} if details is None else details,
    )


def node_event() -> ClusterEvent:
    """Node ``worker-2`` stopped reporting Ready (cluster-scoped)."""
    return ClusterEvent(
        type=EventType.NODE_NOT_READY,
        severity=Severity.CRITICAL,
        resource=ObjectRef(api_version="v1", kind="Node", name="worker-2"),
        reason="NodeNotReady",
        labels={"kubernetes.io/hostname": "worker-2"},
    )


def deployment_event(
    event_type: EventType = EventType.ROLLOUT_STUCK, *, kind: str = "Deployment"
) -> ClusterEvent:
    """A rollout problem of workload ``api`` in ``shop``."""
    return ClusterEvent(
        type=event_type,
        resource=ObjectRef(api_version="apps/v1", kind=kind, namespace="shop", name="api"),
        reason="ProgressDeadlineExceeded",
        labels={"app": "api"},
    )


def replicaset_event() -> ClusterEvent:
    """ReplicaSet ``api-5f6d`` of Deployment ``api`` cannot create pods (quota)."""
    return ClusterEvent(
        type=EventType.REPLICATION_FAILURE,
        resource=ObjectRef(api_version="apps/v1", kind="ReplicaSet", namespace="shop", name="api-5f6d"),
        owner=ObjectRef(api_version="apps/v1", kind="Deployment", namespace="shop", name="api"),
        reason="FailedCreate",
    )


def hpa_event(*, namespace: str = "shop", scale_target: bool = True) -> ClusterEvent:
    """HPA ``web`` is pinned at maxReplicas 10; its owner is the scale target (as the detector sets it)."""
    target = ObjectRef(api_version="apps/v1", kind="Deployment", namespace=namespace, name="web")
    return ClusterEvent(
        type=EventType.HPA_MAXED,
        resource=ObjectRef(
            api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", namespace=namespace, name="web"
        ),
        owner=target if scale_target else None,
        reason="TooManyReplicas",
        details={"current_replicas": 10, "desired_replicas": 14, "min_replicas": 2, "max_replicas": 10},
    )
