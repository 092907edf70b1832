"""Watch-to-incident latency: from a write at the emulated Kubernetes API to the incident in Redis.

The real runtime (kopf operator, pipeline, Redis-backed dedup) runs against the extended kmock
emulator in the same process. For each of 300 pods in turn, the pod is switched to
CrashLoopBackOff with one write; the latency is the time until the deduplicator has opened
that pod's incident (timestamped where ``Deduplicator.observe`` returns ``new``).
Goal (issue 2): p99 under 500 ms; the design this replaces polled every 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from aiops import runtime
from aiops.settings import ApiSettings, KubeSettings, Settings
from aiops.store import Store
from aiops.testing import running_emulator
from bench.common import redis_url, report, summary_ms
from tests.operator import workloads
from tests.support import kube_fixtures as kf

PODS = 300


async def main() -> dict[str, Any]:
    store = Store.connect(redis_url(), prefix=f"aiops-bench:{secrets.token_hex(4)}:")
    async with running_emulator() as emu:
        emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        pods = []
        for i in range(PODS):
            deploy = emu.put_object(kf.deployment(f"svc-{i}", "bench", replicas=1, revision=1))
            rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="7f8d9c6b5"))
            pods.append(
                emu.put_object(
                    kf.pod(f"svc-{i}-7f8d9c6b5-abcde", "bench", labels=rs["metadata"]["labels"], owner=rs)
                )
            )
        settings = Settings(kube=KubeSettings(server=emu.url), api=ApiSettings(host="127.0.0.1", port=0))
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
        server = asyncio.create_task(runtime.serve(services, stop=stop, operator_ready=ready, with_api=False))
        await asyncio.wait_for(ready.wait(), timeout=30)
        await asyncio.sleep(1.0)  # let the initial listing settle
        latencies: list[float] = []
        for i, pod in enumerate(pods):
            key = f"crash_loop:Deployment/bench/svc-{i}"
            written = time.perf_counter()
            emu.put_object(workloads.crashing(pod, restarts=3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.setdefault(key, asyncio.Event()).wait(), timeout=5)
            if key in opened:
                latencies.append(opened[key] - written)
        stop.set()
        await server
        await services.executor.wait_idle(timeout_seconds=10)
        await services.kube.close()
    await store.delete_prefix_for_tests()
    await store.close()
    return {"pods": PODS, "incidents_opened": len(latencies), **summary_ms(latencies)}


def run() -> None:
    """Run and print the benchmark."""
    report("watch_latency", asyncio.run(main()), "p99 < 500 ms")


if __name__ == "__main__":
    run()
