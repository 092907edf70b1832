"""The generic key families: documents, sorted indexes, claims, counters and rolling windows.

Fed by: the playbook executor and runs (``aiops.playbooks``), the pipeline and recovery, through
the :class:`aiops.store.Store` they are given (these methods are the store's own). Consumed by:
Redis. Every operation touches one key, so none needs a hash tag: on a Redis Cluster the keys of
these families spread over all slots. Key layout, all under the store prefix (default
``aiops:``)::

    doc:<kind>:<id>      string  put_doc/get_doc (optional TTL)
    index:<index>        zset    index_add/index_remove/index_members
    claim:<name>         string  claim (SET NX, optional TTL) → owner
    counter:<name>       string  increment (TTL set on first increment only; Lua: INCRBY + EXPIRE NX)
    window:<name>        zset    record_in_window/count_in_window (score = epoch seconds; Lua)

The blast-radius guards' windows and claims are not here: they are one atomic group
(:mod:`aiops.store.reservations`, under the ``{guards}`` tag).
"""

from __future__ import annotations

import math

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["Primitives"]

#: KEYS[1] counter; ARGV[1] amount, ARGV[2] TTL seconds or '' (none). Returns the new value.
_INCREMENT_LUA = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX') end
return value
"""

#: KEYS[1] window; ARGV[1] member, ARGV[2] now, ARGV[3] now - window, ARGV[4] key TTL,
#: ARGV[5] limit ('' = none: always record). Returns 1 when recorded, 0 when the window was full.
_WINDOW_LUA = """
if ARGV[5] ~= '' and redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], ARGV[2]) >= tonumber(ARGV[5]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class Primitives(StoreCore):
    """The generic single-key operations every :class:`aiops.store.Store` offers. Every method
    raises :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses."""

    @guarded
    async def put_doc(self, kind: str, id: str, json_text: str, *, ttl_seconds: int | None = None) -> None:
        """Store a JSON document under (kind, id), replacing any previous one; ``kind`` has no ``:``
        (ValueError otherwise). ``ttl_seconds``: expiry, None = never."""
        _check_name(kind)
        await self._r.set(self._k("doc", kind, id), json_text, ex=ttl_seconds)

    @guarded
    async def get_doc(self, kind: str, id: str) -> str | None:
        """The JSON text stored under (kind, id), or None."""
        _check_name(kind)
        return _str_or_none(await self._r.get(self._k("doc", kind, id)))

    @guarded
    async def index_add(self, index: str, member: str, score: float) -> None:
        """Add ``member`` to a sorted index (or move it to ``score``)."""
        await self._r.zadd(self._k("index", index), {member: score})

    @guarded
    async def index_remove(self, index: str, member: str) -> None:
        """Remove ``member`` from a sorted index (no-op when absent)."""
        await self._r.zrem(self._k("index", index), member)

    @guarded
    async def index_members(
        self,
        index: str,
        *,
        min_score: float = -math.inf,
        max_score: float = math.inf,
        limit: int | None = None,
    ) -> list[str]:
        """Members with min_score ≤ score ≤ max_score, lowest score first, at most ``limit``."""
        start, num = (0, limit) if limit is not None else (None, None)
        got = await self._r.zrangebyscore(self._k("index", index), min_score, max_score, start=start, num=num)
        return [str(m) for m in got]

    @guarded
    async def claim(self, name: str, owner: str, *, ttl_seconds: int | None = None) -> bool:
        """SET NX: True only for the first caller (until ``ttl_seconds`` pass or :meth:`release`)."""
        return bool(await self._r.set(self._k("claim", name), owner, nx=True, ex=ttl_seconds))

    @guarded
    async def claim_owner(self, name: str) -> str | None:
        """The owner that holds claim ``name``, or None."""
        return _str_or_none(await self._r.get(self._k("claim", name)))

    @guarded
    async def release(self, name: str) -> None:
        """Drop claim ``name`` whoever holds it."""
        await self._r.delete(self._k("claim", name))

    @guarded
    async def increment(self, counter: str, amount: int = 1, *, ttl_seconds: int | None = None) -> int:
        """Add ``amount``; return the new value. ``ttl_seconds`` is applied by the first increment only
        (a fixed window that starts then), never extended by later ones. One Lua script (atomic)."""
        ttl = "" if ttl_seconds is None else ttl_seconds
        return int(await self._eval(_INCREMENT_LUA, [self._k("counter", counter)], [amount, ttl]))

    @guarded
    async def record_in_window(
        self, name: str, member: str, now_seconds: float, window_seconds: float
    ) -> None:
        """Record ``member`` (unique, e.g. a run id) at ``now_seconds`` in a rolling window, dropping
        entries at or before ``now_seconds - window_seconds``; the key expires ``window_seconds`` + 1 s
        after the last record. One Lua script (atomic)."""
        await self._eval(
            _WINDOW_LUA, [self._k("window", name)], _window_args(member, now_seconds, window_seconds, "")
        )

    @guarded
    async def record_in_window_if_below(
        self, name: str, member: str, now_seconds: float, window_seconds: float, *, limit: int
    ) -> bool:
        """Atomically (one Lua script): when fewer than ``limit`` entries lie in the window, record
        ``member`` and return True; else record nothing and return False (a budget shared by replicas)."""
        args = _window_args(member, now_seconds, window_seconds, limit)
        return bool(await self._eval(_WINDOW_LUA, [self._k("window", name)], args))

    @guarded
    async def count_in_window(self, name: str, now_seconds: float, window_seconds: float) -> int:
        """Entries with ``now_seconds - window_seconds`` < time ≤ ``now_seconds``."""
        lo = f"({now_seconds - window_seconds!r}"
        return int(await self._r.zcount(self._k("window", name), lo, now_seconds))


def _window_args(member: str, now: float, window: float, limit: int | str) -> list[str | int]:
    return [member, repr(now), repr(now - window), math.ceil(window) + 1, limit]


def _check_name(kind: str) -> None:
    if not kind or ":" in kind:
        raise ValueError(f"kind must be non-empty without ':', got {kind!r}")


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
