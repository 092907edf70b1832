"""Redis fixtures: a real Redis store isolated under a per-test key prefix, and the in-memory one.

``redis_url``: ``$REDIS_URL`` or ``redis://127.0.0.1:6379/0``. ``store``: a Store on that Redis
with the prefix ``aiops-test:<uuid>:``, emptied after the test, so tests run in parallel with
anyone else's on the same server; if Redis does not answer the test FAILS (never skips).
``memory_store``: ``Store.in_memory()``. ``any_store``: both, as two parametrized runs with ids
``redis`` and ``memory``, for behaviour that must not depend on the backend. ``redis_servers`` and
``redis_process``: private ``redis-server`` processes a fault test may kill, flush, fill or demote.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from aiops import store as store_module
from aiops.store.sweep import delete_prefix
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


@pytest_asyncio.fixture(params=["redis", "memory"])
async def any_store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[store_module.Store]:
    """The real Redis store, then the in-memory one: the same test runs against both."""
    chosen = await _open_real(redis_url) if request.param == "redis" else store_module.Store.in_memory()
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
