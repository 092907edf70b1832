"""PersistentVolumeClaim detector: a raw ``v1/PersistentVolumeClaim`` body -> a claim still unbound.

Fed by: the operator's PVC watch through :func:`aiops.sources.kubewatch.detect`.
Consumed by: dedup; the subject is the claim itself unless a workload controls it (a
StatefulSet's ``persistentVolumeClaimRetentionPolicy`` adds an ``ownerReference``).

Rule, from the Kubernetes API reference (``PersistentVolumeClaimStatus.phase``: ``Pending``,
``Bound``, ``Lost``): ``Pending`` -> ``pvc_pending``, warning. This reports the state as it is;
a claim is briefly Pending while a volume is provisioned, and stays Pending by design under a
``WaitForFirstConsumer`` storage class until a pod uses it (``details["selected_node"]`` is set
once one is scheduled), so "pending for how long" belongs to the rules, not here.

Details keys: ``storage_class`` (``spec.storageClassName``), ``requested_storage``
(``spec.resources.requests.storage``), ``access_modes`` (comma-joined), ``selected_node`` and
``storage_provisioner`` (from the ``volume.kubernetes.io/*`` annotations).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiops.events import model
from aiops.sources.kubewatch import fields, owners

log = logging.getLogger(__name__)

SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"


def detect_pvc(body: Mapping[str, Any], *, now: datetime | None = None) -> list[model.ClusterEvent]:
    """Events for a PersistentVolumeClaim body; ``[]`` when Bound or malformed (never raises)."""
    return fields.guard(log, _detect, body, now)


def _detect(body: Mapping[str, Any], now: datetime) -> list[model.ClusterEvent]:
    resource = fields.ref_of(body)
    meta = fields.get_map(body, "metadata")
    spec = fields.get_map(body, "spec")
    status = fields.require_map(body, "status")
    if fields.get_str(status, "phase") != "Pending":
        return []
    annotations = fields.get_map(meta, "annotations")
    requests = fields.get_map(fields.get_map(spec, "resources"), "requests")
    modes = spec.get("accessModes") or []
    if not isinstance(modes, list) or not all(isinstance(mode, str) for mode in modes):
        raise fields.Malformed("spec.accessModes: expected a list of strings")
    storage_class = fields.get_str(spec, "storageClassName") or None
    return [
        model.ClusterEvent(
            type=model.EventType.PVC_PENDING,
            resource=resource,
            owner=owners.resolve_owner(body),
            reason="Pending",
            message=f"PersistentVolumeClaim {resource.name} is Pending"
            + (f" (storage class {storage_class})" if storage_class else ""),
            labels=fields.labels_of(meta),
            details={
                "storage_class": storage_class,
                "requested_storage": fields.get_str(requests, "storage") or None,
                "access_modes": ",".join(modes) or None,
                "selected_node": fields.get_str(annotations, SELECTED_NODE) or None,
                "storage_provisioner": fields.get_str(annotations, STORAGE_PROVISIONER) or None,
            },
            observed_at=now,
        )
    ]
