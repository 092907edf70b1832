"""Redis fixtures: a real Redis store isolated under a per-test key prefix, and the in-memory one.

``redis_url``: ``$REDIS_URL`` or ``redis://127.0.0.1:6379/0``. ``store``: a Store on that Redis
with the prefix ``aiops-test:<uuid>:``, emptied after the test, so tests run in parallel with
anyone else's on the same server; if Redis does not answer the test FAILS (never skips).
``memory_store``: ``Store.in_memory()``. ``redis_cluster_url``: a private 3-master Redis Cluster
started once per session (``tests/support/redis_cluster.py``; or ``$REDIS_CLUSTER_URL``, a
``redis+cluster://`` URL of one already running); ``cluster_store``: a Store on it, under a
per-test prefix. ``any_store``: all three, as parametrized runs with ids ``redis``, ``memory`` and
``cluster``, for behaviour that must not depend on the backend (the store's contract). ``redis_servers`` and
``redis_process``: private ``redis-server`` processes a fault test may kill, flush, fill or demote.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from aiops import store as store_module
from aiops.store.sweep import delete_prefix
from tests.support.redis_cluster import RedisClusterProcesses
from tests.support.redis_process import RedisProcess

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the tests use: ``$REDIS_URL`` or the local default."""
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


async def _open_real(url: str) -> store_module.Store:
    real = store_module.Store.connect(url, prefix=f"aiops-test:{uuid.uuid4()}:")
    if not await real.ping():
        await real.close()
        pytest.fail(
            f"Redis does not answer at {url}: start one (e.g. `docker run -p 6379:6379 redis:7`) "
            "or point REDIS_URL at one. Tests that need Redis never skip.",
            pytrace=False,
        )
    return real


@pytest_asyncio.fixture
async def store(redis_url: str) -> AsyncIterator[store_module.Store]:
    """A Store on the real Redis under a unique prefix; every key under it is deleted afterwards."""
    real = await _open_real(redis_url)
    try:
        yield real
    finally:
        await delete_prefix(real)
        await real.close()


@pytest_asyncio.fixture
async def memory_store() -> AsyncIterator[store_module.Store]:
    """The in-process store (fakeredis) the demo falls back to."""
    fake = store_module.Store.in_memory()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis+cluster://127.0.0.1:PORT/0`` of a private 3-master Redis Cluster, started once per
    session and killed at its end; or ``$REDIS_CLUSTER_URL`` when set."""
    given = os.environ.get("REDIS_CLUSTER_URL")
    if given:
        yield given
        return
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()


@pytest_asyncio.fixture
async def cluster_store(redis_cluster_url: str) -> AsyncIterator[store_module.Store]:
    """A Store in cluster mode on the session's Redis Cluster, under a unique prefix; every key
    under it is deleted afterwards."""
    real = await _open_real(redis_cluster_url)
    try:
        yield real
    finally:
        await delete_prefix(real)
        await real.close()


@pytest_asyncio.fixture(params=["redis", "memory", "cluster"])
async def any_store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[store_module.Store]:
    """The real Redis store, the in-memory one, then one on a Redis Cluster: the same test runs
    against all three."""
    if request.param == "redis":
        chosen = await _open_real(redis_url)
    elif request.param == "cluster":
        chosen = await _open_real(request.getfixturevalue("redis_cluster_url"))
    else:
        chosen = store_module.Store.in_memory()
    try:
        yield chosen
    finally:
        await delete_prefix(chosen)
        await chosen.close()


@pytest_asyncio.fixture
async def redis_servers(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[RedisProcess]]]:
    """A factory of private ``redis-server`` processes for fault tests (never the shared 6379):
    ``await redis_servers(appendonly=True)`` starts one in ``tmp_path``; every one is killed after
    the test. See :class:`tests.support.redis_process.RedisProcess`."""
    started: list[RedisProcess] = []

    async def start(*, appendonly: bool = False) -> RedisProcess:
        server = RedisProcess(tmp_path / f"redis-{len(started)}", appendonly=appendonly, name="redis")
        started.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            await server.stop()


@pytest_asyncio.fixture
async def redis_process(
    redis_servers: Callable[..., Awaitable[RedisProcess]],
) -> RedisProcess:
    """One private ``redis-server`` with the append-only file on (data survives SIGKILL)."""
    return await redis_servers(appendonly=True)
