"""Subresources of the cluster emulator: ``status``, ``scale``, ``log`` and ``eviction``.

Fed by: :func:`aiops.emulator._handlers.route` for ``/RESOURCE/NAME/SUBRESOURCE`` requests.
Consumes: the emulator's storage and the shared write path in ``_handlers``.

Rules:

* ``status``: GET answers the object; PUT/PATCH change only ``status``
  (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-subresources). A
  PodDisruptionBudget's stored status is answered as the computed one (``ClusterEmulator.present``).
* ``scale``: an ``autoscaling/v1`` Scale ``{metadata, spec.replicas, status.replicas, status.selector}``
  where the selector is a string; PUT/PATCH set the parent's ``spec.replicas`` (a MODIFIED event on
  the parent). https://kubernetes.io/docs/reference/kubernetes-api/autoscaling-resources/scale-v1/
* ``log``: ``text/plain``; ``container`` (required when the pod has several), ``previous``,
  ``tailLines``, ``limitBytes``; no previous log answers 400
  ``previous terminated container "c" in pod "p" not found``.
  https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#get-read-log-of-the-specified-pod
* ``eviction``: a ``policy/v1`` Eviction; 201 with a Success Status and the pod deleted, or 429 when a
  PodDisruptionBudget forbids it (see ``_disruption``).
  https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import kmock
from kmock._internal.rendering import Response  # kmock exports it, but not in its __all__

from aiops.emulator import _disruption, _handlers, _selectors
from aiops.emulator._handlers import ApiStatus

if TYPE_CHECKING:
    from aiops.emulator._resources import ResourceSpec
    from aiops.emulator.emulator import ClusterEmulator


def route(
    emu: ClusterEmulator, request: kmock.Request, spec: ResourceSpec, name: str, sub: str
) -> kmock.Payload:
    """Serve ``sub`` of object ``name``; 405 for a method the subresource does not answer."""
    method = request.method.value
    if sub == "status" and method in ("GET", "PUT", "PATCH"):
        return status(emu, request, name)
    if sub == "scale" and method in ("GET", "PUT", "PATCH"):
        return scale(emu, request, name)
    if sub == "log" and method == "GET":
        return log(emu, request, name)
    if sub == "eviction" and method == "POST":
        return evict(emu, request, name)
    raise ApiStatus(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def status(emu: ClusterEmulator, request: kmock.Request, name: str) -> dict[str, Any]:
    """GET, PUT or PATCH ``/status``: only ``status`` (and the resourceVersion precondition) apply."""
    assert request.resource is not None
    old = _handlers.existing(emu, request.resource, request.namespace, name)
    if request.method.value == "GET":
        return emu.present(request.resource, old)
    incoming = (
        _handlers.body_object(request) if request.method.value == "PUT" else _handlers.patched(request, old)
    )
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = (incoming.get("metadata") or {}).get("resourceVersion")
    if "status" in incoming:
        new["status"] = incoming["status"]
    else:
        new.pop("status", None)
    written = _handlers.write(emu, request.resource, old, new, dry=_handlers.is_dry_run(request))
    return emu.present(request.resource, written)


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` Scale view of a Deployment, StatefulSet or ReplicaSet."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    selector = _selectors.from_label_selector(spec.get("selector"))
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas", 0)),
            "selector": _selectors.format_selector(selector),
        },
    }


def scale(emu: ClusterEmulator, request: kmock.Request, name: str) -> dict[str, Any]:
    """GET, PUT or PATCH ``/scale``; a write sets the parent's ``spec.replicas`` (422 if not an int >= 0)."""
    assert request.resource is not None
    old = _handlers.existing(emu, request.resource, request.namespace, name)
    current = scale_of(old)
    if request.method.value == "GET":
        return current
    incoming = (
        _handlers.body_object(request)
        if request.method.value == "PUT"
        else _handlers.patched(request, current)
    )
    replicas = (incoming.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        message = f"Scale.spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0"
        raise ApiStatus(422, "Invalid", message)
    new = copy.deepcopy(old)
    new.setdefault("spec", {})["replicas"] = replicas
    new["metadata"]["resourceVersion"] = (incoming.get("metadata") or {}).get("resourceVersion")
    return scale_of(_handlers.write(emu, request.resource, old, new, dry=_handlers.is_dry_run(request)))


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def log(emu: ClusterEmulator, request: kmock.Request, name: str) -> Response:
    """GET ``/log`` as ``text/plain`` from the log store (see :meth:`ClusterEmulator.set_pod_log`)."""
    assert request.resource is not None and request.namespace is not None
    pod = _handlers.existing(emu, request.resource, request.namespace, name)
    spec = pod.get("spec") or {}
    main = [c.get("name") for c in spec.get("containers") or []]
    names = main + [
        c.get("name") for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])
    ]
    container = request.params.get("container") or None
    if container is None and len(main) > 1:
        message = (
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(map(str, main))}]"
        )
        raise ApiStatus(400, "BadRequest", message)
    if container is None and main:
        container = main[0]
    if container is not None and names and container not in names:
        raise ApiStatus(400, "BadRequest", f"container {container} is not valid for pod {name}")
    previous = _truthy(request.params.get("previous"))
    text = emu.pod_log(request.namespace, name, container, previous=previous)
    if text is None and previous:
        message = f'previous terminated container "{container}" in pod "{name}" not found'
        raise ApiStatus(400, "BadRequest", message)
    text = text or ""
    try:
        tail = int(request.params["tailLines"]) if request.params.get("tailLines") else None
        limit = int(request.params["limitBytes"]) if request.params.get("limitBytes") else None
    except ValueError as exc:
        raise ApiStatus(400, "BadRequest", f"invalid log parameter: {exc}") from exc
    if tail is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-tail:]) if tail > 0 else ""
    data = text.encode()
    if limit is not None:
        data = data[:limit]
    return Response(status=200, payload=data, headers={"Content-Type": "text/plain"})


def evict(emu: ClusterEmulator, request: kmock.Request, name: str) -> Response:
    """POST ``/eviction``: 201 Success (pod deleted unless dry-run), 429 when a budget forbids it."""
    assert request.resource is not None and request.namespace is not None
    pod = _handlers.existing(emu, request.resource, request.namespace, name)
    eviction = _handlers.body_object(request)
    if (eviction.get("metadata") or {}).get("name", name) != name:
        raise ApiStatus(400, "BadRequest", "name in URL does not match name in Eviction object")
    dry = _handlers.is_dry_run(request, eviction.get("deleteOptions"))
    budgets = emu.list_objects("policy/v1", "PodDisruptionBudget", request.namespace)
    pods = emu.list_objects("v1", "Pod", request.namespace)
    try:
        refusal = _disruption.check_eviction(pod, budgets, pods, emu.controller_scale)
    except _disruption.MultipleBudgets as exc:
        raise ApiStatus(500, "InternalError", str(exc)) from exc
    if refusal is not None:
        details = {"causes": [{"reason": "DisruptionBudget", "message": refusal.cause}]}
        raise ApiStatus(429, "TooManyRequests", _disruption.TOO_MANY_REQUESTS_MESSAGE, details)
    _handlers.delete_object(emu, request.resource, pod, dry=dry)
    body = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 201}
    return Response(status=201, payload=body)
