"""delete_pod: deletes a controlled pod (uid precondition), refuses a bare one; always audited."""

from __future__ import annotations

import pytest

from aiops import errors
from aiops.emulator import ClusterEmulator
from tests.actions.conftest import MemoryAudit, Runner
from tests.support.kube_fixtures import deployment, pod, replicaset


async def test_deletes_a_pod_its_controller_will_replace(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """The pod is deleted with a uid precondition; the audit entry names who, what and the API calls."""
    rs = emulator.put_object(
        replicaset(emulator.put_object(deployment("web")), revision=1, image="app:1", hash_="abc")
    )
    stored = emulator.put_object(pod("web-abc-1", owner=rs))
    result = await run("delete_pod", namespace="default", pod="web-abc-1", grace_period_seconds="0")
    assert result.ok, result.error
    assert result.output == {
        "pod": "web-abc-1",
        "uid": stored["metadata"]["uid"],
        "controller": "ReplicaSet/web-abc",
    }
    assert emulator.get_object("v1", "Pod", "default", "web-abc-1") is None
    [delete] = emulator.calls_matching("DELETE")
    assert delete.query == {"gracePeriodSeconds": "0"}
    assert delete.body["preconditions"] == {"uid": stored["metadata"]["uid"]}
    [entry] = audit.entries
    assert (entry.action, entry.target, entry.ok, entry.actor, entry.run_id, entry.request_id) == (
        "delete_pod",
        "Pod/default/web-abc-1",
        True,
        "alice",
        "run-1",
        "req-1",
    )
    assert entry.params == {
        "namespace": "default",
        "pod": "web-abc-1",
        "selector": None,
        "grace_period_seconds": 0,
        "max_pods": 1,
    }
    # The pod, its ReplicaSet (to name the workload for the guards), then the one DELETE.
    assert [(c.method, c.status) for c in entry.api_calls] == [("GET", 200), ("GET", 200), ("DELETE", 200)]


async def test_refuses_a_pod_without_controller(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """A bare pod would not come back: ActionRefused, nothing deleted, the refusal audited."""
    emulator.put_object(pod("lonely"))
    with pytest.raises(errors.ActionRefused, match="no controller"):
        await run("delete_pod", namespace="default", pod="lonely")
    assert emulator.get_object("v1", "Pod", "default", "lonely") is not None
    assert emulator.calls_matching("DELETE") == []
    [entry] = audit.entries
    assert not entry.ok and entry.summary.startswith("refused:")


async def test_missing_pod_is_not_ok_and_audited(run: Runner, audit: MemoryAudit) -> None:
    """A 404 is an outcome (ok=False), still audited."""
    result = await run("delete_pod", namespace="default", pod="ghost")
    assert not result.ok
    assert [e.ok for e in audit.entries] == [False]
