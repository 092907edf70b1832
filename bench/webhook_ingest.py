"""Webhook ingest on loopback: one uvicorn worker, payloads of 10 alerts, 32 connections.

The receiver (real auth, parsing, conversion and atomic recording in Redis) and a bare FastAPI
endpoint that only parses the same payload are each served by ``uvicorn --workers 1`` in its own
process and loaded for ``DURATION`` seconds by 32 concurrent aiohttp connections from this
process. Every payload is distinct (its own startsAt), so every alert must be recorded once:
the stream length is compared with the alerts sent. Goal (issue 4): ≥ 2,000 payloads/s with
every alert recorded, p99 < 20 ms, ≥ 30% of the bare endpoint's rate, 0 lost.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from aiops.store import Store
from aiops.store.sweep import delete_prefix
from bench.common import redis_url, report, summary_ms
from tests.alertmanager.payloads import alert, payload

CONNECTIONS, ALERTS_PER_PAYLOAD = 32, 10
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
TOKEN = "bench-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _body(n: int) -> bytes:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n)
    starts = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    alerts = [
        alert(
            "KubePodCrashLooping",
            {"namespace": "shop", "pod": f"web-{n % 500}-{i}", "container": "app"},
            starts=starts,
        )
        for i in range(ALERTS_PER_PAYLOAD)
    ]
    return payload(*alerts)


async def _serve(factory: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, int]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        f"bench.webhook_app:{factory}",
        "--factory",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.post(f"http://127.0.0.1:{port}/none"):
                    return proc, port
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"uvicorn {factory} did not start")


async def _load(port: int, bodies: list[bytes]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/webhook/alertmanager"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0
    deadline = time.perf_counter() + DURATION

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while time.perf_counter() < deadline and next_index < len(bodies):
            body = bodies[next_index]
            next_index += 1
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - began
    ok = statuses.get(200, 0)
    return {
        "payloads": len(latencies),
        "ok": ok,
        "statuses": statuses,
        "seconds": elapsed,
        "payloads_per_second": round(ok / elapsed),
        **summary_ms(latencies),
    }


async def main() -> dict[str, Any]:
    prefix = f"aiops-bench:{secrets.token_hex(4)}:"
    env = {
        **os.environ,
        "REDIS_URL": redis_url(),
        "BENCH_PREFIX": prefix,
        "BENCH_TOKEN": TOKEN,
        "PYTHONPATH": os.getcwd(),
    }
    bodies = [_body(n) for n in range(int(DURATION * 6000))]
    result: dict[str, Any] = {}
    for name in ("bare", "receiver"):
        proc, port = await _serve(name, env)
        try:
            measured = await _load(port, bodies)
        finally:
            proc.terminate()
            await proc.wait()
        for key, value in measured.items():
            result[f"{name}.{key}"] = value
    store = Store.connect(redis_url(), prefix=prefix)
    recorded = int(await store._r.xlen(store._tagged("alerts", "stream")))
    await delete_prefix(store)
    await store.close()
    sent = result["receiver.ok"] * ALERTS_PER_PAYLOAD
    result["receiver.alerts_sent"] = sent
    result["receiver.alerts_recorded"] = recorded
    result["receiver.alerts_lost"] = sent - recorded
    result["receiver_vs_bare_rate"] = round(
        result["receiver.payloads_per_second"] / result["bare.payloads_per_second"], 3
    )
    return result


def run() -> None:
    """Run and print the benchmark."""
    report("webhook_ingest", asyncio.run(main()), "≥ 2,000 payloads/s, p99 < 20 ms, ≥ 30% of bare, 0 lost")


if __name__ == "__main__":
    run()
