"""An in-memory Kubernetes API server with the semantics aiops relies on, for tests and ``aiops demo``.

Fed by: HTTP requests from :class:`aiops.kube.Kube`, kopf and raw aiohttp clients; tests seed it
with :meth:`ClusterEmulator.put_object` and :meth:`ClusterEmulator.set_pod_log`. Consumed by: the
test fixtures in ``tests/support/kube_fixtures.py`` and the demo.

kmock's ``KubernetesEmulator`` stores objects as plain merged dicts. This subclass replaces its
storage semantics wholesale (kmock's discovery endpoints, ``emu.objects`` history and reaction DSL
stay): resourceVersion and optimistic concurrency, ``dryRun=All``, label and field selectors on
list and watch, the three patch formats, ``status``/``scale``/``log``/``eviction`` subresources.
Each rule cites the API reference; see also the private ``_selectors``, ``_patches`` and
``_disruption`` modules. User-defined kmock reactions (``emu['get /x'] << 500``) take precedence
over the emulated API, and a request they answer changes nothing.

PodDisruptionBudgets are served with the ``status`` the disruption controller would write, computed
from the current pods on every read (see :meth:`ClusterEmulator.present`); the stored object, its
resourceVersion and the watch history are untouched by it. :meth:`ClusterEmulator.snapshot` captures
the whole stored state so a test can assert that a run (e.g. a dry run) changed nothing.

Known simplifications: there are no controllers (no ReplicaSets from Deployments, no garbage
collection; PDB status is computed, not stored); a deleted pod disappears at once (no kubelet to
finish a graceful deletion); create keeps the ``status`` it is sent (handy for seeding); ``generation`` counts
changes to anything outside metadata/status, for every kind; creating into a missing namespace
succeeds; ``deletecollection``, server-side apply, ``limit``/``continue`` paging and watch
bookmarks are not emulated.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import aiohttp.web
import attrs
import kmock
from kmock._internal.rendering import Response  # kmock exports it, but not in its __all__

from aiops.emulator import _disruption, _handlers, _resources, _selectors
from aiops.emulator._handlers import ApiStatus

#: ``/api/v1/namespaces/NAME`` (not a namespaced resource below it).
_NAMESPACES_PATH = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)/?$")


class Call(NamedTuple):
    """One request the emulator received: ``("PATCH", "/apis/apps/v1/...", {"dryRun": "All"}, {...})``.

    ``query`` is the request's query string (``dryRun``, ``labelSelector``, ``watch``...), ``body``
    the decoded JSON body (``None`` without one).
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def dry_run(self) -> bool:
        """Whether the request asked for ``dryRun=All``, so it could not have stored anything.

        Read from the query string (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run),
        the ``DeleteOptions`` body of a DELETE, or the ``deleteOptions`` of an Eviction body
        (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/delete-options/).
        """
        if self.query.get("dryRun") == "All":
            return True
        body = self.body if isinstance(self.body, dict) else {}
        if self.method == "DELETE":
            options = body
        elif self.method == "POST" and self.path.endswith("/eviction"):
            options = body.get("deleteOptions") or {}
        else:
            return False
        return isinstance(options, dict) and "All" in (options.get("dryRun") or [])


_PDB = kmock.resource("policy", "v1", "poddisruptionbudgets")
_PODS = kmock.resource("", "v1", "pods")

#: :meth:`ClusterEmulator.snapshot` keys for the state that is not an object (``#`` starts no apiVersion).
SNAPSHOT_RESOURCE_VERSION = "#resourceVersion"
SNAPSHOT_POD_LOGS = "#podLogs"
SNAPSHOT_JSON = "#json"


@dataclass(frozen=True)
class Change:
    """One stored write, as watchers see it: its resourceVersion, resource, type and object states."""

    rv: int
    resource: kmock.resource
    type: str
    old: dict[str, Any] | None
    new: dict[str, Any]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as the API server writes ``metav1.Time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """A kmock Kubernetes emulator with real API semantics for the resources in ``_resources.SERVED``.

    ``clock`` gives "now" for ``creationTimestamp``/``deletionTimestamp``; ``calls`` records every
    request; ``max_changes`` bounds the watch history (older resourceVersions answer 410 Expired).
    """

    clock: Callable[[], datetime] = _utcnow
    max_changes: int = 10_000
    request_log_size: int = 200
    calls: list[Call] = attrs.field(factory=list, init=False)
    _rv: int = attrs.field(default=0, init=False)
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
        self.fallback[self._is_resource_request] << self._serve
        for spec in _resources.SERVED:
            self.register(spec)

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

    def pdb_status(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The computed ``status`` the API serves for that PodDisruptionBudget (see :meth:`present`).

        ``get_object`` answers the stored object (with whatever status was stored); this is what a
        client reads. ``None`` when the budget does not exist.
        """
        obj = self.load(_PDB, namespace, name)
        return None if obj is None else dict(self.present(_PDB, obj)["status"])

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The whole stored state, for ``assert emulator.snapshot() == before`` around a run.

        Keys: ``"apiVersion/Kind/namespace/name"`` (namespace ``-`` for cluster-scoped objects) map to
        a deep copy of every live stored object, exactly as stored (a PodDisruptionBudget's stored
        ``status``, not the computed one of :meth:`present`). Besides the objects:
        ``"#resourceVersion": {"counter": N}`` (the last resourceVersion handed out, so even a write
        that was undone shows), ``"#podLogs": {"ns/pod/container-or-*/current-or-previous": text}``,
        and ``"#json": {key: canonical JSON}`` with each object as ``json.dumps(sort_keys=True)``.

        Equality of two snapshots is therefore byte-level for the serialized objects: the ``#json``
        strings differ even where Python's ``==`` would not (``1`` vs ``1.0`` vs ``True``); key order
        is not compared (the API server serializes fields in a fixed order anyway). The object
        copies are there for readable assertion diffs. Watch history and recorded calls are not part
        of the snapshot (the resourceVersion counter reveals any stored write).
        """
        objects: dict[str, dict[str, Any]] = {}
        canonical: dict[str, Any] = {}
        for (res, ns, name), obj in sorted(
            self.objects.items(), key=lambda kv: (str(kv[0][0]), kv[0][1] or "", kv[0][2])
        ):
            if obj.deleted:
                continue
            try:
                served = self.spec_for(res)
                key = f"{served.api_version}/{served.kind}/{ns or '-'}/{name}"
            except ApiStatus:  # stored by a kmock reaction for a resource the emulator does not serve
                key = f"{obj.raw.get('apiVersion')}/{obj.raw.get('kind') or res.plural}/{ns or '-'}/{name}"
            canonical[key] = json.dumps(obj.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            objects[key] = json.loads(canonical[key])
        logs = {
            f"{ns}/{pod}/{container or '*'}/{'previous' if previous else 'current'}": text
            for (ns, pod, container, previous), text in sorted(
                self._logs.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3])
            )
        }
        return objects | {
            SNAPSHOT_RESOURCE_VERSION: {"counter": self._rv},
            SNAPSHOT_POD_LOGS: logs,
            SNAPSHOT_JSON: canonical,
        }

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

    # --- helpers for tests and the demo ----------------------------------------------------------

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace ``obj`` as stored state (status included), emitting ADDED or MODIFIED.

        ``obj`` needs ``apiVersion``, ``kind`` and ``metadata.name`` (and ``metadata.namespace`` for
        namespaced kinds; that Namespace is created first when it does not exist). Fills uid,
        creationTimestamp and generation when absent; bumps generation when anything outside
        metadata/status changes. Returns the stored copy (with resourceVersion).
        Raises ``KeyError`` for a kind the emulator does not serve.
        """
        res = self.resource_of(obj["apiVersion"], obj["kind"])
        spec = self.spec_for(res)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if not spec.namespaced:
            meta.pop("namespace", None)
        elif meta.get("namespace") and self.load(self._namespaces, None, meta["namespace"]) is None:
            # A real API server stores nothing in a namespace that does not exist; seeding an
            # object creates its Namespace first, so the namespace can be read like a real one.
            self.put_object(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": meta["namespace"]}}
            )
        old = self.load(res, meta.get("namespace"), meta["name"])
        if old is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self.now())
            meta.setdefault("generation", 1)
            return self.commit(res, new, "ADDED", None)
        for field in ("uid", "creationTimestamp"):
            meta.setdefault(field, old["metadata"].get(field))
        meta.setdefault("generation", _handlers.next_generation(old, new))
        return self.commit(res, new, "MODIFIED", old)

    def get_object(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A copy of the stored object (``kind`` may be the Kind or the plural), or ``None``."""
        return self.load(self.resource_of(api_version, kind), namespace, name)

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Copies of the live objects of a kind, optionally in one namespace and matching a label selector."""
        res = self.resource_of(api_version, kind)
        return self.select(res, namespace, labels=_selectors.parse_label_selector(label_selector))

    def delete_object(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        """Remove an object at once (finalizers ignored), emitting DELETED; False when absent."""
        res = self.resource_of(api_version, kind)
        obj = self.load(res, namespace, name)
        if obj is None:
            return False
        self.remove(res, obj)
        return True

    def set_pod_log(
        self, namespace: str, pod: str, text: str, *, container: str | None = None, previous: bool = False
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

    def calls_matching(
        self,
        method: str | None = None,
        path_part: str = "",
        *,
        dry_run: bool | None = None,
        query: Mapping[str, str] | None = None,
    ) -> list[Call]:
        """Recorded calls with that method (any if None) whose path contains ``path_part``.

        ``dry_run=True`` keeps only ``dryRun=All`` requests (query string, DeleteOptions or the
        Eviction's deleteOptions; see :attr:`Call.dry_run`), ``False`` only the others (the real
        writes, for write methods); ``query`` keeps calls whose query string has every given pair.
        """
        return [
            c
            for c in self.calls
            if (method is None or c.method == method)
            and path_part in c.path
            and (dry_run is None or c.dry_run == dry_run)
            and all(c.query.get(k) == v for k, v in (query or {}).items())
        ]


def random_suffix(length: int = 5) -> str:
    """A ``generateName`` suffix from the alphabet the API server uses (no vowels, no 0/1/3)."""
    return "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=length))


@contextlib.asynccontextmanager
async def running_emulator(*, clock: Callable[[], datetime] | None = None) -> AsyncIterator[ClusterEmulator]:
    """Run a :class:`ClusterEmulator` on 127.0.0.1 (random port) for the duration of the block.

    ``emu.url`` is its base URL; open watch streams end before the server stops.
    """
    emu = ClusterEmulator(clock=clock or _utcnow)
    async with emu, kmock.Server(emu):
        try:
            yield emu
        finally:
            emu.close_watches()
