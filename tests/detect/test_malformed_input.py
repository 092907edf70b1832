"""Malformed and partial bodies: every detector yields ``[]``, logs once at DEBUG, never raises.

Hand-picked partial objects (missing status, wrong JSON types, nulls where objects belong) and
property-based fuzzing with hypothesis: random JSON, random JSON under a real ``kind``, and real
fixtures with one field replaced by random JSON.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.events.model import ClusterEvent, ObjectRef
from aiops.sources import kubewatch
from tests.detect.helpers import NOW, fixture_names, load

FUZZ = settings(database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _with(name: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    body = load(name)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _without(name: str, *path: str | int) -> dict[str, Any]:
    body = load(name)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


MALFORMED = [
    pytest.param({"kind": "Pod"}, id="pod-kind-only"),
    pytest.param(_without("pod/crash_loop", "status"), id="pod-no-status"),
    pytest.param(_with("pod/crash_loop", ("status",), None), id="pod-null-status"),
    pytest.param(_without("pod/crash_loop", "metadata", "name"), id="pod-no-name"),
    pytest.param(_with("pod/crash_loop", ("metadata",), "checkout"), id="pod-metadata-string"),
    pytest.param(_with("pod/crash_loop", ("status", "containerStatuses"), "oops"), id="pod-statuses-string"),
    pytest.param(
        _with("pod/crash_loop", ("status", "containerStatuses", 0), None), id="pod-status-null-item"
    ),
    pytest.param(
        _with("pod/crash_loop", ("status", "containerStatuses", 0, "restartCount"), "7"),
        id="pod-restarts-string",
    ),
    pytest.param(
        _with("pod/crash_loop", ("status", "containerStatuses", 0, "restartCount"), True),
        id="pod-restarts-bool",
    ),
    pytest.param(_with("pod/crash_loop", ("metadata", "labels", "app"), 1), id="pod-label-int"),
    pytest.param(
        _with(
            "pod/oom_recovered",
            ("status", "containerStatuses", 0, "lastState", "terminated", "finishedAt"),
            "soon",
        ),
        id="pod-bad-timestamp",
    ),
    pytest.param(_with("node/not_ready", ("status", "conditions", 0), None), id="node-null-condition"),
    pytest.param(_without("node/not_ready", "status", "conditions", 3, "type"), id="node-condition-no-type"),
    pytest.param(_with("node/not_ready", ("spec", "unschedulable"), "yes"), id="node-unschedulable-string"),
    pytest.param(
        _with("deployment/replication_failure", ("spec", "replicas"), "2"), id="deployment-replicas-string"
    ),
    pytest.param(
        _with("deployment/rollout_stuck", ("status", "conditions"), {"type": "Progressing"}),
        id="deploy-conds-dict",
    ),
    pytest.param(_with("replicaset/replica_failure", ("status",), []), id="rs-status-list"),
    pytest.param(_without("hpa/maxed", "spec", "maxReplicas"), id="hpa-no-max"),
    pytest.param(
        _with("hpa/maxed", ("spec", "scaleTargetRef"), {"kind": "Deployment"}), id="hpa-target-no-name"
    ),
    pytest.param(_with("job/failed_backoff", ("status", "failed"), 7.5), id="job-failed-float"),
    pytest.param(
        _with("job/failed_backoff", ("metadata", "ownerReferences"), [{"kind": "CronJob"}]),
        id="job-owner-no-name",
    ),
    pytest.param(_with("pvc/pending", ("status", "phase"), 5), id="pvc-phase-int"),
    pytest.param(_with("pvc/pending", ("spec", "accessModes"), "ReadWriteOnce"), id="pvc-modes-string"),
    pytest.param(_without("event/backoff_crash", "involvedObject"), id="event-no-involved-object"),
    pytest.param(_with("event/backoff_crash", ("count",), "31"), id="event-count-string"),
    pytest.param(_with("event/backoff_crash", ("message",), ["Back-off"]), id="event-message-list"),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_a_malformed_body_yields_nothing_and_logs_at_debug(
    body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiops.sources.kubewatch")

    assert kubewatch.detect(body, now=NOW) == []
    records = [r for r in caplog.records if r.name.startswith("aiops.sources.kubewatch.")]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "malformed" in records[0].getMessage()


@pytest.mark.parametrize("body", [None, [], "Pod", 42, {"kind": None}, {"kind": ["Pod"]}, {"kind": {"a": 1}}])
def test_bodies_that_are_not_objects_with_a_kind(body: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiops.sources.kubewatch")

    assert kubewatch.detect(body, now=NOW) == []
    assert kubewatch.detect_pod(body, now=NOW) == []
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}


def _assert_events(result: object) -> None:
    assert isinstance(result, list)
    assert all(isinstance(event, ClusterEvent) for event in result)


@FUZZ
@given(json_values)
def test_random_json_never_raises(body: Any) -> None:
    _assert_events(kubewatch.detect(body, now=NOW))


@FUZZ
@given(
    kind=st.sampled_from(sorted(kubewatch.DETECTORS)),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "apiVersion",
                "metadata",
                "spec",
                "status",
                "involvedObject",
                "reason",
                "type",
                "message",
                "count",
            ]
        ),
        json_values,
    ),
)
def test_random_fields_under_a_real_kind_never_raise(kind: str, fields: dict[str, Any]) -> None:
    body = {**fields, "kind": kind}

    _assert_events(kubewatch.detect(body, now=NOW))
    owner = kubewatch.owner_of(body)
    assert owner is None or isinstance(owner, ObjectRef)
    key = kubewatch.member_key(body)
    assert key is None or key.startswith(f"{kind}/")


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into ``value`` (dict keys and list indexes), the root excluded."""
    found: list[tuple[str | int, ...]] = []
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


FIXTURE_PATHS = [(name, path) for name in fixture_names() for path in _paths(load(name))]


@FUZZ
@given(target=st.sampled_from(FIXTURE_PATHS), value=json_values)
def test_a_real_object_with_one_field_replaced_never_raises(
    target: tuple[str, tuple[str | int, ...]], value: Any
) -> None:
    name, path = target
    body = copy.deepcopy(load(name))
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value

    _assert_events(kubewatch.detect(body, now=NOW))
    owner = kubewatch.owner_of(body)
    assert owner is None or owner.name


@pytest.mark.parametrize("name", fixture_names())
def test_no_real_object_is_taken_for_malformed(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiops.sources.kubewatch")
    body = load(name)

    kubewatch.detect(body, now=NOW)
    kubewatch.owner_of(body)
    kubewatch.member_key(body)

    assert [r.getMessage() for r in caplog.records] == []
