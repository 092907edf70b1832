"""Alert fingerprints: computed as Alertmanager does (FNV-1a 64 over sorted ``name\\xffvalue\\xff``).

Checked against fingerprints of real alerts captured from a kube-prometheus-stack install
(``holmesgpt_captured_alerts.json``; an alert's ``unique_id`` embeds the fingerprint Alertmanager
gave it, which marks the captures whose labels were not edited afterwards).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiops.sources import alertmanager
from tests.alertmanager.helpers import alert, data_file, payload


def captured() -> list[dict[str, Any]]:
    raw = json.loads(data_file("holmesgpt_captured_alerts.json").read_text())
    return [item["raw_alert"] for item in raw["alerts"]]


def test_real_captured_alerts_have_the_fingerprint_we_compute() -> None:
    genuine = [a for a in captured() if a.get("fingerprint") and a["fingerprint"] in a["unique_id"]]
    assert {a["labels"]["alertname"] for a in genuine} == {"KubePodCrashLooping", "Watchdog"}
    for raw in genuine:
        assert alertmanager.fingerprint(raw["labels"]) == raw["fingerprint"]


def test_the_empty_label_set_hashes_to_the_fnv_offset_basis() -> None:
    assert alertmanager.fingerprint({}) == "cbf29ce484222325"


def test_label_order_does_not_matter_and_every_pair_counts() -> None:
    a = alertmanager.fingerprint({"alertname": "X", "pod": "p"})
    assert a == alertmanager.fingerprint({"pod": "p", "alertname": "X"})
    assert a != alertmanager.fingerprint({"alertname": "X", "pod": "q"})
    # the separator byte keeps ("ab", "c") and ("a", "bc") apart
    assert alertmanager.fingerprint({"ab": "c"}) != alertmanager.fingerprint({"a": "bc"})


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_fingerprint_is_computed_from_the_labels(missing: str | None) -> None:
    body = alert("KubeNodeNotReady", {"node": "worker-2"})
    if missing is not None:
        body["fingerprint"] = missing
    parsed = alertmanager.parse_payload(payload(body)).alerts[0]
    assert parsed.fingerprint == alertmanager.fingerprint(body["labels"])
    [event] = alertmanager.convert(alertmanager.parse_payload(payload(body)))
    assert event.details["fingerprint"] == parsed.fingerprint


def test_a_sent_fingerprint_is_kept() -> None:
    body = {**alert("KubeNodeNotReady", {"node": "worker-2"}), "fingerprint": "0123456789abcdef"}
    assert alertmanager.parse_payload(payload(body)).alerts[0].fingerprint == "0123456789abcdef"
