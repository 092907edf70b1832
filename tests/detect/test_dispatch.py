"""Dispatch and the public contract: ``detect`` routes by kind, DETECTABLE matches what each
detector can emit, healthy controls of every kind are quiet, Lists and unknown kinds are ignored,
and ``now`` stamps every event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiops.events.model import EventType
from aiops.sources import kubewatch
from tests.detect.helpers import NOW, fixture_names, load

KINDS = {
    "Pod",
    "Node",
    "Deployment",
    "ReplicaSet",
    "HorizontalPodAutoscaler",
    "Job",
    "PersistentVolumeClaim",
    "Event",
}


def test_the_public_names() -> None:
    assert set(kubewatch.__all__) == {
        "DETECTABLE",
        "DETECTORS",
        "Detector",
        "Settling",
        "detect",
        "detect_deployment",
        "detect_event",
        "detect_hpa",
        "detect_job",
        "detect_node",
        "detect_pod",
        "detect_pvc",
        "detect_replicaset",
        "member_key",
        "newest_timestamp",
        "owner_of",
        "settling",
    }
    assert set(kubewatch.DETECTORS) == set(kubewatch.DETECTABLE) == KINDS
    assert kubewatch.DETECTABLE["Event"] == frozenset()


@pytest.mark.parametrize(
    ("name", "detector"),
    [
        ("pod/healthy", kubewatch.detect_pod),
        ("node/healthy", kubewatch.detect_node),
        ("deployment/healthy", kubewatch.detect_deployment),
        ("replicaset/healthy", kubewatch.detect_replicaset),
        ("hpa/healthy", kubewatch.detect_hpa),
        ("job/complete", kubewatch.detect_job),
        ("pvc/bound", kubewatch.detect_pvc),
        ("event/scheduled", kubewatch.detect_event),
    ],
)
def test_a_healthy_object_of_every_kind_yields_nothing(name: str, detector: kubewatch.Detector) -> None:
    body = load(name)

    assert kubewatch.detect(body, now=NOW) == []
    assert detector(body, now=NOW) == []


@pytest.mark.parametrize("name", fixture_names())
def test_detect_is_the_kind_detector(name: str) -> None:
    body = load(name)

    assert kubewatch.detect(body, now=NOW) == kubewatch.DETECTORS[body["kind"]](body, now=NOW)


@pytest.mark.parametrize("name", [n for n in fixture_names() if not n.startswith("event/")])
def test_status_detectors_emit_only_types_they_are_authoritative_for(name: str) -> None:
    body = load(name)

    emitted = {e.type for e in kubewatch.detect(body, now=NOW)}

    assert emitted <= kubewatch.DETECTABLE[body["kind"]]


def test_every_authoritative_type_is_exercised_by_a_fixture() -> None:
    seen: dict[str, set[EventType]] = {kind: set() for kind in KINDS}
    for name in fixture_names():
        body = load(name)
        seen[body["kind"]].update(e.type for e in kubewatch.detect(body, now=NOW))

    for kind, types in kubewatch.DETECTABLE.items():
        assert types <= seen[kind], kind
    every_type = set(EventType) - {EventType.ALERT}
    assert set().union(*seen.values()) == every_type


def test_probe_and_mount_failures_are_not_claimed_by_the_pod_detector() -> None:
    assert EventType.PROBE_FAILURE not in kubewatch.DETECTABLE["Pod"]
    assert EventType.VOLUME_MOUNT_FAILED not in kubewatch.DETECTABLE["Pod"]


@pytest.mark.parametrize("kind", ["List", "PodList", "EventList"])
def test_lists_are_not_split_here(kind: str) -> None:
    body = load("list/pod_list")
    body["kind"] = kind
    assert kubewatch.detect(load("pod/crash_loop"), now=NOW)  # the item alone is a problem

    assert kubewatch.detect(body, now=NOW) == []


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet", "CronJob", "ConfigMap", "pod", ""])
def test_unknown_kinds_yield_nothing(kind: str) -> None:
    body = load("pod/crash_loop")
    body["kind"] = kind

    assert kubewatch.detect(body, now=NOW) == []


def test_without_now_the_wall_clock_stamps_events() -> None:
    before = datetime.now(UTC)
    [event] = kubewatch.detect(load("pod/crash_loop"))
    after = datetime.now(UTC)

    assert before <= event.observed_at <= after
    assert event.observed_at.tzinfo is not None


@pytest.mark.parametrize(
    "now",
    [NOW.replace(tzinfo=None), NOW.astimezone(timezone(timedelta(hours=2)))],
    ids=["naive-is-utc", "other-zone"],
)
def test_now_is_normalised_to_utc(now: datetime) -> None:
    [event] = kubewatch.detect(load("pod/crash_loop"), now=now)

    assert event.observed_at == NOW
    assert event.observed_at.utcoffset() == timedelta(0)
