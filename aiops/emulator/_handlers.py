"""Object endpoints of the cluster emulator: create, get, list, watch, update, patch, delete.

Fed by: :meth:`aiops.emulator.emulator.ClusterEmulator._serve` for every request to a served
resource. Consumes: the emulator's storage methods; ``_subresources`` for ``/status``, ``/scale``,
``/log`` and ``/eviction``.

Rules, from "API Concepts" (https://kubernetes.io/docs/reference/using-api/api-concepts/):

* Every stored write gets a new ``metadata.resourceVersion``; lists carry the current one in
  ``metadata.resourceVersion``; a watch from resourceVersion N replays every change after N, a
  watch without one (or ``0``) starts with ADDED for every existing object; too old a version
  answers an ERROR event with 410 Expired.
* A PUT, or a patch whose result carries ``metadata.resourceVersion``, that differs from the stored
  one answers 409 Conflict (optimistic concurrency). A write that changes nothing stores nothing.
* ``dryRun=All`` runs every check and answers the would-be result, storing nothing.
* A core/v1 Event is created only in its ``involvedObject``'s namespace (422 otherwise).
* Create sets ``uid``, ``creationTimestamp`` (when absent) and ``generation`` 1; ``generation`` grows
  by one whenever anything outside ``metadata``/``status`` changes (the object's "spec").
* With a ``status`` subresource, writes to the object ignore ``status`` (and vice versa).
* Delete of an object with finalizers only sets ``deletionTimestamp``; it goes away once a write
  empties ``metadata.finalizers`` (https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/).
* A watch with a selector sees an object entering the selection as ADDED and leaving it as DELETED.
* Every object in an answer (GET, LIST items, WATCH events, write results) goes through
  :meth:`ClusterEmulator.present`: a PodDisruptionBudget carries the status the disruption
  controller would maintain, computed at that moment
  (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/#PodDisruptionBudgetStatus).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import kmock
from kmock._internal.rendering import Response  # kmock exports it, but not in its __all__

from aiops.emulator import _patches, _resources, _selectors

if TYPE_CHECKING:
    from aiops.emulator._resources import ResourceSpec
    from aiops.emulator.emulator import Change, ClusterEmulator

_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
}
_REASONS |= {422: "Invalid", 429: "TooManyRequests", 500: "InternalError"}
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


class ApiStatus(Exception):
    """A failure the emulator answers as a ``v1 Status`` object with HTTP status ``code``.

    Shape: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
    """

    def __init__(self, code: int, reason: str | None, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or _REASONS.get(code, "InternalError")
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The Status: ``{"kind": "Status", "status": "Failure", "code", "reason", "message", ...}``."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure"}
        body |= {"message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: kmock.resource) -> str:
    """``pods`` for the core group, else ``deployments.apps`` (how API messages name resources)."""
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


def not_found(resource: kmock.resource, name: str) -> ApiStatus:
    """404 ``pods "x" not found``."""
    details: dict[str, Any] = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return ApiStatus(404, "NotFound", f'{qualified(resource)} "{name}" not found', details)


def conflict(resource: kmock.resource, name: str) -> ApiStatus:
    """409 Conflict for a stale resourceVersion, worded as the API server words it."""
    message = (
        f'Operation cannot be fulfilled on {qualified(resource)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiStatus(409, "Conflict", message, {"name": name, "kind": resource.plural})


def is_dry_run(request: kmock.Request, options: Mapping[str, Any] | None = None) -> bool:
    """``dryRun=All`` in the query (or in DeleteOptions); any other value answers 400."""
    value = request.params.get("dryRun")
    if value not in (None, "", "All"):
        raise ApiStatus(400, "BadRequest", f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return value == "All" or "All" in ((options or {}).get("dryRun") or [])


def body_object(request: kmock.Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 otherwise."""
    if not isinstance(request.data, dict):
        raise ApiStatus(400, "BadRequest", "the request body is not a JSON object")
    return copy.deepcopy(request.data)


def content_type(request: kmock.Request) -> str:
    """The request's media type without parameters, lower-cased."""
    for key, value in request.headers.items():
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def next_generation(old: Mapping[str, Any], new: Mapping[str, Any]) -> int:
    """The old generation, plus one when anything outside metadata/status changed."""
    generation = int((old.get("metadata") or {}).get("generation") or 1)
    skip = ("metadata", "status", "apiVersion", "kind")
    changed = {k: v for k, v in old.items() if k not in skip} != {
        k: v for k, v in new.items() if k not in skip
    }
    return generation + 1 if changed else generation


def route(emu: ClusterEmulator, request: kmock.Request) -> kmock.Payload:
    """Dispatch one request to a served resource; raises :class:`ApiStatus` for API failures."""
    from aiops.emulator import _subresources

    assert request.resource is not None
    res = request.resource
    spec = emu.spec_for(res)
    ns, name, sub, method = request.namespace, request.name, request.subresource, request.method.value
    if (ns is not None and not spec.namespaced) or (name is not None and spec.namespaced and ns is None):
        raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
    watching = request.params.get("watch") in ("true", "1", "True")
    if sub is not None:
        if name is None or sub not in spec.subresources:
            raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
        return _subresources.route(emu, request, spec, name, sub)
    if name is None and method == "GET":
        return watch(emu, request, None) if watching else list_objects(emu, request, spec)
    if name is None and method == "POST":
        return create(emu, request, spec)
    if name is not None and method == "GET":
        return watch(emu, request, name) if watching else get(emu, res, ns, name)
    if name is not None and method == "PUT":
        return update(emu, request, spec, name)
    if name is not None and method == "PATCH":
        return patch(emu, request, spec, name)
    if name is not None and method == "DELETE":
        return delete(emu, request, name)
    raise ApiStatus(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def existing(emu: ClusterEmulator, res: kmock.resource, ns: str | None, name: str) -> dict[str, Any]:
    """The stored object or 404."""
    obj = emu.load(res, ns, name)
    if obj is None:
        raise not_found(res, name)
    return obj


def get(emu: ClusterEmulator, res: kmock.resource, ns: str | None, name: str) -> dict[str, Any]:
    """GET one object (as :meth:`ClusterEmulator.present` serves it)."""
    return emu.present(res, existing(emu, res, ns, name))


def _selectors_of(request: kmock.Request) -> tuple[_selectors.Selector, _selectors.FieldSelector]:
    assert request.resource is not None and request.resource.plural is not None
    try:
        labels = _selectors.parse_label_selector(request.params.get("labelSelector"))
        fields = _selectors.parse_field_selector(request.params.get("fieldSelector"), request.resource.plural)
    except _selectors.SelectorError as exc:
        raise ApiStatus(400, "BadRequest", str(exc)) from exc
    return labels, fields


def list_objects(emu: ClusterEmulator, request: kmock.Request, spec: ResourceSpec) -> dict[str, Any]:
    """LIST with label/field selectors: ``{"kind": "PodList", "metadata": {"resourceVersion"}, "items"}``."""
    assert request.resource is not None
    labels, fields = _selectors_of(request)
    found = emu.select(request.resource, request.namespace, labels=labels, fields=fields)
    items = [emu.present(request.resource, obj) for obj in found]
    meta = {"resourceVersion": str(emu.resource_version)}
    return {"apiVersion": spec.api_version, "kind": f"{spec.kind}List", "metadata": meta, "items": items}


def create(emu: ClusterEmulator, request: kmock.Request, spec: ResourceSpec) -> Response:
    """POST a new object: 201 with the stored object, 409 AlreadyExists, 400/422 on a bad body."""
    from aiops.emulator.emulator import random_suffix

    assert request.resource is not None
    obj = body_object(request)
    dry = is_dry_run(request)
    meta = obj.setdefault("metadata", {})
    if spec.namespaced:
        if request.namespace is None:
            raise ApiStatus(404, "NotFound", "the server could not find the requested resource")
        if meta.get("namespace") not in (None, "", request.namespace):
            message = "the namespace of the provided object does not match the namespace sent on the request"
            raise ApiStatus(400, "BadRequest", message)
        meta["namespace"] = request.namespace
    else:
        meta.pop("namespace", None)
    if meta.get("resourceVersion"):
        raise ApiStatus(400, "BadRequest", "resourceVersion should not be set on objects to be created")
    if (spec.group, spec.kind) == ("", "Event"):
        _check_core_event(obj)
    if not meta.get("name"):
        if not meta.get("generateName"):
            raise ApiStatus(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        meta["name"] = meta["generateName"] + random_suffix()
    if emu.load(request.resource, meta.get("namespace"), meta["name"]) is not None:
        details = {"name": meta["name"], "kind": request.resource.plural}
        raise ApiStatus(
            409, "AlreadyExists", f'{qualified(request.resource)} "{meta["name"]}" already exists', details
        )
    obj["apiVersion"], obj["kind"] = spec.api_version, spec.kind
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", emu.now())
    meta["generation"] = 1
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(field, None)
    stored = obj if dry else emu.commit(request.resource, obj, "ADDED", None)
    return Response(status=201, payload=emu.present(request.resource, stored))


def _check_core_event(event: Mapping[str, Any]) -> None:
    """A core/v1 Event without ``eventTime`` (the legacy form) must be in its involved object's
    namespace, or in ``default``/no namespace for a cluster-scoped object: 422 otherwise
    (Kubernetes API reference, Event v1; the API server's event validation)."""
    if event.get("eventTime"):
        return
    namespace = (event.get("metadata") or {}).get("namespace") or ""
    involved = str((event.get("involvedObject") or {}).get("namespace") or "")
    if (involved and namespace != involved) or (not involved and namespace not in ("", "default")):
        name = (event.get("metadata") or {}).get("name")
        raise ApiStatus(
            422,
            "Invalid",
            f'Event "{name}" is invalid: involvedObject.namespace: Invalid value: "{involved}": '
            "does not match event.namespace",
        )


def write(
    emu: ClusterEmulator, res: kmock.resource, old: dict[str, Any], new: dict[str, Any], *, dry: bool
) -> dict[str, Any]:
    """Store an update of ``old`` to ``new`` after the checks every update shares; returns the result.

    Name and namespace may not change (400); a differing resourceVersion is a 409 Conflict; system
    fields are kept; emptying the finalizers of a terminating object deletes it.
    """
    old_meta = old["metadata"]
    meta = new.setdefault("metadata", {})
    for field in ("name", "namespace"):
        if meta.get(field, old_meta.get(field)) != old_meta.get(field):
            message = f"the {field} of the object ({meta.get(field)}) does not match the {field} on the URL"
            raise ApiStatus(400, "BadRequest", message)
        if field in old_meta:
            meta[field] = old_meta[field]
    if meta.get("resourceVersion") not in (None, "", old_meta.get("resourceVersion")):
        raise conflict(res, old_meta["name"])
    for field in _SYSTEM_FIELDS:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta["generation"] = next_generation(old, new)
    meta["resourceVersion"] = old_meta.get("resourceVersion")
    new.setdefault("apiVersion", old.get("apiVersion"))
    new.setdefault("kind", old.get("kind"))
    if new == old or dry:
        return new
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        return emu.remove(res, new)
    return emu.commit(res, new, "MODIFIED", old)


def _keep_status(spec: ResourceSpec, old: dict[str, Any], new: dict[str, Any]) -> None:
    if "status" in spec.subresources:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)


def update(emu: ClusterEmulator, request: kmock.Request, spec: ResourceSpec, name: str) -> dict[str, Any]:
    """PUT: replace the object (status kept when it has a status subresource)."""
    assert request.resource is not None
    old = existing(emu, request.resource, request.namespace, name)
    new = body_object(request)
    _keep_status(spec, old, new)
    return emu.present(request.resource, write(emu, request.resource, old, new, dry=is_dry_run(request)))


def patched(request: kmock.Request, target: dict[str, Any]) -> dict[str, Any]:
    """``target`` with the request's patch applied per its Content-Type (400/415/422 on failure)."""
    assert request.resource is not None
    custom = request.resource.group not in _resources.BUILTIN_GROUPS
    try:
        result = _patches.apply_patch(content_type(request), target, request.data, custom_resource=custom)
    except _patches.PatchError as exc:
        raise ApiStatus(exc.status, None, str(exc)) from exc
    if not isinstance(result, dict):
        raise ApiStatus(422, "Invalid", "the patched object is not a JSON object")
    return result


def patch(emu: ClusterEmulator, request: kmock.Request, spec: ResourceSpec, name: str) -> dict[str, Any]:
    """PATCH (merge, strategic merge or JSON patch) the object."""
    assert request.resource is not None
    old = existing(emu, request.resource, request.namespace, name)
    new = patched(request, old)
    _keep_status(spec, old, new)
    return emu.present(request.resource, write(emu, request.resource, old, new, dry=is_dry_run(request)))


def delete(emu: ClusterEmulator, request: kmock.Request, name: str) -> dict[str, Any]:
    """DELETE with optional ``preconditions`` (uid, resourceVersion: 409 on mismatch) and dryRun."""
    assert request.resource is not None
    old = existing(emu, request.resource, request.namespace, name)
    options = request.data if isinstance(request.data, dict) else {}
    preconditions = options.get("preconditions") or {}
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted, actual = preconditions.get(field), old["metadata"].get(field)
        if wanted and wanted != actual:
            message = (
                f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}"
            )
            raise ApiStatus(409, "Conflict", message, {"name": name, "kind": request.resource.plural})
    dry = is_dry_run(request, options)
    return emu.present(request.resource, delete_object(emu, request.resource, old, dry=dry))


def delete_object(
    emu: ClusterEmulator, res: kmock.resource, old: dict[str, Any], *, dry: bool
) -> dict[str, Any]:
    """Delete now, or only mark ``deletionTimestamp`` while finalizers remain; returns the object."""
    meta = old["metadata"]
    if meta.get("deletionTimestamp"):
        return old
    if meta.get("finalizers"):
        new = copy.deepcopy(old)
        new["metadata"] |= {"deletionTimestamp": emu.now(), "deletionGracePeriodSeconds": 0}
        return new if dry else emu.commit(res, new, "MODIFIED", old)
    return old if dry else emu.remove(res, old)


def watch(emu: ClusterEmulator, request: kmock.Request, name: str | None) -> AsyncIterator[kmock.Payload]:
    """WATCH (``?watch=true``): a stream of ``{"type", "object"}`` lines; see the module docstring."""
    assert request.resource is not None
    labels, fields = _selectors_of(request)
    raw_rv = request.params.get("resourceVersion") or "0"
    try:
        since = None if raw_rv == "0" else int(raw_rv)
        timeout = float(request.params["timeoutSeconds"]) if request.params.get("timeoutSeconds") else None
    except ValueError as exc:
        raise ApiStatus(400, "BadRequest", f"invalid watch parameter: {exc}") from exc
    scope = (request.resource, request.namespace, name, labels, fields)
    return _stream(emu, scope, since, timeout)


_Scope = tuple[kmock.resource, str | None, str | None, _selectors.Selector, _selectors.FieldSelector]


async def _stream(
    emu: ClusterEmulator, scope: _Scope, since: int | None, timeout_seconds: float | None
) -> AsyncIterator[kmock.Payload]:
    res, ns, name, labels, fields = scope
    loop = asyncio.get_running_loop()
    deadline = None if timeout_seconds is None else loop.time() + timeout_seconds
    # The snapshot is taken before the headers go out: a client that saw them sees every later write.
    cursor = emu.resource_version if since is None else since
    snapshot = [] if since is not None else emu.select(res, ns, name=name, labels=labels, fields=fields)
    yield b""  # send the headers now, even if nothing happens for a while
    for obj in snapshot:
        yield {"type": "ADDED", "object": emu.present(res, obj)}
    while not emu.closing:
        found = emu.changes_since(cursor)
        if found is None:
            message = f"too old resource version: {cursor} ({emu.resource_version})"
            yield {"type": "ERROR", "object": ApiStatus(410, "Expired", message).body()}
            return
        changes, waiter = found
        for change in changes:
            cursor = change.rv
            event = _project(emu, change, scope)
            if event is not None:
                yield event
        if changes:
            continue
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return
        try:
            await asyncio.wait_for(waiter.wait(), remaining)
        except TimeoutError:
            return


def _project(emu: ClusterEmulator, change: Change, scope: _Scope) -> dict[str, Any] | None:
    res, ns, name, labels, fields = scope
    meta = change.new.get("metadata") or {}
    if change.resource != res or (ns is not None and meta.get("namespace") != ns):
        return None
    if name is not None and meta.get("name") != name:
        return None
    now_in = emu.selected(change.new, labels, fields)
    was_in = change.old is not None and emu.selected(change.old, labels, fields)
    shown = emu.present(res, change.new)  # a PDB's status as of now; change.new is never mutated
    if change.type == "MODIFIED" and now_in != was_in:
        return {"type": "ADDED" if now_in else "DELETED", "object": shown}
    if change.type == "DELETED":
        now_in = now_in or was_in
    return {"type": change.type, "object": shown} if now_in else None
