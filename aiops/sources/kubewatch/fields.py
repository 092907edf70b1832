"""Typed, strict access to raw Kubernetes object bodies, and the one guard every detector runs under.

Fed by: the detector modules of this package, which read watch bodies (``kubectl get -o json``
shapes, i.e. camelCase JSON as the API server serves it). Consumed by: those detectors only.
This is the *strict mode* on top of the lenient readers of :mod:`aiops.bodies`: a detector
validates the fields it reads here, then asks :mod:`aiops.bodies` the shared questions (is the
Pod Ready, is the Node NotReady, which ownerReference is the controller), so every module
answers them alike.

Access rule: a *missing* (or ``null``) optional field yields its empty default; a field that is
present with the *wrong JSON type* raises :class:`Malformed`. Real API servers never serve
wrong types, so :func:`guard` turns any such error into ``[]`` plus one DEBUG log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiops.clock import utcnow
from aiops.events import model

#: The signature of a detector's inner body: ``(body, now) -> events``; ``now`` is UTC-aware.
Inner = Callable[[Mapping[str, Any], datetime], list[model.ClusterEvent]]

#: Kinds that live outside namespaces; their ObjectRef has ``namespace=None``.
CLUSTER_SCOPED_KINDS = frozenset({"Node", "PersistentVolume", "Namespace", "StorageClass"})

#: ``apiVersion`` to assume when a reference omits it (e.g. HPA ``scaleTargetRef``, Event objects).
DEFAULT_API_VERSIONS: Mapping[str, str] = {
    "Pod": "v1",
    "Node": "v1",
    "PersistentVolumeClaim": "v1",
    "PersistentVolume": "v1",
    "Event": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}


class Malformed(ValueError):
    """A body field is missing where required, or present with the wrong JSON type."""


def as_map(value: object, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object; ``None`` becomes ``{}``; anything else raises :class:`Malformed`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Malformed(f"{where}: expected an object, got {type(value).__name__}")
    return value


def require_map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``obj[key]`` as a JSON object that must be present (e.g. ``status``), else :class:`Malformed`."""
    if obj.get(key) is None:
        raise Malformed(f"{key}: missing")
    return as_map(obj.get(key), key)


def get_map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``obj[key]`` as a JSON object (``{}`` when missing or null)."""
    return as_map(obj.get(key), key)


def get_list(obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """``obj[key]`` as a list of JSON objects (``[]`` when missing or null)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{key}: expected a list, got {type(value).__name__}")
    return [as_map(item, f"{key}[]") for item in value]


def get_str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    """``obj[key]`` as a string (``default`` when missing or null)."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Malformed(f"{key}: expected a string, got {type(value).__name__}")
    return value


def get_int(obj: Mapping[str, Any], key: str) -> int | None:
    """``obj[key]`` as an integer (``None`` when missing or null; booleans are rejected)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{key}: expected an integer, got {type(value).__name__}")
    return value


def get_bool(obj: Mapping[str, Any], key: str) -> bool:
    """``obj[key]`` as a boolean (``False`` when missing or null)."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Malformed(f"{key}: expected a boolean, got {type(value).__name__}")
    return value


def require_str(obj: Mapping[str, Any], key: str) -> str:
    """``obj[key]`` as a non-empty string, else :class:`Malformed`."""
    value = get_str(obj, key)
    if not value:
        raise Malformed(f"{key}: required")
    return value


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 timestamp (``2024-05-01T10:00:00Z``) as aware UTC; ``None`` for ``""``."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def labels_of(meta: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.labels`` as ``{str: str}``."""
    labels = get_map(meta, "labels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise Malformed("metadata.labels: expected string values")
    return dict(labels)


def conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``status.conditions`` keyed by ``type`` (the last entry wins if a type repeats, as
    :func:`aiops.bodies.condition` reads them). Every entry needs a string ``type``; a present
    ``status`` must be a string, else :class:`Malformed`."""
    found = {require_str(c, "type"): c for c in get_list(status, "conditions")}
    for entry in found.values():
        get_str(entry, "status")
    return found


def ref_of(body: Mapping[str, Any]) -> model.ObjectRef:
    """The object's own reference: ``apiVersion``, ``kind``, ``metadata.namespace/name/uid``.

    Raises :class:`Malformed` when ``kind`` or ``metadata.name`` is missing. ``apiVersion``
    falls back to :data:`DEFAULT_API_VERSIONS` for the kind.
    """
    kind = require_str(body, "kind")
    meta = get_map(body, "metadata")
    namespace = get_str(meta, "namespace") or None
    return model.ObjectRef(
        api_version=get_str(body, "apiVersion") or DEFAULT_API_VERSIONS.get(kind, ""),
        kind=kind,
        namespace=None if kind in CLUSTER_SCOPED_KINDS else namespace,
        name=require_str(meta, "name"),
        uid=get_str(meta, "uid") or None,
    )


def resolve_now(now: datetime | None) -> datetime:
    """``now`` as aware UTC (naive values are taken as UTC); the wall clock when ``None``."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def guard(
    log: logging.Logger, detector: Inner, body: object, now: datetime | None
) -> list[model.ClusterEvent]:
    """Run ``detector`` on ``body``; a malformed body yields ``[]`` and one DEBUG line, never an error.

    This is the detector stage boundary: ``LookupError``, ``TypeError``, ``ValueError`` (which
    includes :class:`Malformed` and pydantic's ``ValidationError``) and ``AttributeError`` are
    caught here and nowhere else.
    """
    try:
        if not isinstance(body, Mapping):
            raise Malformed(f"body: expected an object, got {type(body).__name__}")
        return detector(body, resolve_now(now))
    except (LookupError, TypeError, ValueError, AttributeError) as error:
        log.debug("ignoring malformed object: %s: %s", type(error).__name__, error)
        return []
