"""Watch-to-incident latency: from a write at the emulated Kubernetes API to the incident in Redis.

The emulated API (kmock extended, ``bench/emulator_server.py``) runs in its own process, like a
real API server; the real runtime (kopf operator, pipeline, Redis-backed dedup, playbook runs and
incident enrichment) runs in this one. For each of 300 Deployments in turn, its pod's status is
patched to CrashLoopBackOff with one ``PATCH pods/NAME/status``; the latency is the time until
the deduplicator has opened that Deployment's incident (timestamped where
``Deduplicator.observe`` returns ``new``). Goal (issue 2): p99 under 500 ms; the design this
replaces polled every 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import aiohttp

from aiops import runtime
from aiops.settings import ApiSettings, EnrichmentSettings, KubeSettings, Settings
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from bench.common import redis_url, report, summary_ms
from tests.operator import workloads
from tests.support import kube_fixtures as kf

PODS = 300


async def main() -> dict[str, Any]:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.emulator_server",
        str(PODS),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert server.stdout is not None
    url = (await asyncio.wait_for(server.stdout.readline(), timeout=120)).decode().strip()
    store = Store.connect(redis_url(), prefix=f"aiops-bench:{secrets.token_hex(4)}:")
    try:
        pods = [kf.pod(f"svc-{i}-7f8d9c6b5-abcde", "bench") for i in range(PODS)]
        enrich = os.environ.get("BENCH_ENRICH", "1") == "1"
        settings = Settings(
            kube=KubeSettings(server=url),
            api=ApiSettings(host="127.0.0.1", port=0),
            enrichment=EnrichmentSettings(enabled=enrich),
        )
        services = await runtime.build(settings, store=store)
        opened: dict[str, float] = {}
        arrived: dict[str, asyncio.Event] = {}
        observe = services.dedup.observe

        async def timed_observe(event: Any, *, member: str | None = None) -> Any:
            observation = await observe(event, member=member)
            if observation.new:
                opened[event.dedup_key] = time.perf_counter()
                arrived.setdefault(event.dedup_key, asyncio.Event()).set()
            return observation

        services.dedup.observe = timed_observe  # type: ignore[method-assign]
        stop, ready = asyncio.Event(), asyncio.Event()
        serving = asyncio.create_task(
            runtime.serve(services, stop=stop, operator_ready=ready, with_api=False)
        )
        await asyncio.wait_for(ready.wait(), timeout=30)
        await asyncio.sleep(2.0)  # let the initial listing settle
        latencies: list[float] = []
        headers = {"Content-Type": "application/merge-patch+json"}
        async with aiohttp.ClientSession() as session:
            for i, pod in enumerate(pods):
                key = f"crash_loop:Deployment/bench/svc-{i}"
                status = {"status": workloads.crashing(pod, restarts=3)["status"]}
                path = f"/api/v1/namespaces/bench/pods/{pod['metadata']['name']}/status"
                written = time.perf_counter()
                async with session.patch(url + path, data=json.dumps(status), headers=headers) as response:
                    if response.status >= 400:
                        raise RuntimeError(f"{response.status} {path}: {(await response.text())[:300]}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.setdefault(key, asyncio.Event()).wait(), timeout=5)
                if key in opened:
                    latencies.append(opened[key] - written)
        stop.set()
        await serving
        services.drain_seconds = 30  # as aiops run shuts down; the store is reopened for cleanup below
        await services.close()
        return {
            "pods": PODS,
            "enrichment": enrich,
            "incidents_opened": len(latencies),
            **summary_ms(latencies),
        }
    finally:
        server.terminate()
        await server.wait()
        await delete_prefix(store)
        await store.close()


def run() -> None:
    """Run and print the benchmark."""
    report("watch_latency", asyncio.run(main()), "p99 < 500 ms")


if __name__ == "__main__":
    run()
