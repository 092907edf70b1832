"""The incidents key family: one incident per open problem, its events folded in atomically.

Fed by: :class:`aiops.events.dedup.Deduplicator` through ``store.incidents`` (an
:class:`Incidents`). Consumed by: Redis. Every key carries the hash tag ``{incidents}``: opening,
touching and resolving an incident write its mapping, its hash, the member's key set and the
global open/all indexes in one Lua script, and the global indexes force one tag for the whole
family (Redis docs, "Redis cluster specification", "Keys hash tags"). So on a Redis Cluster the
incidents live in one slot, on one primary: a few thousand small hashes, well within one node.
Key layout, under the store prefix (default ``aiops:``)::

    {incidents}:key:<dedup_key>       string  → id of the OPEN incident for that dedup key
    {incidents}:incident:<id>         hash    see IncidentRecord; TTL = retention once resolved
    {incidents}:member-keys:<member>  set     dedup keys of the open incidents <member> is in
    {incidents}:open | {incidents}:all  zset  id → first-seen epoch seconds

Incident hash fields: the caller's opaque fields (``status``, JSON snapshots, times),
``event_count``, ``member:<Kind/ns/name>`` = 1, ``sev:<severity>`` = 1, ``sup:<reason>`` = count of
suppressed events, ``run:<run_id>`` = score (attach order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["IncidentRecord", "Incidents"]

TAG = "incidents"


@dataclass(frozen=True)
class IncidentRecord:
    """One incident hash, parsed. ``fields`` are the caller's opaque text fields (``status``, JSON
    snapshots, times); the rest are kept by the store as atomic counters and flags."""

    id: str
    fields: dict[str, str]
    event_count: int
    members: frozenset[str]
    severities: frozenset[str]
    suppressed: dict[str, int]
    run_ids: list[str]  # in the order they were attached


#: observe: KEYS[1] the dedup key's mapping, KEYS[2] the member's key set, KEYS[3] open index,
#: KEYS[4] all index; ARGV[1] incident hash key prefix, ARGV[2] new id, ARGV[3] dedup key,
#: ARGV[4] score, ARGV[5] n = number of update field/value items, ARGV[6 .. 5+n] update pairs,
#: then the opening pairs. Returns {id, 1 when opened else 0}.
_OBSERVE_LUA = """
local current = redis.call('GET', KEYS[1])
local id = current or ARGV[2]
local key = ARGV[1] .. id
local n = tonumber(ARGV[5])
redis.call('SADD', KEYS[2], ARGV[3])
if current then
  redis.call('HSET', key, unpack(ARGV, 6, 5 + n))
  redis.call('HINCRBY', key, 'event_count', 1)
  redis.call('HINCRBY', key, 'sup:duplicate', 1)
  return {id, 0}
end
redis.call('SET', KEYS[1], id)
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event_count'
fields[#fields + 1] = '1'
redis.call('HSET', key, unpack(fields))
redis.call('ZADD', KEYS[3], ARGV[4], id)
redis.call('ZADD', KEYS[4], ARGV[4], id)
return {id, 1}
"""

#: touch: KEYS[1] the dedup key's mapping, KEYS[2] the member's key set; ARGV[1] the incident hash
#: key prefix, ARGV[2] the dedup key, ARGV[3..] field/value pairs. Returns false when no incident
#: is open for the key, else {id, HGETALL of the incident}.
_TOUCH_LUA = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local key = ARGV[1] .. id
redis.call('HSET', key, unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('HINCRBY', key, 'event_count', 1)
redis.call('HINCRBY', key, 'sup:duplicate', 1)
return {id, redis.call('HGETALL', key)}
"""

#: leave: KEYS[1] the dedup key's mapping, KEYS[2] the member's key set, KEYS[3] open index;
#: ARGV[1] incident hash key prefix, ARGV[2] the member's field, ARGV[3] dedup key, ARGV[4]
#: retention seconds, ARGV[5..] resolved field/value pairs. Returns false when the member was not
#: in the open incident, else {id, 1 when this call resolved it else 0}.
_LEAVE_LUA = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local key = ARGV[1] .. id
if redis.call('HEXISTS', key, ARGV[2]) == 0 then return false end
local members = 0
for _, name in ipairs(redis.call('HKEYS', key)) do
  if string.sub(name, 1, 7) == 'member:' then members = members + 1 end
end
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('HDEL', key, ARGV[2])
if members ~= 1 then return {id, 0} end
if #ARGV >= 5 then redis.call('HSET', key, unpack(ARGV, 5)) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], id)
redis.call('EXPIRE', key, ARGV[4])
return {id, 1}
"""


class Incidents:
    """The incidents of one store (``store.incidents``). Every method raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store
        self._open = store._tagged(TAG, "open")
        self._all = store._tagged(TAG, "all")
        self._hash_prefix = store._tagged(TAG, "incident", "")

    def _mapping(self, dedup_key: str) -> str:
        return self._store._tagged(TAG, "key", dedup_key)

    def _member_keys(self, member: str) -> str:
        return self._store._tagged(TAG, "member-keys", member)

    @guarded
    async def observe(
        self,
        dedup_key: str,
        *,
        new_id: str,
        opening: Mapping[str, str],
        update: Mapping[str, str],
        member: str,
        severity: str,
        score: float,
    ) -> tuple[str, bool]:
        """Fold one event into the OPEN incident for ``dedup_key``: returns (incident id, opened).

        No open incident: one is created as ``new_id`` with ``opening`` + ``update`` fields,
        event_count 1 and ``member``, indexed at ``score`` (epoch seconds), and the key mapped to
        it. Else: ``update`` fields are written, event_count and suppressed ``duplicate`` count +1,
        ``member`` and ``severity`` added. One Lua script: concurrent observers open exactly one,
        and a resolve cannot interleave."""
        fields = _flat({**update, "member:" + member: "1", "sev:" + severity: "1"})
        keys = [self._mapping(dedup_key), self._member_keys(member), self._open, self._all]
        args = [self._hash_prefix, new_id, dedup_key, repr(score), len(fields), *fields, *_flat(opening)]
        incident_id, opened = await self._store._eval(_OBSERVE_LUA, keys, args)
        return str(incident_id), bool(int(opened))

    @guarded
    async def member_keys(self, member: str) -> set[str]:
        """The dedup keys of the open incidents ``member`` (``Kind/ns/name``) belongs to.

        One SMEMBERS: lets recovery skip the common case of a healthy object in no incident
        without a script per event type. Maintained by observe/touch/leave."""
        return {str(k) for k in await self._store._r.smembers(self._member_keys(member))}

    @guarded
    async def leave(
        self, dedup_key: str, member: str, *, resolved: Mapping[str, str], retention_seconds: int
    ) -> str | None:
        """Remove ``member`` from the open incident for ``dedup_key``; when no member is left, write
        the ``resolved`` fields, unmap the key (the next event opens a fresh incident), drop it
        from the open index and start its retention TTL (seconds). Returns the id when this call
        resolved it. One Lua script (atomic against concurrent observes)."""
        keys = [self._mapping(dedup_key), self._member_keys(member), self._open]
        args = [self._hash_prefix, "member:" + member, dedup_key, retention_seconds, *_flat(resolved)]
        got = await self._store._eval(_LEAVE_LUA, keys, args)
        if not got or not int(got[1]):
            return None
        return str(got[0])

    @guarded
    async def fetch(self, incident_id: str) -> IncidentRecord | None:
        """The incident hash, parsed; None when unknown or past retention."""
        raw = await self._store._r.hgetall(self._hash_prefix + incident_id)
        return _record(incident_id, _text_dict(raw))

    @guarded
    async def touch(
        self, dedup_key: str, *, update: Mapping[str, str], member: str, severity: str
    ) -> IncidentRecord | None:
        """Fold a duplicate event into the OPEN incident for ``dedup_key``; None when there is none.

        The common case (many watch events per problem) as one atomic Lua script, one round trip:
        if the key maps to an open incident, write ``update``, add ``member`` and ``severity``,
        bump event_count and the ``duplicate`` count, and return the hash. A resolve cannot
        interleave (scripts run atomically), so a None answer means "open one" and the caller
        calls :meth:`observe`."""
        flat = _flat({**update, "member:" + member: "1", "sev:" + severity: "1"})
        result = await self._store._eval(
            _TOUCH_LUA,
            [self._mapping(dedup_key), self._member_keys(member)],
            [self._hash_prefix, dedup_key, *flat],
        )
        if not result:
            return None
        incident_id, pairs = str(result[0]), result[1]
        return _record(incident_id, {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs), 2)})

    @guarded
    async def suppress(self, incident_id: str, reason: str) -> bool:
        """Count one suppressed event by ``reason``; False (nothing written) for an unknown id."""
        key = self._hash_prefix + incident_id
        return await self._store._write_if_exists(key, "HINCRBY", "sup:" + reason, 1)

    @guarded
    async def attach_run(self, incident_id: str, run_id: str, score: float) -> bool:
        """Record playbook run ``run_id`` (ordered by ``score``, e.g. epoch seconds) once; False for
        an unknown incident."""
        key = self._hash_prefix + incident_id
        return await self._store._write_if_exists(key, "HSETNX", "run:" + run_id, repr(score))

    @guarded
    async def ids(self, *, open_only: bool, offset: int, count: int) -> list[str]:
        """Incident ids, newest first-seen first (open ones, or all retained)."""
        index = self._open if open_only else self._all
        return [str(i) for i in await self._store._r.zrevrange(index, offset, offset + count - 1)]

    @guarded
    async def forget(self, incident_id: str) -> None:
        """Drop an id whose hash has expired from the indexes (lazy pruning)."""
        await self._store._r.zrem(self._all, incident_id)
        await self._store._r.zrem(self._open, incident_id)

    @guarded
    async def open_count(self) -> int:
        """How many incidents are open."""
        return int(await self._store._r.zcard(self._open))


def _flat(values: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for name, value in values.items():
        out.extend((name, value))
    return out


def _record(incident_id: str, raw: Mapping[str, str]) -> IncidentRecord | None:
    """Parse an incident hash (see the key layout) into an :class:`IncidentRecord`."""
    if "event_count" not in raw:
        return None
    fields: dict[str, str] = {}
    members: set[str] = set()
    severities: set[str] = set()
    suppressed: dict[str, int] = {}
    runs: list[tuple[float, str]] = []
    for name, value in raw.items():
        kind, _, rest = name.partition(":")
        if kind == "member" and rest:
            members.add(rest)
        elif kind == "sev" and rest:
            severities.add(rest)
        elif kind == "sup" and rest:
            suppressed[rest] = int(value)
        elif kind == "run" and rest:
            runs.append((float(value), rest))
        elif name != "event_count":
            fields[name] = value
    return IncidentRecord(
        id=incident_id,
        fields=fields,
        event_count=int(raw["event_count"]),
        members=frozenset(members),
        severities=frozenset(severities),
        suppressed=suppressed,
        run_ids=[r for _, r in sorted(runs)],
    )


def _text_dict(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()}
