"""Read actions: describe, events, logs (current, previous, tail), rollout_history, notify."""

from __future__ import annotations

from aiops.emulator import ClusterEmulator
from tests.actions.conftest import MemoryAudit, Runner
from tests.support.kube_fixtures import deployment, event, pod, replicaset


async def test_describe_returns_the_object_without_managed_fields_and_its_events(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """describe: the object (managedFields stripped) and its Events, oldest first; reads are not audited."""
    body = pod("web-1")
    body["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    subject = emulator.put_object(body)
    emulator.put_object(
        event(
            "e2",
            subject,
            reason="BackOff",
            message="Back-off restarting",
            count=7,
            last="2024-01-02T00:00:00Z",
        )
    )
    emulator.put_object(
        event("e1", subject, reason="Pulled", message="pulled", type_="Normal", last="2024-01-01T00:00:00Z")
    )
    emulator.put_object(
        event("other", emulator.put_object(pod("web-2")), reason="X", message="not about web-1")
    )
    result = await run("describe", api_version="v1", kind="Pod", namespace="default", name="web-1")
    assert result.ok
    assert "managedFields" not in result.output["object"]["metadata"]
    assert result.output["events"] == [
        {
            "type": "Normal",
            "reason": "Pulled",
            "message": "pulled",
            "count": 1,
            "lastTimestamp": "2024-01-01T00:00:00Z",
        },
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting",
            "count": 7,
            "lastTimestamp": "2024-01-02T00:00:00Z",
        },
    ]
    assert [c.method for c in result.api_calls] == ["GET", "GET"]
    assert audit.entries == []


async def test_describe_of_a_missing_object_is_not_ok(run: Runner) -> None:
    """An API failure becomes ok=False with the error, not an exception."""
    result = await run(
        "describe", api_version="apps/v1", kind="Deployment", namespace="default", name="ghost"
    )
    assert not result.ok
    assert result.error is not None and "404" in result.error
    assert result.api_calls[0].status == 404


async def test_events_lists_the_events_of_an_object(run: Runner, emulator: ClusterEmulator) -> None:
    """events: by kind and name."""
    emulator.put_object(event("e1", emulator.put_object(pod("web-1")), reason="OOMKilling", message="killed"))
    result = await run("events", kind="Pod", name="web-1", namespace="default")
    assert [e["reason"] for e in result.output] == ["OOMKilling"]


async def test_logs_current_previous_and_tail(run: Runner, emulator: ClusterEmulator) -> None:
    """logs: tail defaults to limits.log_tail_lines (2 here); previous reads the crashed instance."""
    emulator.put_object(pod("web-1"))
    emulator.set_pod_log("default", "web-1", "a\nb\nc\n")
    emulator.set_pod_log("default", "web-1", "panic: boom\n", previous=True)
    current = await run("logs", namespace="default", pod="web-1")
    assert current.output == "b\nc\n"
    assert current.api_calls[0].path.endswith("/log?tailLines=2")
    assert (await run("logs", namespace="default", pod="web-1", tail_lines="10")).output == "a\nb\nc\n"
    previous = await run("logs", namespace="default", pod="web-1", previous="true", container="app")
    assert previous.ok and previous.output == "panic: boom\n"


async def test_logs_without_a_previous_instance_is_not_ok(run: Runner, emulator: ClusterEmulator) -> None:
    """The API answers 400 for a missing previous log: ok=False with its message."""
    emulator.put_object(pod("web-1"))
    result = await run("logs", namespace="default", pod="web-1", previous=True)
    assert not result.ok
    assert (
        result.error is not None
        and 'previous terminated container "app" in pod "web-1" not found' in result.error
    )


async def test_rollout_history_lists_owned_replicasets_by_revision(
    run: Runner, emulator: ClusterEmulator
) -> None:
    """rollout_history: ReplicaSets controlled by the Deployment (uid), sorted by revision annotation."""
    owner = emulator.put_object(deployment("web", revision=3))
    emulator.put_object(replicaset(owner, revision=3, image="app:3", hash_="ccc"))
    emulator.put_object(replicaset(owner, revision=1, image="app:1", hash_="aaa"))
    emulator.put_object(replicaset(owner, revision=2, image="app:2", hash_="bbb"))
    stranger = replicaset(owner, revision=9, image="other", hash_="zzz")
    stranger["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    emulator.put_object(stranger)
    result = await run("rollout_history", namespace="default", deployment="web")
    assert [(h["revision"], h["replicaset"], h["images"]) for h in result.output] == [
        (1, "web-aaa", ["app:1"]),
        (2, "web-bbb", ["app:2"]),
        (3, "web-ccc", ["app:3"]),
    ]


async def test_notify_returns_the_message(run: Runner) -> None:
    """notify: ok, with the message as summary and output."""
    result = await run("notify", message="disk almost full")
    assert result.ok and result.summary == result.output == "disk almost full"


async def test_logs_since_window_is_sent_as_the_api_names_it(run: Runner, emulator: ClusterEmulator) -> None:
    """``since_seconds`` becomes the ``sinceSeconds`` query parameter of ``pods/NAME/log`` (API reference).

    The emulator stores log text without per-line times, so it cannot filter by time: this checks
    the wire contract, not the filtering.
    """
    emulator.put_object(pod("web-1"))
    emulator.set_pod_log("default", "web-1", "a\nb\n")
    result = await run("logs", namespace="default", pod="web-1", since_seconds="300")
    assert result.ok
    (call,) = emulator.calls_matching("GET", "/pods/web-1/log")
    assert call.query.get("sinceSeconds") == "300"
