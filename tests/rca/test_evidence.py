"""The evidence builder turns kubectl JSON, Events and logs into one Evidence, offline and deterministically.

Covers ``from_objects`` (incident type from the detectors, subject, owner chain, container
statuses, resources, node conditions, rollout history, Event filtering and order, log findings
with the previous container first, the 40-line excerpt, a reference time read from the dump) and
``load_files`` on temporary files (a single object, a ``List`` with related objects, an events
``List`` or array, a log file) and on the detector fixtures in ``tests/detect/fixtures``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiops import errors
from aiops.enrichment.rca import evidence, heuristics
from aiops.enrichment.rca.model import RootCause
from tests.rca import builders as b

FIXTURES = Path(__file__).parent.parent / "detect" / "fixtures"


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_crashing_pod_gives_its_incident_type_workload_subject_and_owner_chain() -> None:
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(137, "OOMKilled"), restarts=3, ready=False)
    ev = evidence.from_objects(pod)
    assert ev.incident_type == "crash_loop"
    assert ev.subject.key == "Deployment/shop/cart"
    assert [r.key for r in ev.owner_chain] == [f"ReplicaSet/shop/{b.NEW_RS}", "Deployment/shop/cart"]
    assert ev.container_statuses[0]["restartCount"] == 3
    assert ev.resources == {
        "cart": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
    }
    assert ev.object == pod


def test_owner_chain_follows_related_bodies_and_rollout_history_is_oldest_first() -> None:
    ev = evidence.from_objects(b.pod(), related=b.rollout())
    assert [r.key for r in ev.owner_chain] == [f"ReplicaSet/shop/{b.NEW_RS}", "Deployment/shop/cart"]
    assert ev.owner_chain[0].uid == f"uid-{b.NEW_RS}"
    assert [(h["revision"], h["replicaset"]) for h in ev.rollout_history] == [(14, b.OLD_RS), (15, b.NEW_RS)]
    assert ev.rollout_history[1] == {
        "revision": 15,
        "replicaset": b.NEW_RS,
        "images": ["registry.example.com/shop/cart:3.8.1"],
        "created": b.ROLLOUT_AT,
        "replicas": 3,
        "available": 0,
    }


def test_a_deployment_reads_resources_from_its_template_and_statuses_from_related_pods() -> None:
    crashing = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(1), restarts=2, ready=False)
    ev = evidence.from_objects(b.deployment(), related=[*b.rollout(), crashing])
    assert ev.incident_type == "rollout_stuck"
    assert ev.subject.key == "Deployment/shop/cart"
    assert ev.owner_chain == []
    assert ev.resources["cart"]["limits"] == {"memory": "256Mi"}
    assert ev.container_statuses[0]["pod"] == f"{b.NEW_RS}-m2n4b"
    assert len(ev.rollout_history) == 2


def test_node_conditions_come_from_the_node_itself_or_a_related_node() -> None:
    assert evidence.from_objects(b.node(ready="False")).incident_type == "node_not_ready"
    ready = {c["type"]: c["status"] for c in evidence.from_objects(b.node(ready="False")).node_conditions}
    assert ready["Ready"] == "False"
    related = evidence.from_objects(b.pod(), related=[b.node(pressure=("DiskPressure",))])
    assert {c["type"]: c["status"] for c in related.node_conditions}["DiskPressure"] == "True"


def test_events_are_normalised_filtered_to_the_subject_and_sorted_oldest_first() -> None:
    late = b.event(
        "BackOff", "Back-off restarting failed container cart", count=14, last="2025-03-14T10:29:00Z"
    )
    early = b.event("Pulled", "Container image already present", type_="Normal", last="2025-03-14T10:01:00Z")
    other = b.event("BackOff", "unrelated", name="payments-5f6d7c8b9-abcde")
    on_node = b.event(
        "NodeNotReady", "Node worker-3 status is now: NodeNotReady", kind="Node", name="worker-3"
    )
    on_node["lastTimestamp"] = "2025-03-14T10:00:00Z"
    ev = evidence.from_objects(b.pod(), events=[late, other, early, on_node])
    assert [e["reason"] for e in ev.events] == ["NodeNotReady", "Pulled", "BackOff"]
    assert ev.events[-1] == {
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container cart",
        "count": 14,
        "first_timestamp": "2025-03-14T10:20:00Z",
        "last_timestamp": "2025-03-14T10:29:00Z",
        "involved": f"Pod/{b.NEW_RS}-m2n4b",
    }


def test_events_k8s_io_v1_bodies_are_read_too() -> None:
    raw = json.loads((FIXTURES / "event" / "events_v1_unhealthy.json").read_text())
    pod = b.pod(name="search-indexer-0", rs=None)
    ev = evidence.from_objects(pod, events=[raw])
    assert ev.events == [
        {
            "type": "Warning",
            "reason": "Unhealthy",
            "message": raw["note"],
            "count": 9,
            "first_timestamp": "2025-03-14T10:24:02Z",
            "last_timestamp": "2025-03-14T10:28:32Z",
            "involved": "Pod/search-indexer-0/indexer",
        }
    ]


def test_log_findings_read_the_previous_log_first_and_the_excerpt_is_its_last_40_lines() -> None:
    previous = [f"2025-03-14T10:27:{i % 60:02d}Z processed batch {i}" for i in range(60)] + b.GO_PANIC
    ev = evidence.from_objects(b.pod(), logs=b.PYTHON_TO_POSTGRES, previous_logs=previous)
    categories = {f.category: f for f in ev.log_findings}
    assert categories["go_panic"].first_line == 62
    assert categories["postgres"].first_line > len(previous)
    assert len(ev.log_excerpt) == evidence.EXCERPT_LINES
    assert ev.log_excerpt[-1] == b.GO_PANIC[-1]
    current_only = evidence.from_objects(b.pod(), logs=b.HEALTHY_LOG)
    assert current_only.log_excerpt == b.HEALTHY_LOG
    assert current_only.log_findings == []


def test_a_healthy_object_has_type_unknown_and_itself_as_subject() -> None:
    ev = evidence.from_objects(b.pod())
    assert ev.incident_type == "unknown"
    assert ev.subject.key == f"Pod/shop/{b.NEW_RS}-m2n4b"
    partial = evidence.from_objects({"kind": "Widget"})
    assert (partial.incident_type, partial.subject.name, partial.owner_chain) == ("unknown", "unknown", [])


def test_the_detectors_run_at_the_dump_time_so_an_old_oom_still_reads_as_one() -> None:
    body = json.loads((FIXTURES / "pod" / "oom_recovered.json").read_text())
    assert evidence.reference_time(body).isoformat() >= "2025-03-14T10:25:12"
    ev = evidence.from_objects(body)
    assert ev.incident_type == "oom_killed"
    assert evidence.from_objects(body) == ev


def test_load_files_reads_a_list_events_and_a_log(tmp_path: Path) -> None:
    pod = b.pod(state=b.CRASH_LOOP_STATE, last_state=b.terminated(1), restarts=6, ready=False)
    objects = write(tmp_path / "pod.json", {"apiVersion": "v1", "kind": "List", "items": [pod, *b.rollout()]})
    backoff = b.event(
        "BackOff", "Back-off restarting failed container cart", count=14, first="2025-03-14T10:03:10Z"
    )
    events = write(tmp_path / "events.json", {"apiVersion": "v1", "kind": "EventList", "items": [backoff]})
    log = tmp_path / "previous.log"
    log.write_text("\n".join(b.MISSING_ENV) + "\n", encoding="utf-8")
    ev = evidence.load_files(objects, events, log)
    assert ev.subject.key == "Deployment/shop/cart"
    assert [e["reason"] for e in ev.events] == ["BackOff"]
    assert ev.log_excerpt == b.MISSING_ENV
    assert [f.category for f in ev.log_findings] == ["missing_config"]
    assert len(ev.rollout_history) == 2
    result = heuristics.analyze(ev)
    assert result.category is RootCause.BAD_ROLLOUT
    assert "Roll back to revision 14" in result.summary


def test_load_files_accepts_a_single_object_and_an_events_array(tmp_path: Path) -> None:
    obj = write(tmp_path / "node.json", b.node(ready="Unknown"))
    message = "Node worker-3 status is now: NodeNotReady"
    not_ready = b.event("NodeNotReady", message, kind="Node", name="worker-3", type_="Normal")
    events = write(tmp_path / "events.json", [not_ready])
    ev = evidence.load_files(str(obj), str(events))
    assert ev.incident_type == "node_not_ready"
    assert [e["reason"] for e in ev.events] == ["NodeNotReady"]
    assert ev.log_findings == [] and ev.log_excerpt == []


def test_load_files_on_the_detector_fixtures() -> None:
    ev = evidence.load_files(FIXTURES / "pod" / "crash_loop_oom.json")
    result = heuristics.analyze(ev)
    assert result.category is RootCause.OUT_OF_MEMORY
    assert "256Mi" in result.summary and "5 restarts" in result.summary
    listed = evidence.load_files(FIXTURES / "list" / "pod_list.json", FIXTURES / "event" / "unhealthy.json")
    assert listed.subject.kind in {"Pod", "Deployment"}


@pytest.mark.parametrize("content", ["{not json", '"a string"', '{"kind": "List", "items": []}'])
def test_load_files_rejects_what_is_not_a_kubernetes_object(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(errors.ConfigError, match=r"bad\.json"):
        evidence.load_files(path)


def test_load_files_lets_a_missing_file_raise_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        evidence.load_files(tmp_path / "missing.json")
