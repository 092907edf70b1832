"""What the emulator records and stamps: received requests, stored changes, timestamps, generated names.

Fed by: :class:`aiops.emulator.emulator.ClusterEmulator` (a :class:`Call` per request it receives,
a :class:`Change` per stored write), its handlers (``generateName`` suffixes, ``metav1.Time``
stamps) and the emulated controllers. Consumed by: tests (``emu.calls``, ``emu.calls_matching``:
what aiops sent, dry runs told apart) and the watch handler (the history a watch replays).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import kmock


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


@dataclass(frozen=True)
class Change:
    """One stored write, as watchers see it: its resourceVersion, resource, type and object states."""

    rv: int
    resource: kmock.resource
    type: str
    old: dict[str, Any] | None
    new: dict[str, Any]


def utcnow() -> datetime:
    """The wall clock, aware UTC: the emulator's default clock."""
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as the API server writes ``metav1.Time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    """A ``generateName`` suffix from the alphabet the API server uses (no vowels, no 0/1/3)."""
    return "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=length))


def matching_calls(
    calls: Iterable[Call],
    method: str | None = None,
    path_part: str = "",
    *,
    dry_run: bool | None = None,
    query: Mapping[str, str] | None = None,
) -> list[Call]:
    """The ``calls`` with that method (any if None) whose path contains ``path_part``.

    ``dry_run=True`` keeps only ``dryRun=All`` requests (query string, DeleteOptions or the
    Eviction's deleteOptions; see :attr:`Call.dry_run`), ``False`` only the others (the real
    writes, for write methods); ``query`` keeps calls whose query string has every given pair.
    """
    return [
        c
        for c in calls
        if (method is None or c.method == method)
        and path_part in c.path
        and (dry_run is None or c.dry_run == dry_run)
        and all(c.query.get(k) == v for k, v in (query or {}).items())
    ]
