"""The audit key family: one Redis stream of JSON entries, trimmed to about ``max_entries``.

Fed by: :class:`aiops.audit.AuditLog` through ``store.audit`` (an :class:`AuditStream`). Consumed
by: Redis. One key, so no hash tag (on a Redis Cluster it lives in the slot of its name)::

    audit    stream    field ``entry`` = JSON; XADD MAXLEN ~ max_entries (Redis docs, "XADD")
"""

from __future__ import annotations

from typing import Any

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["AuditStream"]


class AuditStream:
    """The audit stream of one store. Every method raises :class:`aiops.errors.StoreUnavailable`
    when Redis does not answer or refuses."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store
        self._key = store._k("audit")

    @guarded
    async def append(self, json_text: str, *, max_entries: int) -> None:
        """XADD one entry, trimming the stream to about ``max_entries`` (MAXLEN ~)."""
        await self._store._r.xadd(self._key, {"entry": json_text}, maxlen=max_entries, approximate=True)

    @guarded
    async def latest(self, limit: int) -> list[str]:
        """The newest ``limit`` entries' JSON, newest first."""
        got: Any = await self._store._r.xrevrange(self._key, count=limit)
        return [str(fields["entry"]) for _, fields in got or []]
