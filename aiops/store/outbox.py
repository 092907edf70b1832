"""The chat outbox key family: durable per-channel queues of deliveries, and where messages live.

Fed by: :mod:`aiops.chat.delivery` through ``store.outbox`` (an :class:`Outbox`): the
``Notifications`` facade enqueues (``put_message``, ``put_reply``), one worker per channel claims,
acknowledges, reschedules and dead-letters. Consumed by: Redis. Every key carries the hash tag
``{outbox}``: claiming reads the queue, the delivery and the incident's location, and an ack writes
the location, the queue and the delivery in one Lua script, so on a Redis Cluster the family lives
in one slot (Redis docs, "Keys hash tags"). Key layout, under the store prefix (default
``aiops:``)::

    {outbox}:queue:<channel>                  zset    delivery id → due at (epoch seconds); a claim
                                                      moves it to now + visibility timeout
    {outbox}:delivery:<channel>:<id>          hash    kind (message|reply), incident, body,
                                                      version (bumped by each newer render),
                                                      attempts, token (of the claim holding it)
    {outbox}:location:<channel>:<incident>    string  where the incident's message lives (JSON),
                                                      SET NX by the first post's ack, 30 days
    {outbox}:done:<channel>:<id>              string  a delivered reply (its key is not enqueued
                                                      again), 7 days
    {outbox}:dead:<channel>                   list    dead letters (JSON), newest first, 1,000 kept

Delivery ids: ``msg:<incident>`` (one per incident and channel: posted while the incident has no
location, edited in place once it has one; a newer render replaces the body, so updates coalesce
to the latest) and ``reply:<incident>:<key>`` (one per reply key, e.g. a step result).

Guarantees, with the crash windows stated honestly:

* Nothing enqueued is lost: a delivery leaves the queue only in the ack or dead-letter script.
* A claim is a lease: the delivery's score becomes now + visibility timeout, so a worker that
  dies holding it lets it fall due again and another worker (or the restarted one) re-delivers
  it. That is at-least-once towards the chat API: a worker that dies *after* the API accepted a
  post and *before* the ack script ran posts again when the lease expires (a duplicate message;
  the first location stored stands). Once the ack ran, the location is stored in the same script
  that removes the delivery, so a post is never repeated and every later render is an edit.
* A render enqueued while an older one is being delivered bumps ``version``; the ack of the older
  render sees the newer version and leaves the delivery due at once, so the newest render always
  goes out last.
* A worker whose lease ran out before its ack (another took the delivery over) changes nothing
  but the location (SET NX): the holder of the newer lease finishes the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from aiops.store.connection import StoreCore
from aiops.store.failures import guarded

__all__ = ["Acked", "Claimed", "Outbox", "incident_of"]

TAG = "outbox"

#: How long an incident's message location is kept after its last delivery (seconds).
LOCATION_TTL_SECONDS = 30 * 24 * 3600

#: How long a delivered reply's key stays known, so it is not delivered again (seconds).
DONE_TTL_SECONDS = 7 * 24 * 3600

#: Dead letters kept per channel (the oldest are dropped).
DEAD_LETTERS_KEPT = 1_000

#: KEYS[1] queue, KEYS[2] delivery; ARGV[1] id, ARGV[2] incident, ARGV[3] body, ARGV[4] now.
#: Returns 1 when a new delivery was queued, 0 when a pending one got the newer body.
_PUT_MESSAGE_LUA = """
local fresh = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'body', ARGV[3])
  redis.call('HINCRBY', KEYS[2], 'version', 1)
else
  redis.call('HSET', KEYS[2], 'kind', 'message', 'incident', ARGV[2], 'body', ARGV[3],
             'version', 1, 'attempts', 0)
  fresh = 1
end
redis.call('ZADD', KEYS[1], 'NX', ARGV[4], ARGV[1])
return fresh
"""

#: KEYS[1] queue, KEYS[2] delivery, KEYS[3] done; ARGV[1] id, ARGV[2] incident, ARGV[3] text,
#: ARGV[4] now. Returns 1 when queued, 0 when that reply is queued or delivered already.
_PUT_REPLY_LUA = """
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'kind', 'reply', 'incident', ARGV[2], 'body', ARGV[3],
           'version', 1, 'attempts', 0)
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
"""

#: KEYS[1] queue, KEYS[2] delivery, KEYS[3] location; ARGV[1] id, ARGV[2] now, ARGV[3] lease
#: end, ARGV[4] token. Returns nil when not due (or gone), else {kind, incident, body, version,
#: attempts, location or '', the score it was due at}.
_CLAIM_LUA = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'token', ARGV[4])
local f = redis.call('HMGET', KEYS[2], 'kind', 'incident', 'body', 'version', 'attempts')
return {f[1], f[2], f[3], f[4], f[5], redis.call('GET', KEYS[3]) or '', score}
"""

#: KEYS[1] queue, KEYS[2] delivery, KEYS[3] location, KEYS[4] done; ARGV[1] id, ARGV[2] token,
#: ARGV[3] version claimed, ARGV[4] location JSON ('' for none), ARGV[5] location TTL, ARGV[6]
#: done TTL ('0' for none), ARGV[7] now. Returns 0 (lease lost), 1 (done), 2 (a newer render due).
_ACK_LUA = """
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4], 'NX', 'EX', ARGV[5])
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
if ARGV[6] ~= '0' then redis.call('SET', KEYS[4], '1', 'EX', ARGV[6]) end
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[2], 'version') == ARGV[3] then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
redis.call('HDEL', KEYS[2], 'token')
redis.call('HSET', KEYS[2], 'attempts', 0)
redis.call('ZADD', KEYS[1], ARGV[7], ARGV[1])
return 2
"""

#: KEYS[1] queue, KEYS[2] delivery; ARGV[1] id, ARGV[2] token, ARGV[3] not before, ARGV[4] '1'
#: to count an attempt. Returns the attempts so far, or -1 when the lease was lost.
_RESCHEDULE_LUA = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[2], 'token')
local n = tonumber(redis.call('HGET', KEYS[2], 'attempts') or '0')
if ARGV[4] == '1' then n = redis.call('HINCRBY', KEYS[2], 'attempts', 1) end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return n
"""

#: KEYS[1] queue, KEYS[2] delivery, KEYS[3] dead list; ARGV[1] id, ARGV[2] token, ARGV[3] letter,
#: ARGV[4] how many letters to keep. Returns 1 when dead-lettered, 0 when the lease was lost.
_DEAD_LUA = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


class Acked(IntEnum):
    """What an ack did: ``LOST`` (the lease had passed to another worker; only the location was
    kept), ``DONE`` (the delivery left the queue), ``NEWER`` (a newer render is due at once)."""

    LOST = 0
    DONE = 1
    NEWER = 2


@dataclass(frozen=True)
class Claimed:
    """A delivery held under a lease: ``kind`` ``message`` or ``reply``; ``body`` the message JSON
    or the reply text; ``version`` the render claimed; ``attempts`` failed attempts so far;
    ``location`` the incident's stored location JSON in this channel, or None before its post;
    ``due_at`` the score it was due at before the claim (epoch seconds): a delivery deferred
    without a failure is put back there, so it keeps its place in the queue."""

    channel: str
    id: str
    token: str
    kind: str
    incident_id: str
    body: str
    version: str
    attempts: int
    location: str | None
    due_at: float


def _part(name: str, what: str) -> str:
    if not name or ":" in name:
        raise ValueError(f"{what} {name!r} must be non-empty and have no ':'")
    return name


def incident_of(delivery_id: str) -> str:
    """The incident a delivery id (``msg:<incident>``, ``reply:<incident>:<key>``) is about."""
    return delivery_id.split(":", 2)[1]


class Outbox:
    """The chat deliveries of one store (``store.outbox``). Times are epoch seconds. Every method
    raises :class:`aiops.errors.StoreUnavailable` when Redis does not answer or refuses; enqueuing
    raises ValueError for a channel or incident id that is empty or contains ``:``."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def _queue(self, channel: str) -> str:
        return self._store._tagged(TAG, "queue", channel)

    def _delivery(self, channel: str, delivery_id: str) -> str:
        return self._store._tagged(TAG, "delivery", channel, delivery_id)

    def _location(self, channel: str, incident_id: str) -> str:
        return self._store._tagged(TAG, "location", channel, incident_id)

    def _done(self, channel: str, delivery_id: str) -> str:
        return self._store._tagged(TAG, "done", channel, delivery_id)

    def _dead(self, channel: str) -> str:
        return self._store._tagged(TAG, "dead", channel)

    @guarded
    async def put_message(self, channel: str, incident_id: str, body: str, *, now: float) -> bool:
        """Queue the incident's message render ``body`` (JSON) for ``channel``, due at ``now``: a post
        while the incident has no location there, an edit afterwards. A delivery already queued
        takes the newer body and keeps its place (coalescing). True when a new delivery was queued."""
        delivery_id = "msg:" + _part(incident_id, "incident id")
        keys = [self._queue(_part(channel, "channel")), self._delivery(channel, delivery_id)]
        return bool(
            await self._store._eval(_PUT_MESSAGE_LUA, keys, [delivery_id, incident_id, body, repr(now)])
        )

    @guarded
    async def put_reply(self, channel: str, incident_id: str, key: str, text: str, *, now: float) -> bool:
        """Queue ``text`` as a reply in the incident's thread, once per ``key`` (e.g. ``run:step``):
        False when that reply is queued or was delivered in the last 7 days."""
        delivery_id = f"reply:{_part(incident_id, 'incident id')}:{key}"
        keys = [
            self._queue(_part(channel, "channel")),
            self._delivery(channel, delivery_id),
            self._done(channel, delivery_id),
        ]
        return bool(
            await self._store._eval(_PUT_REPLY_LUA, keys, [delivery_id, incident_id, text, repr(now)])
        )

    @guarded
    async def due(self, channel: str, *, now: float, limit: int = 50) -> list[str]:
        """Ids of up to ``limit`` deliveries due at ``now`` (oldest due first)."""
        got = await self._store._r.zrangebyscore(self._queue(channel), "-inf", now, start=0, num=limit)
        return [str(i) for i in got]

    @guarded
    async def claim(
        self, channel: str, delivery_id: str, *, now: float, visibility_seconds: float, token: str
    ) -> Claimed | None:
        """Lease the delivery until ``now + visibility_seconds`` under ``token``; None when it is not
        due (another worker holds it, or it waits for a retry) or gone."""
        incident_id = incident_of(delivery_id)
        keys = [
            self._queue(channel),
            self._delivery(channel, delivery_id),
            self._location(channel, incident_id),
        ]
        args = [delivery_id, repr(now), repr(now + visibility_seconds), token]
        got = await self._store._eval(_CLAIM_LUA, keys, args)
        if got is None:
            return None
        kind, incident, body, version, attempts, location, due_at = (str(v) for v in got)
        return Claimed(
            channel=channel,
            id=delivery_id,
            token=token,
            kind=kind,
            incident_id=incident,
            body=body,
            version=version,
            attempts=int(attempts),
            location=location or None,
            due_at=float(due_at),
        )

    @guarded
    async def ack(self, claimed: Claimed, *, now: float, location: str | None = None) -> Acked:
        """The channel took the delivery: store ``location`` (JSON, a post's; the first one stored
        stands) and drop the delivery, in one script; a newer render enqueued meanwhile stays due
        at ``now``."""
        keys = [
            self._queue(claimed.channel),
            self._delivery(claimed.channel, claimed.id),
            self._location(claimed.channel, claimed.incident_id),
            self._done(claimed.channel, claimed.id),
        ]
        done_ttl = DONE_TTL_SECONDS if claimed.kind == "reply" else 0
        args = [
            claimed.id,
            claimed.token,
            claimed.version,
            location or "",
            LOCATION_TTL_SECONDS,
            done_ttl,
            repr(now),
        ]
        return Acked(int(await self._store._eval(_ACK_LUA, keys, args)))

    @guarded
    async def reschedule(self, claimed: Claimed, *, not_before: float, count_attempt: bool) -> int:
        """Give the lease back with the delivery due at ``not_before``; ``count_attempt`` for a
        failure (not for a rate-limit deferral). Returns the failed attempts so far, -1 when the
        lease had passed to another worker (nothing changed)."""
        keys = [self._queue(claimed.channel), self._delivery(claimed.channel, claimed.id)]
        args = [claimed.id, claimed.token, repr(not_before), "1" if count_attempt else "0"]
        return int(await self._store._eval(_RESCHEDULE_LUA, keys, args))

    @guarded
    async def dead_letter(self, claimed: Claimed, letter: str) -> bool:
        """Move the delivery to the channel's dead letters as ``letter`` (JSON); False when the lease
        had passed to another worker (nothing changed)."""
        keys = [
            self._queue(claimed.channel),
            self._delivery(claimed.channel, claimed.id),
            self._dead(claimed.channel),
        ]
        return bool(
            await self._store._eval(_DEAD_LUA, keys, [claimed.id, claimed.token, letter, DEAD_LETTERS_KEPT])
        )

    @guarded
    async def location(self, channel: str, incident_id: str) -> str | None:
        """The stored location JSON of the incident's message in ``channel``, or None."""
        got = await self._store._r.get(self._location(channel, incident_id))
        return None if got is None else str(got)

    @guarded
    async def depth(self, channel: str) -> int:
        """Deliveries waiting or held in ``channel``'s queue."""
        return int(await self._store._r.zcard(self._queue(channel)))

    @guarded
    async def dead_letters(self, channel: str, count: int = 100) -> list[str]:
        """The newest ``count`` dead letters (JSON) of ``channel``."""
        return [str(x) for x in await self._store._r.lrange(self._dead(channel), 0, count - 1)]
