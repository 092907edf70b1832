"""Alerts outside the built-in table, and extending the table from configuration.

An unknown alertname still becomes a generic ``alert`` event about the most specific object its
labels name (else a synthetic ``monitoring.coreos.com/v1 Alert``), so rules can match it by
alertname and labels; ``AlertMapping.with_overrides`` and ``parse_rules`` extend the table.
"""

from __future__ import annotations

import json

import pytest

from aiops import errors
from aiops.events import model
from aiops.sources import alertmanager
from aiops.sources.alertmanager import AlertMapping, MappingRule, mapping
from tests.alertmanager.helpers import STARTS, ZERO, payload


def custom(labels: dict[str, str], **annotations: str) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": STARTS,
        "endsAt": ZERO,
    }


def one(
    labels: dict[str, str], table: AlertMapping = mapping.DEFAULT, **annotations: str
) -> model.ClusterEvent:
    [event] = alertmanager.convert(alertmanager.parse_payload(payload(custom(labels, **annotations))), table)
    return event


class TestUnknownAlerts:
    def test_an_unknown_alert_about_a_pod_is_a_generic_alert_on_that_pod(self) -> None:
        labels = {"alertname": "AppDown", "namespace": "investigate", "pod": "client", "severity": "critical"}
        event = one(labels, description="The service is down", summary="down")
        assert event.type is model.EventType.ALERT
        assert event.dedup_key == "alert:Pod/investigate/client"
        assert (event.reason, event.message, event.labels) == ("AppDown", "The service is down", labels)
        assert event.severity is model.Severity.CRITICAL
        assert event.source is model.EventSource.ALERTMANAGER

    def test_workload_labels_beat_a_pod_label_that_may_be_the_scrape_target(self) -> None:
        labels = {"alertname": "MyDeployLag", "namespace": "shop", "deployment": "web", "pod": "ksm-0"}
        assert one(labels).resource.key == "Deployment/shop/web"

    def test_a_node_level_alert_is_about_the_node(self) -> None:
        assert one({"alertname": "DiskSlow", "node": "worker-1"}).dedup_key == "alert:Node/-/worker-1"

    def test_an_alert_naming_no_object_gets_a_synthetic_resource(self) -> None:
        event = one({"alertname": "MinishopHighLatency", "namespace": "shop"}, summary="High latency")
        assert event.resource == model.ObjectRef(
            api_version="monitoring.coreos.com/v1", kind="Alert", namespace="shop", name="MinishopHighLatency"
        )
        assert event.message == "High latency"
        no_namespace = one({"alertname": "Watchdog", "severity": "none"})
        assert no_namespace.resource.key == "Alert/-/Watchdog"
        assert no_namespace.severity is model.Severity.WARNING

    def test_a_table_alert_missing_its_name_label_falls_back_to_generic(self) -> None:
        event = one({"alertname": "KubePodCrashLooping", "namespace": "shop"})
        assert event.type is model.EventType.ALERT
        assert event.resource.key == "Alert/shop/KubePodCrashLooping"

    def test_a_resolved_unknown_alert_keeps_its_key(self) -> None:
        labels = {"alertname": "AppDown", "namespace": "ns", "pod": "client"}
        resolved = {**custom(labels), "status": "resolved", "endsAt": "2025-03-14T11:00:00Z"}
        [event] = alertmanager.convert(
            alertmanager.parse_payload({**payload(resolved), "status": "resolved"})
        )
        assert (event.dedup_key, event.details["status"]) == ("alert:Pod/ns/client", "resolved")


class TestOverrides:
    def test_an_override_maps_a_custom_alert_to_a_watch_type(self) -> None:
        table = mapping.DEFAULT.with_overrides(
            {"AppCrashing": MappingRule(type=model.EventType.CRASH_LOOP, kind="Deployment", name_label="app")}
        )
        event = one({"alertname": "AppCrashing", "namespace": "shop", "app": "checkout"}, table)
        assert event.dedup_key == "crash_loop:Deployment/shop/checkout"
        assert mapping.DEFAULT.rule_for("AppCrashing") is None  # the default table is untouched

    def test_an_override_replaces_a_builtin_rule(self) -> None:
        table = mapping.DEFAULT.with_overrides(
            {"KubePodNotReady": MappingRule(type=model.EventType.PROBE_FAILURE, kind="Pod")}
        )
        event = one({"alertname": "KubePodNotReady", "namespace": "shop", "pod": "web-1"}, table)
        assert event.type is model.EventType.PROBE_FAILURE

    def test_a_custom_kind_needs_its_api_version_and_name_label(self) -> None:
        rule = MappingRule(kind="Rollout", api_version="argoproj.io/v1alpha1", name_label="rollout")
        table = mapping.DEFAULT.with_overrides({"RolloutAborted": rule})
        event = one({"alertname": "RolloutAborted", "namespace": "shop", "rollout": "web"}, table)
        assert (
            event.resource.api_version == "argoproj.io/v1alpha1" and event.resource.key == "Rollout/shop/web"
        )

    def test_overrides_written_in_yaml_are_validated_with_field_paths(self) -> None:
        rules = mapping.parse_rules(
            {"AppCrashing": {"type": "crash_loop", "kind": "Deployment", "name_label": "app"}},
            file="aiops.yaml",
        )
        assert rules["AppCrashing"].type is model.EventType.CRASH_LOOP
        with pytest.raises(errors.ValidationFailed) as caught:
            mapping.parse_rules(
                {"A": {"type": "nope"}, "B": {"kind": "Rollout"}, "C": {"typo": 1}}, file="aiops.yaml"
            )
        fields = {p.field for p in caught.value.problems}
        assert {"A.type", "B", "C.typo"} <= fields
        assert all(p.file == "aiops.yaml" for p in caught.value.problems)
        with pytest.raises(errors.ValidationFailed):
            mapping.parse_rules(["not", "a", "mapping"])

    def test_the_default_table_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            mapping.BUILTIN_RULES["X"] = MappingRule()  # type: ignore[index]


def test_convert_json_prints_json_lines_for_the_cli() -> None:
    body = payload(custom({"alertname": "AppDown", "namespace": "ns", "pod": "client"}))
    found = alertmanager.convert_json(json.dumps(body))
    [line] = alertmanager.events_as_json_lines(found).splitlines()
    data = json.loads(line)
    assert data["dedup_key"] == "alert:Pod/ns/client" and data["source"] == "alertmanager"
