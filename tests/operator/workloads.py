"""Failing workloads for the operator scenarios, built on the emulator fixtures' builders.

Container statuses follow the Pod API reference (ContainerStatus, ContainerStateWaiting reason
``CrashLoopBackOff``, lastState.terminated); node conditions follow NodeCondition.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.emulator import ClusterEmulator
from tests.support import kube_fixtures as kf

PREVIOUS_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/app/main.py", line 12, in <module>\n'
    "psycopg.OperationalError: connection refused\n"
)


def crashing(pod: dict[str, Any], *, restarts: int) -> dict[str, Any]:
    """``pod`` in CrashLoopBackOff after ``restarts`` restarts (last exit code 1)."""
    pod = copy.deepcopy(pod)
    pod["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [
            {
                "name": "app",
                "image": "app:1",
                "ready": False,
                "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting"}},
                "lastState": {
                    "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-21T10:00:00Z"}
                },
            }
        ],
    }
    return pod


def healthy(pod: dict[str, Any]) -> dict[str, Any]:
    """``pod`` Running and Ready with no recent termination."""
    pod = copy.deepcopy(pod)
    pod["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": "app",
                "image": "app:1",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-11-21T10:05:00Z"}},
                "lastState": {},
            }
        ],
    }
    return pod


def seed_crash_loop(emu: ClusterEmulator, *, namespace: str = "shop", name: str = "web") -> dict[str, Any]:
    """A Deployment ``name`` whose one pod crash-loops; returns the stored pod."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    deploy = emu.put_object(kf.deployment(name, namespace, replicas=1, revision=1))
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="5d9c7b8f6"))
    pod = kf.pod(
        f"{name}-5d9c7b8f6-x2k4p", namespace, labels=rs["metadata"]["labels"], owner=rs, node="worker-1"
    )
    stored = emu.put_object(crashing(pod, restarts=5))
    emu.set_pod_log(namespace, stored["metadata"]["name"], PREVIOUS_LOG, container="app", previous=True)
    return stored


def not_ready(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` whose kubelet stopped posting status (Ready=Unknown, NodeStatusUnknown)."""
    node = copy.deepcopy(node)
    node["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
            }
        ]
    }
    return node


def seed_oom(emu: ClusterEmulator, *, namespace: str = "shop", name: str = "cart") -> dict[str, Any]:
    """A Deployment ``name`` (memory limit 256Mi, rollout complete) whose one pod was OOM-killed a
    minute ago and runs again; returns the stored Deployment."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    resources = {"limits": {"memory": "256Mi"}, "requests": {"memory": "128Mi"}}
    body = kf.deployment(name, namespace, replicas=1, revision=1, resources=resources)
    # observedGeneration = generation: the emulated Deployment controller has nothing to do until
    # the patch, so the Deployment's resourceVersion only moves when aiops writes.
    body["status"] = {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    deploy = emu.put_object(body)
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="7f8c9d6b5"))
    pod = kf.pod(
        f"{name}-7f8c9d6b5-q7w2x", namespace, labels=rs["metadata"]["labels"], owner=rs, node="worker-1"
    )
    finished = (datetime.now(UTC) - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pod["status"]["containerStatuses"] = [
        {
            "name": "app",
            "image": "app:1",
            "ready": True,
            "started": True,
            "restartCount": 1,
            "state": {"running": {"startedAt": finished}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": finished}},
        }
    ]
    emu.put_object(pod)
    return deploy


def seed_not_ready_node(
    emu: ClusterEmulator, *, min_available: int | None = None, max_unavailable: int | None = None
) -> None:
    """worker-2 NotReady hosting one of two ``api`` replicas in ``shop`` (the other on worker-1),
    under a PodDisruptionBudget ``api`` with ``min_available`` or ``max_unavailable``."""
    emu.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    emu.put_object(not_ready(kf.node("worker-2")))
    emu.put_object(kf.node("worker-1"))
    deploy = emu.put_object(kf.deployment("api", "shop", replicas=2, revision=1))
    rs = emu.put_object(kf.replicaset(deploy, revision=1, image="app:1", hash_="6c9d8f7b5"))
    labels = rs["metadata"]["labels"]
    emu.put_object(kf.pod("api-6c9d8f7b5-aaaaa", "shop", labels=labels, owner=rs, node="worker-2"))
    emu.put_object(kf.pod("api-6c9d8f7b5-bbbbb", "shop", labels=labels, owner=rs, node="worker-1"))
    budget = kf.pdb(
        "api",
        "shop",
        match_labels={"app": "api"},
        min_available=min_available,
        max_unavailable=max_unavailable,
    )
    emu.put_object(budget)
