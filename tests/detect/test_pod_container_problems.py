"""Pod detector, container level: crash loops, OOM kills, image pulls and config errors.

Each container (and init container) status is read on its own; the events carry the container,
its restart count and the last termination, and fold onto the pod's workload.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aiops.events.model import EventSource, EventType, Severity
from aiops.sources import kubewatch
from aiops.sources.kubewatch import pod
from tests.detect.helpers import (
    CART,
    CHECKOUT,
    NIGHTLY_JOB,
    NODE_EXPORTER,
    NOW,
    PAYMENTS,
    POSTGRES,
    load,
    ref,
)


def _waiting(body: dict[str, Any]) -> dict[str, Any]:
    waiting: dict[str, Any] = body["status"]["containerStatuses"][0]["state"]["waiting"]
    return waiting


def test_crash_loop_names_the_container_and_its_last_exit() -> None:
    [event] = kubewatch.detect(load("pod/crash_loop"), now=NOW)

    assert event.type is EventType.CRASH_LOOP
    assert event.source is EventSource.KUBERNETES
    assert event.severity is Severity.WARNING
    assert event.resource == ref(
        "v1", "Pod", "shop", "checkout-6d8f9c7b5d-q9w4z", "7e3a1b9c-2d4f-4a6b-8c0e-1f3a5b7c9d2e"
    )
    assert event.owner == CHECKOUT
    assert event.dedup_key == "crash_loop:Deployment/shop/checkout"
    assert event.reason == "CrashLoopBackOff"
    assert event.message.startswith("back-off 5m0s restarting failed container=checkout")
    assert event.details == {
        "container": "checkout",
        "init_container": False,
        "restart_count": 7,
        "exit_code": 1,
        "last_reason": "Error",
        "node": "worker-1",
    }
    assert event.labels == {
        "app.kubernetes.io/name": "checkout",
        "app.kubernetes.io/part-of": "shop",
        "pod-template-hash": "6d8f9c7b5d",
    }
    assert event.observed_at == NOW


def test_crash_loop_carries_the_kill_signal_when_the_runtime_reports_one() -> None:
    body = load("pod/crash_loop")
    last = body["status"]["containerStatuses"][0]["lastState"]["terminated"]
    last.update(exitCode=139, reason="Error", signal=11)

    [event] = pod.detect_pod(body, now=NOW)

    assert event.details["exit_code"] == 139
    assert event.details["signal"] == 11


def test_an_oom_killed_container_in_crash_loop_yields_both_events() -> None:
    events = kubewatch.detect(load("pod/crash_loop_oom"), now=NOW)

    assert [e.type for e in events] == [EventType.CRASH_LOOP, EventType.OOM_KILLED]
    crash, oom = events
    assert crash.details["last_reason"] == "OOMKilled"
    assert crash.dedup_key == "crash_loop:Deployment/shop/cart"
    assert oom.owner == CART
    assert oom.dedup_key == "oom_killed:Deployment/shop/cart"
    assert oom.reason == "OOMKilled"
    assert oom.details == {
        "container": "cart",
        "init_container": False,
        "restart_count": 5,
        "exit_code": 137,
        "memory_limit": "256Mi",
        "node": "worker-3",
    }


def test_a_crash_looping_oom_container_stays_oom_killed_however_old_the_kill() -> None:
    events = kubewatch.detect(load("pod/crash_loop_oom"), now=NOW + timedelta(days=1))

    assert [e.type for e in events] == [EventType.CRASH_LOOP, EventType.OOM_KILLED]


def test_a_recovered_container_reports_its_oom_kill_while_it_is_recent() -> None:
    body = load("pod/oom_recovered")  # OOM-killed at 10:25:12, running and ready since 10:25:13

    [event] = kubewatch.detect(body, now=NOW)

    assert event.type is EventType.OOM_KILLED
    assert event.owner == ref(
        "apps/v1", "StatefulSet", "search", "search-indexer", "8f0a2c4e-6b8d-4f0a-9c4e-6b8d0f2a4c6e"
    )
    assert event.dedup_key == "oom_killed:StatefulSet/search/search-indexer"
    assert event.details["restart_count"] == 1
    assert event.details["memory_limit"] == "2Gi"
    assert event.message == "container indexer was killed for exceeding its memory limit"


@pytest.mark.parametrize(
    ("after_kill_seconds", "reported"),
    [(0, True), (pod.OOM_RECENT_SECONDS, True), (pod.OOM_RECENT_SECONDS + 1, False), (86400, False)],
)
def test_an_old_oom_kill_of_a_running_container_has_healed(after_kill_seconds: float, reported: bool) -> None:
    killed_at = NOW.replace(minute=25, second=12)

    events = kubewatch.detect(
        load("pod/oom_recovered"), now=killed_at + timedelta(seconds=after_kill_seconds)
    )

    assert bool(events) is reported


def test_a_job_pod_terminated_by_oom_is_reported_against_its_job() -> None:
    [event] = kubewatch.detect(load("pod/oom_job_pod"), now=NOW)

    assert event.type is EventType.OOM_KILLED
    assert event.owner == NIGHTLY_JOB
    assert event.dedup_key == "oom_killed:Job/analytics/nightly-report-28971360"
    assert event.details["exit_code"] == 137
    assert event.details["memory_limit"] == "1Gi"


def test_an_oom_kill_without_a_finish_time_is_reported() -> None:
    body = load("pod/oom_recovered")
    del body["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"]

    assert [e.type for e in kubewatch.detect(body, now=NOW + timedelta(days=3))] == [EventType.OOM_KILLED]


def test_an_init_container_crash_loop_is_reported_and_flagged() -> None:
    [event] = kubewatch.detect(load("pod/init_crash_loop"), now=NOW)

    assert event.type is EventType.CRASH_LOOP
    assert event.owner == POSTGRES
    assert event.dedup_key == "crash_loop:StatefulSet/orders/postgres"
    assert event.details == {
        "container": "init-permissions",
        "init_container": True,
        "restart_count": 9,
        "exit_code": 1,
        "last_reason": "Error",
        "node": "worker-2",
    }


def test_each_crash_looping_container_yields_its_own_event() -> None:
    body = load("pod/crash_loop")
    sidecar = body["status"]["containerStatuses"][1]
    sidecar.update(
        ready=False, restartCount=3, state={"waiting": {"reason": "CrashLoopBackOff", "message": "x"}}
    )

    events = kubewatch.detect(body, now=NOW)

    assert [(e.type, e.details["container"]) for e in events] == [
        (EventType.CRASH_LOOP, "checkout"),
        (EventType.CRASH_LOOP, "metrics"),
    ]
    assert {e.dedup_key for e in events} == {"crash_loop:Deployment/shop/checkout"}


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"])
def test_image_pull_failures(reason: str) -> None:
    body = load("pod/image_pull_backoff")
    _waiting(body)["reason"] = reason

    [event] = kubewatch.detect(body, now=NOW)

    assert event.type is EventType.IMAGE_PULL_BACKOFF
    assert event.reason == reason
    assert event.severity is Severity.WARNING
    assert event.owner == PAYMENTS
    assert event.dedup_key == "image_pull_backoff:Deployment/shop/payments"
    assert event.message == 'Back-off pulling image "registry.example.com/shop/payments:v2.3.1-rc"'
    assert event.details == {
        "container": "payments",
        "init_container": False,
        "restart_count": 0,
        "image": "registry.example.com/shop/payments:v2.3.1-rc",
        "node": "worker-3",
    }


@pytest.mark.parametrize("reason", ["CreateContainerConfigError", "CreateContainerError"])
def test_container_config_errors(reason: str) -> None:
    body = load("pod/create_container_config_error")
    _waiting(body)["reason"] = reason

    [event] = kubewatch.detect(body, now=NOW)

    assert event.type is EventType.CREATE_CONTAINER_CONFIG_ERROR
    assert event.reason == reason
    assert event.message == 'secret "exporter-credentials" not found'
    assert event.owner == NODE_EXPORTER
    assert event.dedup_key == "create_container_config_error:DaemonSet/monitoring/node-exporter"
    assert event.details == {
        "container": "node-exporter",
        "init_container": False,
        "restart_count": 0,
        "node": "worker-1",
    }


def test_a_crash_looping_bare_pod_is_critical_because_nothing_else_serves() -> None:
    [event] = kubewatch.detect(load("pod/bare_crash_loop"), now=NOW)

    assert event.type is EventType.CRASH_LOOP
    assert event.severity is Severity.CRITICAL
    assert event.owner is None
    assert event.dedup_key == "crash_loop:Pod/default/debug-shell"
    assert event.details["exit_code"] == 3


@pytest.mark.parametrize(
    "waiting_reason", ["ContainerCreating", "PodInitializing", "ErrImageNeverPull", "RunContainerError"]
)
def test_other_waiting_reasons_are_not_classified(waiting_reason: str) -> None:
    body = load("pod/crash_loop")
    _waiting(body)["reason"] = waiting_reason

    assert kubewatch.detect(body, now=NOW) == []
