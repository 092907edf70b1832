"""kubewatch: pure detectors from raw Kubernetes object bodies to :class:`ClusterEvent` lists.

Fed by: the operator's watch handlers and the ``aiops detect`` CLI (one object per call; the CLI
splits ``List`` bodies). Consumed by: the pipeline, which hands each event to dedup, and which
uses :data:`DETECTABLE` to resolve incidents when an object stops showing a problem.

Every detector is a pure function ``(body, *, now=None) -> list[ClusterEvent]``: healthy objects
give ``[]``; malformed or partial ones give ``[]`` and one DEBUG log line; none ever raises.
One module per kind, plus :mod:`.owners` (the workload behind an object), :mod:`.fields`
(strict body access and the detector guard) and :mod:`.clock` (the moment a saved dump shows,
which offline tools pass as ``now``; the live operator passes the wall clock).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from aiops.events import model
from aiops.sources.kubewatch.clock import newest_timestamp
from aiops.sources.kubewatch.deployment import detect_deployment
from aiops.sources.kubewatch.event import detect_event
from aiops.sources.kubewatch.hpa import detect_hpa
from aiops.sources.kubewatch.job import detect_job
from aiops.sources.kubewatch.node import detect_node
from aiops.sources.kubewatch.owners import member_key, owner_of
from aiops.sources.kubewatch.pod import detect_pod
from aiops.sources.kubewatch.pvc import detect_pvc
from aiops.sources.kubewatch.replicaset import detect_replicaset
from aiops.sources.kubewatch.settling import Settling, settling

__all__ = [
    "DETECTABLE",
    "DETECTORS",
    "Detector",
    "Settling",
    "detect",
    "detect_deployment",
    "detect_event",
    "detect_hpa",
    "detect_job",
    "detect_node",
    "detect_pod",
    "detect_pvc",
    "detect_replicaset",
    "member_key",
    "newest_timestamp",
    "owner_of",
    "settling",
]

log = logging.getLogger(__name__)

_T = model.EventType


class Detector(Protocol):
    """The shape of every ``detect_<kind>`` function."""

    def __call__(
        self, body: Mapping[str, Any], *, now: datetime | None = None
    ) -> list[model.ClusterEvent]: ...


#: ``kind`` -> detector. Kinds not listed are not watched for problems.
DETECTORS: Mapping[str, Detector] = {
    "Pod": detect_pod,
    "Node": detect_node,
    "Deployment": detect_deployment,
    "ReplicaSet": detect_replicaset,
    "HorizontalPodAutoscaler": detect_hpa,
    "Job": detect_job,
    "PersistentVolumeClaim": detect_pvc,
    "Event": detect_event,
}

#: ``kind`` -> the event types that kind's detector is authoritative for: when ``detect(body)``
#: of that kind yields no event of type ``T`` in this set, the object has recovered from ``T``.
#: Pods are not authoritative for ``probe_failure`` or ``volume_mount_failed`` (Events only);
#: Events never prove recovery.
DETECTABLE: Mapping[str, frozenset[model.EventType]] = {
    "Pod": frozenset(
        {
            _T.CRASH_LOOP,
            _T.OOM_KILLED,
            _T.IMAGE_PULL_BACKOFF,
            _T.CREATE_CONTAINER_CONFIG_ERROR,
            _T.POD_EVICTED,
            _T.POD_UNSCHEDULABLE,
        }
    ),
    "Node": frozenset({_T.NODE_NOT_READY, _T.NODE_PRESSURE}),
    "Deployment": frozenset({_T.ROLLOUT_STUCK, _T.REPLICATION_FAILURE}),
    "ReplicaSet": frozenset({_T.REPLICATION_FAILURE}),
    "HorizontalPodAutoscaler": frozenset({_T.HPA_MAXED}),
    "Job": frozenset({_T.JOB_FAILED}),
    "PersistentVolumeClaim": frozenset({_T.PVC_PENDING}),
    "Event": frozenset(),
}


def detect(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Dispatch ``body`` on its ``kind`` to that kind's detector.

    ``body`` is one object as ``kubectl get -o json`` prints it. ``now`` (UTC; naive is taken as
    UTC) stamps ``observed_at`` and anchors time-based rules; the wall clock when ``None``.
    An unknown kind, a ``List``, or a body that is not an object with a string ``kind``: ``[]``.
    """
    kind = body.get("kind") if isinstance(body, Mapping) else None
    detector = DETECTORS.get(kind) if isinstance(kind, str) else None
    if detector is None:
        log.debug("no detector for kind %r", kind if isinstance(kind, str) else type(kind).__name__)
        return []
    return detector(body, now=now)
