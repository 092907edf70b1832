"""The blast-radius guards' key family: write budgets, rate limits and leases, reserved atomically.

Fed by: :class:`aiops.safety.guards.Guards` through ``store.reservations`` (a
:class:`Reservations`), with window and claim names such as ``budget:ns:shop`` and
``lease:node:n1``. Consumed by: Redis. One reservation checks and writes several namespace windows,
the cluster window, the rate-limit claim and leases in one Lua script, all or nothing; so every key
carries the hash tag ``{guards}`` (Redis docs, "Keys hash tags"): on a Redis Cluster the guards'
state lives in one slot. Key layout, under the store prefix (default ``aiops:``)::

    {guards}:window:budget:ns:<namespace>   zset    write steps (member ``run:step``) in that
                                                    namespace, score = epoch seconds;
                                                    TTL = budget window + 1 s
    {guards}:window:budget:cluster          zset    write steps in the whole cluster, same layout
    {guards}:claim:rate:<playbook>:<target> string  ``run:step`` that took the rate limit;
                                                    TTL = rate limit
    {guards}:claim:lease:drain              string  ``run:step`` draining a node (one at a time); TTL 2 h
    {guards}:claim:lease:node:<node>        string  ``run:step`` disrupting that node; TTL 2 h
    {guards}:claim:lease:workload:<K/ns/n>  string  ``run:step`` disrupting that workload; TTL 2 h

:meth:`Reservations.probe` reads them in one pipelined round trip, :meth:`Reservations.reserve`
and :meth:`Reservations.unreserve` are Lua scripts (atomic, one round trip each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from redis.typing import EncodableT

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["Reservations", "Reserved"]

TAG = "guards"


@dataclass(frozen=True)
class Reserved:
    """What :meth:`Reservations.reserve` did. ``full_window`` (an index into its ``windows``) with
    ``used`` entries, or ``held_claim`` (an index into its ``claims``) with its ``owner``: nothing
    was written. Both None: everything was reserved; ``added`` is False when ``member`` already
    held every window (a retry)."""

    added: bool
    full_window: int | None = None
    used: int = 0
    held_claim: int | None = None
    owner: str | None = None

    @property
    def ok(self) -> bool:
        """True when everything was reserved."""
        return self.full_window is None and self.held_claim is None


#: reserve: KEYS = the nw window keys, then the claim keys; ARGV[1] member, ARGV[2] now (score),
#: ARGV[3] now - window, ARGV[4] window key TTL, ARGV[5] nw, ARGV[6 .. 5+nw] the limits, then per
#: claim a (TTL, 0 = none; group, '' = none) pair. Checks everything before writing anything.
#: Returns {1, window index (0-based), entries} for a full window, {2, claim index, owner} for a
#: claim held by another, else {0, how many windows got the member, 0}.
_RESERVE_LUA = """
local member = ARGV[1]
local nw = tonumber(ARGV[5])
local nc = #KEYS - nw
for i = 1, nw do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3])
end
local missing = {}
for i = 1, nw do
  if not redis.call('ZSCORE', KEYS[i], member) then
    local used = redis.call('ZCARD', KEYS[i])
    if used >= tonumber(ARGV[5 + i]) then return {1, i - 1, used} end
    missing[#missing + 1] = KEYS[i]
  end
end
local base = 5 + nw
local free = {}
for j = 1, nc do
  local owner = redis.call('GET', KEYS[nw + j])
  if not owner then
    free[#free + 1] = j
  elseif owner ~= member then
    local group = ARGV[base + 2 * j]
    if group == '' or string.match(owner, '^(.*):[^:]*$') ~= group then
      return {2, j - 1, owner}
    end
  end
end
for _, key in ipairs(missing) do
  redis.call('ZADD', key, ARGV[2], member)
end
for i = 1, nw do
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
for _, j in ipairs(free) do
  local ttl = tonumber(ARGV[base + 2 * j - 1])
  if ttl > 0 then
    redis.call('SET', KEYS[nw + j], member, 'EX', ttl)
  else
    redis.call('SET', KEYS[nw + j], member)
  end
end
return {0, #missing, 0}
"""

#: unreserve: KEYS = the nw window keys, then the claim keys; ARGV[1] member, ARGV[2] nw.
_UNRESERVE_LUA = """
local nw = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  if i <= nw then
    redis.call('ZREM', key, ARGV[1])
  elseif redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
  end
end
return 0
"""


class Reservations:
    """The guards' windows and claims of one store. Every method raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def window_key(self, name: str) -> str:
        """The key of rolling window ``name`` (e.g. ``budget:cluster``)."""
        return self._store._tagged(TAG, "window", name)

    def claim_key(self, name: str) -> str:
        """The key of claim ``name`` (e.g. ``lease:drain``)."""
        return self._store._tagged(TAG, "claim", name)

    @guarded
    async def owner(self, claim: str) -> str | None:
        """The ``run:step`` that holds claim ``claim`` (e.g. ``lease:drain``), or None."""
        got = await self._store._r.get(self.claim_key(claim))
        return None if got is None else str(got)

    @guarded
    async def probe(
        self,
        member: str,
        *,
        windows: Sequence[str],
        now_seconds: float,
        window_seconds: float,
        claims: Sequence[str],
    ) -> tuple[list[int], list[str | None]]:
        """Read-only, one round trip: (entries other than ``member`` in each rolling window of
        ``windows`` after ``now_seconds - window_seconds``, the owner of each claim of ``claims`` or
        None). Entries stamped later than ``now_seconds`` count too: a replica whose clock runs ahead
        must not free budget."""
        if not windows and not claims:
            return [], []
        lo = now_seconds - window_seconds
        async with self._store._r.pipeline(transaction=False) as pipe:
            for name in windows:
                key = self.window_key(name)
                pipe.zcount(key, f"({lo!r}", "+inf")
                pipe.zscore(key, member)
            for name in claims:
                pipe.get(self.claim_key(name))
            answers = await pipe.execute()
        used: list[int] = []
        for i in range(len(windows)):
            count, score = int(answers[2 * i]), answers[2 * i + 1]
            used.append(count - (1 if score is not None and float(score) > lo else 0))
        return used, [None if v is None else str(v) for v in answers[2 * len(windows) :]]

    @guarded
    async def reserve(
        self,
        member: str,
        *,
        windows: Sequence[tuple[str, int]],
        now_seconds: float,
        window_seconds: float,
        claims: Sequence[tuple[str, int | None, str | None]],
    ) -> Reserved:
        """Take a unit of several rolling-window budgets and several claims for ``member``: all or none.

        ``windows``: ``(name, limit)``; ``claims``: ``(name, ttl_seconds or None, group or None)``.
        One Lua script (atomic, one round trip) that first drops window entries at or before
        ``now_seconds - window_seconds``, then checks everything and writes only when all pass:

        * a window passes when it already holds ``member`` or holds fewer than ``limit`` entries
          (limit 0: nothing may be recorded); ``member`` is added at ``now_seconds`` where missing
          (an existing entry keeps its time: a retry neither counts twice nor extends the window);
        * a claim passes when it is free (then it is SET to ``member`` with the TTL), held by
          ``member``, or held by an owner whose part before its last ``:`` equals ``group`` (the
          guards' rate limit: any step ``<run>:<n>`` of the same run); a claim held is left as is.

        Answers a :class:`Reserved`. Raises StoreUnavailable when Redis does not answer.
        """
        if not windows and not claims:
            return Reserved(added=False)
        keys = [self.window_key(name) for name, _ in windows] + [self.claim_key(c) for c, _, _ in claims]
        args: list[EncodableT] = [
            member,
            repr(now_seconds),
            repr(now_seconds - window_seconds),
            math.ceil(window_seconds) + 1,
            len(windows),
            *(limit for _, limit in windows),
        ]
        for _, ttl, group in claims:
            args.extend((ttl or 0, group or ""))
        status, index, detail = await self._store._eval(_RESERVE_LUA, keys, args)
        if int(status) == 1:
            return Reserved(added=False, full_window=int(index), used=int(detail))
        if int(status) == 2:
            return Reserved(added=False, held_claim=int(index), owner=str(detail))
        return Reserved(added=int(index) > 0)

    @guarded
    async def unreserve(self, member: str, *, windows: Sequence[str], claims: Sequence[str]) -> None:
        """Undo :meth:`reserve` for ``member``, one Lua script: remove it from each rolling window of
        ``windows`` and drop each claim of ``claims`` that ``member`` holds (compare-and-delete: a
        claim that expired and was taken by someone else stays theirs)."""
        if not windows and not claims:
            return
        keys = [self.window_key(n) for n in windows] + [self.claim_key(c) for c in claims]
        await self._store._eval(_UNRESERVE_LUA, keys, [member, len(windows)])
