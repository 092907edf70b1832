"""An in-memory Kubernetes API server with the semantics aiops relies on, for tests and ``aiops demo``.

Fed by: HTTP requests from :class:`aiops.kube.Kube`, kopf and raw aiohttp clients; tests seed it
with :meth:`ClusterEmulator.put_object` and :meth:`ClusterEmulator.set_pod_log`. Consumed by: the
test fixtures in ``tests/support/kube_fixtures.py`` and the demo.

kmock's ``KubernetesEmulator`` stores objects as plain merged dicts. This subclass replaces its
storage semantics wholesale (kmock's discovery endpoints, ``emu.objects`` history and reaction DSL
stay): resourceVersion and optimistic concurrency, ``dryRun=All``, label and field selectors on
list and watch, the three patch formats, ``status``/``scale``/``log``/``eviction`` subresources,
RBAC objects and SubjectAccessReviews answered from them (``_reviews``, ``rbac``).
Each rule cites the API reference; see also the private ``_selectors``, ``_patches``,
``_disruption``, ``_records`` (requests, changes) and ``_snapshot`` modules, and ``_seeding``
(the mixin with the seeding and inspection helpers tests and the demo call). User-defined kmock
reactions (``emu['get /x'] << 500``) take precedence over the emulated API, and a request they
answer changes nothing.

PodDisruptionBudgets are served with the ``status`` the disruption controller would write, computed
from the current pods on every read (see :meth:`ClusterEmulator.present`); the stored object, its
resourceVersion and the watch history are untouched by it. :meth:`ClusterEmulator.snapshot` captures
the whole stored state so a test can assert that a run (e.g. a dry run) changed nothing.

Known simplifications: the server runs no controllers (no ReplicaSets from Deployments, no garbage
collection; PDB status is computed, not stored; ``aiops.emulator.controllers`` emulates the part of
the ReplicaSet and Deployment controllers that verifications wait for); a deleted pod disappears at
once (no kubelet to finish a graceful deletion); create keeps the ``status`` it is sent (handy for
seeding); ``generation`` counts changes to anything outside metadata/status, for every kind;
creating into a missing namespace succeeds; RBAC objects are stored and answer
SubjectAccessReviews, but no request is authorized against them (every caller may do anything);
``deletecollection``, server-side apply, ``limit``/``continue`` paging and watch bookmarks are
not emulated.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal.rendering import Response  # kmock exports it, but not in its __all__

from aiops.emulator import _disruption, _handlers, _resources, _reviews, _selectors, _snapshot
from aiops.emulator._handlers import ApiStatus
from aiops.emulator._records import Call, Change, random_suffix, timestamp, utcnow
from aiops.emulator._seeding import SeedingHelpers
from aiops.emulator._snapshot import SNAPSHOT_JSON, SNAPSHOT_POD_LOGS, SNAPSHOT_RESOURCE_VERSION

__all__ = [
    "SNAPSHOT_JSON",
    "SNAPSHOT_POD_LOGS",
    "SNAPSHOT_RESOURCE_VERSION",
    "Call",
    "Change",
    "ClusterEmulator",
    "random_suffix",
    "running_emulator",
    "timestamp",
    "utcnow",
]

#: ``/api/v1/namespaces/NAME`` (not a namespaced resource below it).
_NAMESPACES_PATH = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)/?$")


_PDB = kmock.resource("policy", "v1", "poddisruptionbudgets")
_PODS = kmock.resource("", "v1", "pods")
#: The group of Leases, left out of snapshots (leader election renews them all the time).
_LEASE_GROUP = "coordination.k8s.io"


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator, SeedingHelpers):
    """A kmock Kubernetes emulator with real API semantics for the resources in ``_resources.SERVED``.

    ``clock`` gives "now" for ``creationTimestamp``/``deletionTimestamp``; ``calls`` records every
    request; ``max_changes`` bounds the watch history (older resourceVersions answer 410 Expired).
    """

    clock: Callable[[], datetime] = utcnow
    max_changes: int = 10_000
    request_log_size: int = 200
    calls: list[Call] = attrs.field(factory=list, init=False)
    _rv: int = attrs.field(default=0, init=False)
    _writes_but_leases: int = attrs.field(default=0, init=False)
    _changes: list[Change] = attrs.field(factory=list, init=False)
    _changed: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _logs: dict[tuple[str, str, str | None, bool], str] = attrs.field(factory=dict, init=False)
    _closing: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        # Discovery (/api, /apis, ...) from the scaffold; kmock's own storage fallbacks are skipped:
        # every resource request goes to _serve, below user-defined reactions.
        kmock.KubernetesScaffold.__attrs_post_init__(self)
        # kmock reads /api/v1/namespaces/NAME as a namespace prefix, not as the namespaces
        # resource (404 "Endpoint Not Found"): GETs of it go to _serve_namespaces first, so a
        # Namespace (its annotations) can be read like any other object. (Listing namespaces
        # fails inside kmock's path parsing, before any fallback; aiops never lists them.)
        self.fallback[self._is_namespaces_request] << self._serve_namespaces
        # SubjectAccessReviews are answered from the stored RBAC objects, never stored (_reviews).
        self.fallback[_reviews.is_review_request] << self._serve_review
        self.fallback[self._is_resource_request] << self._serve
        for spec in _resources.SERVED:
            self.register(spec)
        self.resources[_reviews.RESOURCE] = kmock.ResourceInfo(
            kind="SubjectAccessReview", singular="subjectaccessreview", namespaced=False, verbs={"create"}
        )

    def register(self, spec: _resources.ResourceSpec) -> None:
        """Serve one more resource (discovery, CRUD, list, watch and its declared subresources)."""
        self.resources[kmock.resource(spec.group, spec.version, spec.plural)] = kmock.ResourceInfo(
            kind=spec.kind,
            singular=spec.kind.lower(),
            namespaced=spec.namespaced,
            verbs=set(_resources.VERBS),
            subresources=set(spec.subresources),
        )

    @property
    def url(self) -> str:  # type: ignore[override]
        """The base URL of the running server, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        return str(self._next_server().url).rstrip("/")

    # --- kmock integration -------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        self.calls.append(Call(request.method.value, request.url.path, dict(request.params), request.data))
        self._bound_request_log()
        return await kmock.RawHandler._handle(self, request)

    def _bound_request_log(self) -> None:
        """Keep kmock's own request log to the last ``request_log_size`` entries.

        kmock matches every request against views that scan its whole log, so without a bound
        each request costs more than the last (minutes for a few thousand requests). A request is
        checked against the log only while it is dispatched, which the most recent entries cover;
        ``calls`` keeps the full history for assertions.
        """
        size = self.request_log_size
        if len(self._requests) > 2 * size:
            del self._requests[:-size]
            for payload in self._payloads:
                log = getattr(payload, "_requests", None)
                if isinstance(log, list) and len(log) > 2 * size:
                    del log[:-size]

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiStatus):
            return aiohttp.web.json_response(exc.body(), status=exc.code)
        return await super()._render_error(exc)

    @staticmethod
    def _is_resource_request(request: kmock.Request) -> bool:
        res = request.resource
        return res is not None and res.version is not None and res.plural is not None

    @staticmethod
    def _is_namespaces_request(request: kmock.Request) -> bool:
        return request.method.value == "GET" and _NAMESPACES_PATH.match(request.url.path) is not None

    @property
    def _namespaces(self) -> kmock.resource:
        return self.resource_of("v1", "Namespace")

    def _serve_namespaces(self, request: kmock.Request) -> Response:
        """GET one Namespace, as the API reference describes ``/api/v1/namespaces/{name}``."""
        match = _NAMESPACES_PATH.match(request.url.path)
        assert match is not None
        name = match.group("name")
        headers = {"Content-Type": "application/json"}
        obj = self.load(self.resource_of("v1", "Namespace"), None, name)
        if obj is None:
            status = ApiStatus(404, "NotFound", f'namespaces "{name}" not found')
            return Response(status=404, payload=status.body(), headers=headers)
        return Response(status=200, payload=obj, headers=headers)

    def _serve_review(self, request: kmock.Request) -> Response:
        """``POST /apis/authorization.k8s.io/v1/subjectaccessreviews``, from the stored RBAC objects."""
        return _reviews.serve(self, request)

    def _serve(self, request: kmock.Request) -> Response:
        # kmock keeps the status/headers of a returned Response on the reaction (they stick for
        # later requests), so every answer sets both explicitly.
        answer = _handlers.route(self, request)
        if isinstance(answer, Response):
            headers = {"Content-Type": "application/json", **(answer.headers or {})}
            return Response(status=answer.status or 200, payload=answer.payload, headers=headers)
        return Response(status=200, payload=answer, headers={"Content-Type": "application/json"})

    # --- storage -----------------------------------------------------------------------------

    def spec_for(self, resource: kmock.resource) -> _resources.ResourceSpec:
        """The served resource's spec; raises :class:`ApiStatus` 404 for an unknown resource."""
        if resource in self.resources and resource.group is not None and resource.version is not None:
            info = self.resources[resource]
            if info.kind is not None and resource.plural is not None:
                return _resources.ResourceSpec(
                    resource.group,
                    resource.version,
                    resource.plural,
                    info.kind,
                    bool(info.namespaced),
                    tuple(sorted(info.subresources)),
                )
        raise ApiStatus(404, "NotFound", "the server could not find the requested resource")

    def resource_of(self, api_version: str, kind: str) -> kmock.resource:
        """The served resource for ``apiVersion``+``kind`` (or plural); raises ``KeyError`` when none."""
        group, _, version = api_version.rpartition("/")
        for res in self.resources:
            info = self.resources[res]
            if res.group == group and res.version == version and kind in (info.kind, res.plural):
                return res
        raise KeyError(f"no served resource for {api_version} {kind}")

    def load(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A deep copy of the stored object, or ``None`` when absent or deleted."""
        key = (resource, namespace, name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return copy.deepcopy(self.objects[key].raw)

    def select(
        self,
        resource: kmock.resource,
        namespace: str | None,
        *,
        name: str | None = None,
        labels: _selectors.Selector = (),
        fields: _selectors.FieldSelector = (),
    ) -> list[dict[str, Any]]:
        """Deep copies of the live objects of ``resource`` (``namespace`` None: all), sorted by ns/name."""
        found = []
        for (res, ns, obj_name), obj in sorted(
            self.objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])
        ):
            if res != resource or obj.deleted or (namespace is not None and ns != namespace):
                continue
            if name is not None and obj_name != name:
                continue
            raw = obj.raw
            if self.selected(raw, labels, fields):
                found.append(copy.deepcopy(raw))
        return found

    @staticmethod
    def selected(obj: dict[str, Any], labels: _selectors.Selector, fields: _selectors.FieldSelector) -> bool:
        """Whether ``obj`` satisfies the label and field selectors."""
        meta = obj.get("metadata") or {}
        return _selectors.labels_match(labels, meta.get("labels")) and _selectors.fields_match(fields, obj)

    def commit(
        self, resource: kmock.resource, new: dict[str, Any], change: str, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Store ``new`` with the next resourceVersion, record the watch ``change``; returns a copy."""
        self._rv += 1
        self._count_write(resource)
        stored = copy.deepcopy(new)
        meta = stored.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._rv)
        key = (resource, meta.get("namespace"), meta["name"])
        if key not in self.objects:
            self.objects[key] = stored
        elif self.objects[key].deleted:
            self.objects[key].create(stored)
        else:
            self.objects[key].history.append(stored)
        self._record(Change(self._rv, resource, change, copy.deepcopy(old), copy.deepcopy(stored)))
        return copy.deepcopy(stored)

    def remove(self, resource: kmock.resource, last: dict[str, Any]) -> dict[str, Any]:
        """Delete the object for good: DELETED with the next resourceVersion; returns its last state."""
        self._rv += 1
        self._count_write(resource)
        gone = copy.deepcopy(last)
        meta = gone["metadata"]
        meta["resourceVersion"] = str(self._rv)
        self.objects[resource, meta.get("namespace"), meta["name"]].delete()
        self._record(Change(self._rv, resource, "DELETED", copy.deepcopy(last), copy.deepcopy(gone)))
        return gone

    def present(self, resource: kmock.resource, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as the API server would answer it: a PodDisruptionBudget gets its computed status.

        Every HTTP answer that carries a PodDisruptionBudget (GET, LIST, WATCH events, and the
        results of create/update/patch/delete and ``/status``) goes through here. Its ``status`` is
        what the disruption controller maintains (PodDisruptionBudgetStatus:
        https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/#PodDisruptionBudgetStatus),
        computed from the namespace's current pods by :func:`_disruption.budget_status`, the same
        arithmetic the eviction handler uses. A status the test stored (``put_object`` or a write to
        ``/status``) is kept in storage but never served: the computed one replaces it, as the
        controller would overwrite it on its next sync. Nothing is stored: the resourceVersion stays
        that of the stored object and no watch event is sent when only the pods change. Other kinds
        are returned unchanged; ``obj`` itself is never mutated.
        """
        if (resource.group, resource.version, resource.plural) != (_PDB.group, _PDB.version, _PDB.plural):
            return obj
        namespace = (obj.get("metadata") or {}).get("namespace")
        pods = self.select(_PODS, namespace) if namespace else []
        return {**obj, "status": _disruption.budget_status(obj, pods, self.controller_scale)}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The whole stored state, for ``assert emulator.snapshot() == before`` around a run: every
        live object as stored, the count of stored writes and the pod logs (the keys and what
        equality means: :func:`aiops.emulator._snapshot.snapshot`). Leases
        (``coordination.k8s.io``) are left out, objects and writes: the operator renews its
        leader-election Lease every second, which says nothing about what a run changed."""
        kept = ((key, obj) for key, obj in self.objects.items() if key[0].group != _LEASE_GROUP)
        return _snapshot.snapshot(kept, self.spec_for, self._writes_but_leases, self._logs)

    def _count_write(self, resource: kmock.resource) -> None:
        if resource.group != _LEASE_GROUP:
            self._writes_but_leases += 1

    def _record(self, change: Change) -> None:
        self._changes.append(change)
        if len(self._changes) > self.max_changes:
            del self._changes[: len(self._changes) - self.max_changes]
        waiter, self._changed = self._changed, asyncio.Event()
        waiter.set()

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out (0 before the first write)."""
        return self._rv

    def changes_since(self, rv: int) -> tuple[list[Change], asyncio.Event] | None:
        """The recorded changes after ``rv`` and the event set by the next one; None if ``rv`` expired."""
        if self._changes and self._changes[0].rv > rv + 1:
            return None
        start = bisect.bisect_right(self._changes, rv, key=lambda c: c.rv)
        return self._changes[start:], self._changed

    @property
    def closing(self) -> bool:
        """True once :meth:`close_watches` was called: open watch streams end."""
        return self._closing

    def close_watches(self) -> None:
        """End every open watch stream (called before the server stops)."""
        self._closing = True
        self._changed.set()

    def now(self) -> str:
        """The clock's "now" as an RFC 3339 timestamp."""
        return timestamp(self.clock())

    def set_pod_log(
        self,
        namespace: str,
        pod: str,
        text: str,
        *,
        container: str | None = None,
        previous: bool = False,
    ) -> None:
        """Set what ``GET pods/POD/log`` answers; ``container=None`` serves any container of the pod."""
        self._logs[namespace, pod, container, previous] = text

    def pod_log(self, namespace: str, pod: str, container: str | None, *, previous: bool) -> str | None:
        """The stored log text for that container (or the pod-wide one), or ``None``."""
        found = self._logs.get((namespace, pod, container, previous))
        return found if found is not None else self._logs.get((namespace, pod, None, previous))

    def controller_scale(self, owner: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        """(uid, spec.replicas) of a pod's controller, for PDB arithmetic; a ReplicaSet owned by a
        Deployment answers for the Deployment. ``None`` when it is not stored or not scalable."""
        try:
            obj = self.get_object(
                str(owner.get("apiVersion")), str(owner.get("kind")), namespace, str(owner.get("name"))
            )
        except KeyError:
            return None
        if obj is None or "replicas" not in (obj.get("spec") or {}):
            return None
        parents = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
        if obj.get("kind") == "ReplicaSet" and parents and parents[0].get("kind") == "Deployment":
            return self.controller_scale(parents[0], namespace) or (
                obj["metadata"]["uid"],
                obj["spec"]["replicas"],
            )
        return str(obj["metadata"].get("uid")), int(obj["spec"]["replicas"])


@contextlib.asynccontextmanager
async def running_emulator(*, clock: Callable[[], datetime] | None = None) -> AsyncIterator[ClusterEmulator]:
    """Run a :class:`ClusterEmulator` on 127.0.0.1 (random port) for the duration of the block.

    ``emu.url`` is its base URL; open watch streams end before the server stops.
    """
    emu = ClusterEmulator(clock=clock or utcnow)
    async with emu, kmock.Server(emu):
        try:
            yield emu
        finally:
            emu.close_watches()
