"""The lenient readers of :mod:`aiops.bodies` on bodies shaped after the Kubernetes API reference.

Pod Ready (PodCondition), Node Ready/NotReady (NodeCondition, including ``Unknown`` and a missing
condition), the controller ownerReference (``controller: true``), container states and
restart counts, on complete, partial and malformed bodies. Selector matching has its own module.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops import bodies


def _pod(
    conditions: list[Any] | None = None, *, deleting: bool = False, statuses: Any = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web-1", "namespace": "shop", "uid": "u1"}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    status: dict[str, Any] = {"phase": "Running"}
    if conditions is not None:
        status["conditions"] = conditions
    if statuses is not None:
        status["containerStatuses"] = statuses
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}


def _node(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": "n1"}, "status": {"conditions": list(conditions)}}


READY = {"type": "Ready", "status": "True"}


@pytest.mark.parametrize(
    ("body", "ready"),
    [
        (_pod([{"type": "PodScheduled", "status": "True"}, READY]), True),
        (_pod([{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]), False),
        (_pod([{"type": "Ready", "status": "Unknown"}]), False),
        (_pod([{"type": "Ready"}]), False),  # no status
        (_pod([{"type": "ContainersReady", "status": "True"}]), False),  # another type
        (_pod([]), False),
        (_pod(None), False),  # no conditions
        ({"kind": "Pod", "metadata": {"name": "x"}}, False),  # no status at all
        ({"kind": "Pod", "status": None}, False),
        ({"kind": "Pod", "status": {"conditions": "Ready"}}, False),  # wrong type
        (_pod(["Ready", None, READY]), True),  # junk entries skipped
    ],
)
def test_pod_ready_is_the_ready_condition_being_true(body: dict[str, Any], ready: bool) -> None:
    assert bodies.pod_ready(body) is ready


@pytest.mark.parametrize(
    ("phase", "finished"),
    [
        ("Succeeded", True),
        ("Failed", True),
        ("Running", False),
        ("Pending", False),
        ("Unknown", False),
        (None, False),
    ],
)
def test_a_pod_has_finished_in_phase_succeeded_or_failed(phase: str | None, finished: bool) -> None:
    assert bodies.pod_finished({"kind": "Pod", "status": {"phase": phase}}) is finished


def test_a_mirror_pod_carries_the_kubelet_annotation() -> None:
    mirror = {"kind": "Pod", "metadata": {"annotations": {"kubernetes.io/config.mirror": "a5b7d9f1"}}}
    assert bodies.mirror_pod(mirror)
    assert not bodies.mirror_pod({"kind": "Pod", "metadata": {"annotations": {"other": "x"}}})
    assert not bodies.mirror_pod({"kind": "Pod"})


def test_a_terminating_pod_is_ready_unless_terminating_pods_are_excluded() -> None:
    pod = _pod([READY], deleting=True)
    assert bodies.terminating(pod)
    assert bodies.pod_ready(pod)
    assert not bodies.pod_ready(pod, exclude_terminating=True)
    assert bodies.pod_ready(_pod([READY]), exclude_terminating=True)


@pytest.mark.parametrize(
    ("body", "ready", "not_ready"),
    [
        (_node(READY, {"type": "MemoryPressure", "status": "False"}), True, False),
        (_node({"type": "Ready", "status": "False", "reason": "KubeletNotReady"}), False, True),
        (_node({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}), False, True),
        # No Ready condition: not Ready, yet nothing proves it NotReady either.
        (_node({"type": "DiskPressure", "status": "True"}), False, False),
        ({"kind": "Node", "metadata": {"name": "n1"}}, False, False),
        (_node({"type": "Ready"}), False, False),
    ],
)
def test_node_ready_and_node_not_ready_differ_on_a_missing_condition(
    body: dict[str, Any], ready: bool, not_ready: bool
) -> None:
    assert bodies.node_ready(body) is ready
    assert bodies.node_not_ready(body) is not_ready


def test_a_repeated_condition_type_reads_its_last_entry() -> None:
    found = [{"type": "Ready", "status": "True"}, {"type": "Ready", "status": "Unknown", "reason": "late"}]
    assert bodies.condition(found, "Ready") == {"type": "Ready", "status": "Unknown", "reason": "late"}
    assert bodies.failing_ready(found) == found[1]
    assert bodies.condition(found, "PodScheduled") is None
    assert bodies.failing_ready([READY]) is None


def _owned(*refs: Any) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": "p", "ownerReferences": list(refs)}}


RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c", "uid": "rs1"}
CTRL = {**RS, "controller": True, "blockOwnerDeletion": True}
OTHER = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "cm1"}


def test_only_the_reference_with_controller_true_is_the_controller() -> None:
    body = _owned(OTHER, {**OTHER, "name": "x", "controller": False}, CTRL)
    assert bodies.controller_owner(body) == CTRL
    assert bodies.primary_owner(body) == CTRL
    assert len(bodies.owner_references(body)) == 3


def test_without_a_controller_the_primary_owner_is_the_first_reference() -> None:
    body = _owned(OTHER, RS)
    assert bodies.controller_owner(body) is None
    assert bodies.primary_owner(body) == OTHER


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Pod"},
        {"kind": "Pod", "metadata": None},
        {"kind": "Pod", "metadata": {"ownerReferences": None}},
        {"kind": "Pod", "metadata": {"ownerReferences": {"kind": "ReplicaSet"}}},
        _owned("ReplicaSet", None, {**RS, "controller": "true"}),  # only the boolean counts
    ],
)
def test_no_owner_is_read_from_missing_or_malformed_references(body: dict[str, Any]) -> None:
    assert bodies.controller_owner(body) is None


def test_container_statuses_list_init_containers_first() -> None:
    pod = _pod(statuses=[{"name": "app", "restartCount": 3}, "junk"])
    pod["status"]["initContainerStatuses"] = [{"name": "init", "restartCount": 0}]
    assert [s.get("name") for s in bodies.container_statuses(pod)] == ["init", "app"]
    assert [s.get("name") for s in bodies.container_statuses(pod, init=False)] == ["app"]
    assert bodies.container_statuses({"kind": "Pod"}) == []


def test_container_states_and_restart_counts() -> None:
    status = {
        "name": "app",
        "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {
            "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2024-05-01T10:00:00Z"}
        },
    }
    assert bodies.waiting(status) == {"reason": "CrashLoopBackOff", "message": "back-off 40s"}
    assert bodies.last_terminated(status)["exitCode"] == 137
    assert bodies.state_terminated(status) == {}
    assert bodies.restart_count(status) == 4
    running = {"name": "app", "state": {"running": {"startedAt": "2024-05-01T10:01:00Z"}}, "lastState": {}}
    assert bodies.waiting(running) == {} and bodies.last_terminated(running) == {}
    assert bodies.restart_count(running) == 0
    for bad in (None, True, "4", 4.0):  # absent, or not an integer (a boolean is not one)
        assert bodies.restart_count({"restartCount": bad}) == 0


def test_labels_and_annotations_are_string_maps_copied_out() -> None:
    labels: dict[str, Any] = {"app": "web", "n": 1}
    pod = {"metadata": {"labels": labels, "annotations": {"a": "b"}}}
    found = bodies.labels_of(pod)
    assert found == {"app": "web"}
    found["x"] = "y"
    assert "x" not in labels
    assert bodies.annotations_of(pod) == {"a": "b"}
    assert bodies.labels_of({}) == {} and bodies.annotations_of({"metadata": {"annotations": None}}) == {}
