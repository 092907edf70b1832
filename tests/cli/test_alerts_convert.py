"""``aiops alerts convert -f``: an Alertmanager webhook payload becomes ClusterEvents, offline.

Uses a real example payload from ../shared/data/alertmanager and a payload built from the
kubernetes-mixin KubePodCrashLooping rule; an invalid payload exits 2 naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import run_cli

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "alertmanager"


def _payload(alerts: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{namespace="shop"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "aiops",
            "groupLabels": {"namespace": "shop"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    )


def test_a_crash_looping_pod_alert_becomes_a_crash_loop_event(tmp_path: Path) -> None:
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "KubePodCrashLooping",
            "namespace": "shop",
            "pod": "web-1",
            "container": "app",
            "severity": "warning",
        },
        "annotations": {
            "description": "Pod shop/web-1 (app) is in waiting state (reason: CrashLoopBackOff)."
        },
        "startsAt": "2026-11-21T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "0123456789abcdef",
    }
    path = tmp_path / "payload.json"
    path.write_text(_payload([alert]))
    result = run_cli("alerts", "convert", "-f", str(path))
    assert result.returncode == 0, result
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["type"] == "crash_loop" and event["source"] == "alertmanager"
    assert event["resource"]["kind"] == "Pod" and event["resource"]["name"] == "web-1"
    assert event["dedup_key"] == "crash_loop:Pod/shop/web-1"


def test_a_real_example_payload_converts_from_stdin() -> None:
    text = (SHARED / "prometheus-msteams_prom_post_request.json").read_text()
    result = run_cli("alerts", "convert", "-f", "-", stdin=text)
    assert result.returncode == 0, result
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and all(e["source"] == "alertmanager" for e in events)


def test_an_invalid_payload_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_payload([{"labels": {"alertname": "X"}, "startsAt": "yesterday"}]))
    result = run_cli("alerts", "convert", "-f", str(path))
    assert result.returncode == 2
    assert "alerts.0.startsAt" in result.flat_stderr
    assert result.stdout == ""
