"""TypedDict views of the Kubernetes object fields aiops reads (``total=False``: any may be absent).

Fed by: nothing (type declarations). Consumed by: :mod:`aiops.bodies.readers` (return types) and
modules that annotate raw bodies (actions, RCA evidence, detectors). They cost nothing at run
time: a body stays the plain JSON dict the API server served.

Field names and meanings follow the Kubernetes API reference
(https://kubernetes.io/docs/reference/kubernetes-api/): ``ObjectMeta`` and ``OwnerReference``
(meta/v1; ``controller: true`` marks the managing controller), ``PodSpec``/``PodStatus``/
``PodCondition``/``ContainerStatus``/``ContainerState`` (core/v1 Pod), ``NodeSpec``/
``NodeCondition`` (core/v1 Node), the apps/v1 workload statuses, ``LabelSelector`` (meta/v1,
operators In/NotIn/Exists/DoesNotExist) and core/v1 ``Event``. Only fields some aiops module
reads are declared.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "Condition",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "DeploymentBody",
    "EventBody",
    "LabelSelector",
    "LabelSelectorRequirement",
    "NodeBody",
    "NodeSpec",
    "ObjectMeta",
    "OwnerReference",
    "PodBody",
    "PodSpec",
    "PodStatus",
    "WorkloadStatus",
]


class OwnerReference(TypedDict, total=False):
    """meta/v1 ``OwnerReference``: ``controller: true`` marks the managing controller (at most one)."""

    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    """meta/v1 ``ObjectMeta``; timestamps are RFC 3339 strings, ``generation`` a sequence number."""

    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str


class Condition(TypedDict, total=False):
    """A status condition (``PodCondition``, ``NodeCondition``, ``DeploymentCondition``...).

    ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``; times are RFC 3339 strings.
    """

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str


class ContainerStateWaiting(TypedDict, total=False):
    """core/v1 ``ContainerStateWaiting`` (``reason``: ``CrashLoopBackOff``, ``ImagePullBackOff``...)."""

    reason: str
    message: str


class ContainerStateRunning(TypedDict, total=False):
    """core/v1 ``ContainerStateRunning``."""

    startedAt: str


class ContainerStateTerminated(TypedDict, total=False):
    """core/v1 ``ContainerStateTerminated``; ``exitCode`` above 128 is 128 + the signal number."""

    reason: str
    message: str
    exitCode: int
    signal: int
    startedAt: str
    finishedAt: str


class ContainerState(TypedDict, total=False):
    """core/v1 ``ContainerState``: at most one of the three is set."""

    waiting: ContainerStateWaiting
    running: ContainerStateRunning
    terminated: ContainerStateTerminated


class ContainerStatus(TypedDict, total=False):
    """core/v1 ``ContainerStatus``; ``lastState`` is the previous termination (``restartCount`` > 0)."""

    name: str
    image: str
    ready: bool
    restartCount: int
    state: ContainerState
    lastState: ContainerState


class PodSpec(TypedDict, total=False):
    """core/v1 ``PodSpec`` fields aiops reads (containers stay plain JSON objects)."""

    nodeName: str
    containers: list[dict[str, Any]]
    initContainers: list[dict[str, Any]]
    volumes: list[dict[str, Any]]


class PodStatus(TypedDict, total=False):
    """core/v1 ``PodStatus``: ``phase`` is Pending, Running, Succeeded, Failed or Unknown."""

    phase: str
    reason: str
    message: str
    conditions: list[Condition]
    containerStatuses: list[ContainerStatus]
    initContainerStatuses: list[ContainerStatus]


class PodBody(TypedDict, total=False):
    """A core/v1 Pod."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class NodeSpec(TypedDict, total=False):
    """core/v1 ``NodeSpec``: ``unschedulable`` is what ``kubectl cordon`` sets."""

    unschedulable: bool
    taints: list[dict[str, Any]]


class NodeBody(TypedDict, total=False):
    """A core/v1 Node; its ``status.conditions`` are ``NodeCondition`` entries."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: dict[str, Any]


class WorkloadStatus(TypedDict, total=False):
    """The apps/v1 Deployment/ReplicaSet/StatefulSet (replica counts) and DaemonSet (number*)
    status fields aiops reads."""

    observedGeneration: int
    replicas: int
    readyReplicas: int
    availableReplicas: int
    updatedReplicas: int
    unavailableReplicas: int
    desiredNumberScheduled: int
    numberAvailable: int
    numberUnavailable: int
    updatedNumberScheduled: int
    conditions: list[Condition]


class DeploymentBody(TypedDict, total=False):
    """An apps/v1 Deployment, ReplicaSet, StatefulSet or DaemonSet (``spec.replicas`` defaults to 1)."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: WorkloadStatus


class LabelSelectorRequirement(TypedDict, total=False):
    """meta/v1 ``LabelSelectorRequirement``: ``operator`` is In, NotIn, Exists or DoesNotExist."""

    key: str
    operator: str
    values: list[str]


class LabelSelector(TypedDict, total=False):
    """meta/v1 ``LabelSelector``: ``matchLabels`` and ``matchExpressions`` are ANDed."""

    matchLabels: dict[str, str]
    matchExpressions: list[LabelSelectorRequirement]


class EventBody(TypedDict, total=False):
    """A core/v1 Event (``count``/``firstTimestamp``/``lastTimestamp``; events.k8s.io/v1 moves
    them to ``series``/``eventTime``)."""

    type: str
    reason: str
    message: str
    count: int
    firstTimestamp: str
    lastTimestamp: str
    eventTime: str
    involvedObject: dict[str, Any]
    series: dict[str, Any]
