"""Running the ``aiops`` command line as a user does: ``python -m aiops ...`` in a child process.

``run_cli`` (sync tests) and ``arun_cli`` (async tests: the child runs while the test's event
loop keeps serving the operator and the API) return a :class:`CliResult`. The child gets a
clean environment: the caller's, minus every ``AIOPS_*`` variable, ``REDIS_URL``, ``COLUMNS``
and ``LINES``, plus what the test passes; so a developer's shell settings never leak in.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: The variables removed from the inherited environment (prefixes end with ``_``).
_SCRUBBED = ("AIOPS_", "REDIS_URL", "COLUMNS", "LINES")


@dataclass(frozen=True)
class CliResult:
    """Exit code and decoded output of one ``aiops`` invocation."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def flat_stderr(self) -> str:
        """stderr with every run of whitespace (including rich's soft wraps) made one space."""
        return " ".join(self.stderr.split())

    @property
    def flat_stdout(self) -> str:
        """stdout with every run of whitespace made one space."""
        return " ".join(self.stdout.split())

    def __str__(self) -> str:
        return (
            f"aiops {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def cli_env(**extra: str) -> dict[str, str]:
    """The inherited environment without aiops/Redis/terminal-size variables, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_SCRUBBED)}
    env.update(extra)
    return env


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout_seconds: float = 60.0,
) -> CliResult:
    """Run ``python -m aiops *args`` to completion (``env`` defaults to :func:`cli_env`)."""
    completed = subprocess.run(
        [sys.executable, "-m", "aiops", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env() if env is None else env,
        cwd=cwd,
        timeout=timeout_seconds,
        check=False,
    )
    return CliResult(tuple(args), completed.returncode, completed.stdout, completed.stderr)


async def arun_cli(*args: str, env: dict[str, str] | None = None, timeout_seconds: float = 60.0) -> CliResult:
    """Run ``python -m aiops *args`` without blocking the running event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiops",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env() if env is None else env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return CliResult(tuple(args), process.returncode, stdout.decode(), stderr.decode())


class SilentServer:
    """A TCP socket on 127.0.0.1 that listens and never answers; counts who connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []

    def connections(self, *, wait_seconds: float = 0.0) -> int:
        """Connections received so far (waiting up to ``wait_seconds`` for the first one)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                return len(self.accepted)
            self.accepted.append(self.sock.accept()[0])

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()
