"""How a Redis that does not answer, or refuses a command for now, reaches the callers.

Fed by: the exceptions redis-py raises for a single Redis and for a Redis Cluster. Consumed by:
every store method (``@guarded``), which turns them into :class:`aiops.errors.StoreUnavailable`,
a TemporaryError whose message names the cause and what to do: callers answer 503 or retry later,
never 500 and never a dead letter.

Unavailable (no answer): connection refused or lost, timeouts, a Redis still loading its data,
and on a cluster a client that reaches no node ("Redis Cluster cannot be connected"), a slot no
node serves (``SlotNotCoveredError``) or redirections that did not settle within redis-py's retries
(``ClusterError`` "TTL exhausted", ``MOVED``/``ASK`` storms while slots migrate or a failover
settles). Refused for now (Redis docs, "Redis errors", the configuration file's ``maxmemory``,
``replica-read-only``, ``min-replicas-to-write`` and ``stop-writes-on-bgsave-error``, and the
cluster specification's ``CLUSTERDOWN``/``TRYAGAIN``): ``OOM``, ``READONLY``, ``MASTERDOWN``,
``MISCONF``, ``NOREPLICAS``, ``BUSY``, ``TRYAGAIN``, ``CLUSTERDOWN``. Anything else (a wrong type,
a syntax error, ``CROSSSLOT``) is a bug and passes unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.exceptions import AskError, ClusterError, RedisClusterException, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aiops import errors

__all__ = ["REFUSALS", "REFUSED_DELAY_SECONDS", "guarded", "refusal", "unreachable"]

P = ParamSpec("P")
T = TypeVar("T")

#: Exceptions that mean "Redis did not answer" on a single Redis or a cluster. ``ClusterError``
#: covers ``ClusterDownError`` and ``MasterDownError``; ``AskError`` covers ``MovedError``.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
    ClusterError,
    TryAgainError,
    AskError,
)

#: Messages of redis-py's ``RedisClusterException`` (not a RedisError) that mean no node could be
#: reached or the nodes do not cover every slot yet (``redis/asyncio/cluster.py``, NodesManager).
#: Other RedisClusterExceptions (``CrossSlotTransactionError``, keys of several slots) are bugs.
_CLUSTER_UNREACHABLE = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
    "Slot ",  # SlotNotCoveredError: 'Slot "N" is not covered by the cluster.'
)

#: Error codes with which a live Redis refuses a command for now: what each means and what to do.
REFUSALS = {
    "OOM": "Redis refuses writes: out of memory (OOM: used memory is over maxmemory with the "
    "noeviction policy); raise maxmemory or free memory in Redis",
    "READONLY": "Redis refuses writes: it is a read-only replica (READONLY: a failover demoted it); "
    "point REDIS_URL at the current primary",
    "MASTERDOWN": "Redis refuses commands: the replica lost its primary (MASTERDOWN)",
    "MISCONF": "Redis refuses writes: it cannot save to disk (MISCONF); see its log",
    "NOREPLICAS": "Redis refuses writes: too few replicas are in sync (NOREPLICAS, min-replicas-to-write)",
    "BUSY": "Redis is busy running a script (BUSY)",
    "TRYAGAIN": "Redis asked to try again (TRYAGAIN: a multi-key command during a slot migration)",
    "CLUSTERDOWN": "the Redis cluster is down (CLUSTERDOWN: a slot has no primary; a failover is "
    "under way or too many nodes are lost)",
}
#: Seconds a caller waits before retrying a refused command (the first of its backoff).
REFUSED_DELAY_SECONDS = 1.0


def refusal(exc: ResponseError) -> str | None:
    """The :data:`REFUSALS` text for ``exc`` (also inside a pipeline's "Command # n ... caused
    error: ..." wrapping), or None when it is not a refusal."""
    code = getattr(exc, "status_code", None)
    if code not in REFUSALS:
        text = str(exc.args[0]) if exc.args else ""
        text = text.rpartition("caused error: ")[2].lstrip("(\"'")
        code = text.split(" ", 1)[0]
    return REFUSALS.get(code)


def unreachable(exc: BaseException) -> bool:
    """True when ``exc`` means the store did not answer (see the module docstring)."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, RedisClusterException) and str(exc).startswith(_CLUSTER_UNREACHABLE)


def guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a store coroutine: a Redis that does not answer or refuses the command becomes
    :class:`aiops.errors.StoreUnavailable` (with ``delay_seconds`` :data:`REFUSED_DELAY_SECONDS`
    for a refusal); other Redis errors (a bug: wrong type, syntax, CROSSSLOT) pass unchanged."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            refused = refusal(exc) if isinstance(exc, ResponseError) else None
            if refused is not None:
                raise errors.StoreUnavailable(
                    f"{refused} ({exc})", delay_seconds=REFUSED_DELAY_SECONDS
                ) from exc
            if unreachable(exc):
                raise errors.StoreUnavailable(f"Redis did not answer: {exc}") from exc
            raise

    return wrapper
