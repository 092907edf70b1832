"""Pod detector, pod level: eviction, unschedulable pods, and the states that are not problems.

Covers what the pod status alone can prove (PodStatus phase/reason, the PodScheduled condition)
and what it cannot: a not-ready running container is not a probe failure, ContainerCreating is
not a mount failure (both come only from Events), and a terminating pod reports nothing.
"""

from __future__ import annotations

import pytest

from aiops.events.model import EventType, Severity
from aiops.sources import kubewatch
from tests.detect.helpers import CHECKOUT, GPU_WORKER, NOW, load, ref


def test_an_evicted_pod_is_reported_with_the_kubelet_message() -> None:
    [event] = kubewatch.detect(load("pod/evicted"), now=NOW)

    assert event.type is EventType.POD_EVICTED
    assert event.severity is Severity.WARNING
    assert event.resource == ref(
        "v1", "Pod", "shop", "checkout-6d8f9c7b5d-z5t8r", "d2f4a6c8-e0b2-4d4f-8a8c-0e2b4d6f8a0c"
    )
    assert event.owner == CHECKOUT
    assert event.dedup_key == "pod_evicted:Deployment/shop/checkout"
    assert event.reason == "Evicted"
    assert event.message.startswith("The node was low on resource: memory.")
    assert event.details == {"node": "worker-3"}


def test_a_failed_pod_that_was_not_evicted_is_not_an_eviction() -> None:
    body = load("pod/evicted")
    body["status"]["reason"] = "NodeLost"

    assert kubewatch.detect(body, now=NOW) == []


def test_an_unschedulable_pod_carries_the_scheduler_message() -> None:
    [event] = kubewatch.detect(load("pod/unschedulable"), now=NOW)

    assert event.type is EventType.POD_UNSCHEDULABLE
    assert event.owner == GPU_WORKER
    assert event.dedup_key == "pod_unschedulable:Deployment/ml/gpu-worker"
    assert event.reason == "Unschedulable"
    assert event.message.startswith("0/5 nodes are available:")
    assert event.details == {"condition": "PodScheduled", "node": None}


def test_a_scheduling_gated_pod_is_not_unschedulable() -> None:
    body = load("pod/unschedulable")
    body["status"]["conditions"][0].update(
        reason="SchedulingGated", message="Scheduling is blocked due to non-empty scheduling gates"
    )

    assert kubewatch.detect(body, now=NOW) == []


def test_a_terminating_pod_reports_nothing_even_while_crash_looping() -> None:
    assert kubewatch.detect(load("pod/terminating"), now=NOW) == []


@pytest.mark.parametrize(
    "name",
    [
        "pod/healthy",
        "pod/container_creating",  # volume_mount_failed comes only from FailedMount Events
        "pod/running_not_ready",  # probe_failure comes only from Unhealthy Events
    ],
)
def test_pods_that_show_no_problem(name: str) -> None:
    assert kubewatch.detect(load(name), now=NOW) == []


def test_a_pending_pod_without_status_details_is_not_a_problem() -> None:
    body = load("pod/unschedulable")
    body["status"] = {"phase": "Pending", "qosClass": "Burstable"}

    assert kubewatch.detect(body, now=NOW) == []
