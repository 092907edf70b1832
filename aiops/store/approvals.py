"""The approvals key family: one request per run step and plan attempt, decided exactly once.

Fed by: :class:`aiops.approvals.gate.ApprovalGate` through ``store.approvals`` (an
:class:`Approvals`). Consumed by: Redis. Every key carries the hash tag ``{approvals}``: creating
a request writes the step key, the request hash and three global indexes in one Lua script, and
a decision (or the vote that reaches the count) writes the hash, the votes, two indexes and the
TTLs of the step key and the votes in another, so the global indexes
force one tag for the family (Redis docs, "Keys hash tags"): on a Redis Cluster the approvals live
in one slot. Key layout, under the store prefix (default ``aiops:``)::

    {approvals}:step:<run>:<step>[.N]  string  → request id (one per run step and plan attempt N)
    {approvals}:request:<id>           hash    request (JSON), decision (JSON, HSETNX: set once),
                                               outcome (JSON, the last word stands)
    {approvals}:votes:<id>             list    the approvers' votes in order (each voter once)
    {approvals}:pending                zset    id → created_at epoch seconds (pending only)
    {approvals}:deadline               zset    id → expires_at epoch seconds (pending only)
    {approvals}:all                    zset    id → created_at epoch seconds (pruned lazily)
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["Approvals", "StoredRequest", "VoteResult"]

TAG = "approvals"

#: create: KEYS[1] step key, KEYS[2] request hash, KEYS[3] pending, KEYS[4] deadline, KEYS[5] all;
#: ARGV[1] new id, ARGV[2] request JSON, ARGV[3] created, ARGV[4] expires. Returns the standing id.
_CREATE_LUA = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'request', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
return ARGV[1]
"""

#: decide: KEYS[1] request hash, KEYS[2] pending, KEYS[3] deadline, KEYS[4] step key, KEYS[5]
#: votes; ARGV[1] decision JSON, ARGV[2] request id, ARGV[3] retention seconds. Returns {1 when
#: this call decided else 0, the decision that stands}.
_DECIDE_LUA = """
local won = redis.call('HSETNX', KEYS[1], 'decision', ARGV[1])
local standing = redis.call('HGET', KEYS[1], 'decision')
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[3])
return {won, standing}
"""

#: vote: KEYS as decide; ARGV[1] voter, ARGV[2] votes needed, ARGV[3] decision JSON taken when
#: this vote is the deciding one, ARGV[4] request id, ARGV[5] retention seconds, ARGV[6] how many
#: votes the caller saw when it built ARGV[3] ('' = do not check). Returns {status, decision or
#: '', vote...}: status 'unknown' (no such request), 'decided' (a decision stands; nothing
#: written), 'again' (the voter already voted), 'stale' (this vote would decide but the votes
#: changed since the caller looked: build the decision again), 'counted' or 'decided-now'.
_VOTE_LUA = """
local unpack = unpack or table.unpack
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown', ''} end
local standing = redis.call('HGET', KEYS[1], 'decision')
local votes = redis.call('LRANGE', KEYS[5], 0, -1)
if standing then return {'decided', standing, unpack(votes)} end
for _, voter in ipairs(votes) do
  if voter == ARGV[1] then return {'again', '', unpack(votes)} end
end
local reached = #votes + 1 >= tonumber(ARGV[2])
if reached and ARGV[6] ~= '' and #votes ~= tonumber(ARGV[6]) then
  return {'stale', '', unpack(votes)}
end
redis.call('RPUSH', KEYS[5], ARGV[1])
table.insert(votes, ARGV[1])
if not reached then return {'counted', '', unpack(votes)} end
redis.call('HSET', KEYS[1], 'decision', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
return {'decided-now', ARGV[3], unpack(votes)}
"""

#: fetch: KEYS[1] request hash, KEYS[2] votes. Returns {HGETALL as a flat list, votes} (one read).
_FETCH_LUA = """
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
"""


class StoredRequest(NamedTuple):
    """One request as stored: its JSON, the decision JSON (None while pending), the outcome JSON
    (None until closed) and the votes cast so far, in order."""

    request: str
    decision: str | None
    outcome: str | None
    votes: list[str]


class VoteResult(NamedTuple):
    """What :meth:`Approvals.vote` did. ``status``: ``unknown`` (no such request), ``decided`` (a
    decision already stood: ``decision`` is it, nothing was written), ``again`` (the voter had
    voted; nothing written), ``stale`` (this vote would have decided, but the votes changed since
    the caller counted them; nothing written: count again), ``counted`` (the vote was added; more
    are needed) or ``decided-now`` (the vote was added and took the decision: ``decision`` is the
    one given). ``votes``: every vote now recorded, in order."""

    status: str
    decision: str | None
    votes: list[str]


def _step_slot(step_index: int, attempt: int) -> str:
    """``3`` for a step's first plan, ``3.1`` for its second."""
    return f"{step_index}.{attempt}" if attempt else str(step_index)


class Approvals:
    """The approval requests of one store (``store.approvals``). Every method raises
    :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store
        self._pending = store._tagged(TAG, "pending")
        self._deadline = store._tagged(TAG, "deadline")
        self._all = store._tagged(TAG, "all")

    def _request(self, request_id: str) -> str:
        return self._store._tagged(TAG, "request", request_id)

    def _step(self, run_id: str, step_index: int, attempt: int) -> str:
        return self._store._tagged(TAG, "step", run_id, _step_slot(step_index, attempt))

    def _votes(self, request_id: str) -> str:
        return self._store._tagged(TAG, "votes", request_id)

    @guarded
    async def create(
        self,
        run_id: str,
        step_index: int,
        *,
        new_id: str,
        request_json: str,
        created: float,
        expires: float,
        attempt: int = 0,
    ) -> str:
        """Persist a pending request as ``new_id`` unless (run_id, step_index, attempt) already has
        one; returns the id that stands. ``created``/``expires``: epoch seconds. One Lua script:
        exactly one per step and plan attempt (a step re-planned after its target changed asks
        again, once per attempt)."""
        keys = [
            self._step(run_id, step_index, attempt),
            self._request(new_id),
            self._pending,
            self._deadline,
            self._all,
        ]
        return str(
            await self._store._eval(_CREATE_LUA, keys, [new_id, request_json, repr(created), repr(expires)])
        )

    @guarded
    async def fetch(self, request_id: str) -> StoredRequest | None:
        """The request with its decision, outcome and votes (read at one instant, one Lua script),
        or None when unknown or past retention."""
        flat, votes = await self._store._eval(
            _FETCH_LUA, [self._request(request_id), self._votes(request_id)], []
        )
        raw = {str(k): str(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
        if "request" not in raw:
            return None
        return StoredRequest(raw["request"], raw.get("decision"), raw.get("outcome"), [str(v) for v in votes])

    @guarded
    async def close(self, request_id: str, outcome_json: str) -> bool:
        """Record what became of a decided request (ran, not run and why); the last word stands.
        False when the request is unknown or past retention (nothing is written then)."""
        return await self._store._write_if_exists(self._request(request_id), "HSET", "outcome", outcome_json)

    @guarded
    async def decide(
        self,
        request_id: str,
        decision_json: str,
        *,
        run_id: str,
        step_index: int,
        retention_seconds: int,
        attempt: int = 0,
    ) -> tuple[bool, str]:
        """Take the one decision: HSETNX of the ``decision`` field, in one Lua script that also
        leaves the pending indexes and starts retention (seconds) of the request and its step key.
        Returns (this call won, the decision that stands)."""
        keys = self._decision_keys(request_id, run_id, step_index, attempt)
        won, standing = await self._store._eval(
            _DECIDE_LUA, keys, [decision_json, request_id, retention_seconds]
        )
        return bool(int(won)), str(standing)

    @guarded
    async def vote(
        self,
        request_id: str,
        voter: str,
        *,
        needed: int,
        decision_json_if_won: str,
        run_id: str,
        step_index: int,
        retention_seconds: int,
        attempt: int = 0,
        seen: int | None = None,
    ) -> VoteResult:
        """Count ``voter``'s vote once and, when it is vote number ``needed``, take the decision
        ``decision_json_if_won`` exactly as :meth:`decide` does (set once, out of the pending
        indexes, retention of ``retention_seconds`` for the request, its step key and its votes).
        One Lua script. ``seen``: how many votes the caller counted when it built the decision
        (its reason names the voters); a deciding vote is refused as ``stale`` when the count has
        moved since (None: no check). See :class:`VoteResult` for what it answers."""
        keys = self._decision_keys(request_id, run_id, step_index, attempt)
        args: list[Any] = [
            voter,
            needed,
            decision_json_if_won,
            request_id,
            retention_seconds,
            "" if seen is None else seen,
        ]
        status, decision, *votes = await self._store._eval(_VOTE_LUA, keys, args)
        return VoteResult(str(status), str(decision) or None, [str(v) for v in votes])

    def _decision_keys(self, request_id: str, run_id: str, step_index: int, attempt: int) -> list[str]:
        return [
            self._request(request_id),
            self._pending,
            self._deadline,
            self._step(run_id, step_index, attempt),
            self._votes(request_id),
        ]

    @guarded
    async def due(self, now: float) -> list[str]:
        """Ids of pending requests whose expires_at (epoch seconds) is ≤ ``now``."""
        return [str(i) for i in await self._store._r.zrangebyscore(self._deadline, "-inf", now)]

    @guarded
    async def ids(self, *, pending_only: bool, offset: int, count: int) -> list[str]:
        """Pending ids oldest first, or all retained ids newest first (by created_at)."""
        end = offset + count - 1
        if pending_only:
            got = await self._store._r.zrange(self._pending, offset, end)
        else:
            got = await self._store._r.zrevrange(self._all, offset, end)
        return [str(i) for i in got]

    @guarded
    async def forget(self, request_id: str) -> None:
        """Drop an id whose hash has expired from the listing index (lazy pruning)."""
        await self._store._r.zrem(self._all, request_id)

    @guarded
    async def pending_count(self) -> int:
        """How many requests are pending."""
        return int(await self._store._r.zcard(self._pending))
