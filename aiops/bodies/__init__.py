"""Typed views of the Kubernetes object bodies aiops reads, and lenient readers over them.

Fed by: raw bodies as the API server serves them (``kubectl get -o json`` shapes: camelCase JSON
through :mod:`aiops.kube`, watch events, saved dumps). Consumed by: the detectors
(:mod:`aiops.sources.kubewatch`, which keep their strict type checks on top), the actions
(:mod:`aiops.actions`), the RCA evidence and heuristics (:mod:`aiops.enrichment.rca`) and the
emulator. It imports nothing from aiops. :mod:`.views` holds the TypedDicts, :mod:`.readers` the
readers; both are re-exported here.

The ``TypedDict`` views (``total=False``: every field may be absent) name only the fields aiops
reads; they document shapes for the type checker and cost nothing at run time. Field names and
meanings follow the Kubernetes API reference (https://kubernetes.io/docs/reference/kubernetes-api/):
``ObjectMeta`` and ``OwnerReference`` (meta/v1), ``PodSpec``/``PodStatus``/``PodCondition``/
``ContainerStatus``/``ContainerState`` (core/v1 Pod), ``NodeSpec``/``NodeCondition`` (core/v1
Node), the ``apps/v1`` workload statuses, ``LabelSelector`` (meta/v1) and core/v1 ``Event``.

The readers are *lenient*: a missing, ``null`` or wrongly typed field reads as absent (``{}``,
``[]``, ``""``, ``None``); they never raise. Callers that must tell a malformed body from a
healthy one (the detectors) validate first, through ``aiops.sources.kubewatch.fields``.
"""

from __future__ import annotations

from aiops.bodies import readers, views
from aiops.bodies.readers import *  # noqa: F403  (the readers' __all__, re-exported)
from aiops.bodies.views import *  # noqa: F403  (the views' __all__, re-exported)

__all__ = readers.__all__ + views.__all__
