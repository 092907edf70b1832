"""The in-memory store's client: a private in-process fakeredis server, for the demo and tests.

Fed by: :meth:`aiops.store.connection.StoreCore.in_memory`, which imports this module only when an
in-memory store is asked for. Consumed by: ``aiops demo`` when no Redis answers, and the tests'
``memory_store``/``any_store`` fixtures. The only module that imports ``fakeredis`` (the ``demo``
extra: ``pip install 'aiops[demo]'``); ``fakeredis[lua]`` runs the store's Lua scripts (through
``lupa``) with Redis 7 semantics, so the in-memory store behaves like a single real Redis.
"""

from __future__ import annotations

import fakeredis

__all__ = ["fake_client"]


def fake_client() -> fakeredis.FakeAsyncRedis:
    """A ``redis.asyncio.Redis``-compatible client of a fresh, private fakeredis server
    (``decode_responses=True``): two clients share nothing; the data is lost on close/exit."""
    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
