"""Realistic failing workloads the demo seeds into the emulated cluster.

Shapes follow real ``kubectl get -o json`` output (Kubernetes API reference: Pod, Node,
Deployment, ReplicaSet, PodDisruptionBudget). Consumed by ``aiops.demo.run_demo``.

* ``shop/checkout``: a pod in CrashLoopBackOff whose previous container died on a PostgreSQL
  connection error (previous-container log included).
* ``shop/cart``: a pod whose last container was OOMKilled at a 256Mi limit.
* ``worker-2``: a NotReady node (kubelet stopped posting status) hosting a replica that a
  PodDisruptionBudget (maxUnavailable 1) lets the drain evict.
* ``shop/payments``: a Deployment with 0 available replicas after a bad rollout (revision 2,
  image tag that does not exist); revision 1 is the good one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiops.clock import utcnow

NAMESPACE = "shop"
#: The story starts 12 minutes before the demo does, so the crash and the OOM kill are recent.
_STORY_MINUTES = 12


def _ts(minutes: float = 0) -> str:
    start = utcnow() - timedelta(minutes=_STORY_MINUTES)
    return (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(
    name: str,
    *,
    namespace: str | None = NAMESPACE,
    labels: dict[str, str] | None = None,
    owner: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{name}",
        "creationTimestamp": _ts(),
        "labels": labels or {},
    }
    if namespace:
        meta["namespace"] = namespace
    if owner:
        meta["ownerReferences"] = [owner]
    if annotations:
        meta["annotations"] = annotations
    return meta


def _owner(kind: str, name: str, api_version: str = "apps/v1") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": f"uid-{name}",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _container(name: str, image: str, memory: str = "256Mi") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
    }


def _deployment(
    name: str,
    image: str,
    *,
    replicas: int,
    available: int,
    revision: int,
    memory: str = "256Mi",
    stuck: bool = False,
) -> dict[str, Any]:
    labels = {"app": name}
    conditions = [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            "lastTransitionTime": _ts(1),
        },
        {
            "type": "Progressing",
            "status": "False" if stuck else "True",
            "reason": "ProgressDeadlineExceeded" if stuck else "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{name}-{revision}" has timed out progressing.'
            if stuck
            else f'ReplicaSet "{name}-{revision}" has successfully progressed.',
            "lastTransitionTime": _ts(11),
        },
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            name, labels=labels, annotations={"deployment.kubernetes.io/revision": str(revision)}
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [_container(name, image, memory)]},
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": replicas - available,
            "conditions": conditions,
        },
    }


def _replicaset(
    deploy: str, hash_: str, image: str, *, revision: int, replicas: int, ready: int, memory: str = "256Mi"
) -> dict[str, Any]:
    labels = {"app": deploy, "pod-template-hash": hash_}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(
            f"{deploy}-{hash_}",
            labels=labels,
            owner=_owner("Deployment", deploy),
            annotations={"deployment.kubernetes.io/revision": str(revision)},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [_container(deploy, image, memory)]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
    }


def _pod(
    name: str,
    deploy: str,
    hash_: str,
    image: str,
    *,
    node: str,
    ready: bool,
    state: dict[str, Any],
    last_state: dict[str, Any] | None = None,
    restarts: int = 0,
    memory: str = "256Mi",
) -> dict[str, Any]:
    labels = {"app": deploy, "pod-template-hash": hash_}
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(name, labels=labels, owner=_owner("ReplicaSet", f"{deploy}-{hash_}")),
        "spec": {
            "nodeName": node,
            "containers": [_container(deploy, image, memory)],
            "restartPolicy": "Always",
        },
        "status": {
            "phase": "Running",
            "hostIP": "10.0.0.12",
            "podIP": "10.244.1.17",
            "startTime": _ts(),
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": _ts()},
                {
                    "type": "Ready",
                    "status": status,
                    "lastTransitionTime": _ts(2),
                    **(
                        {}
                        if ready
                        else {
                            "reason": "ContainersNotReady",
                            "message": f"containers with unready status: [{deploy}]",
                        }
                    ),
                },
                {"type": "ContainersReady", "status": status, "lastTransitionTime": _ts(2)},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _ts()},
            ],
            "containerStatuses": [
                {
                    "name": deploy,
                    "image": image,
                    "imageID": f"docker.io/shop/{deploy}@sha256:0f3a",
                    "ready": ready,
                    "started": ready,
                    "restartCount": restarts,
                    "state": state,
                    "lastState": last_state or {},
                    "containerID": f"containerd://{name}",
                }
            ],
        },
    }


def _node(name: str, *, ready: bool) -> dict[str, Any]:
    conditions = [
        {
            "type": t,
            "status": "False" if ready else "Unknown",
            "reason": f"KubeletHas{'No' if t != 'PIDPressure' else 'Sufficient'}{t}"
            if ready
            else "NodeStatusUnknown",
            "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
            "lastHeartbeatTime": _ts(),
            "lastTransitionTime": _ts(5),
        }
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ] + [
        {
            "type": "Ready",
            "status": "True" if ready else "Unknown",
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
            "lastHeartbeatTime": _ts(),
            "lastTransitionTime": _ts(5),
        }
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            name,
            namespace=None,
            labels={"kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": ""},
        ),
        "spec": {"podCIDR": "10.244.2.0/24"},
        "status": {
            "conditions": conditions,
            "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Debian 12"},
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        },
    }


CHECKOUT_PREVIOUS_LOG = """\
2026-11-21T10:51:02Z INFO  checkout starting version=2.8.1
2026-11-21T10:51:02Z INFO  connecting to postgres host=orders-db.shop.svc port=5432
Traceback (most recent call last):
  File "/app/checkout/db.py", line 41, in connect
    return psycopg.connect(dsn, connect_timeout=5)
  File "/usr/local/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect
    raise last_ex.with_traceback(None)
psycopg.OperationalError: connection failed: connection to server at "10.96.14.3", port 5432 failed: \
Connection refused
2026-11-21T10:51:07Z ERROR checkout exiting: database unavailable
"""

CART_PREVIOUS_LOG = """\
2026-11-21T10:48:13Z INFO  cart warming cache entries=1200000
2026-11-21T10:48:40Z WARN  heap usage 243Mi of 256Mi
"""


def seed_objects() -> list[dict[str, Any]]:
    """Every object the demo cluster starts with, namespaces and nodes first."""
    running = {"running": {"startedAt": _ts(3)}}
    crash_state = {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off 5m0s restarting failed container=checkout pod=checkout-7d4b9c-x2k4p",
        }
    }
    crash_last = {
        "terminated": {"exitCode": 1, "reason": "Error", "startedAt": _ts(9), "finishedAt": _ts(9.1)}
    }
    oom_last = {
        "terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": _ts(6), "finishedAt": _ts(6.5)}
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(NAMESPACE, namespace=None)},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("kube-system", namespace=None)},
        _node("worker-1", ready=True),
        _node("worker-2", ready=False),
        # checkout: crash-looping
        _deployment("checkout", "shop/checkout:2.8.1", replicas=2, available=1, revision=1),
        _replicaset("checkout", "7d4b9c", "shop/checkout:2.8.1", revision=1, replicas=2, ready=1),
        _pod(
            "checkout-7d4b9c-x2k4p",
            "checkout",
            "7d4b9c",
            "shop/checkout:2.8.1",
            node="worker-1",
            ready=False,
            state=crash_state,
            last_state=crash_last,
            restarts=7,
        ),
        _pod(
            "checkout-7d4b9c-m9q2z",
            "checkout",
            "7d4b9c",
            "shop/checkout:2.8.1",
            node="worker-1",
            ready=True,
            state=running,
        ),
        # cart: OOMKilled
        _deployment("cart", "shop/cart:1.12.0", replicas=1, available=1, revision=1),
        _replicaset("cart", "5f6d8c", "shop/cart:1.12.0", revision=1, replicas=1, ready=1),
        _pod(
            "cart-5f6d8c-abcde",
            "cart",
            "5f6d8c",
            "shop/cart:1.12.0",
            node="worker-1",
            ready=True,
            state=running,
            last_state=oom_last,
            restarts=3,
        ),
        # worker-2 is NotReady and hosts one of two search replicas (a PDB allows one disruption)
        _deployment("search", "shop/search:3.0.2", replicas=2, available=2, revision=1),
        _replicaset("search", "84c7f9", "shop/search:3.0.2", revision=1, replicas=2, ready=2),
        _pod(
            "search-84c7f9-k2l9d",
            "search",
            "84c7f9",
            "shop/search:3.0.2",
            node="worker-2",
            ready=True,
            state=running,
        ),
        _pod(
            "search-84c7f9-p8w3n",
            "search",
            "84c7f9",
            "shop/search:3.0.2",
            node="worker-1",
            ready=True,
            state=running,
        ),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta("search", labels={"app": "search"}),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "search"}}},
        },
        # payments: bad rollout, 0 available
        _deployment("payments", "shop/payments:1.5.0", replicas=2, available=0, revision=2, stuck=True),
        _replicaset("payments", "6b5d4f", "shop/payments:1.4.2", revision=1, replicas=0, ready=0),
        _replicaset("payments", "9c8e7a", "shop/payments:1.5.0", revision=2, replicas=2, ready=0),
    ]


def seed_logs() -> list[tuple[str, str, str, str, bool]]:
    """(namespace, pod, container, text, previous) for the emulator's log endpoint."""
    return [
        (NAMESPACE, "checkout-7d4b9c-x2k4p", "checkout", CHECKOUT_PREVIOUS_LOG, True),
        (
            NAMESPACE,
            "checkout-7d4b9c-x2k4p",
            "checkout",
            "2026-11-21T10:52:00Z INFO  checkout starting\n",
            False,
        ),
        (NAMESPACE, "cart-5f6d8c-abcde", "cart", CART_PREVIOUS_LOG, True),
    ]
