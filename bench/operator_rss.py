"""Operator memory with 10,000 pods in the emulated cluster (RSS of the ``aiops run`` process alone).

The emulator runs in this process, seeded with 10,000 pods of 500 Deployments (1% of them
crash-looping) on 100 nodes; the operator runs as a separate ``aiops run`` process against it
with Redis, so its resident memory is measured without the emulator's. Read from
``/proc/PID/status`` (VmRSS now, VmHWM the peak) once the operator has listed every pod and
opened the incidents. Goal (issue 2): under 256 MiB; Robusta's runner requests 1 GiB.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from aiops.emulator import running_emulator
from aiops.store import Store
from aiops.store.sweep import delete_prefix
from bench.common import redis_url, report
from tests.operator import workloads
from tests.support import kube_fixtures as kf

PODS = int(os.environ.get("BENCH_PODS", "10000"))
DEPLOYMENTS, NODES, CRASHING_EVERY = 500, 100, 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _crash_events_seen(metrics_text: str) -> float:
    """``aiops_events_total{type="crash_loop"}`` from the Prometheus text format."""
    for line in metrics_text.splitlines():
        if line.startswith("aiops_events_total{") and 'type="crash_loop"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _seed(emu: Any) -> int:
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
    for n in range(NODES):
        emu.put_object(kf.node(f"node-{n}"))
    rs_by_deploy = []
    for d in range(DEPLOYMENTS):
        deploy = emu.put_object(kf.deployment(f"svc-{d}", "bench", replicas=PODS // DEPLOYMENTS, revision=1))
        rs_by_deploy.append(
            emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="7f8d9c6b5"))
        )
    crashing = 0
    for i in range(PODS):
        rs = rs_by_deploy[i % DEPLOYMENTS]
        pod = kf.pod(
            f"{rs['metadata']['name']}-{i:05d}",
            "bench",
            labels=rs["metadata"]["labels"],
            owner=rs,
            node=f"node-{i % NODES}",
        )
        if i % CRASHING_EVERY == 0:
            pod = workloads.crashing(pod, restarts=4)
            crashing += 1
        else:
            pod = workloads.healthy(pod)
        emu.put_object(pod)
    return crashing


async def main() -> dict[str, Any]:
    prefix = f"aiops-bench:{secrets.token_hex(4)}:"
    async with running_emulator() as emu:
        crashing = _seed(emu)
        port = _free_port()
        env = {
            **os.environ,
            "AIOPS_KUBE__SERVER": emu.url,
            "REDIS_URL": redis_url(),
            "AIOPS_REDIS_PREFIX": prefix,
            "AIOPS_API__HOST": "127.0.0.1",
            "AIOPS_API__PORT": str(port),
            "AIOPS_API__ALLOW_UNAUTHENTICATED": "true",
            "AIOPS_LOG_LEVEL": "WARNING",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiops",
            "run",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as api:
                incidents, seen = 0, 0.0
                while time.perf_counter() - started < 120:
                    await asyncio.sleep(0.25)
                    try:
                        seen = _crash_events_seen((await api.get("/metrics")).text)
                        incidents = len((await api.get("/api/incidents", params={"limit": 1000})).json())
                    except (httpx.HTTPError, ValueError):
                        continue
                    if seen >= crashing:  # every crash-looping pod went through the pipeline
                        break
                settled = time.perf_counter() - started
                await asyncio.sleep(3)  # let the in-flight playbook runs finish
                rss = _status_kib(proc.pid, "VmRSS")
                hwm = _status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)
    store = Store.connect(redis_url(), prefix=prefix)
    await delete_prefix(store)
    await store.close()
    return {
        "pods": PODS,
        "deployments": DEPLOYMENTS,
        "nodes": NODES,
        "crash_looping_pods": crashing,
        "incidents_opened (pods fold into their Deployment)": incidents,
        "seconds_to_list_and_open_incidents": round(settled, 1),
        "rss_mib": round(rss / 1024, 1),
        "peak_rss_mib": round(hwm / 1024, 1),
    }


def run() -> None:
    """Run and print the benchmark."""
    report("operator_rss", asyncio.run(main()), "RSS < 256 MiB with 10,000 pods")


if __name__ == "__main__":
    run()
