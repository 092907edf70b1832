"""The audit log: every write to the cluster, who approved it and what the API answered.

Fed by: write actions, through :class:`aiops.actions.base.AuditSink` (``ActionContext.audit``),
one :class:`~aiops.actions.base.AuditEntry` per write. Consumed by: the API and the CLI
(``list``), and people reviewing what the operator did.

Entries are JSON in a Redis stream (``Store.audit_append``: XADD with ``MAXLEN ~ max_entries``),
so they survive restarts and are shared by replicas; the oldest are trimmed beyond about
``max_entries`` (approximate trimming may keep slightly more). An entry is scrubbed before it is
written (``scrub``: the runtime passes ``aiops.enrichment.scrub.Scrubber``): the request bodies and
API answers of a write can carry a pod template's env values.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from aiops import correlation, store
from aiops.actions.base import AuditEntry

__all__ = ["AuditLog"]

_ENTRY = TypeAdapter(AuditEntry)


class AuditLog:
    """The Redis-backed :class:`~aiops.actions.base.AuditSink`."""

    def __init__(
        self,
        store: store.Store,
        *,
        max_entries: int = 10_000,
        scrub: Callable[[Any], Any] | None = None,
    ) -> None:
        self._store = store
        self._max_entries = max_entries
        self._scrub = scrub

    async def record(self, entry: AuditEntry) -> None:
        """Append ``entry``, scrubbed. Values in ``params``/``api_calls`` that are not JSON are
        stored as ``str(value)``. Raises :class:`aiops.errors.StoreUnavailable` if Redis does not
        answer. ``incident_id``/``http_request_id`` left None are taken from the correlation ids
        in force (``aiops.correlation``), so one grep of an incident id finds its writes."""
        entry = dataclasses.replace(
            entry,
            incident_id=entry.incident_id or correlation.incident_id.get(),
            http_request_id=entry.http_request_id or correlation.request_id.get(),
        )
        text = _ENTRY.dump_json(entry, fallback=str).decode()
        if self._scrub is not None:
            text = json.dumps(self._scrub(json.loads(text)))
        await self._store.audit_append(text, max_entries=self._max_entries)

    async def list(self, *, limit: int = 100) -> builtins.list[AuditEntry]:
        """The newest ``limit`` entries, newest first, with their ``ApiCall`` objects rebuilt.

        Raises :class:`aiops.errors.StoreUnavailable` if Redis does not answer."""
        return [_ENTRY.validate_json(text) for text in await self._store.audit_latest(limit)]
