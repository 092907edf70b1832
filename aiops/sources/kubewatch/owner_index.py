"""The owner index: which workload owns each pod and ReplicaSet the watch has seen, kept in memory.

Fed by: the kopf operator's pod and ReplicaSet watch handlers (``aiops.operator``), which call
:meth:`OwnerIndex.update` with every body (and ``deleted=True`` on DELETED). Consumed by: the
pipeline (``aiops.pipeline.Pipeline``, its ``owner_lookup``), which folds an Event about a pod
(BackOff, Unhealthy) or a ReplicaSet (FailedCreate), and an Alertmanager alert keyed on a pod,
onto the same incident as the owning workload's own status.

Domain state of the watch source, not of kopf: the owner of a body is read by
:func:`aiops.sources.kubewatch.owners.owner_of` and its key by
:func:`aiops.sources.kubewatch.owners.member_key` (``ObjectMeta.ownerReferences``, Kubernetes
API reference). Pure memory: no API calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.events.model import ObjectRef
from aiops.sources.kubewatch.owners import member_key, owner_of


class OwnerIndex:
    """``Pod/ns/name`` or ``ReplicaSet/ns/name`` → owning workload, kept from those watches.

    Lets an Event about a pod (BackOff, Unhealthy) or a ReplicaSet (FailedCreate) fold onto the
    same incident as the object's own status. Memory: one small entry per owned object.
    """

    def __init__(self) -> None:
        self._owners: dict[str, ObjectRef] = {}

    def update(self, body: Mapping[str, Any], *, deleted: bool) -> None:
        """Record or forget the owner of the pod or ReplicaSet in ``body`` (a watch body; a
        malformed one, or one without an owner, is forgotten)."""
        key = member_key(body)
        if key is None:
            return
        owner = None if deleted else owner_of(body)
        if owner is None:
            self._owners.pop(key, None)
        else:
            self._owners[key] = owner

    def lookup(self, pod_key: str) -> ObjectRef | None:
        """The owner of ``pod_key`` (``Kind/namespace/name``), or None if unknown or bare."""
        return self._owners.get(pod_key)

    def __len__(self) -> int:
        return len(self._owners)
