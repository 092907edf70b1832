"""Property-based fuzzing of ``parse_payload``: random JSON-ish input raises only ValidationFailed.

Random JSON values, random objects shaped like payloads (real keys, random values), and real
payloads with one field replaced by random JSON: each either parses or raises
``errors.ValidationFailed`` with at least one located problem; nothing else escapes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops import errors
from aiops.sources import alertmanager
from tests.alertmanager.helpers import STARTS, ZERO

FUZZ = settings(database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)

PAYLOAD_KEYS = [
    "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
    "commonAnnotations", "externalURL", "alerts", "notification_reason", "routeLabels",
]  # fmt: skip
ALERT_KEYS = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]

GOOD_ALERT: dict[str, Any] = {
    "status": "firing",
    "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "web-1"},
    "annotations": {"description": "x <no value>"},
    "startsAt": STARTS,
    "endsAt": ZERO,
    "generatorURL": "http://p/graph",
    "fingerprint": "0123456789abcdef",
}
GOOD: dict[str, Any] = {"version": "4", "status": "firing", "receiver": "r", "alerts": [GOOD_ALERT]}


def check(data: Any) -> None:
    try:
        parsed = alertmanager.parse_payload(data)
    except errors.ValidationFailed as error:
        assert error.problems and all(p.file == "<payload>" for p in error.problems)
        return
    alertmanager.convert(parsed)  # a valid payload always converts


@FUZZ
@given(json_values)
def test_random_json_values(value: Any) -> None:
    check(value if isinstance(value, dict) else json.dumps(value))


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_bytes_and_text(raw: bytes | str) -> None:
    check(raw)


@FUZZ
@given(st.dictionaries(st.sampled_from(PAYLOAD_KEYS), json_values, max_size=12))
def test_payload_shaped_objects(body: dict[str, Any]) -> None:
    check(body)
    check(json.dumps(body))


@FUZZ
@given(st.sampled_from(PAYLOAD_KEYS), json_values)
def test_a_real_payload_with_one_random_field(key: str, value: Any) -> None:
    check({**GOOD, key: value})


@FUZZ
@given(st.sampled_from(ALERT_KEYS), json_values)
def test_a_real_alert_with_one_random_field(key: str, value: Any) -> None:
    body = {**GOOD, "alerts": [{**GOOD_ALERT, key: value}]}
    check(body)
    check(json.dumps(body))


@FUZZ
@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=6), st.text(max_size=40))
def test_random_labels_and_timestamps(labels: dict[str, str], starts: str) -> None:
    check({**GOOD, "alerts": [{**GOOD_ALERT, "labels": labels, "startsAt": starts}]})


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    check("[" * 100_000 + "]" * 100_000)
    check('{"alerts": ' + "[" * 5000 + "]" * 5000 + "}")
