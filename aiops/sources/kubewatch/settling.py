"""Time-dependent answers: which problems a pod is still settling from, and when to look again.

Fed by: the pipeline, for every watched Pod body next to :func:`aiops.sources.kubewatch.detect`.
Consumed by: the pipeline, which (a) does not conclude recovery from a type that is still
settling and (b) schedules one re-check of the object at ``recheck_at`` — the moment the
detectors' answer would change with time alone, though the object itself may not change again.

Rules:

* Crash loop between restarts. The kubelet restarts exited containers "with an exponential
  back-off delay (10s, 20s, 40s, …) capped at five minutes. Once a container has executed for
  10 minutes without any problems, the kubelet resets the restart backoff timer" (Kubernetes
  documentation, Pod Lifecycle, "Container restarts"). So a container with ``restartCount > 0``
  whose last termination was not ``Completed`` and that has been running for less than
  :data:`BACKOFF_RESET_SECONDS` (or has just terminated again) is still inside its crash loop:
  the brief ``running`` phase between two ``CrashLoopBackOff`` waits is not a recovery.
* A recent OOM kill (see ``pod.OOM_RECENT_SECONDS``) stops being reported when its window ends:
  re-check then, so the incident resolves without waiting for an unrelated pod change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiops import bodies
from aiops.clock import utcnow
from aiops.events.model import EventType
from aiops.sources.kubewatch import fields, pod

log = logging.getLogger(__name__)

#: The kubelet's restart back-off reset: 10 minutes of clean running (seconds).
BACKOFF_RESET_SECONDS = 600.0


@dataclass(frozen=True)
class Settling:
    """``types`` must not be judged recovered yet; ``recheck_at`` (UTC) is when to look again."""

    types: frozenset[EventType] = frozenset()
    recheck_at: datetime | None = None


NOTHING = Settling()


def settling(body: Mapping[str, Any], *, now: datetime | None = None) -> Settling:
    """The settling state of a watched object; only Pods settle. Never raises (malformed → nothing)."""
    if body.get("kind") != "Pod":
        return NOTHING
    moment = now or utcnow()
    try:
        return _pod(body, moment)
    except (LookupError, TypeError, ValueError, AttributeError, fields.Malformed) as exc:
        log.debug("settling: malformed pod body: %s", exc)
        return NOTHING


def _pod(body: Mapping[str, Any], now: datetime) -> Settling:
    status = fields.get_map(body, "status")
    types: set[EventType] = set()
    times: list[datetime] = []
    for key in bodies.CONTAINER_STATUS_KEYS:
        for container in fields.get_list(status, key):
            state = fields.get_map(container, "state")
            last = fields.get_map(fields.get_map(container, "lastState"), "terminated")
            restarts = fields.get_int(container, "restartCount") or 0
            crashed_before = restarts > 0 and bool(last) and fields.get_str(last, "reason") != "Completed"
            running = fields.get_map(state, "running")
            terminated = fields.get_map(state, "terminated")
            if crashed_before and running:
                started = fields.parse_time(fields.get_str(running, "startedAt"))
                settle = (started or now) + timedelta(seconds=BACKOFF_RESET_SECONDS)
                if settle > now:
                    types.add(EventType.CRASH_LOOP)
                    times.append(settle)
            elif restarts > 0 and terminated and fields.get_str(terminated, "reason") != "Completed":
                types.add(EventType.CRASH_LOOP)  # exited again; CrashLoopBackOff follows
            for term in (terminated, last):
                if fields.get_str(term, "reason") == "OOMKilled":
                    finished = fields.parse_time(fields.get_str(term, "finishedAt"))
                    if finished is not None:
                        window_end = finished + timedelta(seconds=pod.OOM_RECENT_SECONDS)
                        if window_end > now:
                            times.append(window_end)
    future = [t for t in times if t > now]
    return Settling(frozenset(types), min(future) if future else None)
