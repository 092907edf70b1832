"""The audit log: every write to the cluster, who approved it and what the API answered.

Fed by: write actions, through :class:`aiops.actions.base.AuditSink` (``ActionContext.audit``),
one :class:`~aiops.actions.base.AuditEntry` per write. Consumed by: the API and the CLI
(``list``), and people reviewing what the operator did.

Entries are JSON in a Redis stream (``store.audit.append``: XADD with ``MAXLEN ~ max_entries``),
so they survive restarts and are shared by replicas; the oldest are trimmed beyond about
``max_entries`` (approximate trimming may keep slightly more). An entry is scrubbed before it is
written (``scrub``: the runtime passes ``aiops.enrichment.scrub.Scrubber``): the request bodies and
API answers of a write can carry a pod template's env values. :class:`AuditQueue` keeps, in
order, the entries Redis refused and sends them once it answers (the executor writes through it).
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from aiops import correlation, errors, store
from aiops.actions import base as actions_base
from aiops.actions.base import AuditEntry

__all__ = ["MAX_QUEUED_AUDIT_ENTRIES", "AuditLog", "AuditQueue"]

log = logging.getLogger(__name__)

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
        await self._store.audit.append(text, max_entries=self._max_entries)

    async def list(self, *, limit: int = 100) -> builtins.list[AuditEntry]:
        """The newest ``limit`` entries, newest first, with their ``ApiCall`` objects rebuilt.

        Raises :class:`aiops.errors.StoreUnavailable` if Redis does not answer."""
        return [_ENTRY.validate_json(text) for text in await self._store.audit.latest(limit)]


#: Most audit entries kept in memory while Redis refuses them (oldest dropped, with an error).
MAX_QUEUED_AUDIT_ENTRIES = 10_000


class AuditQueue:
    """An :class:`~aiops.actions.base.AuditSink` that keeps, in order, the entries its sink could
    not take because Redis was unavailable, and sends them first next time (or on :meth:`flush`).

    A write's outcome therefore survives an audit failure (the action's answer is not lost to a
    StoreUnavailable raised after the write landed); an entry is lost only if the process also
    dies before Redis is back, or beyond :data:`MAX_QUEUED_AUDIT_ENTRIES`.
    """

    def __init__(self, sink: actions_base.AuditSink) -> None:
        self._sink = sink
        self._queued: deque[actions_base.AuditEntry] = deque()
        self._flushing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._queued)

    async def record(self, entry: actions_base.AuditEntry) -> None:
        """Send ``entry`` (after the queued ones, if any); queue it if Redis is unavailable (never
        raises StoreUnavailable)."""
        try:
            if not self._queued:
                try:
                    await self._sink.record(entry)
                    return
                except errors.StoreUnavailable:
                    self._enqueue(entry)
                    raise
            self._enqueue(entry)  # behind the queued ones, in order
            await self.flush()
        except errors.StoreUnavailable as exc:
            log.warning("audit entry queued until Redis answers (%d waiting): %s", len(self._queued), exc)

    def _enqueue(self, entry: actions_base.AuditEntry) -> None:
        self._queued.append(entry)
        if len(self._queued) > MAX_QUEUED_AUDIT_ENTRIES:
            lost = self._queued.popleft()
            log.error("audit queue full: dropped the entry of %s on %s", lost.action, lost.target)

    async def flush(self) -> None:
        """Send the queued entries, oldest first, one flush at a time. Raises StoreUnavailable
        (the rest stay queued)."""
        async with self._flushing:
            while self._queued:
                await self._sink.record(self._queued[0])
                self._queued.popleft()
