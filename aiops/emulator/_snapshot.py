"""The emulator's whole stored state as one comparable value, for "this run changed nothing" assertions.

Fed by: :meth:`aiops.emulator.emulator.ClusterEmulator.snapshot` (its stored objects, the
resourceVersion counter and the pod logs). Consumed by: tests that assert
``emulator.snapshot() == before`` around a run (dry runs, refused steps).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kmock

from aiops.emulator._handlers import ApiStatus
from aiops.emulator._resources import ResourceSpec

#: Snapshot keys for the state that is not an object (``#`` starts no apiVersion).
SNAPSHOT_RESOURCE_VERSION = "#resourceVersion"
SNAPSHOT_POD_LOGS = "#podLogs"
SNAPSHOT_JSON = "#json"


def snapshot(
    objects: Iterable[tuple[tuple[kmock.resource, str | None, str], Any]],
    spec_for: Callable[[kmock.resource], ResourceSpec],
    writes: int,
    logs: Mapping[tuple[str, str, str | None, bool], str],
) -> dict[str, dict[str, Any]]:
    """The snapshot of kmock's ``objects`` store, as its items (``(resource, namespace, name)`` and the
    versioned object, with ``.raw`` and ``.deleted``), named through ``spec_for``, with the
    count of stored ``writes`` and the pod ``logs`` (``(namespace, pod, container, previous)`` →
    text).

    Keys: ``"apiVersion/Kind/namespace/name"`` (namespace ``-`` for cluster-scoped objects) map to
    a deep copy of every live stored object, exactly as stored (a PodDisruptionBudget's stored
    ``status``, not the computed one of :meth:`ClusterEmulator.present`). Besides the objects:
    ``"#resourceVersion": {"counter": N}`` (how many writes were stored, so even a write that was
    undone shows), ``"#podLogs": {"ns/pod/container-or-*/current-or-previous": text}``,
    and ``"#json": {key: canonical JSON}`` with each object as ``json.dumps(sort_keys=True)``.

    Equality of two snapshots is therefore byte-level for the serialized objects: the ``#json``
    strings differ even where Python's ``==`` would not (``1`` vs ``1.0`` vs ``True``); key order
    is not compared (the API server serializes fields in a fixed order anyway). The object
    copies are there for readable assertion diffs. Watch history and recorded calls are not part
    of the snapshot (the resourceVersion counter reveals any stored write).
    """
    found: dict[str, dict[str, Any]] = {}
    canonical: dict[str, Any] = {}
    for (res, ns, name), obj in sorted(objects, key=lambda kv: (str(kv[0][0]), kv[0][1] or "", kv[0][2])):
        if obj.deleted:
            continue
        try:
            served = spec_for(res)
            key = f"{served.api_version}/{served.kind}/{ns or '-'}/{name}"
        except ApiStatus:  # stored by a kmock reaction for a resource the emulator does not serve
            key = f"{obj.raw.get('apiVersion')}/{obj.raw.get('kind') or res.plural}/{ns or '-'}/{name}"
        canonical[key] = json.dumps(obj.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        found[key] = json.loads(canonical[key])
    pod_logs = {
        f"{ns}/{pod}/{container or '*'}/{'previous' if previous else 'current'}": text
        for (ns, pod, container, previous), text in sorted(
            logs.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3])
        )
    }
    return found | {
        SNAPSHOT_RESOURCE_VERSION: {"counter": writes},
        SNAPSHOT_POD_LOGS: pod_logs,
        SNAPSHOT_JSON: canonical,
    }
