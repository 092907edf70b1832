"""Owner resolution: which workload stands behind a Kubernetes object, read from the body alone.

Fed by: the detectors of this package (every ClusterEvent's ``owner``) and the operator, which
calls :func:`owner_of` and :func:`member_key` on watch bodies. Consumed through
``ClusterEvent.subject``: incidents fold onto the owner when its kind is in ``WORKLOAD_KINDS``.

Pure: no API calls, so a pod never resolves past what its own ``ownerReferences`` and labels
prove. Rules (Kubernetes API reference, ``ObjectMeta.ownerReferences`` and the Deployment
controller's ``pod-template-hash`` label):

* The reference used is the one with ``controller: true``; failing that, the first one.
* Pod -> ReplicaSet named ``<deployment>-<pod-template-hash>`` (the pod's own label) ->
  ``Deployment <deployment>`` (``apps/v1``, uid unknown). A ReplicaSet whose name does not end in
  the hash (or no hash label) stays the owner as is.
* ReplicaSet, StatefulSet, DaemonSet, Job, or any other controller reference -> passed through
  (with its uid), in the object's namespace.
* Job -> ``CronJob`` reference -> CronJob, normalised to ``batch/v1``.
* HorizontalPodAutoscaler -> its ``spec.scaleTargetRef``, in the HPA's namespace.
* A cluster-scoped owner (e.g. a static pod's mirror owned by its ``Node``) is not a workload:
  ``None``. A bare object (no ``ownerReferences``): ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiops import bodies
from aiops.events import model
from aiops.sources.kubewatch import fields

log = logging.getLogger(__name__)

#: Label the Deployment controller puts on its ReplicaSets and their pods.
POD_TEMPLATE_HASH = "pod-template-hash"


def controller_ref(body: Mapping[str, Any]) -> bodies.OwnerReference | None:
    """The ``controller: true`` entry of ``metadata.ownerReferences``, else the first, else ``None``
    (:func:`aiops.bodies.primary_owner`). Strict: the references must be objects and each
    ``controller`` up to the controller's a boolean, else :class:`fields.Malformed`."""
    refs = fields.get_list(fields.get_map(body, "metadata"), "ownerReferences")
    any(fields.get_bool(ref, "controller") for ref in refs)  # validates up to the controller's
    return bodies.primary_owner(body)


def resolve_owner(body: Mapping[str, Any]) -> model.ObjectRef | None:
    """:func:`owner_of` without the guard: raises :class:`fields.Malformed` on a malformed body."""
    kind = fields.require_str(body, "kind")
    meta = fields.get_map(body, "metadata")
    namespace = fields.get_str(meta, "namespace") or None
    if kind == "HorizontalPodAutoscaler":
        return _scale_target(body, namespace)
    ref = controller_ref(body)
    if ref is None:
        return None
    ref_kind = fields.require_str(ref, "kind")
    ref_name = fields.require_str(ref, "name")
    if ref_kind in fields.CLUSTER_SCOPED_KINDS:
        return None
    api_version = fields.get_str(ref, "apiVersion") or fields.DEFAULT_API_VERSIONS.get(ref_kind, "")
    if kind == "Pod" and ref_kind == "ReplicaSet":
        template_hash = fields.get_str(fields.labels_of(meta), POD_TEMPLATE_HASH)
        suffix = f"-{template_hash}"
        if template_hash and ref_name.endswith(suffix) and len(ref_name) > len(suffix):
            return model.ObjectRef(
                api_version="apps/v1",
                kind="Deployment",
                namespace=namespace,
                name=ref_name.removesuffix(suffix),
            )
    if ref_kind == "CronJob":
        api_version = "batch/v1"
    return model.ObjectRef(
        api_version=api_version,
        kind=ref_kind,
        namespace=namespace,
        name=ref_name,
        uid=fields.get_str(ref, "uid") or None,
    )


def _scale_target(body: Mapping[str, Any], namespace: str | None) -> model.ObjectRef | None:
    """``spec.scaleTargetRef`` (autoscaling/v2 ``CrossVersionObjectReference``) as an ObjectRef."""
    target = fields.get_map(fields.get_map(body, "spec"), "scaleTargetRef")
    if not target:
        return None
    kind = fields.require_str(target, "kind")
    return model.ObjectRef(
        api_version=fields.get_str(target, "apiVersion") or fields.DEFAULT_API_VERSIONS.get(kind, ""),
        kind=kind,
        namespace=namespace,
        name=fields.require_str(target, "name"),
    )


def owner_of(body: Mapping[str, Any]) -> model.ObjectRef | None:
    """The workload behind ``body`` (see the module docstring), or ``None``.

    Never raises: a malformed body gives ``None`` and one DEBUG log line.
    """
    try:
        if not isinstance(body, Mapping):
            raise fields.Malformed("body: expected an object")
        return resolve_owner(body)
    except (LookupError, TypeError, ValueError, AttributeError) as error:
        log.debug("no owner for malformed object: %s: %s", type(error).__name__, error)
        return None


def member_key(body: Mapping[str, Any]) -> str | None:
    """``Kind/namespace/name`` of ``body`` itself (``-`` when cluster-scoped), ``None`` if malformed.

    Equal to ``ClusterEvent.resource.key`` for events about this object, including
    Event-sourced ones (whose resource is the ``involvedObject``).
    """
    try:
        if not isinstance(body, Mapping):
            raise fields.Malformed("body: expected an object")
        return fields.ref_of(body).key
    except (LookupError, TypeError, ValueError, AttributeError) as error:
        log.debug("no member key for malformed object: %s: %s", type(error).__name__, error)
        return None
