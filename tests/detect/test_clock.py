"""``newest_timestamp``: the moment a saved dump shows, which offline tools judge recency by.

The newest RFC 3339 value under any ``*At``/``*Time``/``*Timestamp`` key, across every body given
(objects and Events alike); unparseable values are skipped, and no timestamp at all gives None.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.sources import kubewatch
from tests.detect.helpers import load


def test_the_newest_timestamp_of_a_recovered_oom_pod_is_when_it_became_ready_again() -> None:
    # finishedAt 10:25:12, running since 10:25:13, Ready at 10:25:41 (fixture pod/oom_recovered).
    assert kubewatch.newest_timestamp([load("pod/oom_recovered")]) == datetime(
        2025, 3, 14, 10, 25, 41, tzinfo=UTC
    )


def test_events_and_objects_count_alike_and_offsets_are_normalised_to_utc() -> None:
    pod = {"kind": "Pod", "metadata": {"creationTimestamp": "2025-03-14T10:00:00Z"}}
    event = {"kind": "Event", "lastTimestamp": "2025-03-14T12:30:00+02:00", "eventTime": None}

    newest = kubewatch.newest_timestamp([pod, event])

    assert newest == datetime(2025, 3, 14, 10, 30, tzinfo=UTC)
    assert newest is not None and newest.tzinfo is UTC


def test_what_is_not_a_timestamp_is_ignored() -> None:
    body = {
        "metadata": {"creationTimestamp": "yesterday", "name": "startedAt"},
        "status": {"startTime": 1741946400, "conditions": [{"lastTransitionTime": ""}]},
    }

    assert kubewatch.newest_timestamp([body, "not an object", None]) is None
    assert kubewatch.newest_timestamp([]) is None
