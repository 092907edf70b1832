"""The moment a saved object shows: the newest timestamp in its body, for offline detection.

Fed by: ``aiops detect -f FILE`` and ``aiops rca -f FILE`` (through
:func:`aiops.enrichment.rca.evidence.reference_time`), with bodies as ``kubectl get -o json|yaml``
prints them, possibly days after they were saved. Consumed by: the detectors, as their ``now``.

The detectors judge recency against ``now`` (an OOM kill is reported for
``pod.OOM_RECENT_SECONDS`` after ``finishedAt``). The live operator passes the wall clock; a
saved dump must be judged as it was when saved, or a post-mortem on last week's dump finds
nothing. The API server stamps every change it records (Kubernetes API reference:
``ObjectMeta.creationTimestamp``, ``ContainerStateRunning.startedAt``,
``ContainerStateTerminated.startedAt``/``finishedAt``, ``PodCondition.lastTransitionTime``,
``NodeCondition.lastHeartbeatTime``, core/v1 ``Event.firstTimestamp``/``lastTimestamp``/``eventTime``,
``DeploymentCondition.lastUpdateTime``), so the newest of them is the latest moment the dump is
known to show: a lower bound of when it was saved, and the best one the body itself gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from aiops.sources.kubewatch import fields

__all__ = ["TIMESTAMP_KEY_SUFFIXES", "newest_timestamp"]

#: Keys whose string values are read as RFC 3339 timestamps (``startedAt``, ``lastTransitionTime``,
#: ``creationTimestamp``, ...): the spelling the Kubernetes API uses for every time field.
TIMESTAMP_KEY_SUFFIXES = ("At", "Time", "Timestamp")


def _timestamps(value: object) -> Iterator[datetime]:
    """Every RFC 3339 timestamp under a key ending in :data:`TIMESTAMP_KEY_SUFFIXES`, recursively.

    Values that do not parse (``"unknown"``, a number) are skipped: a dump is read, never refused.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(TIMESTAMP_KEY_SUFFIXES) and isinstance(item, str):
                try:
                    parsed = fields.parse_time(item)
                except ValueError:
                    continue
                if parsed is not None:
                    yield parsed
            else:
                yield from _timestamps(item)
    elif isinstance(value, list):
        for item in value:
            yield from _timestamps(item)


def newest_timestamp(bodies: Iterable[object]) -> datetime | None:
    """The newest timestamp (aware UTC) anywhere in ``bodies``; ``None`` when they hold none.

    ``bodies`` are raw objects (Pods, Nodes, Events, ``List`` bodies...) in any mix. Never raises
    on partial or malformed bodies: what is not a timestamp is ignored.
    """
    return max((stamp for body in bodies for stamp in _timestamps(body)), default=None)
