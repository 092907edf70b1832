"""The emulator's surface for tests and the demo: seed objects and logs, read them back, inspect calls.

Fed by: tests (``tests/support/kube_fixtures.py`` and the scenario tests) and the demo's seeding
(``aiops.demo.seed``), which call these methods on a :class:`aiops.emulator.ClusterEmulator`.
Consumes: the emulator's storage (``load``, ``select``, ``commit``, ``remove``, ``present``),
so a seeded object is stored, versioned and watched exactly as one written through the API.
A mixin of :class:`~aiops.emulator.emulator.ClusterEmulator` (its only subclass), kept apart
so the API-server semantics and the test surface each have their own module.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import kmock

from aiops.emulator import _handlers, _records, _selectors

if TYPE_CHECKING:
    from aiops.emulator._records import Call
    from aiops.emulator._resources import ResourceSpec

_PDB = kmock.resource("policy", "v1", "poddisruptionbudgets")


class _Emulator(Protocol):
    """What these helpers use of :class:`~aiops.emulator.emulator.ClusterEmulator` (its storage)."""

    calls: list[Call]

    def spec_for(self, resource: kmock.resource) -> ResourceSpec: ...
    def resource_of(self, api_version: str, kind: str) -> kmock.resource: ...
    def load(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any] | None: ...
    def select(
        self, resource: kmock.resource, namespace: str | None, *, labels: _selectors.Selector = ()
    ) -> list[dict[str, Any]]: ...
    def commit(
        self, resource: kmock.resource, new: dict[str, Any], change: str, old: dict[str, Any] | None
    ) -> dict[str, Any]: ...
    def remove(self, resource: kmock.resource, last: dict[str, Any]) -> dict[str, Any]: ...
    def present(self, resource: kmock.resource, obj: dict[str, Any]) -> dict[str, Any]: ...
    def now(self) -> str: ...
    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]: ...
    def get_object(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None: ...


class SeedingHelpers:
    """Methods for tests and the demo; every ``self`` is the :class:`ClusterEmulator` mixing them in."""

    def put_object(self: _Emulator, obj: dict[str, Any]) -> dict[str, Any]:
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
        elif (
            meta.get("namespace")
            and self.load(self.resource_of("v1", "Namespace"), None, meta["namespace"]) is None
        ):
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
        self: _Emulator, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A copy of the stored object (``kind`` may be the Kind or the plural), or ``None``."""
        return self.load(self.resource_of(api_version, kind), namespace, name)

    def list_objects(
        self: _Emulator,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of the live objects of a kind, optionally in one namespace and matching a label selector."""
        res = self.resource_of(api_version, kind)
        return self.select(res, namespace, labels=_selectors.parse_label_selector(label_selector))

    def delete_object(self: _Emulator, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        """Remove an object at once (finalizers ignored), emitting DELETED; False when absent."""
        res = self.resource_of(api_version, kind)
        obj = self.load(res, namespace, name)
        if obj is None:
            return False
        self.remove(res, obj)
        return True

    def pdb_status(self: _Emulator, namespace: str, name: str) -> dict[str, Any] | None:
        """The computed ``status`` the API serves for that PodDisruptionBudget (see :meth:`present`).

        ``get_object`` answers the stored object (with whatever status was stored); this is what a
        client reads. ``None`` when the budget does not exist.
        """
        obj = self.load(_PDB, namespace, name)
        return None if obj is None else dict(self.present(_PDB, obj)["status"])

    def calls_matching(
        self: _Emulator,
        method: str | None = None,
        path_part: str = "",
        *,
        dry_run: bool | None = None,
        query: Mapping[str, str] | None = None,
    ) -> list[Call]:
        """Recorded calls with that method (any if None) whose path contains ``path_part``, filtered
        by ``dry_run`` and ``query`` as :func:`aiops.emulator._records.matching_calls` says."""
        return _records.matching_calls(self.calls, method, path_part, dry_run=dry_run, query=query)
