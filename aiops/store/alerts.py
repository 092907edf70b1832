"""Alert intake on Redis Streams: record each delivered alert once, durably, then consume it.

Fed by: the Alertmanager receiver (``POST /api/webhook/alertmanager``), which records a payload's
alerts before answering 2xx. Consumed by: the intake consumer, which reads with a consumer group,
hands each alert to the pipeline, acknowledges it, and moves a poison alert to a dead-letter
stream with its error.

Delivery from Alertmanager is at-least-once (it retries 5xx until its group_interval runs out,
and in HA mode every replica sends its own copy: Alertmanager docs, "High Availability"). So
each alert carries an idempotency key (groupKey, fingerprint, startsAt, status): the first
delivery is appended as ``first``; later ones are appended as ``duplicate`` (counted on the
incident, never opening one). Both decisions and appends for a whole payload happen in one Lua
script: all of a payload's alerts are recorded, or none.

Keys (under the store prefix), all with the hash tag ``{alerts}``: recording a payload writes the
stream, the payload and every alert's seen key in one Lua script, and a dead letter moves an entry
between the two streams in another, so on a Redis Cluster the family lives in one slot (Redis docs,
"Keys hash tags")::

    {alerts}:stream           stream   XADD per delivered alert (kind, payload, index)
    {alerts}:dead             stream   dead letters (payload, index, alert, error, kind), MAXLEN 10,000
    {alerts}:seen:<key>       string   SET NX EX: the idempotency window of one alert delivery
    {alerts}:payload:<id>     string   the recorded payload body, for the idempotency window

The stream is never trimmed blindly:
consumers trim only below the oldest unacknowledged entry (:meth:`AlertStream.trim_acknowledged`),
and when ``maxlen`` entries are waiting the receiver refuses new payloads (a temporary error,
answered 503, which Alertmanager retries) rather than drop any.

A Redis that lost its data (restarted without persistence, or FLUSHALL) lost the stream and its
consumer group with it: every group command then answers ``NOGROUP``. The consumer's commands
recreate the group (from the start of whatever the stream holds now, so alerts recorded since the
loss are read) and go on; the alerts recorded before the loss went with the data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import ResponseError

from aiops import errors
from aiops.store.failures import guarded as _guarded

if TYPE_CHECKING:
    from aiops.store.connection import StoreCore

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Consumer group name of the intake consumers (one group; any number of consumers).
GROUP = "aiops-intake"

#: The hash tag of every key of this family.
TAG = "alerts"

#: KEYS[1] stream, KEYS[2] payload blob, KEYS[3..] the alerts' seen keys; ARGV: ttl, cap,
#: payload id, body, then each alert's index (in the order of its seen key).
_RECORD_LUA = """
local ttl = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
if redis.call('XLEN', KEYS[1]) + (#KEYS - 2) > cap then return -1 end
redis.call('SET', KEYS[2], ARGV[4], 'EX', ttl)
local added = {}
for i = 3, #KEYS do
  local fresh = redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl)
  local kind = fresh and 'first' or 'duplicate'
  redis.call('XADD', KEYS[1], '*', 'kind', kind, 'payload', ARGV[3], 'index', ARGV[i + 2])
  table.insert(added, fresh and 1 or 0)
end
return added
"""

#: KEYS[1] dead-letter stream, KEYS[2] intake stream; ARGV[1] group, ARGV[2] entry id, ARGV[3..]
#: the dead letter's field/value pairs. XADD (MAXLEN 10,000) and XACK in one step.
_DEAD_LETTER_LUA = """
redis.call('XADD', KEYS[1], 'MAXLEN', '10000', '*', unpack(ARGV, 3))
return redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
"""


@dataclass(frozen=True)
class StreamEntry:
    """One recorded delivery: stream id, ``first`` or ``duplicate``, and where the alert is: the
    recorded payload's id and the alert's index in it."""

    id: str
    kind: str
    payload: str
    index: int


def _entry(entry_id: Any, fields: Any) -> StreamEntry:
    index = str(fields.get("index", "-1"))
    return StreamEntry(
        str(entry_id),
        str(fields.get("kind", "first")),
        str(fields.get("payload", "")),
        int(index) if index.lstrip("-").isdigit() else -1,
    )


class AlertStream:
    """The alert intake stream of one :class:`Store`. Raises StoreUnavailable when Redis is down."""

    def __init__(self, store: StoreCore, *, window_seconds: int = 7 * 86400, maxlen: int = 100_000) -> None:
        self._store = store
        self._window = window_seconds
        self._maxlen = maxlen
        self._stream = store._tagged(TAG, "stream")
        self._dead = store._tagged(TAG, "dead")

    @_guarded
    async def record(self, payload_id: str, body: bytes, alerts: Sequence[tuple[str, int]]) -> list[bool]:
        """Store the payload ``body`` once and append one entry per ``(idempotency key, alert
        index)``, atomically; True where the key was first seen. The body is kept for the
        idempotency window. Raises TemporaryError when the backlog is full."""
        if not alerts:
            return []
        keys = [self._stream, self._store._tagged(TAG, "payload", payload_id)]
        keys.extend(self._store._tagged(TAG, "seen", key) for key, _ in alerts)
        args: list[str | int | bytes] = [self._window, self._maxlen, payload_id, body]
        args.extend(index for _, index in alerts)
        flags = await self._store._eval(_RECORD_LUA, keys, args)
        if flags == -1:
            raise errors.TemporaryError(f"alert intake backlog is full ({self._maxlen} entries waiting)")
        return [bool(flag) for flag in flags]

    @_guarded
    async def ensure_group(self) -> None:
        """Create the consumer group (from the start of the stream) if it does not exist."""
        await self._create_group()

    async def _create_group(self) -> None:
        try:
            await self._store._r.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _in_group(self, command: Callable[[], Awaitable[T]]) -> T:
        """``command()``; when Redis answers NOGROUP (it lost the stream and its group), or
        UNBLOCKED (the stream went while a read blocked on it), recreate the group and send it
        once more."""
        try:
            return await command()
        except ResponseError as exc:
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
        log.warning(
            "the alert intake's consumer group was gone: Redis lost its data (a restart without "
            "persistence, or FLUSHALL); recreated it. Alerts recorded before the loss are lost with "
            "it; make Redis persistent (appendonly yes) to keep them"
        )
        await self._create_group()
        return await command()

    @_guarded
    async def read(
        self, consumer: str, *, count: int = 100, block_ms: int = 1000, pending: bool = False
    ) -> list[StreamEntry]:
        """Entries for ``consumer``: new ones (``>``), or its own unacknowledged ones (``pending``)."""
        answer: Any = await self._in_group(
            lambda: self._store._r.xreadgroup(
                GROUP,
                consumer,
                {self._stream: "0" if pending else ">"},
                count=count,
                block=None if pending else block_ms,
            )
        )
        return [
            _entry(entry_id, fields) for _, entries in answer or [] for entry_id, fields in entries if fields
        ]

    @_guarded
    async def reclaim(
        self, consumer: str, *, min_idle_ms: int = 60_000, count: int = 100
    ) -> list[StreamEntry]:
        """Take over entries other consumers read but never acknowledged (they died) for ``min_idle_ms``."""
        answer: Any = await self._in_group(
            lambda: self._store._r.xautoclaim(self._stream, GROUP, consumer, min_idle_ms, "0-0", count=count)
        )
        return [_entry(entry_id, fields) for entry_id, fields in answer[1] if fields]

    @_guarded
    async def payload_body(self, payload_id: str) -> str | None:
        """The recorded payload text, or None once its retention ran out."""
        body = await self._store._r.get(self._store._tagged(TAG, "payload", payload_id))
        return None if body is None else str(body)

    @_guarded
    async def ack(self, entry_id: str) -> None:
        """Acknowledge one processed entry."""
        await self._store._r.xack(self._stream, GROUP, entry_id)

    @_guarded
    async def dead_letter(self, entry: StreamEntry, error: str, alert: str = "") -> None:
        """Move a poison entry to the dead-letter stream with its error (and the alert's JSON when
        known), and acknowledge it."""
        fields = {
            "payload": entry.payload,
            "index": str(entry.index),
            "alert": alert,
            "error": error[:2000],
            "kind": entry.kind,
        }
        flat = [text for pair in fields.items() for text in pair]
        await self._store._eval(_DEAD_LETTER_LUA, [self._dead, self._stream], [GROUP, entry.id, *flat])

    @_guarded
    async def dead_letters(self, *, limit: int = 100) -> list[dict[str, str]]:
        """The newest dead letters: ``{"id", "alert", "error", "kind"}``."""
        rows: Any = await self._store._r.xrevrange(self._dead, count=limit)
        return [
            {"id": str(entry_id), **{str(k): str(v) for k, v in fields.items()}} for entry_id, fields in rows
        ]

    @_guarded
    async def trim_acknowledged(self) -> None:
        """Drop entries every consumer has acknowledged: those older than the oldest pending one,
        or than the group's last delivered entry when nothing is pending. Never unprocessed ones."""
        pending: Any = await self._in_group(lambda: self._store._r.xpending(self._stream, GROUP))
        if pending and int(pending.get("pending") or 0) > 0:
            floor = str(pending["min"])
        else:
            groups: Any = await self._store._r.xinfo_groups(self._stream)
            delivered = [g.get("last-delivered-id") for g in groups if g.get("name") == GROUP]
            floor = str(delivered[0]) if delivered and delivered[0] else "0-0"
        if floor != "0-0":
            await self._store._r.xtrim(self._stream, minid=floor, approximate=False)

    @_guarded
    async def backlog(self) -> int:
        """Entries delivered to the group but not yet acknowledged, plus those not yet read (0 when
        the stream does not exist)."""
        if not await self._store._r.exists(self._stream):
            return 0
        groups: Any = await self._store._r.xinfo_groups(self._stream)
        for group in groups:
            if group.get("name") == GROUP:
                return int(group.get("pending", 0)) + int(group.get("lag") or 0)
        return int(await self._store._r.xlen(self._stream))  # no group (yet): nothing was read
