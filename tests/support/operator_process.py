"""``aiops run`` as a real child process, for tests that must kill the operator for real (SIGKILL).

:class:`OperatorProcess` starts ``python -m aiops run`` with a given environment, waits until its
API answers ``/healthz`` (which ``runtime.serve`` only starts after ``executor.resume()``), kills
it with SIGKILL (no shutdown code runs: no ``finally``, no cleanup, exactly like an OOM kill or a
node loss) and starts it again on the same API port and Redis prefix. Output of every incarnation
goes to one log file, whose tail is shown when a start fails.

The event loop must stay free while the child runs: the emulator it talks to usually lives in the
test's own loop, so every wait here is ``await``-ed, never blocking.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

#: The repository root, the child's working directory.
ROOT = Path(__file__).resolve().parents[2]


def operator_env(
    *,
    kube_server: str,
    redis_url: str,
    redis_prefix: str,
    api_port: int,
    tokens: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an ``aiops run`` child: this process's minus any ``AIOPS_*``, plus these.

    ``tokens`` is identity → bearer token. Enrichment and the Alertmanager receiver are off
    unless ``extra`` turns them on; logs at WARNING; leader election on with a 2 s Lease.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIOPS_")}
    env.update(
        {
            "AIOPS_KUBE__SERVER": kube_server,
            "REDIS_URL": redis_url,
            "AIOPS_REDIS_PREFIX": redis_prefix,
            "AIOPS_API__HOST": "127.0.0.1",
            "AIOPS_API__PORT": str(api_port),
            "AIOPS_API__TOKENS": json.dumps(dict(tokens)),
            "AIOPS_ENRICHMENT__ENABLED": "false",
            "AIOPS_ALERTMANAGER__ENABLED": "false",
            "AIOPS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # A restarted process campaigns under a new identity: it waits out the killed one's
            # Lease, kept short here (the defaults are 10/7/1 s).
            "AIOPS_LEADER_ELECTION__LEASE_DURATION_SECONDS": "2",
            "AIOPS_LEADER_ELECTION__RENEW_DEADLINE_SECONDS": "1.5",
            "AIOPS_LEADER_ELECTION__RETRY_PERIOD_SECONDS": "0.2",
        }
    )
    env.update(extra or {})
    return env


class OperatorProcess:
    """One ``aiops run`` at a time: ``start``, ``kill`` (SIGKILL) or ``pause``/``resume``
    (SIGSTOP/SIGCONT), ``start`` again, ``stop`` at the end."""

    def __init__(self, env: Mapping[str, str], *, port: int, log_path: Path) -> None:
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self.starts = 0
        self.kills = 0
        self.paused = False
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The API's base URL (the same port for every incarnation)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True while a child was started and has not exited."""
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The current child's pid, or None."""
        return self._proc.pid if self._proc is not None else None

    async def spawn(self) -> None:
        """Start the child and return at once (see :meth:`wait_ready`)."""
        assert not self.running, "the previous operator is still running"
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.starts += 1
        self._log.write(f"\n===== start {self.starts} =====\n".encode())
        self._log.flush()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiops",
            "run",
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, *, timeout_seconds: float = 60.0) -> None:
        """Wait until ``/healthz`` answers 200; fail (with the log's tail) if the child exits first."""
        deadline = time.monotonic() + timeout_seconds
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise AssertionError(f"aiops run exited with {self.returncode()}:\n{self.log_tail()}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"aiops run not ready after {timeout_seconds} s:\n{self.log_tail()}")

    async def start(self, *, timeout_seconds: float = 60.0) -> None:
        """:meth:`spawn`, then :meth:`wait_ready`."""
        await self.spawn()
        await self.wait_ready(timeout_seconds=timeout_seconds)

    async def kill(self) -> None:
        """SIGKILL the child and reap it (nothing of it runs after this returns)."""
        assert self._proc is not None
        if self._proc.returncode is None:
            os.kill(self._proc.pid, signal.SIGKILL)
            self.kills += 1
        await self._proc.wait()
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP the child: it stops mid-instruction, as in a long GC pause or a frozen node, and
        holds whatever it held (connections, a Lease it no longer renews)."""
        assert self._proc is not None and self._proc.returncode is None
        os.kill(self._proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT a paused child: it goes on exactly where it stopped, unaware of the time lost."""
        if self._proc is not None and self._proc.returncode is None and self.paused:
            os.kill(self._proc.pid, signal.SIGCONT)
        self.paused = False

    async def stop(self) -> None:
        """SIGTERM (graceful shutdown), SIGKILL after 30 s; close the log. Safe to call twice."""
        self.resume()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=30)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def returncode(self) -> int | None:
        """The current child's exit status (None while running or before the first start)."""
        return self._proc.returncode if self._proc is not None else None

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the output of every incarnation so far."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
