"""Builders for the Kubernetes bodies and logs the RCA tests feed to the evidence builder.

Shapes follow ``kubectl get -o json`` (as in ``tests/detect/fixtures``): a Deployment ``shop/cart``
with revisions 14 (``cart-6c8d7b9f5``, image 3.8.0) and 15 (``cart-7b9c5d4f8``, image 3.8.1, created
2025-03-14T10:02:00Z), its pods on node ``worker-3``, core/v1 Events, Nodes, HPAs and PVCs. Logs
follow the real texts of the JVM, CPython + psycopg, and the Go runtime; names are made up.
"""

from __future__ import annotations

from typing import Any

NS = "shop"
OLD_RS, NEW_RS = "cart-6c8d7b9f5", "cart-7b9c5d4f8"
ROLLOUT_AT = "2025-03-14T10:02:00Z"

JAVA_OOM = [
    "2025-03-14 10:27:40.118  INFO 1 --- [main] c.e.cart.CartApplication : Started CartApplication",
    "2025-03-14 10:27:52.201  WARN 1 --- [gc] c.e.cart.Metrics : heap usage 231Mi of 256Mi",
    'Exception in thread "http-nio-7070-exec-3" java.lang.OutOfMemoryError: Java heap space',
    "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
    "\tat com.example.cart.CartService.load(CartService.java:88)",
    "\t... 48 common frames omitted",
    "2025-03-14 10:27:54.990  WARN 1 --- [gc] c.e.cart.Metrics : heap usage 243Mi of 256Mi",
]

PYTHON_TO_POSTGRES = [
    "INFO:     Started server process [1]",
    "INFO:     Waiting for application startup.",
    "Traceback (most recent call last):",
    '  File "/app/orders/db.py", line 18, in connect',
    "    return psycopg2.connect(settings.database_url, connect_timeout=5)",
    '  File "/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", line 122, in connect',
    "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
    'psycopg2.OperationalError: connection to server at "postgres.shop.svc" (10.96.12.7), port 5432 '
    "failed: Connection refused",
    "ERROR:    Application startup failed. Exiting.",
]

GO_PANIC = [
    '{"level":"info","ts":1741946400.1,"msg":"serving","addr":":7070"}',
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f5b2a]",
    "",
    "goroutine 42 [running]:",
    "github.com/example/cart/internal/store.(*Store).Get(0x0, {0xc0001a4000, 0x24})",
    "\t/src/internal/store/store.go:57 +0x2a",
    "created by net/http.(*Server).Serve in goroutine 1",
    "\t/usr/local/go/src/net/http/server.go:3086 +0x4cc",
]

MISSING_ENV = [
    "2025-03-14T10:27:40Z starting cart 3.8.1",
    "2025-03-14T10:27:40Z FATAL environment variable CART_REDIS_URL is required but not set",
]

READ_ONLY = [
    "2025-03-14T10:27:40Z starting cart 3.8.1",
    "2025-03-14T10:27:40Z open /var/cache/cart/index.db: read-only file system",
]

HEALTHY_LOG = [
    "2025-03-14T10:27:40Z starting cart 3.8.1",
    "2025-03-14T10:27:41Z listening on :7070",
    "2025-03-14T10:28:41Z GET /healthz 200 1ms",
]


def terminated(
    exit_code: int, reason: str = "Error", *, started: str = "2025-03-14T10:27:31Z"
) -> dict[str, Any]:
    """A ``ContainerStateTerminated`` (``exitCode``, ``reason``, ``startedAt``, ``finishedAt``)."""
    return {
        "terminated": {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": started}
    }


CRASH_LOOP_STATE = {
    "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=cart"}
}
RUNNING_STATE = {"running": {"startedAt": "2025-03-14T10:27:40Z"}}


def pod(
    *,
    name: str = f"{NEW_RS}-m2n4b",
    rs: str | None = NEW_RS,
    container: str = "cart",
    memory_limit: str | None = "256Mi",
    state: dict[str, Any] | None = None,
    last_state: dict[str, Any] | None = None,
    restarts: int = 0,
    ready: bool = True,
    image: str = "registry.example.com/shop/cart:3.8.1",
    scheduled: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``v1/Pod`` of Deployment ``cart`` (through ReplicaSet ``rs``) on node ``worker-3``."""
    limits: dict[str, str] = {"cpu": "1"} | ({"memory": memory_limit} if memory_limit else {})
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": f"uid-{name}", "labels": {"app": "cart"}}
    if rs is not None:
        meta["labels"]["pod-template-hash"] = rs.rsplit("-", 1)[1]
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs,
                "uid": f"uid-{rs}",
                "controller": True,
            }
        ]
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    conditions.append(scheduled or {"type": "PodScheduled", "status": "True"})
    status: dict[str, Any] = {"phase": "Running", "conditions": conditions}
    if scheduled is None:
        status["containerStatuses"] = [
            {
                "name": container,
                "image": image,
                "ready": ready,
                "restartCount": restarts,
                "state": state or RUNNING_STATE,
                "lastState": last_state or {},
            }
        ]
    else:
        status["phase"] = "Pending"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": None if scheduled else "worker-3",
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": limits},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 7070}, "timeoutSeconds": 1},
                }
            ],
        },
        "status": status,
    }


def event(
    reason: str,
    message: str,
    *,
    name: str = f"{NEW_RS}-m2n4b",
    kind: str = "Pod",
    type_: str = "Warning",
    count: int = 1,
    first: str = "2025-03-14T10:20:00Z",
    last: str = "2025-03-14T10:29:25Z",
) -> dict[str, Any]:
    """A core/v1 ``Event`` about ``kind/name`` (as ``kubectl get events -o json`` lists them)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.182c7c0f1a3b5d70", "namespace": NS},
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": name, "namespace": NS},
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "source": {"component": "kubelet", "host": "worker-3"},
    }


def replicaset(name: str, *, revision: int, image: str, created: str, available: int) -> dict[str, Any]:
    """An ``apps/v1/ReplicaSet`` of Deployment ``cart`` with its revision annotation."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "cart",
                    "uid": "uid-cart",
                    "controller": True,
                }
            ],
        },
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "cart", "image": image}]}}},
        "status": {"replicas": 3, "availableReplicas": available},
    }


def rollout() -> list[dict[str, Any]]:
    """Revisions 14 (old, serving) and 15 (new, created at :data:`ROLLOUT_AT`), newest first."""
    return [
        replicaset(
            NEW_RS, revision=15, image="registry.example.com/shop/cart:3.8.1", created=ROLLOUT_AT, available=0
        ),
        replicaset(
            OLD_RS,
            revision=14,
            image="registry.example.com/shop/cart:3.8.0",
            created="2025-03-01T08:00:00Z",
            available=3,
        ),
    ]


def deployment(*, stuck: bool = True, available: int = 2) -> dict[str, Any]:
    """``apps/v1/Deployment shop/cart`` at revision 15, optionally past its progress deadline."""
    progressing = (
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": f'ReplicaSet "{NEW_RS}" has timed out progressing.'}
        if stuck
        else {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    )  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cart", "namespace": NS, "uid": "uid-cart",
                     "annotations": {"deployment.kubernetes.io/revision": "15"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "cart", "image": "registry.example.com/shop/cart:3.8.1",
             "resources": {"limits": {"memory": "256Mi"}}}]}}},
        "status": {
            "replicas": 4, "updatedReplicas": 1, "availableReplicas": available,
            "conditions": [{"type": "Available", "status": "True" if available else "False"}, progressing],
        },
    }  # fmt: skip


def node(*, ready: str = "True", pressure: tuple[str, ...] = ()) -> dict[str, Any]:
    """A ``v1/Node worker-3`` with its ``Ready`` and pressure conditions."""
    conditions = [
        {"type": kind, "status": "True" if kind in pressure else "False", "reason": f"KubeletHas{kind}",
         "message": f"kubelet has {kind}" if kind in pressure else ""}
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]  # fmt: skip
    ready_condition = {"type": "Ready", "status": ready, "lastTransitionTime": "2025-03-14T10:02:11Z"}
    if ready != "True":
        ready_condition |= {
            "reason": "KubeletNotReady",
            "message": "PLEG is not healthy: pleg was last seen active 3m0s ago",
        }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-3", "uid": "uid-worker-3"},
        "status": {"conditions": [*conditions, ready_condition]},
    }


def hpa() -> dict[str, Any]:
    """An ``autoscaling/v2`` HPA of Deployment ``cart`` pinned at ``maxReplicas`` 10."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "cart", "namespace": NS},
        "spec": {"maxReplicas": 10, "minReplicas": 2,
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}},
        "status": {"currentReplicas": 10, "desiredReplicas": 14, "conditions": [
            {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
             "message": "the desired replica count is more than the maximum replica count"}]},
    }  # fmt: skip


def pvc() -> dict[str, Any]:
    """A ``v1/PersistentVolumeClaim shop/cart-data`` stuck in ``Pending``."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "cart-data", "namespace": NS},
        "spec": {"storageClassName": "fast-ssd", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "10Gi"}}},
        "status": {"phase": "Pending"},
    }  # fmt: skip
