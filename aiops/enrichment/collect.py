"""Live evidence collection: everything the RCA reads about an incident, from the Kubernetes API.

Fed by: the enricher, for a new incident's first event. Consumes: ``aiops.kube`` (reads only:
the object, its events, its owners' ReplicaSets, its node, the current and previous container
logs). Produces the raw material for ``rca.evidence.from_objects`` (pure), so live and offline
(``aiops rca -f``) analyses share one builder.

Every read is best-effort: a missing object, a 403 or a pod without a previous container leaves
that part of the evidence empty; nothing here raises for an API error.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aiops import errors
from aiops import kube as kube_mod
from aiops.events.model import ClusterEvent

log = logging.getLogger(__name__)

#: Lines of each container log read (tailLines), current and previous.
LOG_TAIL_LINES = 500


@dataclass
class Collected:
    """Raw evidence: the object, its events, related objects and log lines (oldest first)."""

    obj: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    related: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    previous_logs: list[str] = field(default_factory=list)


async def _quietly(what: str, call: Any) -> Any:
    try:
        return await call
    except errors.AiopsError as exc:
        log.debug("evidence: %s unavailable: %s", what, exc)
        return None


async def collect(kube: kube_mod.Kube, event: ClusterEvent, *, tail_lines: int = LOG_TAIL_LINES) -> Collected:
    """Read what the RCA needs about ``event.resource`` (and its workload and node)."""
    ref = event.resource
    found = Collected()
    obj = await _quietly("object", kube.get(ref.api_version, ref.kind, ref.namespace, ref.name))
    if obj is None:
        return found
    found.obj = obj
    found.events = await _quietly("events", kube.events_for(ref)) or []
    if ref.kind == "Pod" and ref.namespace:
        container = str(event.details.get("container") or "") or None
        current = await _quietly(
            "log", kube.pod_log(ref.namespace, ref.name, container=container, tail_lines=tail_lines)
        )
        previous = await _quietly(
            "previous log",
            kube.pod_log(ref.namespace, ref.name, container=container, previous=True, tail_lines=tail_lines),
        )
        found.logs = (current or "").splitlines()
        found.previous_logs = (previous or "").splitlines()
        node = (obj.get("spec") or {}).get("nodeName")
        if node:
            node_obj = await _quietly("node", kube.get("v1", "Node", None, str(node)))
            if node_obj:
                found.related.append(node_obj)
    subject = event.subject
    if subject.kind == "Deployment" and subject.namespace:
        deployment = await _quietly(
            "deployment", kube.get("apps/v1", "Deployment", subject.namespace, subject.name)
        )
        if deployment:
            found.related.append(deployment)
            with contextlib.suppress(KeyError, TypeError):
                selector = ",".join(
                    f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items()
                )
                sets = await _quietly(
                    "replicasets",
                    kube.list("apps/v1", "ReplicaSet", subject.namespace, label_selector=selector),
                )
                found.related.extend(sets or [])
    return found
