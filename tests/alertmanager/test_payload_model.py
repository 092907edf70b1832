"""The webhook payload model: real example payloads, older-Alertmanager variants, strict types.

Format per ``/work/shared/data/alertmanager/webhook_format.md`` (Alertmanager 0.34.0 source).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from aiops import errors
from aiops.sources import alertmanager
from aiops.sources.alertmanager import AlertStatus
from tests.alertmanager.helpers import ENDS, ENDS_UTC, STARTS, STARTS_UTC, ZERO, alert, data_file, payload


def crash_loop(**extra: Any) -> dict[str, Any]:
    return alert("KubePodCrashLooping", {"namespace": "shop", "pod": "web-5d9c7b8f6-x2k4p", **extra})


def problems(data: Any) -> dict[str, str]:
    with pytest.raises(errors.ValidationFailed) as caught:
        alertmanager.parse_payload(data)
    assert all(p.file == "<payload>" and p.line is None for p in caught.value.problems)
    return {p.field: p.message for p in caught.value.problems}


class TestCurrentAlertmanager:
    def test_a_full_version_4_payload_keeps_every_field(self) -> None:
        body = payload(crash_loop(), alert("KubeNodeNotReady", {"node": "worker-2"}, resolved=True))
        body["routeLabels"] = {"team": "sre"}
        parsed = alertmanager.parse_payload(json.dumps(body))
        assert parsed.version == "4"
        assert parsed.group_key == '{}:{namespace="shop"}'
        assert parsed.truncated_alerts == 0
        assert parsed.status is AlertStatus.FIRING
        assert parsed.receiver == "aiops"
        assert parsed.group_labels == {"namespace": "shop"}
        assert parsed.external_url == "http://alertmanager-main-0:9093"
        assert parsed.notification_reason == "first notification"
        assert parsed.route_labels == {"team": "sre"}
        firing, resolved = parsed.alerts
        assert firing.status is AlertStatus.FIRING and firing.ends_at is None
        assert resolved.status is AlertStatus.RESOLVED and resolved.ends_at == ENDS_UTC
        assert firing.starts_at == STARTS_UTC
        assert firing.generator_url.startswith("http://prometheus-k8s-0:9090/graph")
        assert firing.alertname == "KubePodCrashLooping"

    def test_bytes_text_and_decoded_objects_parse_alike(self) -> None:
        body = payload(crash_loop())
        text = json.dumps(body)
        assert (
            alertmanager.parse_payload(text)
            == alertmanager.parse_payload(text.encode())
            == alertmanager.parse_payload(body)
        )

    def test_fields_added_by_future_alertmanagers_are_ignored(self) -> None:
        body = payload({**crash_loop(), "silencedBy": []})
        body["newField"] = {"anything": [1, 2]}
        assert alertmanager.parse_payload(body).alerts[0].alertname == "KubePodCrashLooping"

    def test_the_receiver_arrives_regexp_quoted_and_stays_so(self) -> None:
        body = {**payload(crash_loop()), "receiver": "web\\.hook"}
        assert alertmanager.parse_payload(body).receiver == "web\\.hook"


class TestRealExamplePayloads:
    @pytest.mark.parametrize(
        "name",
        ["prometheus-msteams_prom_post_request.json", "prometheus-msteams_large_prom_post_request.json"],
    )
    def test_the_captured_payloads_parse_without_per_alert_status_or_fingerprint(self, name: str) -> None:
        raw = json.loads(data_file(name).read_text())
        parsed = alertmanager.parse_payload(data_file(name).read_bytes())
        assert len(parsed.alerts) == len(raw["alerts"]) > 0
        for got, sent in zip(parsed.alerts, raw["alerts"], strict=True):
            assert "status" not in sent and "fingerprint" not in sent
            assert got.status is AlertStatus.FIRING
            assert got.ends_at is None
            assert got.fingerprint == alertmanager.fingerprint(sent["labels"])
        assert parsed.truncated_alerts == 0 and parsed.notification_reason is None

    def test_a_non_utc_offset_with_nanoseconds_becomes_utc(self) -> None:
        parsed = alertmanager.parse_payload(
            data_file("prometheus-msteams_prom_post_request.json").read_bytes()
        )
        # 2018-03-07T06:33:21.873077559-05:00
        assert parsed.alerts[0].starts_at == datetime(2018, 3, 7, 11, 33, 21, 873077, tzinfo=UTC)

    def test_every_example_payload_converts(self) -> None:
        for name in (
            "prometheus-msteams_prom_post_request.json",
            "prometheus-msteams_large_prom_post_request.json",
        ):
            found = alertmanager.convert_json(data_file(name).read_text())
            assert found and all(event.type.value == "alert" for event in found)


class TestOlderAlertmanagers:
    def test_missing_truncated_alerts_notification_reason_and_route_labels(self) -> None:
        body = payload(crash_loop())
        for key in ("truncatedAlerts", "notification_reason", "routeLabels"):
            del body[key]
        parsed = alertmanager.parse_payload(body)
        assert (parsed.truncated_alerts, parsed.notification_reason, parsed.route_labels) == (0, None, {})

    def test_null_common_annotations_and_label_maps_read_as_empty(self) -> None:
        body = {**payload(crash_loop()), "commonAnnotations": None, "groupLabels": None, "commonLabels": None}
        parsed = alertmanager.parse_payload(body)
        assert parsed.common_annotations == parsed.group_labels == parsed.common_labels == {}

    def test_a_missing_alert_status_follows_ends_at(self) -> None:
        firing = {k: v for k, v in crash_loop().items() if k != "status"}
        ended = {**firing, "endsAt": ENDS}
        parsed = alertmanager.parse_payload(payload(firing, ended))
        assert [a.status for a in parsed.alerts] == [AlertStatus.FIRING, AlertStatus.RESOLVED]

    def test_a_missing_alert_status_in_a_resolved_group_is_resolved(self) -> None:
        odd = {k: v for k, v in crash_loop().items() if k not in ("status", "endsAt")}
        body = {**payload(odd), "status": "resolved"}
        assert alertmanager.parse_payload(body).alerts[0].status is AlertStatus.RESOLVED

    def test_message_stands_in_for_description(self) -> None:
        old = crash_loop()
        old["annotations"] = {"message": "Pod shop/web is restarting 2.1 times / 5 minutes."}
        parsed = alertmanager.parse_payload(payload(old)).alerts[0]
        assert parsed.description == "Pod shop/web is restarting 2.1 times / 5 minutes."
        [event] = alertmanager.convert(alertmanager.parse_payload(payload(old)))
        assert event.message == "Pod shop/web is restarting 2.1 times / 5 minutes."

    def test_no_value_is_removed_from_annotation_text(self) -> None:
        # The real rule renders "on cluster <no value>." when the alert carries no cluster label.
        parsed = alertmanager.parse_payload(payload(crash_loop(container="web")))
        description = parsed.alerts[0].description
        assert "<no value>" not in description
        expected = 'Pod shop/web-5d9c7b8f6-x2k4p (web) is in waiting state (reason: "CrashLoopBackOff")'
        assert description == f"{expected} on cluster."

    def test_an_annotation_that_was_only_no_value_is_dropped(self) -> None:
        body = crash_loop()
        body["annotations"] = {"summary": "<no value>", "description": "x <no value> ()"}
        parsed = alertmanager.parse_payload(payload(body)).alerts[0]
        assert parsed.annotations == {"description": "x"}

    def test_a_space_separated_timestamp_and_the_go_zero_time(self) -> None:
        body = {**crash_loop(), "startsAt": "2024-11-29 08:40:57.669000+00:00", "endsAt": ZERO}
        parsed = alertmanager.parse_payload(payload(body)).alerts[0]
        assert parsed.starts_at == datetime(2024, 11, 29, 8, 40, 57, 669000, tzinfo=UTC)
        assert parsed.ends_at is None

    def test_offsets_are_converted_to_utc(self) -> None:
        body = {**crash_loop(), "startsAt": "2025-03-14T12:12:03+02:00"}
        starts = alertmanager.parse_payload(payload(body)).alerts[0].starts_at
        assert starts == datetime(2025, 3, 14, 12, 12, 3, tzinfo=timezone(timedelta(hours=2)))
        assert starts.tzinfo is UTC


class TestStrictTypes:
    def test_a_label_value_must_be_a_string(self) -> None:
        assert "alerts.0.labels.replicas" in problems(payload(crash_loop(replicas=3)))

    def test_truncated_alerts_must_be_a_non_negative_integer(self) -> None:
        assert "truncatedAlerts" in problems({**payload(crash_loop()), "truncatedAlerts": "2"})
        assert "truncatedAlerts" in problems(json.dumps({**payload(crash_loop()), "truncatedAlerts": -1}))

    @pytest.mark.parametrize("value", ["2025-03-14T10:12:03", "2025-03-14", "yesterday", 1741947123, None])
    def test_starts_at_must_be_an_rfc3339_timestamp_with_an_offset(self, value: object) -> None:
        assert "alerts.0.startsAt" in problems(payload({**crash_loop(), "startsAt": value}))

    def test_an_alert_needs_an_alertname(self) -> None:
        body = crash_loop()
        del body["labels"]["alertname"]
        assert "alerts.0.labels" in problems(payload(body))

    def test_a_fingerprint_must_look_like_alertmanagers(self) -> None:
        assert "alerts.0.fingerprint" in problems(payload({**crash_loop(), "fingerprint": "xyz"}))

    def test_status_values_are_firing_or_resolved(self) -> None:
        assert "status" in problems({**payload(crash_loop()), "status": "active"})
        assert "alerts.0.status" in problems(payload({**crash_loop(), "status": "active"}))

    def test_invalid_json_and_non_objects_are_validation_failures(self) -> None:
        assert "" in problems("{not json")
        assert "" in problems(b"\xff\xfe")
        assert "" in problems("[]")
        assert "" in problems("\ud800")

    def test_every_problem_is_reported_with_its_path(self) -> None:
        bad = {**crash_loop(), "startsAt": "soon", "generatorURL": 7}
        found = problems({**payload(bad), "version": 4})
        assert {"version", "alerts.0.startsAt", "alerts.0.generatorURL"} <= set(found)

    def test_valid_starts_at_is_echoed_in_details(self) -> None:
        [event] = alertmanager.convert_json(json.dumps(payload(crash_loop())))
        assert event.details["startsAt"] == STARTS_UTC.isoformat()
        assert STARTS.startswith("2025-03-14T10:12:03.581290")
