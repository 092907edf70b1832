"""The built-in table on the real kubernetes-mixin alerts of kube-prometheus (``alerts.json``).

Each alert is built from its real rule (name, static labels, rendered annotations, runbook) plus
the series labels its expression keeps, with kube-state-metrics' scrape-target labels where a
real series carries them; payloads group several alerts, firing and resolved.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops.events import model
from aiops.sources import alertmanager
from aiops.sources.alertmanager import mapping
from tests.alertmanager.helpers import ENDS_UTC, KSM_TARGET, STARTS_UTC, alert, payload, rule, rules

KUBELET_TARGET = {"instance": "10.0.0.12:10250", "job": "kubelet", "metrics_path": "/metrics"}
POD = {"namespace": "shop", "pod": "web-5d9c7b8f6-x2k4p"}

#: alertname -> (series labels, expected type, expected resource key).
CASES: dict[str, tuple[dict[str, str], str, str]] = {
    "KubePodCrashLooping": (
        {**KSM_TARGET, **POD, "container": "web", "reason": "CrashLoopBackOff", "uid": "b9cc2b01"},
        "crash_loop",
        "Pod/shop/web-5d9c7b8f6-x2k4p",
    ),
    "KubePodNotReady": ({**POD, "job": "kube-state-metrics"}, "alert", "Pod/shop/web-5d9c7b8f6-x2k4p"),
    "KubeContainerWaiting": (
        {**KSM_TARGET, **POD, "container": "web", "reason": "ImagePullBackOff"},
        "image_pull_backoff",
        "Pod/shop/web-5d9c7b8f6-x2k4p",
    ),
    "CPUThrottlingHigh": (
        {**KUBELET_TARGET, **POD, "container": "web"},
        "alert",
        "Pod/shop/web-5d9c7b8f6-x2k4p",
    ),
    "KubeDeploymentReplicasMismatch": (
        {**KSM_TARGET, "namespace": "shop", "deployment": "web"},
        "replication_failure",
        "Deployment/shop/web",
    ),
    "KubeDeploymentRolloutStuck": (
        {
            **KSM_TARGET,
            "namespace": "shop",
            "deployment": "web",
            "condition": "Progressing",
            "status": "false",
        },
        "rollout_stuck",
        "Deployment/shop/web",
    ),
    "KubeStatefulSetReplicasMismatch": (
        {**KSM_TARGET, "namespace": "orders", "statefulset": "postgres"},
        "replication_failure",
        "StatefulSet/orders/postgres",
    ),
    "KubeStatefulSetUpdateNotRolledOut": (
        {"namespace": "orders", "statefulset": "postgres", "job": "kube-state-metrics"},
        "rollout_stuck",
        "StatefulSet/orders/postgres",
    ),
    "KubeDaemonSetRolloutStuck": (
        {**KSM_TARGET, "namespace": "monitoring", "daemonset": "node-exporter"},
        "rollout_stuck",
        "DaemonSet/monitoring/node-exporter",
    ),
    "KubeJobFailed": (
        {**KSM_TARGET, "namespace": "search", "job_name": "reindex-catalog", "condition": "true"},
        "job_failed",
        "Job/search/reindex-catalog",
    ),
    "KubeHpaMaxedOut": (
        {**KSM_TARGET, "namespace": "shop", "horizontalpodautoscaler": "checkout"},
        "hpa_maxed",
        "HorizontalPodAutoscaler/shop/checkout",
    ),
    "KubePersistentVolumeFillingUp": (
        {**KUBELET_TARGET, "namespace": "orders", "persistentvolumeclaim": "data-postgres-0"},
        "alert",
        "PersistentVolumeClaim/orders/data-postgres-0",
    ),
    "KubePersistentVolumeErrors": (
        {**KSM_TARGET, "persistentvolume": "pvc-1234", "phase": "Failed"},
        "alert",
        "PersistentVolume/-/pvc-1234",
    ),
    "KubeQuotaExceeded": (
        {"namespace": "shop", "resource": "pods", "resourcequota": "shop-quota"},
        "alert",
        "ResourceQuota/shop/shop-quota",
    ),
    "KubePdbNotEnoughHealthyPods": (
        {**KSM_TARGET, "namespace": "shop", "poddisruptionbudget": "web"},
        "alert",
        "PodDisruptionBudget/shop/web",
    ),
    "KubeNodeNotReady": (
        {**KSM_TARGET, "node": "worker-2", "condition": "Ready"},
        "node_not_ready",
        "Node/-/worker-2",
    ),
    "KubeNodeUnreachable": (
        {**KSM_TARGET, "node": "worker-2", "key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        "node_not_ready",
        "Node/-/worker-2",
    ),
    "KubeNodePressure": (
        {**KSM_TARGET, "node": "worker-4", "condition": "MemoryPressure", "status": "true"},
        "node_pressure",
        "Node/-/worker-4",
    ),
    "KubeletTooManyPods": (
        {"instance": "10.0.0.14:10250", "node": "worker-4"},
        "node_pressure",
        "Node/-/worker-4",
    ),
    "KubeMemoryOvercommit": ({}, "alert", "Alert/-/KubeMemoryOvercommit"),
    "KubeCPUOvercommit": ({"cluster": "prod"}, "alert", "Alert/-/KubeCPUOvercommit"),
}


@pytest.mark.parametrize("alertname", sorted(CASES))
def test_a_mixin_alert_maps_to_its_type_and_resource(alertname: str) -> None:
    labels, type_, key = CASES[alertname]
    firing = alert(alertname, labels)
    resolved = alert(alertname, labels, resolved=True)
    events = alertmanager.convert(alertmanager.parse_payload(payload(firing, resolved)))
    for event in events:
        assert event.source is model.EventSource.ALERTMANAGER
        assert (event.type.value, event.resource.key) == (type_, key)
        assert event.reason == alertname
        assert event.labels == firing["labels"]
        assert event.severity.value == rule(alertname)["severity"]
        assert event.message and "<no value>" not in event.message and "{{" not in event.message
        assert event.details["alertname"] == alertname
        assert event.details["runbook_url"] == rule(alertname)["runbook_url"]
        assert event.details["generatorURL"] == firing["generatorURL"]
        assert event.details["startsAt"] == STARTS_UTC.isoformat()
        assert event.details["groupKey"] == '{}:{namespace="shop"}'
    first, last = events
    assert first.details["status"] == "firing" and first.observed_at == STARTS_UTC
    assert last.details["status"] == "resolved" and last.observed_at == ENDS_UTC
    assert last.details["endsAt"] == ENDS_UTC.isoformat() and "endsAt" not in first.details
    assert first.dedup_key == last.dedup_key


def test_the_scrape_target_pod_of_kube_state_metrics_is_never_the_subject() -> None:
    labels = {**KSM_TARGET, "namespace": "shop", "deployment": "web"}
    [event] = alertmanager.convert(
        alertmanager.parse_payload(payload(alert("KubeDeploymentRolloutStuck", labels)))
    )
    assert event.dedup_key == "rollout_stuck:Deployment/shop/web"
    assert event.owner is None


def test_exported_labels_win_over_the_scrape_targets() -> None:
    # honor_labels off: the object's labels arrive as exported_*; plain ones are the target's.
    labels = {**KSM_TARGET, "exported_namespace": "shop", "exported_pod": "web-5d9c7b8f6-x2k4p"}
    labels |= {"exported_container": "web", "reason": "CrashLoopBackOff"}
    [event] = alertmanager.convert(alertmanager.parse_payload(payload(alert("KubePodCrashLooping", labels))))
    assert event.dedup_key == "crash_loop:Pod/shop/web-5d9c7b8f6-x2k4p"
    assert event.details["container"] == "web"


@pytest.mark.parametrize(
    ("reason", "type_"),
    [
        ("ImagePullBackOff", "image_pull_backoff"),
        ("ErrImagePull", "image_pull_backoff"),
        ("CreateContainerConfigError", "create_container_config_error"),
        ("ContainerCreating", "alert"),
        (None, "alert"),
    ],
)
def test_container_waiting_is_typed_by_its_reason_label(reason: str | None, type_: str) -> None:
    labels = {**POD, "container": "web"} | ({"reason": reason} if reason else {})
    [event] = alertmanager.convert(alertmanager.parse_payload(payload(alert("KubeContainerWaiting", labels))))
    assert (event.type.value, event.resource.key) == (type_, "Pod/shop/web-5d9c7b8f6-x2k4p")


@pytest.mark.parametrize(
    ("label", "severity"), [("critical", "critical"), ("info", "info"), ("none", "warning")]
)
def test_severity_comes_from_the_severity_label(label: str, severity: str) -> None:
    body = alert("KubeNodeNotReady", {"node": "worker-2", "severity": label})
    [event] = alertmanager.convert(alertmanager.parse_payload(payload(body)))
    assert event.severity.value == severity


def test_every_table_entry_is_a_real_kube_prometheus_alert() -> None:
    names = {r["alert"] for r in rules()}
    assert set(mapping.BUILTIN_RULES) <= names
    assert set(CASES) <= set(mapping.BUILTIN_RULES)


def test_every_kube_prometheus_alert_converts_in_one_grouped_payload() -> None:
    """All 139 rules, with typical series labels, firing and resolved: one event per alert."""
    series: dict[str, str] = {**KSM_TARGET, **POD, "node": "worker-2", "container": "web"}
    alerts: list[dict[str, Any]] = []
    for index, item in enumerate(rules()):
        labels = {**series, "uid": str(index)}
        alerts.append(alert(item["alert"], labels, severity=item["severity"], resolved=index % 2 == 1))
    events = alertmanager.convert(alertmanager.parse_payload(payload(*alerts)))
    assert len(events) == len(alerts) == 139
    for event, sent in zip(events, alerts, strict=True):
        assert event.reason == sent["labels"]["alertname"]
        assert event.details["status"] == sent["status"]
        assert "<no value>" not in event.message
