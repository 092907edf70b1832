"""A private ``redis-server`` child process that a fault test may kill, flush, fill or demote.

The shared Redis on 6379 must never be flushed, reconfigured or stopped, so every Redis fault test
starts its own server: :class:`RedisProcess` runs ``redis-server`` (on PATH, Redis ≥ 7) in the
foreground as a child of the test, on a port free at start, with its files in a directory of its
own (the test's ``tmp_path``). It can

* :meth:`kill` it with SIGKILL (no shutdown code runs, as an OOM kill or a node loss) and
  :meth:`start` it again on the same port and directory: with ``appendonly=True`` the data comes
  back from the append-only file (every write acknowledged to a client was ``write(2)``-n to it
  before the reply, so a process kill loses nothing: Redis docs, "Redis persistence"); without it
  the server comes back empty (no RDB snapshots are configured);
* :meth:`flushall` (FLUSHALL: every key gone, as after an operator's mistake);
* :meth:`fill_memory` (``maxmemory`` at or below the memory in use and ``maxmemory-policy
  noeviction``: every write command answers ``OOM``, reads still work) and :meth:`free_memory`;
* :meth:`replicate` another server (``REPLICAOF``: writes answer ``READONLY``, as a primary demoted
  by a failover) and :meth:`promote` it back (``REPLICAOF NO ONE``).

Every wait is bounded (``WAIT_SECONDS``) and fails with the server's log. The fixtures that start
and clean these up are in ``tests/support/redis_fixtures.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.support.ports import free_port

#: The bound of every wait for the server (start, sync, ...), in seconds.
WAIT_SECONDS = 15.0
#: ``maxmemory`` for :meth:`RedisProcess.fill_memory` (1 MiB, as in the issue's scenario).
MAXMEMORY_BYTES = 1024 * 1024


class RedisProcess:
    """One ``redis-server`` child: ``start``, ``kill``, ``start`` again; ``stop`` at the end."""

    def __init__(self, directory: Path, *, appendonly: bool = False, name: str = "redis") -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.name = name
        self.port = free_port()
        self.log_path = directory / f"{name}.log"
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``: the same for every incarnation."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the current incarnation has not exited."""
        return self._proc is not None and self._proc.returncode is None

    def client(self) -> aioredis.Redis:
        """A fresh client of this server (the caller closes it)."""
        return aioredis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)

    async def start(self) -> None:
        """Start the server (again, on the same port and directory) and wait until it answers PING
        and has loaded its data set."""
        assert not self.running, f"{self.name} is already running"
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.starts += 1
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--dbfilename",
            f"{self.name}.rdb",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appenddirname",
            f"{self.name}-aof",
            "--protected-mode",
            "no",
            "--repl-diskless-sync-delay",  # a replica syncs at once (the default waits 5 s)
            "0",
        ]
        self._proc = await asyncio.create_subprocess_exec(
            *args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.directory
        )
        await self._until("it answers PING after loading", self._loaded)

    async def kill(self) -> None:
        """SIGKILL the server and reap it: nothing of it runs after this returns."""
        assert self._proc is not None
        if self._proc.returncode is None:
            os.kill(self._proc.pid, signal.SIGKILL)
        await asyncio.wait_for(self._proc.wait(), WAIT_SECONDS)

    async def stop(self) -> None:
        """Kill the server if it runs and close its log. Safe to call twice."""
        if self._proc is not None and self._proc.returncode is None:
            await self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def execute(self, *args: str | int) -> object:
        """Send one command (the test's own client, closed after)."""
        client = self.client()
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()

    async def flushall(self) -> None:
        """FLUSHALL: every key of every database is gone."""
        await self.execute("FLUSHALL")

    async def fill_memory(self) -> None:
        """Make every write answer ``OOM``: ``maxmemory`` 1 MiB with ``noeviction``, and if the server
        uses less than that, a filler key first, so the limit is always already exceeded."""
        client = self.client()
        try:
            used = int((await client.info("memory"))["used_memory"])
            if used < MAXMEMORY_BYTES:
                await client.set("redis-process:filler", "x" * (MAXMEMORY_BYTES - used + 64 * 1024))
            await client.config_set("maxmemory-policy", "noeviction")
            await client.config_set("maxmemory", str(MAXMEMORY_BYTES))
            try:
                await client.set("redis-process:probe", "1")
            except RedisError as exc:
                assert str(exc).startswith("command not allowed"), exc
            else:
                raise AssertionError("fill_memory: a write was still accepted")
        finally:
            await client.aclose()

    async def free_memory(self) -> None:
        """Lift the memory limit (``maxmemory 0``) and drop the filler key."""
        client = self.client()
        try:
            await client.config_set("maxmemory", "0")
            await client.delete("redis-process:filler")
        finally:
            await client.aclose()

    async def replicate(self, primary: RedisProcess) -> None:
        """``REPLICAOF`` ``primary`` and wait until the initial sync is done (writes now answer
        ``READONLY``; the data set is the primary's)."""
        await self.execute("REPLICAOF", "127.0.0.1", primary.port)

        async def synced() -> bool:
            client = self.client()
            try:
                info = await client.info("replication")
            finally:
                await client.aclose()
            return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")

        await self._until(f"it to sync from {primary.name}", synced)

    async def promote(self) -> None:
        """``REPLICAOF NO ONE``: a writable primary again, keeping its data."""
        await self.execute("REPLICAOF", "NO", "ONE")

    async def _loaded(self) -> bool:
        if not self.running:
            raise AssertionError(f"{self.name} exited with {self._returncode()}:\n{self.log_tail()}")
        client = self.client()
        try:
            info = await client.info("persistence")
            return not info.get("loading") and not info.get("async_loading")
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()

    async def _until(self, what: str, predicate: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if await predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.name}: timed out waiting for {what}:\n{self.log_tail()}")

    def _returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's log (every incarnation)."""
        if self._log is not None:
            self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
