"""The one door to Redis: every key name, TTL and atomic operation aiops keeps state with.

Fed by: ``cli.py`` / the app factory, which build one :class:`Store` (``Store.connect(url)``, or
``Store.in_memory()`` for the demo when no Redis answers) and pass it down. Consumed by:
``aiops.events.dedup`` (incidents), ``aiops.approvals.gate`` (approval requests), ``aiops.audit``
(the audit stream) and the playbook executor (docs, indexes, claims, counters, windows).

No other module imports ``redis`` or ``fakeredis`` or builds a key. Every method turns a Redis
that does not answer (connection refused or lost, timeout, still loading its data) or refuses
writes (``OOM`` at ``maxmemory`` with ``noeviction``, ``READONLY`` after a failover demoted it,
``MASTERDOWN``, ``MISCONF``, ``NOREPLICAS``, ``BUSY``, ``TRYAGAIN``) into
:class:`aiops.errors.StoreUnavailable`, a TemporaryError whose message names the cause and what to
do: callers answer 503 or retry later, never 500 and never a dead letter. Atomicity uses only
``SET NX``/``HSETNX`` and ``WATCH``/``MULTI``/``EXEC`` (no Lua), so the in-memory fakeredis store
behaves exactly like a real Redis 7. Key layout, all under ``prefix`` (default ``aiops:``)::

    doc:<kind>:<id>                string    put_doc/get_doc (optional TTL)
    index:<index>                  zset      index_add/index_remove/index_members
    claim:<name>                   string    claim (SET NX, optional TTL) → owner
    counter:<name>                 string    increment (TTL set on first increment only)
    window:<name>                  zset      record_in_window/count_in_window (score = seconds)
    incident-key:<dedup_key>       string    → id of the OPEN incident for that key
    incident:<id>                  hash      see IncidentRecord; TTL = retention once resolved
    incidents:open | incidents:all zset      id → first-seen epoch seconds
    approval-step:<run>:<step>[.N] string    → approval request id (one per run step and plan attempt N)
    approval:<id>                  hash      request (JSON), decision (JSON, HSETNX: set once)
    approvals:pending              zset      id → created_at epoch seconds (pending only)
    approvals:deadline             zset      id → expires_at epoch seconds (pending only)
    approvals:all                  zset      id → created_at epoch seconds (pruned lazily)
    audit                          stream    entry=JSON, XADD MAXLEN ~ max_entries

Keys the blast-radius guards (``aiops.safety.guards``) use, through the guard methods at the end
(reserve_probe: a pipeline of reads; reserve and unreserve: Lua scripts, atomic; one round trip
each)::

    window:budget:ns:<namespace>   zset      write steps (member ``run:step``) in that namespace,
                                             score = epoch seconds; TTL = budget window + 1 s
    window:budget:cluster          zset      write steps in the whole cluster, same layout
    claim:rate:<playbook>:<target> string    ``run:step`` that took the rate limit; TTL = rate limit
    claim:lease:drain              string    ``run:step`` draining a node (one at a time); TTL 2 h
    claim:lease:node:<node>        string    ``run:step`` disrupting that node; TTL 2 h
    claim:lease:workload:<K/ns/n>  string    ``run:step`` disrupting that workload; TTL 2 h
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from aiops import errors

__all__ = ["IncidentRecord", "Store"]

P = ParamSpec("P")
T = TypeVar("T")

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
_MAX_ATTEMPTS = 200  # optimistic-transaction retries before giving up with a TemporaryError
_SCAN_BATCH = 500

#: Error codes with which a live Redis refuses a command for now (Redis docs, "Redis errors" and
#: the configuration file's ``maxmemory``, ``replica-read-only``, ``min-replicas-to-write`` and
#: ``stop-writes-on-bgsave-error``): what each means and what to do. Anything else is a bug.
_REFUSALS = {
    "OOM": "Redis refuses writes: out of memory (OOM: used memory is over maxmemory with the "
    "noeviction policy); raise maxmemory or free memory in Redis",
    "READONLY": "Redis refuses writes: it is a read-only replica (READONLY: a failover demoted it); "
    "point REDIS_URL at the current primary",
    "MASTERDOWN": "Redis refuses commands: the replica lost its primary (MASTERDOWN)",
    "MISCONF": "Redis refuses writes: it cannot save to disk (MISCONF); see its log",
    "NOREPLICAS": "Redis refuses writes: too few replicas are in sync (NOREPLICAS, min-replicas-to-write)",
    "BUSY": "Redis is busy running a script (BUSY)",
    "TRYAGAIN": "Redis asked to try again (TRYAGAIN)",
    "CLUSTERDOWN": "the Redis cluster is down (CLUSTERDOWN)",
}
#: Seconds a caller waits before retrying a refused command (the first of its backoff).
_REFUSED_DELAY_SECONDS = 1.0


def _refusal(exc: ResponseError) -> str | None:
    """The :data:`_REFUSALS` text for ``exc`` (also inside a pipeline's "Command # n ... caused
    error: ..." wrapping), or None when it is not a refusal."""
    code = getattr(exc, "status_code", None)
    if code not in _REFUSALS:
        text = str(exc.args[0]) if exc.args else ""
        text = text.rpartition("caused error: ")[2].lstrip("(\"'")
        code = text.split(" ", 1)[0]
    return _REFUSALS.get(code)


def _guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn a Redis that does not answer or refuses the command (see the module docstring) into
    StoreUnavailable; other Redis errors (a bug: wrong type, syntax) pass unchanged."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise errors.StoreUnavailable(f"Redis did not answer: {exc}") from exc
        except ResponseError as exc:
            refused = _refusal(exc)
            if refused is None:
                raise
            raise errors.StoreUnavailable(f"{refused} ({exc})", delay_seconds=_REFUSED_DELAY_SECONDS) from exc

    return wrapper


@dataclass(frozen=True)
class Reserved:
    """What :meth:`Store.reserve` did. ``full_window`` (an index into its ``windows``) with ``used``
    entries, or ``held_claim`` (an index into its ``claims``) with its ``owner``: nothing was
    written. Both None: everything was reserved; ``added`` is False when ``member`` already held
    every window (a retry)."""

    added: bool
    full_window: int | None = None
    used: int = 0
    held_claim: int | None = None
    owner: str | None = None

    @property
    def ok(self) -> bool:
        """True when everything was reserved."""
        return self.full_window is None and self.held_claim is None


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


class Store:
    """A ``redis.asyncio.Redis``-compatible client (``decode_responses=True``) plus a key prefix."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "aiops:", description: str = "redis") -> None:
        self._r = client
        self._prefix = prefix
        self._description = description
        self._touch_script = client.register_script(_TOUCH_LUA)
        self._reserve_script = client.register_script(_RESERVE_LUA)
        self._unreserve_script = client.register_script(_UNRESERVE_LUA)

    @classmethod
    def connect(
        cls, url: str, *, prefix: str = "aiops:", timeout_seconds: float = 5.0, max_connections: int = 1000
    ) -> Store:
        """A store on a real Redis at ``url`` (``redis://host:port/db``); connects lazily.

        The pool opens up to ``max_connections`` connections (redis-py 8 defaults to 100, which a
        burst of 100 incidents starting their runs at once exhausted: "Too many connections").
        Redis itself accepts 10,000 clients by default. A blocking pool would queue instead, but
        costs a quarter of the pipeline's throughput (``python -m bench pipeline_throughput``:
        4,089 against 4,809 events/s with 64 workers).
        """
        client = aioredis.Redis.from_url(
            url,
            max_connections=max_connections,
            decode_responses=True,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
        )
        kw = client.connection_pool.connection_kwargs
        where = f"unix://{kw['path']}" if "path" in kw else f"redis://{kw.get('host')}:{kw.get('port')}"
        return cls(client, prefix=prefix, description=f"{where}/{kw.get('db', 0)}")

    @classmethod
    def in_memory(cls, *, prefix: str = "aiops:") -> Store:
        """A store on a private in-process fakeredis server: same semantics, lost on exit."""
        import fakeredis  # the ``demo`` extra: only the demo and the tests build an in-memory store

        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return cls(client, prefix=prefix, description="in-memory")

    def describe(self) -> str:
        """``redis://host:port/db`` (never a password) or ``in-memory``."""
        return self._description

    @property
    def prefix(self) -> str:
        """The prefix every key of this store starts with (tests scan it for what was stored)."""
        return self._prefix

    async def ping(self, *, timeout_seconds: float = 2.0) -> bool:
        """True when the store answers within ``timeout_seconds``; never raises."""
        return await self.ping_error(timeout_seconds=timeout_seconds) is None

    async def ping_error(self, *, timeout_seconds: float = 2.0) -> str | None:
        """None when the store answers PING within ``timeout_seconds``, else why not (e.g. "Error 111
        connecting to 127.0.0.1:6390. Connection refused.", "invalid password"); never raises.
        For start-up messages (``aiops.preflight``)."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._r.ping()
        except TimeoutError:
            return f"no answer within {timeout_seconds:g} s"
        except (RedisError, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None

    async def close(self) -> None:
        """Close the connections (the store is unusable afterwards)."""
        await self._r.aclose()

    def _k(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def _transact(self, watch: list[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``body`` with ``watch`` keys WATCHed, retrying when EXEC reports a conflict.

        ``body`` reads through the pipe, calls ``_multi(pipe)``, queues writes and awaits
        ``pipe.execute()``. Raises TemporaryError after _MAX_ATTEMPTS conflicts in a row."""
        for attempt in range(_MAX_ATTEMPTS):
            async with self._r.pipeline(transaction=True) as pipe:
                await pipe.watch(*watch)
                try:
                    return await body(pipe)
                except WatchError:
                    pass
            if attempt >= 3:
                await asyncio.sleep(random.uniform(0, 0.001 * attempt))
        raise errors.TemporaryError(f"too much contention on {watch[0]}", delay_seconds=0.1)

    # ---------------------------------------------------------------- generic primitives

    @_guarded
    async def put_doc(self, kind: str, id: str, json_text: str, *, ttl_seconds: int | None = None) -> None:
        """Store a JSON document under (kind, id), replacing any previous one; ``kind`` has no ``:``."""
        _check_name(kind)
        await self._r.set(self._k("doc", kind, id), json_text, ex=ttl_seconds)

    @_guarded
    async def get_doc(self, kind: str, id: str) -> str | None:
        """The JSON text stored under (kind, id), or None."""
        _check_name(kind)
        return _str_or_none(await self._r.get(self._k("doc", kind, id)))

    @_guarded
    async def index_add(self, index: str, member: str, score: float) -> None:
        """Add ``member`` to a sorted index (or move it to ``score``)."""
        await self._r.zadd(self._k("index", index), {member: score})

    @_guarded
    async def index_remove(self, index: str, member: str) -> None:
        """Remove ``member`` from a sorted index (no-op when absent)."""
        await self._r.zrem(self._k("index", index), member)

    @_guarded
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

    @_guarded
    async def claim(self, name: str, owner: str, *, ttl_seconds: int | None = None) -> bool:
        """SET NX: True only for the first caller (until ``ttl_seconds`` pass or :meth:`release`)."""
        return bool(await self._r.set(self._k("claim", name), owner, nx=True, ex=ttl_seconds))

    @_guarded
    async def claim_owner(self, name: str) -> str | None:
        """The owner that holds claim ``name``, or None."""
        return _str_or_none(await self._r.get(self._k("claim", name)))

    @_guarded
    async def release(self, name: str) -> None:
        """Drop claim ``name`` whoever holds it."""
        await self._r.delete(self._k("claim", name))

    @_guarded
    async def increment(self, counter: str, amount: int = 1, *, ttl_seconds: int | None = None) -> int:
        """Add ``amount``; return the new value. ``ttl_seconds`` is applied by the first increment only
        (a fixed window that starts then), never extended by later ones."""
        key = self._k("counter", counter)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            if ttl_seconds is not None:
                pipe.expire(key, ttl_seconds, nx=True)
            value, *_ = await pipe.execute()
        return int(value)

    @_guarded
    async def record_in_window(
        self, name: str, member: str, now_seconds: float, window_seconds: float
    ) -> None:
        """Record ``member`` (unique, e.g. a run id) at ``now_seconds`` in a rolling window, dropping
        entries at or before ``now_seconds - window_seconds``."""
        key = self._k("window", name)
        async with self._r.pipeline(transaction=True) as pipe:
            _window_write(pipe, key, member, now_seconds, window_seconds)
            await pipe.execute()

    @_guarded
    async def record_in_window_if_below(
        self, name: str, member: str, now_seconds: float, window_seconds: float, *, limit: int
    ) -> bool:
        """Atomically: when fewer than ``limit`` entries lie in the window, record ``member`` and
        return True; else record nothing and return False (a budget shared by replicas)."""
        key = self._k("window", name)

        async def body(pipe: Pipeline) -> bool:
            if await pipe.zcount(key, f"({now_seconds - window_seconds!r}", now_seconds) >= limit:
                await _unwatch(pipe)
                return False
            _multi(pipe)
            _window_write(pipe, key, member, now_seconds, window_seconds)
            await pipe.execute()
            return True

        return await self._transact([key], body)

    @_guarded
    async def count_in_window(self, name: str, now_seconds: float, window_seconds: float) -> int:
        """Entries with ``now_seconds - window_seconds`` < time ≤ ``now_seconds``."""
        lo = f"({now_seconds - window_seconds!r}"
        return int(await self._r.zcount(self._k("window", name), lo, now_seconds))

    @_guarded
    async def delete_prefix_for_tests(self) -> int:
        """SCAN + UNLINK every key under the prefix; returns how many. For test fixtures only."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self._prefix) + "*"
        batch: list[str] = []
        deleted = 0
        async for key in self._r.scan_iter(match=pattern, count=_SCAN_BATCH):
            batch.append(str(key))
            if len(batch) >= _SCAN_BATCH:
                deleted += int(await self._r.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(await self._r.unlink(*batch))
        return deleted

    # ---------------------------------------------------------------- incidents (events.dedup)

    @_guarded
    async def incident_observe(
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
        event_count 1 and ``member``, and the key mapped to it, in one MULTI under WATCH of the
        mapping, so concurrent observers open exactly one. Else: ``update`` fields are written,
        event_count and suppressed ``duplicate`` count +1, ``member`` and ``severity`` added; the
        WATCH aborts this if a resolve removes the mapping meanwhile (then it retries and opens)."""
        mapping = self._k("incident-key", dedup_key)

        async def body(pipe: Pipeline) -> tuple[str, bool]:
            current = _str_or_none(await pipe.get(mapping))
            incident_id = current or new_id
            key = self._k("incident", incident_id)
            _multi(pipe)
            pipe.sadd(self._k("member-keys", member), dedup_key)
            fields = {**update, "member:" + member: "1", "sev:" + severity: "1"}
            if current is None:
                pipe.set(mapping, new_id, nx=True)
                pipe.hset(key, mapping=_fields({**fields, **opening, "event_count": "1"}))
                pipe.zadd(self._k("incidents", "open"), {new_id: score})
                pipe.zadd(self._k("incidents", "all"), {new_id: score})
            else:
                pipe.hset(key, mapping=_fields(fields))
                pipe.hincrby(key, "event_count", 1)
                pipe.hincrby(key, "sup:duplicate", 1)
            await pipe.execute()
            return incident_id, current is None

        return await self._transact([mapping], body)

    @_guarded
    async def member_incident_keys(self, member: str) -> set[str]:
        """The dedup keys of the open incidents ``member`` (``Kind/ns/name``) belongs to.

        One SMEMBERS: lets recovery skip the common case of a healthy object in no incident
        without a transaction per event type. Maintained inside the observe/leave transactions.
        """
        return {str(k) for k in await self._r.smembers(self._k("member-keys", member))}

    @_guarded
    async def incident_leave(
        self, dedup_key: str, member: str, *, resolved: Mapping[str, str], retention_seconds: int
    ) -> str | None:
        """Remove ``member`` from the open incident for ``dedup_key``; when no member is left, write
        the ``resolved`` fields, unmap the key (the next event opens a fresh incident), drop it
        from the open index and start its retention TTL. Returns the id when this call resolved it.
        WATCHes mapping and hash, so a concurrent observe (which writes the hash) forces a re-check."""
        mapping = self._k("incident-key", dedup_key)

        async def body(pipe: Pipeline) -> str | None:
            incident_id = _str_or_none(await pipe.get(mapping))
            if incident_id is None:
                await _unwatch(pipe)
                return None
            key = self._k("incident", incident_id)
            await pipe.watch(key)  # after reading the mapping; covers writes from here to EXEC
            fields = _text_dict(await pipe.hgetall(key))
            if "member:" + member not in fields:
                await _unwatch(pipe)
                return None
            last = sum(1 for f in fields if f.startswith("member:")) == 1
            _multi(pipe)
            pipe.srem(self._k("member-keys", member), dedup_key)
            pipe.hdel(key, "member:" + member)
            if last:
                pipe.hset(key, mapping=_fields(resolved))
                pipe.delete(mapping)
                pipe.zrem(self._k("incidents", "open"), incident_id)
                pipe.expire(key, retention_seconds)
            await pipe.execute()
            return incident_id if last else None

        return await self._transact([mapping], body)

    @_guarded
    async def incident_fetch(self, incident_id: str) -> IncidentRecord | None:
        """The incident hash, parsed; None when unknown or past retention."""
        return _record(incident_id, _text_dict(await self._r.hgetall(self._k("incident", incident_id))))

    @_guarded
    async def incident_touch(
        self, dedup_key: str, *, update: Mapping[str, str], member: str, severity: str
    ) -> IncidentRecord | None:
        """Fold a duplicate event into the OPEN incident for ``dedup_key``; None when there is none.

        The common case (many watch events per problem) as one atomic Lua script, one round trip:
        if the key maps to an open incident, write ``update``, add ``member`` and ``severity``,
        bump event_count and the ``duplicate`` count, and return the hash. A resolve cannot
        interleave (scripts run atomically), so a None answer means "open one" and the caller
        takes the WATCH path of :meth:`incident_observe`.
        """
        flat: list[str] = []
        for name, value in {**update, "member:" + member: "1", "sev:" + severity: "1"}.items():
            flat.extend((name, value))
        result = await self._touch_script(
            keys=[self._k("incident-key", dedup_key), self._k("member-keys", member)],
            args=[self._k("incident", ""), dedup_key, *flat],
        )
        if not result:
            return None
        incident_id, pairs = str(result[0]), result[1]
        raw = {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        return _record(incident_id, raw)

    async def _hash_write_if_exists(self, key: str, write: Callable[[Pipeline], object]) -> bool:
        async def body(pipe: Pipeline) -> bool:
            if not await pipe.exists(key):
                await _unwatch(pipe)
                return False
            _multi(pipe)
            write(pipe)
            await pipe.execute()
            return True

        return await self._transact([key], body)

    @_guarded
    async def incident_suppress(self, incident_id: str, reason: str) -> bool:
        """Count one suppressed event by ``reason``; False (nothing written) for an unknown id."""
        key = self._k("incident", incident_id)
        return await self._hash_write_if_exists(key, lambda p: p.hincrby(key, "sup:" + reason, 1))

    @_guarded
    async def incident_attach_run(self, incident_id: str, run_id: str, score: float) -> bool:
        """Record playbook run ``run_id`` (ordered by ``score``, e.g. epoch seconds) once; False for
        an unknown incident."""
        key = self._k("incident", incident_id)
        return await self._hash_write_if_exists(key, lambda p: p.hsetnx(key, "run:" + run_id, repr(score)))

    @_guarded
    async def incident_ids(self, *, open_only: bool, offset: int, count: int) -> list[str]:
        """Incident ids, newest first-seen first (open ones, or all retained)."""
        index = self._k("incidents", "open" if open_only else "all")
        return [str(i) for i in await self._r.zrevrange(index, offset, offset + count - 1)]

    @_guarded
    async def incident_forget(self, incident_id: str) -> None:
        """Drop an id whose hash has expired from the indexes (lazy pruning)."""
        await self._r.zrem(self._k("incidents", "all"), incident_id)
        await self._r.zrem(self._k("incidents", "open"), incident_id)

    @_guarded
    async def incident_open_count(self) -> int:
        """How many incidents are open."""
        return int(await self._r.zcard(self._k("incidents", "open")))

    # ---------------------------------------------------------------- approvals (approvals.gate)

    @_guarded
    async def approval_create(
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
        one; returns the id that stands. One MULTI under WATCH of the step key: exactly one per step
        and plan attempt (a step re-planned after its target changed asks again, once per attempt)."""
        step = self._k("approval-step", run_id, _step_slot(step_index, attempt))

        async def body(pipe: Pipeline) -> str:
            existing = _str_or_none(await pipe.get(step))
            if existing is not None:
                await _unwatch(pipe)
                return existing
            _multi(pipe)
            pipe.set(step, new_id, nx=True)
            pipe.hset(self._k("approval", new_id), "request", request_json)
            pipe.zadd(self._k("approvals", "pending"), {new_id: created})
            pipe.zadd(self._k("approvals", "deadline"), {new_id: expires})
            pipe.zadd(self._k("approvals", "all"), {new_id: created})
            await pipe.execute()
            return new_id

        return await self._transact([step], body)

    @_guarded
    async def approval_fetch(self, request_id: str) -> tuple[str, str | None, str | None] | None:
        """(request JSON, decision JSON or None, outcome JSON or None), or None when unknown or past
        retention."""
        raw = _text_dict(await self._r.hgetall(self._k("approval", request_id)))
        return None if "request" not in raw else (raw["request"], raw.get("decision"), raw.get("outcome"))

    @_guarded
    async def approval_close(self, request_id: str, outcome_json: str) -> bool:
        """Record what became of a decided request (ran, not run and why); the last word stands.
        False when the request is unknown or past retention (nothing is written then)."""
        return await self._hash_write_if_exists(
            self._k("approval", request_id),
            lambda pipe: pipe.hset(self._k("approval", request_id), "outcome", outcome_json),
        )

    @_guarded
    async def approval_decide(
        self,
        request_id: str,
        decision_json: str,
        *,
        run_id: str,
        step_index: int,
        retention_seconds: int,
        attempt: int = 0,
    ) -> tuple[bool, str]:
        """Take the one decision: HSETNX of the ``decision`` field, in one MULTI that also leaves the
        pending indexes and starts retention. Returns (this call won, the decision that stands)."""
        key = self._k("approval", request_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "decision", decision_json)
            pipe.hget(key, "decision")
            pipe.zrem(self._k("approvals", "pending"), request_id)
            pipe.zrem(self._k("approvals", "deadline"), request_id)
            pipe.expire(key, retention_seconds)
            pipe.expire(self._k("approval-step", run_id, _step_slot(step_index, attempt)), retention_seconds)
            won, standing, *_ = await pipe.execute()
        return bool(won), str(standing)

    @_guarded
    async def approval_due(self, now: float) -> list[str]:
        """Ids of pending requests whose expires_at (epoch seconds) is ≤ ``now``."""
        return [str(i) for i in await self._r.zrangebyscore(self._k("approvals", "deadline"), "-inf", now)]

    @_guarded
    async def approval_ids(self, *, pending_only: bool, offset: int, count: int) -> list[str]:
        """Pending ids oldest first, or all retained ids newest first (by created_at)."""
        end = offset + count - 1
        if pending_only:
            got = await self._r.zrange(self._k("approvals", "pending"), offset, end)
        else:
            got = await self._r.zrevrange(self._k("approvals", "all"), offset, end)
        return [str(i) for i in got]

    @_guarded
    async def approval_forget(self, request_id: str) -> None:
        """Drop an id whose hash has expired from the listing index (lazy pruning)."""
        await self._r.zrem(self._k("approvals", "all"), request_id)

    @_guarded
    async def approval_pending_count(self) -> int:
        """How many requests are pending."""
        return int(await self._r.zcard(self._k("approvals", "pending")))

    # ---------------------------------------------------------------- audit

    @_guarded
    async def audit_append(self, json_text: str, *, max_entries: int) -> None:
        """XADD one entry, trimming the stream to about ``max_entries`` (MAXLEN ~)."""
        await self._r.xadd(self._k("audit"), {"entry": json_text}, maxlen=max_entries, approximate=True)

    @_guarded
    async def audit_latest(self, limit: int) -> list[str]:
        """The newest ``limit`` entries' JSON, newest first."""
        got: Any = await self._r.xrevrange(self._k("audit"), count=limit)
        return [str(fields["entry"]) for _, fields in got or []]

    # ---------------------------------------------------------------- blast-radius guards (safety.guards)

    @_guarded
    async def reserve_probe(
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
        async with self._r.pipeline(transaction=False) as pipe:
            for name in windows:
                key = self._k("window", name)
                pipe.zcount(key, f"({lo!r}", "+inf")
                pipe.zscore(key, member)
            for name in claims:
                pipe.get(self._k("claim", name))
            answers = await pipe.execute()
        used: list[int] = []
        for i in range(len(windows)):
            count, score = int(answers[2 * i]), answers[2 * i + 1]
            used.append(count - (1 if score is not None and float(score) > lo else 0))
        return used, [_str_or_none(v) for v in answers[2 * len(windows) :]]

    @_guarded
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
        keys = [self._k("window", name) for name, _ in windows] + [self._k("claim", c) for c, _, _ in claims]
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
        status, index, detail = await self._reserve_script(keys=keys, args=args)
        if int(status) == 1:
            return Reserved(added=False, full_window=int(index), used=int(detail))
        if int(status) == 2:
            return Reserved(added=False, held_claim=int(index), owner=str(detail))
        return Reserved(added=int(index) > 0)

    @_guarded
    async def unreserve(self, member: str, *, windows: Sequence[str], claims: Sequence[str]) -> None:
        """Undo :meth:`reserve` for ``member``, one Lua script: remove it from each rolling window of
        ``windows`` and drop each claim of ``claims`` that ``member`` holds (compare-and-delete: a
        claim that expired and was taken by someone else stays theirs)."""
        if not windows and not claims:
            return
        keys = [self._k("window", n) for n in windows] + [self._k("claim", c) for c in claims]
        await self._unreserve_script(keys=keys, args=[member, len(windows)])


def _window_write(pipe: Pipeline, key: str, member: str, now: float, window: float) -> None:
    pipe.zadd(key, {member: now})
    pipe.zremrangebyscore(key, "-inf", now - window)
    pipe.expire(key, math.ceil(window) + 1)


def _multi(pipe: Pipeline) -> None:
    pipe.multi()  # type: ignore[no-untyped-call]


def _step_slot(step_index: int, attempt: int) -> str:
    """``3`` for a step's first plan, ``3.1`` for its second (keys written before attempts existed
    stay valid)."""
    return f"{step_index}.{attempt}" if attempt else str(step_index)


async def _unwatch(pipe: Pipeline) -> None:
    await pipe.unwatch()  # type: ignore[no-untyped-call]


def _fields(values: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    return dict(values.items())


#: incident_touch: KEYS[1] the dedup-key → incident-id mapping, KEYS[2] the member's set of dedup
#: keys; ARGV[1] the incident hash key prefix, ARGV[2] the dedup key, ARGV[3..] field/value pairs.
#: Returns false when no incident is open for the key, else {id, HGETALL of the incident}.
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


def _check_name(kind: str) -> None:
    if not kind or ":" in kind:
        raise ValueError(f"kind must be non-empty without ':', got {kind!r}")


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
