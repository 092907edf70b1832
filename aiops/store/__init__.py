"""The one door to Redis: every key name, TTL and atomic operation aiops keeps state with.

Fed by: ``aiops.runtime`` and friends, which build one :class:`Store` (``Store.connect(url)`` for
a single Redis or, with ``redis+cluster://``, a Redis Cluster; ``Store.in_memory()`` for the demo)
and pass it down. Consumed by: the dedup, approvals, audit, guards, playbooks and alert intake
modules (see :mod:`aiops.store.core`).

No other module imports ``redis`` or ``fakeredis`` or builds a key. Every operation turns a Redis
that does not answer or refuses writes for now into :class:`aiops.errors.StoreUnavailable`
(:mod:`aiops.store.failures`). Atomicity uses ``SET NX``/``HSETNX`` and Lua scripts (``EVALSHA``,
one round trip, all keys of a script in one hash slot: :mod:`aiops.store.connection`); the
in-memory fakeredis store (``fakeredis[lua]``) runs the same scripts, so it behaves like a real
Redis 7. Key layouts: one table per family module (``primitives``, ``incidents``, ``approvals``,
``auditlog``, ``reservations``, ``alerts``, ``outbox``); the deployment guide for a Redis Cluster is
``docs/redis-cluster.md``.
"""

from __future__ import annotations

from aiops.store.core import Store
from aiops.store.incidents import IncidentRecord
from aiops.store.reservations import Reserved

__all__ = ["IncidentRecord", "Reserved", "Store"]
