"""The store's core: one Redis client (a single Redis or a Redis Cluster), the key prefix, hash tags
and Lua script registration. Every key family module builds on it.

Fed by: ``aiops.runtime`` / ``aiops.preflight`` / the demo, which call ``Store.connect(url)`` (or
``Store.in_memory()``). Consumed by: :mod:`aiops.store.primitives` and the key family modules
(``incidents``, ``approvals``, ``auditlog``, ``reservations``, ``alerts``), which reach the client
as ``store._r`` and build their keys with :meth:`StoreCore._k` / :meth:`StoreCore._tagged`.

URLs: ``redis://`` and ``rediss://`` (TLS) and ``unix://`` open one Redis
(``redis.asyncio.Redis.from_url``); ``redis+cluster://host:port`` and ``rediss+cluster://`` open a
Redis Cluster (``redis.asyncio.cluster.RedisCluster``) from one seed node: the client discovers the
other nodes and the slot map (``CLUSTER SLOTS``/``CLUSTER SHARDS``) and follows ``MOVED``/``ASK``.

Redis Cluster (Redis docs, "Redis cluster specification", "Keys hash tags"): a key lives in slot
``CRC16(key) mod 16384``; a Lua script or a MULTI may only touch keys of one slot (else
``CROSSSLOT``). When a key contains ``{...}``, only the text between the first ``{`` and the next
``}`` is hashed. So every key family whose atomic operations touch several keys puts one tag in
all of its keys (``<prefix>{incidents}:...``, see :meth:`StoreCore._tagged`): that family lives in
one slot, on one primary. Single-key operations need no tag. A prefix that itself holds ``{...}``
moves every key of the store into that one slot (still correct, no longer spread).

All atomic multi-step operations are Lua scripts (``EVALSHA``, one round trip): redis-py's async
cluster client cannot ``WATCH`` (8.1: its transaction strategy runs each command on a thread of
its own), and a script is atomic on a single Redis, a cluster node and fakeredis alike.
"""

from __future__ import annotations

import asyncio
from typing import Any, Self
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from redis.typing import EncodableT

from aiops.store import failures

__all__ = ["CLUSTER_SCHEMES", "Client", "StoreCore"]

#: A client of one Redis, or of a Redis Cluster: both answer the same commands.
Client = aioredis.Redis | RedisCluster

#: URL schemes that select cluster mode → the scheme redis-py's ``RedisCluster.from_url`` takes.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


#: KEYS[1] a hash; ARGV[1] HINCRBY, HSETNX or HSET, ARGV[2] field, ARGV[3] value. Writes only when
#: the hash exists (an incident or approval not past retention); returns 1 then, else 0.
_WRITE_IF_EXISTS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3])
return 1
"""


class _ClusterClient(RedisCluster):
    """A ``RedisCluster`` that discovers the cluster before it does anything else on first use.

    redis-py 8.1 resolves a command's policy and slot (which may send ``COMMAND`` to a node)
    before its lazy ``initialize()``; a burst of concurrent first commands on a fresh client then
    fails ("'NoneType' object has no attribute 'writelines'", "Connection closed by server"):
    ``tests/store/test_cluster.py::test_a_burst_of_first_commands_on_a_fresh_client``.
    ``initialize()`` is locked and idempotent, so every caller waits for the one discovery."""

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        """Initialize (once, under redis-py's lock), then run the command as RedisCluster does."""
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)


class StoreCore:
    """A ``redis.asyncio`` client (``decode_responses=True``) plus a key prefix.

    ``client``: a ``redis.asyncio.Redis`` (or fakeredis) or a ``RedisCluster``; ``description``:
    what :meth:`describe` answers (never a password)."""

    def __init__(self, client: Client, *, prefix: str = "aiops:", description: str = "redis") -> None:
        self._r: Client = client
        self._prefix = prefix
        self._description = description
        self._scripts: dict[str, AsyncScript] = {}

    @classmethod
    def connect(
        cls, url: str, *, prefix: str = "aiops:", timeout_seconds: float = 5.0, max_connections: int = 1000
    ) -> Self:
        """A store on a real Redis at ``url``; connects lazily (the first command does).

        ``redis://host:port/db``, ``rediss://`` or ``unix://``: one Redis (a primary, or a
        managed endpoint that follows failovers). ``redis+cluster://host:port`` or
        ``rediss+cluster://``: a Redis Cluster, ``host:port`` being any one of its nodes (database
        0 only). ``timeout_seconds`` bounds connecting and each reply.

        The pool opens up to ``max_connections`` connections (per node in a cluster; redis-py 8
        defaults to 100, which a burst of 100 incidents starting their runs at once exhausted:
        "Too many connections"). Redis itself accepts 10,000 clients by default. A blocking pool
        would queue instead, but costs a quarter of the pipeline's throughput (``python -m bench
        pipeline_throughput``: 4,089 against 4,809 events/s with 64 workers).
        """
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2)
        scheme, _, rest = url.partition("://")
        if scheme in CLUSTER_SCHEMES:
            cluster = _ClusterClient.from_url(
                f"{CLUSTER_SCHEMES[scheme]}://{rest}",
                max_connections=max_connections,
                decode_responses=True,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
                retry=retry,
            )
            parts = urlsplit(url)
            return cls(
                cluster, prefix=prefix, description=f"{scheme}://{parts.hostname}:{parts.port or 6379}"
            )
        client = aioredis.Redis.from_url(
            url,
            max_connections=max_connections,
            decode_responses=True,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=retry,
        )
        kw = client.connection_pool.connection_kwargs
        where = f"unix://{kw['path']}" if "path" in kw else f"redis://{kw.get('host')}:{kw.get('port')}"
        return cls(client, prefix=prefix, description=f"{where}/{kw.get('db', 0)}")

    @classmethod
    def in_memory(cls, *, prefix: str = "aiops:") -> Self:
        """A store on a private in-process fakeredis server: same semantics, lost on exit. Needs the
        ``demo`` extra (fakeredis); see :mod:`aiops.store.memory`."""
        from aiops.store import memory  # imports fakeredis: only the demo and the tests get here

        return cls(memory.fake_client(), prefix=prefix, description="in-memory")

    @property
    def cluster(self) -> bool:
        """True when the client is a Redis Cluster client."""
        return isinstance(self._r, RedisCluster)

    def describe(self) -> str:
        """``redis://host:port/db``, ``redis+cluster://host:port`` (never a password) or ``in-memory``."""
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
        connecting to 127.0.0.1:6390. Connection refused.", "invalid password", "Redis Cluster
        cannot be connected ..."); never raises. For start-up messages (``aiops.preflight``)."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._r.ping()
        except TimeoutError:
            return f"no answer within {timeout_seconds:g} s"
        except (RedisError, RedisClusterException, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None

    async def ready_error(self, *, timeout_seconds: float = 2.0) -> str | None:
        """None when the store answers and takes a write within ``timeout_seconds``, else why not:
        ``unreachable: <why>`` or ``refuses writes: <why>`` (a replica after a failover answers
        READONLY, a full Redis with ``maxmemory-policy noeviction`` answers OOM, both to PING's
        success). The write is one ``SET <prefix>ready-probe 1 PX 30000``. Never raises. For the
        readiness probe (``/readyz``)."""
        unreachable = await self.ping_error(timeout_seconds=timeout_seconds)
        if unreachable is not None:
            return f"unreachable: {unreachable}"
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._r.set(self._k("ready-probe"), "1", px=30_000)
        except TimeoutError:
            return f"refuses writes: no answer within {timeout_seconds:g} s"
        except ResponseError as exc:
            return f"refuses writes: {failures.refusal(exc) or str(exc)}"
        except (RedisError, RedisClusterException, OSError) as exc:
            return f"refuses writes: {str(exc) or type(exc).__name__}"
        return None

    async def close(self) -> None:
        """Close the connections (the store is unusable afterwards)."""
        await self._r.aclose()

    def _k(self, *parts: str) -> str:
        """``<prefix><part>:<part>...``: a key of no hash tag (single-key operations only)."""
        return self._prefix + ":".join(parts)

    def _tagged(self, tag: str, *parts: str) -> str:
        """``<prefix>{<tag>}:<part>:...``: a key of the family ``tag``, in the slot every key of that
        family shares (``CRC16(tag) mod 16384``), so that its scripts may touch several of them."""
        return self._prefix + "{" + tag + "}:" + ":".join(parts)

    def _script(self, lua: str) -> AsyncScript:
        """The registered script of source ``lua`` (one per store and source): calling it sends
        ``EVALSHA``, and ``SCRIPT LOAD`` (to every primary of a cluster) when the node lacks it."""
        script = self._scripts.get(lua)
        if script is None:
            script = self._scripts[lua] = self._r.register_script(lua)
        return script

    async def _eval(self, lua: str, keys: list[str], args: list[Any]) -> Any:
        """Run the script ``lua`` with ``keys`` (all in one slot on a cluster) and ``args``."""
        return await self._script(lua)(keys=keys, args=args)

    async def _write_if_exists(self, key: str, command: str, field: str, value: str | int) -> bool:
        """``command`` (HINCRBY, HSETNX or HSET) ``key field value`` when hash ``key`` exists, in one
        script; False (nothing written) when it does not."""
        return bool(await self._eval(_WRITE_IF_EXISTS_LUA, [key], [command, field, value]))
