"""Events/s through detect → dedup → rules with Redis, on synthetic pod updates (one process, one core).

Workload: 2,000 crash-looping pods of 200 Deployments, each updated 10 times (restart count
bumps), plus as many healthy pod updates (the recovery path). Playbook launches are counted, not
run (this measures the routing stages; the executor is measured by the scenario tests).

Two modes, each on a fresh key prefix: ``sequential`` (one event at a time) and ``per-object
workers`` (kopf's model: events of one object in order, different objects concurrently; here
64 workers over disjoint sets of objects). Both run in one process on one core.
Goal (issue 2): at least 5,000 events/s on one core.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aiops.events import dedup as dedup_mod
from aiops.metrics import Metrics
from aiops.pipeline import Pipeline
from aiops.playbooks import loader
from aiops.playbooks import registry as registry_mod
from aiops.rules import engine as engine_mod
from aiops.rules import loader as rules_loader
from aiops.store.sweep import delete_prefix
from bench.common import bench_store, report

PODS, DEPLOYMENTS, UPDATES = int(os.environ.get("BENCH_PODS", "2000")), 200, 10


class CountingExecutor:
    """Stands in for the executor: counts launches instead of running playbooks."""

    def __init__(self) -> None:
        self.launched = 0

    def launch(self, **_: Any) -> None:
        self.launched += 1


def pod_body(i: int, restarts: int, *, crashing: bool) -> dict[str, Any]:
    deploy = f"web-{i % DEPLOYMENTS}"
    rs = f"{deploy}-5d9c7b8f6"
    state: dict[str, Any] = (
        {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
        if crashing
        else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{rs}-{i:05d}",
            "namespace": f"team-{i % 20}",
            "uid": f"uid-{i}",
            "labels": {"app": deploy, "pod-template-hash": "5d9c7b8f6"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs,
                    "uid": f"rs-{i}",
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": f"node-{i % 50}", "containers": [{"name": "app", "image": "app:1"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if not crashing else "False"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": not crashing,
                    "restartCount": restarts if crashing else 0,
                    "state": state,
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}} if crashing else {},
                }
            ],
        },
    }


async def measure(*, workers: int) -> dict[str, Any]:
    """Run the workload through a fresh pipeline with ``workers`` per-object workers."""
    store = await bench_store()
    try:
        registry = registry_mod.PlaybookRegistry(loader.load_playbooks([registry_mod.builtin_playbook_dir()]))
        rules = engine_mod.RuleEngine(rules_loader.load_rules(rules_loader.default_rules_path(), registry))
        metrics = Metrics()
        executor = CountingExecutor()
        dedup = dedup_mod.Deduplicator(store, metrics=metrics)
        pipeline = Pipeline(
            dedup=dedup,
            rules=lambda: rules,
            executor=executor,  # type: ignore[arg-type]
            store=store,
            metrics=metrics,
        )
        bodies = [pod_body(i, r, crashing=True) for r in range(UPDATES) for i in range(PODS)]
        healthy = [pod_body(i + PODS, 0, crashing=False) for i in range(len(bodies))]
        work = [b for pair in zip(bodies, healthy, strict=True) for b in pair]
        lanes: list[list[dict[str, Any]]] = [[] for _ in range(workers)]
        for body in work:  # one object always lands in the same lane: its events stay in order
            lanes[hash(body["metadata"]["name"]) % workers].append(body)

        async def lane(bodies: list[dict[str, Any]]) -> None:
            for body in bodies:
                await pipeline.observe(body)

        start = time.perf_counter()
        cpu_start = time.process_time()
        await asyncio.gather(*(lane(bodies) for bodies in lanes))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        incidents = await dedup.open_count()
        return {
            "events": len(work),
            "seconds": round(elapsed, 3),
            "events_per_second": round(len(work) / elapsed),
            "cpu_seconds_in_this_process": round(cpu, 3),
            "open_incidents": incidents,
            "playbooks_launched": executor.launched,
        }
    finally:
        await delete_prefix(store)
        await store.close()


async def main() -> dict[str, Any]:
    """Both modes; the result keys are prefixed by mode."""
    result: dict[str, Any] = {}
    for name, workers in (("sequential", 1), ("per_object_workers_64", 64)):
        for key, value in (await measure(workers=workers)).items():
            result[f"{name}.{key}"] = value
    return result


def run() -> None:
    """Run and print the benchmark."""
    report("pipeline_throughput", asyncio.run(main()), "≥ 5,000 events/s on one core")


if __name__ == "__main__":
    run()
