"""A private 3-master Redis Cluster on loopback, for the store's cluster-mode tests.

:class:`RedisClusterProcesses` starts three ``redis-server --cluster-enabled yes`` children (on
PATH, Redis ≥ 7), each on a loopback port whose cluster bus port (port + 10000, Redis docs,
"Redis cluster specification": "the cluster bus") is free too, with their files in a directory of
their own and no persistence (``--save ''``, ``--appendonly no``). Then ``redis-cli --cluster
create ... --cluster-replicas 0 --cluster-yes`` assigns the 16384 slots, and :meth:`start` returns
once every node reports ``cluster_state:ok`` and the same slot coverage. Every wait is bounded
(``WAIT_SECONDS``) and fails with the nodes' logs; :meth:`stop` kills them (SIGKILL) and reaps them.

Used by the session-scoped ``redis_cluster_url`` fixture (``tests/support/redis_fixtures.py``),
so the suite pays the start-up (about 2 s) once.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import redis
from redis.exceptions import RedisError

#: The bound of every wait (start, cluster create, convergence), in seconds.
WAIT_SECONDS = 30.0
#: Masters in the cluster: the least ``redis-cli --cluster create`` accepts.
MASTERS = 3
#: The cluster bus listens on the client port + this (Redis docs, cluster specification).
BUS_OFFSET = 10_000


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free now, each with its bus port (+10000) free too."""
    ports: list[int] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while len(ports) < count:
        assert time.monotonic() < deadline, "no free port pairs for a Redis Cluster"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + BUS_OFFSET < 65536 and port not in ports and _bindable(port + BUS_OFFSET):
            ports.append(port)
    return ports


class RedisClusterProcesses:
    """Three cluster-enabled ``redis-server`` children joined into one cluster."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = cluster_ports(MASTERS)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:<first port>/0``: aiops's URL of this cluster."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        """Start the nodes, create the cluster, wait until every node says ``cluster_state:ok``."""
        for index in range(len(self.ports)):
            self._procs.append(self._spawn(index))
        for port in self.ports:
            self._until(f"node {port} answers PING", lambda p=port: self._ping(p))
        created = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
            check=False,
        )
        assert created.returncode == 0, (
            f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}"
        )
        self.wait_ok()

    def wait_ok(self) -> None:
        """Wait until every node reports ``cluster_state:ok``, all 16384 slots and every node."""
        self._until("every node reports cluster_state:ok", self._converged)

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (its slots have no primary then: after ``cluster-node-timeout``,
        2 s here, the others answer CLUSTERDOWN) and reap it."""
        proc = self._procs[index]
        proc.kill()
        proc.wait(timeout=WAIT_SECONDS)

    def restart(self, index: int) -> None:
        """Start node ``index`` again on its port and directory (its ``nodes.conf`` brings it back
        into the cluster with its slots; without persistence its keys are gone) and wait until the
        cluster is ok."""
        assert self._procs[index].poll() is not None, "kill() it first"
        self._procs[index] = self._spawn(index)
        self.wait_ok()

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        port = self.ports[index]
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        log = (node_dir / "redis.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(node_dir),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=node_dir,
        )

    def stop(self) -> None:
        """SIGKILL every node and reap it; close the logs. Safe to call twice."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=WAIT_SECONDS)
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def _info(self, port: int) -> dict[str, str]:
        client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2)
        try:
            text = str(client.execute_command("CLUSTER", "INFO"))
        finally:
            client.close()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def _ping(self, port: int) -> bool:
        self._check_running()
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def _converged(self) -> bool:
        self._check_running()
        try:
            infos = [self._info(port) for port in self.ports]
        except (RedisError, OSError):
            return False
        return all(
            info.get("cluster_state") == "ok"
            and info.get("cluster_slots_ok") == "16384"
            and info.get("cluster_known_nodes") == str(MASTERS)
            for info in infos
        )

    def _check_running(self) -> None:
        for port, proc in zip(self.ports, self._procs, strict=False):
            if proc.poll() is not None:
                raise AssertionError(f"redis-server {port} exited with {proc.returncode}:\n{self.log_tail()}")

    def _until(self, what: str, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"Redis Cluster: timed out waiting for {what}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of every node's log."""
        out = []
        for port in self.ports:
            path = self.directory / str(port) / "redis.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            out.append(f"--- node {port}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(out)
