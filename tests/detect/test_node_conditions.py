"""Node detector: NodeCondition ``Ready`` False/Unknown and the three pressure conditions.

The node is its own subject (cluster-scoped, ``Node/-/<name>``); readiness loss is critical,
pressure a warning with one event per condition; cordoning neither hides nor causes a report.
"""

from __future__ import annotations

import pytest

from aiops.events.model import EventType, Severity
from aiops.sources import kubewatch
from aiops.sources.kubewatch import node
from tests.detect.helpers import NOW, condition, load, ref


def test_a_not_ready_node_is_critical_with_the_kubelet_reason() -> None:
    [event] = kubewatch.detect(load("node/not_ready"), now=NOW)

    assert event.type is EventType.NODE_NOT_READY
    assert event.severity is Severity.CRITICAL
    assert event.resource == ref("v1", "Node", None, "worker-2", "2d4f6a8c-0e2b-4d4f-8a8c-0e2b4d6f8a0c")
    assert event.owner is None
    assert event.dedup_key == "node_not_ready:Node/-/worker-2"
    assert event.reason == "KubeletNotReady"
    assert event.message.startswith("container runtime network not ready")
    assert event.details == {"condition": "Ready", "status": "False", "unschedulable": False}
    assert event.labels["kubernetes.io/hostname"] == "worker-2"


def test_a_silent_cordoned_node_still_reports_not_ready_and_no_unknown_pressure() -> None:
    [event] = kubewatch.detect(load("node/unknown_cordoned"), now=NOW)

    assert event.type is EventType.NODE_NOT_READY
    assert event.reason == "NodeStatusUnknown"
    assert event.message == "Kubelet stopped posting node status."
    assert event.details == {"condition": "Ready", "status": "Unknown", "unschedulable": True}
    assert event.dedup_key == "node_not_ready:Node/-/worker-3"


def test_each_pressure_condition_yields_one_event() -> None:
    events = node.detect_node(load("node/pressure"), now=NOW)

    assert [(e.type, e.details["condition"], e.reason) for e in events] == [
        (EventType.NODE_PRESSURE, "MemoryPressure", "KubeletHasInsufficientMemory"),
        (EventType.NODE_PRESSURE, "DiskPressure", "KubeletHasDiskPressure"),
    ]
    assert {e.severity for e in events} == {Severity.WARNING}
    assert {e.dedup_key for e in events} == {"node_pressure:Node/-/worker-4"}


def test_pid_pressure_on_a_not_ready_node_yields_both() -> None:
    body = load("node/not_ready")
    condition(body, "PIDPressure").update(status="True", reason="KubeletHasInsufficientPID")

    events = kubewatch.detect(body, now=NOW)

    assert [(e.type, e.details["condition"]) for e in events] == [
        (EventType.NODE_NOT_READY, "Ready"),
        (EventType.NODE_PRESSURE, "PIDPressure"),
    ]


@pytest.mark.parametrize("patch", ["none", "cordoned", "registering"])
def test_healthy_nodes(patch: str) -> None:
    body = load("node/healthy")
    if patch == "cordoned":
        body["spec"]["unschedulable"] = True
    if patch == "registering":
        body["status"]["conditions"] = []

    assert kubewatch.detect(body, now=NOW) == []
