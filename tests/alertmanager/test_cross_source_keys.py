"""One problem, one key: an alert and the watch detectors agree on the dedup key.

The watch side runs the real detectors (``aiops.sources.kubewatch.detect``) on the kubectl JSON
fixtures of ``tests/detect/fixtures``; the alert side converts the matching kubernetes-mixin
alert. A pod alert whose labels do not prove the pod's workload keys on the Pod, and the
pipeline folds it through its owner index (``aiops.sources.kubewatch.owner_index.OwnerIndex``,
filled from the pod watch) exactly as it folds pod Events: :func:`fold` is that step
(``Pipeline._with_owner``).
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops.events import model
from aiops.sources import alertmanager, kubewatch
from aiops.sources.kubewatch.owner_index import OwnerIndex
from tests.alertmanager.helpers import KSM_TARGET, alert, payload
from tests.detect.helpers import NOW, load


def watch_keys(fixture: str) -> set[str]:
    return {event.dedup_key for event in kubewatch.detect(load(fixture), now=NOW)}


def alert_event(alertname: str, labels: dict[str, str], *, resolved: bool = False) -> model.ClusterEvent:
    [event] = alertmanager.convert(
        alertmanager.parse_payload(payload(alert(alertname, labels, resolved=resolved)))
    )
    return event


def fold(event: model.ClusterEvent, *watched: str) -> model.ClusterEvent:
    """The pipeline's owner fold for ownerless Pod/ReplicaSet events, over watched fixtures."""
    index = OwnerIndex()
    for fixture in watched:
        index.update(load(fixture), deleted=False)
    if event.owner is None and event.resource.kind in ("Pod", "ReplicaSet"):
        owner = index.lookup(event.resource.key)
        if owner is not None:
            return event.model_copy(update={"owner": owner})
    return event


def pod_labels(fixture: str, **extra: str) -> dict[str, str]:
    meta = load(fixture)["metadata"]
    return {**KSM_TARGET, "namespace": meta["namespace"], "pod": meta["name"], **extra}


# (watch fixture, alertname, alert labels): keys equal with no owner index at all.
DIRECT: list[tuple[str, str, dict[str, str]]] = [
    ("node/not_ready", "KubeNodeNotReady", {**KSM_TARGET, "node": "worker-2"}),
    ("node/unknown_cordoned", "KubeNodeUnreachable", {**KSM_TARGET, "node": "worker-3"}),
    ("node/pressure", "KubeNodePressure", {**KSM_TARGET, "node": "worker-4", "condition": "DiskPressure"}),
    ("node/pressure", "KubeletTooManyPods", {"instance": "10.0.0.14:10250", "node": "worker-4"}),
    (
        "deployment/rollout_stuck",
        "KubeDeploymentRolloutStuck",
        {**KSM_TARGET, "namespace": "shop", "deployment": "checkout"},
    ),
    (
        "deployment/replication_failure",
        "KubeDeploymentReplicasMismatch",
        {**KSM_TARGET, "namespace": "shop", "deployment": "payments"},
    ),
    (
        "replicaset/replica_failure",
        "KubeDeploymentReplicasMismatch",
        {**KSM_TARGET, "namespace": "shop", "deployment": "payments"},
    ),
    (
        "job/failed_deadline",
        "KubeJobFailed",
        {**KSM_TARGET, "namespace": "search", "job_name": "reindex-catalog"},
    ),
    (
        "pod/bare_crash_loop",
        "KubePodCrashLooping",
        pod_labels("pod/bare_crash_loop", container="debug-shell"),
    ),
    ("pod/static_mirror", "KubePodCrashLooping", pod_labels("pod/static_mirror", container="etcd")),
]


@pytest.mark.parametrize(("fixture", "alertname", "labels"), DIRECT, ids=[f"{a}-{f}" for f, a, _ in DIRECT])
def test_the_alert_key_equals_the_watch_key(fixture: str, alertname: str, labels: dict[str, str]) -> None:
    event = alert_event(alertname, labels)
    assert event.dedup_key in watch_keys(fixture)
    assert alert_event(alertname, labels, resolved=True).dedup_key == event.dedup_key


def test_kube_node_not_ready_for_worker_2_is_the_node_detectors_key_exactly() -> None:
    assert alert_event("KubeNodeNotReady", {"node": "worker-2"}).dedup_key == "node_not_ready:Node/-/worker-2"
    assert watch_keys("node/not_ready") == {"node_not_ready:Node/-/worker-2"}


# (pod fixture, alertname, extra labels): the alert names only the pod; the owner index folds it.
FOLDED: list[tuple[str, str, dict[str, str]]] = [
    ("pod/crash_loop", "KubePodCrashLooping", {"container": "checkout", "reason": "CrashLoopBackOff"}),
    ("pod/crash_loop_oom", "KubePodCrashLooping", {"container": "cart", "reason": "CrashLoopBackOff"}),
    ("pod/init_crash_loop", "KubePodCrashLooping", {"container": "init-permissions"}),
    (
        "pod/image_pull_backoff",
        "KubeContainerWaiting",
        {"container": "payments", "reason": "ImagePullBackOff"},
    ),
    (
        "pod/create_container_config_error",
        "KubeContainerWaiting",
        {"container": "node-exporter", "reason": "CreateContainerConfigError"},
    ),
]


@pytest.mark.parametrize(("fixture", "alertname", "extra"), FOLDED, ids=[f for f, _, _ in FOLDED])
def test_a_pod_alert_folds_onto_the_workload_like_pod_events(
    fixture: str, alertname: str, extra: dict[str, str]
) -> None:
    event = alert_event(alertname, pod_labels(fixture, **extra))
    assert event.owner is None  # the labels alone do not prove the workload
    assert event.dedup_key.endswith(f"Pod/{event.resource.namespace}/{event.resource.name}")
    assert fold(event, fixture).dedup_key in watch_keys(fixture)


def test_the_brief_example_crash_looping_pod_keys_on_the_pod_until_folded() -> None:
    event = alert_event("KubePodCrashLooping", {"namespace": "shop", "pod": "web-5d9c7b8f6-x2k4p"})
    assert event.type is model.EventType.CRASH_LOOP
    assert event.resource.key == "Pod/shop/web-5d9c7b8f6-x2k4p" and event.owner is None


# (pod fixture, labels that prove the owner): keys equal without the index.
PROVEN: list[tuple[str, dict[str, str]]] = [
    ("pod/crash_loop", {"deployment": "checkout"}),
    (
        "pod/crash_loop",
        {
            "owner_kind": "ReplicaSet",
            "owner_name": "checkout-6d8f9c7b5d",
            "label_pod_template_hash": "6d8f9c7b5d",
        },
    ),
    ("pod/init_crash_loop", {"statefulset": "postgres"}),
    ("pod/init_crash_loop", {"owner_kind": "StatefulSet", "owner_name": "postgres"}),
]


@pytest.mark.parametrize(("fixture", "proof"), PROVEN)
def test_labels_that_prove_the_workload_set_the_owner(fixture: str, proof: dict[str, str]) -> None:
    event = alert_event("KubePodCrashLooping", pod_labels(fixture, **proof))
    assert event.owner is not None
    assert event.dedup_key in watch_keys(fixture)


@pytest.mark.parametrize(
    "weak",
    [
        {
            "owner_kind": "ReplicaSet",
            "owner_name": "checkout-6d8f9c7b5d",
        },  # no template hash: maybe a bare RS
        {"deployment": "cart"},  # names another workload than the pod's shape
        {"statefulset": "checkout"},  # a Deployment-shaped pod name is no StatefulSet ordinal
    ],
)
def test_labels_that_do_not_prove_the_workload_leave_the_owner_unset(weak: dict[str, str]) -> None:
    event = alert_event("KubePodCrashLooping", pod_labels("pod/crash_loop", **weak))
    assert event.owner is None


def test_a_cronjobs_failed_job_keys_on_the_cronjob_when_the_labels_name_it() -> None:
    labels = {"namespace": "analytics", "job_name": "nightly-report-28971360"}
    proven = alert_event("KubeJobFailed", {**labels, "owner_kind": "CronJob", "owner_name": "nightly-report"})
    assert proven.dedup_key in watch_keys("job/failed_backoff")
    # Without owner labels the Job itself is the subject (the pipeline folds only Pods/ReplicaSets).
    assert (
        alert_event("KubeJobFailed", labels).dedup_key == "job_failed:Job/analytics/nightly-report-28971360"
    )


def test_an_hpa_alert_keys_on_the_scale_target_when_the_labels_name_it() -> None:
    labels: dict[str, Any] = {"namespace": "shop", "horizontalpodautoscaler": "checkout"}
    target = {"scaletargetref_kind": "Deployment", "scaletargetref_name": "checkout"}
    assert alert_event("KubeHpaMaxedOut", {**labels, **target}).dedup_key in watch_keys("hpa/maxed")
    assert (
        alert_event("KubeHpaMaxedOut", labels).dedup_key == "hpa_maxed:HorizontalPodAutoscaler/shop/checkout"
    )
