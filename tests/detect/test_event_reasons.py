"""Event detector: which core/v1 (and events.k8s.io/v1) Event reasons become which problems.

The resource is the Event's involvedObject (uid included), the owner is left unknown, labels are
empty, and details say the event came ``via`` an Event with its repeat count. Unrelated reasons,
Normal events other than NodeNotReady, and BackOff messages that are not about containers or
images yield nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops.events.model import EventType, ObjectRef, Severity
from aiops.sources import kubewatch
from aiops.sources.kubewatch import event as event_detector
from tests.detect.helpers import NOW, load, ref

CHECKOUT_POD = ref("v1", "Pod", "shop", "checkout-6d8f9c7b5d-q9w4z", "7e3a1b9c-2d4f-4a6b-8c0e-1f3a5b7c9d2e")
PAYMENTS_POD = ref("v1", "Pod", "shop", "payments-5f7d8c9b4-h8j3k", "b4d6f8a0-c2e4-4b6d-8f0a-2c4e6b8d0f2a")
NOT_READY_POD = ref("v1", "Pod", "shop", "checkout-6d8f9c7b5d-k4v7d", "2e4b6d8f-0a2c-4e4b-8d8f-0a2c4e6b8d0f")
POSTGRES_2 = ref("v1", "Pod", "orders", "postgres-2", "5c7e9b1d-3f5a-4c7e-9b1d-3f5a7c9e1b3d")
GPU_POD = ref("v1", "Pod", "ml", "gpu-worker-6c4b8d7f9-p2r5t", "e8b0d2f4-a6c8-4e0b-9d4f-6a8c0e2b4d6f")
EVICTED_POD = ref("v1", "Pod", "shop", "checkout-6d8f9c7b5d-z5t8r", "d2f4a6c8-e0b2-4d4f-8a8c-0e2b4d6f8a0c")
SEARCH_POD = ref("v1", "Pod", "search", "search-indexer-0", "a1c3e5b7-d9f1-4a3c-8e7b-9d1f3a5c7e9b")
PAYMENTS_RS = ref(
    "apps/v1", "ReplicaSet", "shop", "payments-5f7d8c9b4", "e6b8d0f2-a4c6-4e8b-9d2f-4a6c8e0b2d4f"
)
NIGHTLY_JOB = ref(
    "batch/v1", "Job", "analytics", "nightly-report-28971360", "4d6f8a0c-2e4b-4d6f-8a0c-2e4b6d8f0a2c"
)
WORKER_3 = ref("v1", "Node", None, "worker-3", "4f6a8c0e-2b4d-4f6a-8c0e-2b4d6f8a0c2e")
CART_POD = ref("v1", "Pod", "shop", "cart-7b9c5d4f8-r6t1y", "3d5f7a9c-1e3b-4d5f-9a9c-1e3b5d7f9a1d")


@pytest.mark.parametrize(
    ("name", "type_", "resource", "details"),
    [
        pytest.param(
            "event/backoff_crash",
            EventType.CRASH_LOOP,
            CHECKOUT_POD,
            {"event_count": 31, "node": "worker-1", "component": "kubelet", "container": "checkout"},
            id="BackOff-restarting",
        ),
        pytest.param(
            "event/backoff_image",
            EventType.IMAGE_PULL_BACKOFF,
            PAYMENTS_POD,
            {"event_count": 58, "node": "worker-3", "component": "kubelet", "container": "payments"},
            id="BackOff-pulling",
        ),
        pytest.param(
            "event/unhealthy",
            EventType.PROBE_FAILURE,
            NOT_READY_POD,
            {
                "event_count": 14,
                "node": "worker-2",
                "component": "kubelet",
                "container": "checkout",
                "probe": "Readiness",
            },
            id="Unhealthy",
        ),
        pytest.param(
            "event/events_v1_unhealthy",
            EventType.PROBE_FAILURE,
            SEARCH_POD,
            {
                "event_count": 9,
                "node": "worker-4",
                "component": "kubelet",
                "container": "indexer",
                "probe": "Liveness",
            },
            id="Unhealthy-events.k8s.io/v1",
        ),
        pytest.param(
            "event/failed_mount",
            EventType.VOLUME_MOUNT_FAILED,
            POSTGRES_2,
            {"event_count": 4, "node": "worker-4", "component": "kubelet"},
            id="FailedMount",
        ),
        pytest.param(
            "event/failed_attach",
            EventType.VOLUME_MOUNT_FAILED,
            POSTGRES_2,
            {"event_count": 1, "node": None, "component": "attachdetach-controller"},
            id="FailedAttachVolume",
        ),
        pytest.param(
            "event/failed_scheduling",
            EventType.POD_UNSCHEDULABLE,
            GPU_POD,
            {"event_count": 6, "node": None, "component": "default-scheduler"},
            id="FailedScheduling-series",
        ),
        pytest.param(
            "event/failed_create_rs",
            EventType.REPLICATION_FAILURE,
            PAYMENTS_RS,
            {"event_count": 19, "node": None, "component": "replicaset-controller"},
            id="FailedCreate-ReplicaSet",
        ),
        pytest.param(
            "event/failed_create_job",
            EventType.REPLICATION_FAILURE,
            NIGHTLY_JOB,
            {"event_count": 3, "node": None, "component": "job-controller"},
            id="FailedCreate-Job",
        ),
        pytest.param(
            "event/evicted",
            EventType.POD_EVICTED,
            EVICTED_POD,
            {"event_count": 1, "node": "worker-3", "component": "kubelet"},
            id="Evicted",
        ),
        pytest.param(
            "event/node_not_ready_node",
            EventType.NODE_NOT_READY,
            WORKER_3,
            {"event_count": 1, "node": None, "component": "node-controller"},
            id="NodeNotReady-Node",
        ),
        pytest.param(
            "event/node_not_ready_pod",
            EventType.NODE_NOT_READY,
            CART_POD,
            {"event_count": 1, "node": None, "component": "node-controller"},
            id="NodeNotReady-Pod",
        ),
    ],
)
def test_reasons_that_report_a_problem(
    name: str, type_: EventType, resource: ObjectRef, details: dict[str, Any]
) -> None:
    body = load(name)

    [event] = kubewatch.detect(body, now=NOW)

    assert event.type is type_
    assert event.resource == resource
    assert event.owner is None
    assert event.labels == {}
    assert event.reason == body["reason"]
    assert event.message == (body.get("message") or body.get("note"))
    assert event.details == {"via": "event", **details}
    assert event.dedup_key == f"{type_.value}:{resource.key}"
    assert event.observed_at == NOW


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("event/node_not_ready_node", Severity.CRITICAL),
        ("event/node_not_ready_pod", Severity.WARNING),
        ("event/backoff_crash", Severity.WARNING),
        ("event/failed_create_rs", Severity.WARNING),
    ],
)
def test_severity(name: str, severity: Severity) -> None:
    [event] = kubewatch.detect(load(name), now=NOW)

    assert event.severity is severity


def test_a_node_event_is_cluster_scoped_whatever_the_event_namespace() -> None:
    body = load("event/node_not_ready_node")
    body["involvedObject"]["namespace"] = "default"

    [event] = kubewatch.detect(body, now=NOW)

    assert event.resource.namespace is None
    assert event.dedup_key == "node_not_ready:Node/-/worker-3"


def test_a_statefulset_failing_to_create_pods_is_a_replication_failure() -> None:
    body = load("event/failed_create_rs")
    body["involvedObject"].update(kind="StatefulSet", name="postgres")

    [event] = kubewatch.detect(body, now=NOW)

    assert event.type is EventType.REPLICATION_FAILURE
    assert event.dedup_key == "replication_failure:StatefulSet/shop/postgres"


def test_the_repeat_count_defaults_to_one() -> None:
    body = load("event/backoff_crash")
    del body["count"]

    [event] = kubewatch.detect(body, now=NOW)

    assert event.details["event_count"] == 1


def _patched(name: str, **changes: Any) -> dict[str, Any]:
    body = load(name)
    for key, value in changes.items():
        if key == "involved_kind":
            body["involvedObject"]["kind"] = value
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(load("event/scheduled"), id="Normal-Scheduled"),
        pytest.param(load("event/failed_pull"), id="Warning-Failed-pull"),
        pytest.param(_patched("event/unhealthy", type="Normal"), id="Normal-Unhealthy"),
        pytest.param(
            _patched("event/backoff_crash", message="Back-off 10s restarting the watch"),
            id="BackOff-unrelated",
        ),
        pytest.param(_patched("event/failed_create_job", involved_kind="CronJob"), id="FailedCreate-CronJob"),
        pytest.param(_patched("event/evicted", reason="Killing", type="Normal"), id="Normal-Killing"),
        pytest.param(
            _patched("event/failed_mount", reason="SuccessfulMountVolume", type="Normal"), id="Normal-Mount"
        ),
    ],
)
def test_other_events_are_not_problems(body: dict[str, Any]) -> None:
    assert kubewatch.detect(body, now=NOW) == []


@pytest.mark.parametrize(
    ("message", "probe"),
    [
        ("Liveness probe failed: HTTP probe failed with statuscode: 500", "Liveness"),
        ("Readiness probe errored: rpc error: code = Unknown desc = container not running", "Readiness"),
        ("Startup probe failed: dial tcp 10.244.1.5:8080: connect: connection refused", "Startup"),
        ("probe failed for an unknown reason", None),
    ],
)
def test_the_probe_kind_is_read_from_the_message(message: str, probe: str | None) -> None:
    [event] = event_detector.detect_event(_patched("event/unhealthy", message=message), now=NOW)

    assert event.details["probe"] == probe
