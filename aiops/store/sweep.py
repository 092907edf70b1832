"""Delete every key under a store's prefix: the cleanup of throwaway prefixes.

Fed by: a :class:`~aiops.store.connection.StoreCore` whose prefix is throwaway. Consumed by:
``aiops demo`` (its ``aiops-demo:<hex>:`` keys on a real Redis), the benchmarks
(``aiops-bench:<hex>:``) and the tests' fixtures (``aiops-test:<uuid>:``). Never by ``aiops run``:
it is not a method of the store, so no production path deletes by pattern.

``SCAN MATCH <prefix>*`` (on every primary of a cluster: redis-py's ``scan_iter`` walks each
node's cursor) then ``UNLINK`` in batches (split by slot on a cluster). Keys written meanwhile may
survive (SCAN's guarantees, Redis docs "SCAN": only keys present for the whole iteration are
certainly returned).
"""

from __future__ import annotations

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["delete_prefix"]

_SCAN_BATCH = 500


@guarded
async def delete_prefix(store: StoreCore) -> int:
    """SCAN + UNLINK every key under ``store.prefix``; returns how many were deleted.
    Raises StoreUnavailable when Redis does not answer."""
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in store.prefix) + "*"
    batch: list[str] = []
    deleted = 0
    async for key in store._r.scan_iter(match=pattern, count=_SCAN_BATCH):
        batch.append(str(key))
        if len(batch) >= _SCAN_BATCH:
            deleted += await _unlink(store, batch)
            batch.clear()
    if batch:
        deleted += await _unlink(store, batch)
    return deleted


async def _unlink(store: StoreCore, keys: list[str]) -> int:
    """UNLINK ``keys``; a cluster client splits them by slot and sums the answers."""
    return int(await store._r.unlink(*keys))
