"""The status of a Playbook resource (conditions Ready and Invalid, metav1.Condition conventions) and the
Warning Events for its problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.playbooks import crd_check, loader, status
from aiops.playbooks.model import Playbook

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)

BODY: dict[str, Any] = {
    "apiVersion": "aiops.dev/v1alpha1",
    "kind": "Playbook",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "7", "generation": 2},
    "spec": {
        "triggers": ["crash_loop"],
        "steps": [
            {"name": "note", "action": "notify", "risk": "low", "params": {"message": "hi"}},
            {
                "name": "scale up",
                "action": "scale",
                "risk": "medium",
                "params": {"namespace": "shop", "name": "web", "delta": 1, "max_replicas": 5},
                "compensate": {
                    "action": "scale",
                    "risk": "high",
                    "params": {"namespace": "shop", "name": "web", "replicas": 1, "max_replicas": 5},
                },
            },
        ],
    },
}


def playbook() -> Playbook:
    return loader.playbook_from_resource(BODY)


def conditions(found: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["lastTransitionTime"]) for c in found["conditions"]}


def test_a_loaded_playbook_is_ready_with_its_step_count_and_highest_risk() -> None:
    found = status.resource_status(None, generation=2, playbook=playbook(), problems=(), now=T0)
    assert (found["accepted"], found["playbookId"], found["steps"]) == (True, "web", 2)
    assert found["highestRisk"] == "high"  # the compensation's
    assert conditions(found) == {
        "Ready": ("True", "Loaded", "2026-01-02T03:04:05Z"),
        "Invalid": ("False", "Valid", "2026-01-02T03:04:05Z"),
    }
    assert {c["observedGeneration"] for c in found["conditions"]} == {2}
    assert crd_check.problems({**BODY, "status": found}) == []


def test_last_transition_time_moves_only_when_a_condition_flips() -> None:
    loaded = status.resource_status(None, generation=2, playbook=playbook(), problems=(), now=T0)
    again = status.resource_status(loaded, generation=3, playbook=playbook(), problems=(), now=T1)
    assert conditions(again) == conditions(loaded)  # same statuses: times kept (no status write loop)
    assert {c["observedGeneration"] for c in again["conditions"]} == {3}
    refused = status.resource_status(again, generation=4, playbook=None, problems=["bad step"], now=T1)
    assert conditions(refused) == {
        "Ready": ("False", "Invalid", "2026-01-02T03:09:05Z"),
        "Invalid": ("True", "ValidationFailed", "2026-01-02T03:09:05Z"),
    }
    invalid = next(c for c in refused["conditions"] if c["type"] == "Invalid")
    assert invalid["message"] == "bad step"
    assert (refused["accepted"], refused["steps"], refused["highestRisk"], refused["problems"]) == (
        False,
        0,
        None,
        ["bad step"],
    )
    assert crd_check.problems({**BODY, "status": refused}) == []


def test_one_warning_event_per_problem_about_the_playbook_in_its_namespace() -> None:
    problems = [f"problem {n}" for n in range(status.MAX_EVENTS + 3)]
    events = status.problem_events(BODY, problems, now=T0)
    assert [e["message"] for e in events] == problems[: status.MAX_EVENTS]
    names = {e["metadata"]["name"] for e in events}
    assert len(names) == len(events) and all(name.startswith("web.") for name in names)
    first = events[0]
    assert first["metadata"]["namespace"] == first["involvedObject"]["namespace"] == "shop"
    assert first["involvedObject"] == {
        "apiVersion": "aiops.dev/v1alpha1",
        "kind": "Playbook",
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert (first["type"], first["reason"], first["count"]) == ("Warning", "InvalidPlaybook", 1)
    assert first["firstTimestamp"] == first["lastTimestamp"] == "2026-01-02T03:04:05Z"
