"""PodDisruptionBudget status, computed on read as the disruption controller maintains it.

https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/pod-disruption-budget-v1/#PodDisruptionBudgetStatus
and https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import MERGE, read_all_events, read_events
from tests.support.kube_fixtures import pdb, pod

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def _replicas(emulator: ClusterEmulator, count: int, *, unready: int = 0, owned: bool = False) -> None:
    """Pods ``web-0``.. labelled app=web, the first ``unready`` not Ready, maybe owned by a ReplicaSet."""
    owner = None
    if owned:
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-rs", "namespace": "default"},
            "spec": {"replicas": count, "selector": {"matchLabels": {"app": "web"}}},
        }
        owner = emulator.put_object(rs)
    for i in range(count):
        emulator.put_object(pod(f"web-{i}", labels={"app": "web"}, ready=i >= unready, owner=owner))


def _status(desired: int, current: int, expected: int, allowed: int, generation: int = 1) -> dict[str, Any]:
    return {
        "currentHealthy": current,
        "desiredHealthy": desired,
        "disruptionsAllowed": allowed,
        "expectedPods": expected,
        "observedGeneration": generation,
        "disruptedPods": {},
    }


async def _get_status(http: aiohttp.ClientSession, name: str = "web-pdb") -> dict[str, Any]:
    resp = await http.get(f"{PDBS}/{name}")
    assert resp.status == 200
    status: dict[str, Any] = (await resp.json())["status"]
    return status


def _eviction(name: str) -> dict[str, object]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


@pytest.mark.parametrize(
    ("budget", "desired", "allowed"),
    [
        ({"min_available": 2}, 2, 1),
        ({"min_available": "50%"}, 2, 1),  # ceil(50% of 3 replicas) = 2
        ({"min_available": "34%"}, 2, 1),  # ceil(1.02) = 2
        ({"max_unavailable": 1}, 2, 1),  # 3 - 1
        ({"max_unavailable": "50%"}, 1, 2),  # 3 - ceil(1.5)
        ({"max_unavailable": 0}, 3, 0),
        ({"min_available": 0}, 0, 3),
    ],
)
async def test_status_arithmetic_for_int_and_percent_budgets(
    http: aiohttp.ClientSession,
    emulator: ClusterEmulator,
    budget: dict[str, Any],
    desired: int,
    allowed: int,
) -> None:
    """Three Ready pods of a ReplicaSet of 3: desiredHealthy and disruptionsAllowed per the rounding rules."""
    _replicas(emulator, 3, owned=True)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, **budget))
    assert await _get_status(http) == _status(desired=desired, current=3, expected=3, allowed=allowed)
    assert emulator.pdb_status("default", "web-pdb") == await _get_status(http)


async def test_status_agrees_with_what_eviction_decides(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """disruptionsAllowed evictions succeed, then 429, and the status follows each eviction."""
    _replicas(emulator, 4, owned=True)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, max_unavailable="50%"))
    assert await _get_status(http) == _status(desired=2, current=4, expected=4, allowed=2)

    assert (await http.post(f"{PODS}/web-0/eviction", json=_eviction("web-0"))).status == 201
    # The ReplicaSet still wants 4 (no controller recreates the pod): expected stays 4.
    assert await _get_status(http) == _status(desired=2, current=3, expected=4, allowed=1)
    assert (await http.post(f"{PODS}/web-1/eviction", json=_eviction("web-1"))).status == 201
    assert await _get_status(http) == _status(desired=2, current=2, expected=4, allowed=0)
    refused = await http.post(f"{PODS}/web-2/eviction", json=_eviction("web-2"))
    assert refused.status == 429
    cause = (await refused.json())["details"]["causes"][0]["message"]
    assert cause == "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"


async def test_status_after_an_eviction_with_int_min_available(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Integer minAvailable: expectedPods is the number of selected pods, so it drops with the pod."""
    _replicas(emulator, 3)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=1))
    assert await _get_status(http) == _status(desired=1, current=3, expected=3, allowed=2)
    assert (await http.post(f"{PODS}/web-0/eviction", json=_eviction("web-0"))).status == 201
    assert await _get_status(http) == _status(desired=1, current=2, expected=2, allowed=1)


async def test_pods_that_are_not_ready_are_not_healthy(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """A pod whose Ready condition is not True counts in expectedPods but not in currentHealthy."""
    _replicas(emulator, 3, unready=1)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=2))
    assert await _get_status(http) == _status(desired=2, current=2, expected=3, allowed=0)
    emulator.put_object(pod("web-0", labels={"app": "web"}, ready=True))
    assert await _get_status(http) == _status(desired=2, current=3, expected=3, allowed=1)


async def test_terminating_pods_are_not_healthy(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """A pod with a deletionTimestamp (held by a finalizer) is not healthy; int minAvailable still
    expects it (the controller counts every selected pod), a controller-based budget counts replicas."""
    _replicas(emulator, 3, owned=True)
    held = emulator.get_object("v1", "Pod", "default", "web-0")
    assert held is not None
    held["metadata"]["finalizers"] = ["example.com/hold"]
    emulator.put_object(held)
    assert (await http.delete(f"{PODS}/web-0")).status == 200
    terminating = emulator.get_object("v1", "Pod", "default", "web-0")
    assert terminating is not None and terminating["metadata"].get("deletionTimestamp")

    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=2))
    assert await _get_status(http) == _status(desired=2, current=2, expected=3, allowed=0)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, max_unavailable=1))
    assert await _get_status(http, "web-pdb") == _status(
        desired=2, current=2, expected=3, allowed=0, generation=2
    )


async def test_budget_selecting_no_pods_allows_no_disruption(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """expectedPods 0: disruptionsAllowed stays 0 even for minAvailable 0 (updatePdbStatus)."""
    emulator.put_object(pdb("web-pdb", match_labels={"app": "none"}, min_available=0))
    assert await _get_status(http) == _status(desired=0, current=0, expected=0, allowed=0)


async def test_list_and_selected_lists_carry_the_status(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """LIST, label-selected LIST, field-selected LIST and the all-namespaces LIST all compute it."""
    _replicas(emulator, 2)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=1))
    other = pdb("other", match_labels={"app": "other"}, min_available=1)
    other["metadata"]["labels"] = {"team": "b"}
    emulator.put_object(other)
    web_pdb = emulator.get_object("policy/v1", "PodDisruptionBudget", "default", "web-pdb")
    assert web_pdb is not None
    web_pdb["metadata"]["labels"] = {"team": "a"}
    emulator.put_object(web_pdb)

    web_status = _status(desired=1, current=2, expected=2, allowed=1)
    other_status = _status(desired=1, current=0, expected=0, allowed=0)
    listed = await (await http.get(PDBS)).json()
    assert [(i["metadata"]["name"], i["status"]) for i in listed["items"]] == [
        ("other", other_status),
        ("web-pdb", web_status),
    ]
    by_label = await (await http.get(PDBS, params={"labelSelector": "team=a"})).json()
    assert [i["status"] for i in by_label["items"]] == [web_status]
    by_field = await (await http.get(PDBS, params={"fieldSelector": "metadata.name=other"})).json()
    assert [i["status"] for i in by_field["items"]] == [other_status]
    everywhere = await (await http.get("/apis/policy/v1/poddisruptionbudgets")).json()
    assert len(everywhere["items"]) == 2 and all(
        "disruptionsAllowed" in i["status"] for i in everywhere["items"]
    )


async def test_a_stored_status_is_overridden_and_reads_store_nothing(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """A status the test wrote stays stored but is never served; reads keep the resourceVersion."""
    _replicas(emulator, 2)
    fake = {"currentHealthy": 9, "desiredHealthy": 0, "disruptionsAllowed": 99, "expectedPods": 9}
    stored = emulator.put_object(
        pdb("web-pdb", match_labels={"app": "web"}, min_available=1) | {"status": fake}
    )
    rv = emulator.resource_version

    got = await (await http.get(f"{PDBS}/web-pdb")).json()
    assert got["status"] == _status(desired=1, current=2, expected=2, allowed=1)
    assert got["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert (await (await http.get(f"{PDBS}/web-pdb/status")).json())["status"] == got["status"]
    written = await http.patch(
        f"{PDBS}/web-pdb/status", json={"status": {"disruptionsAllowed": 42}}, headers=MERGE
    )
    assert (await written.json())["status"]["disruptionsAllowed"] == 1
    stored_now = emulator.get_object("policy/v1", "PodDisruptionBudget", "default", "web-pdb")
    assert stored_now is not None and stored_now["status"]["disruptionsAllowed"] == 42
    assert emulator.resource_version == rv + 1  # only the /status write stored something


async def test_observed_generation_follows_spec_changes(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """observedGeneration is the budget's metadata.generation, which a spec change bumps."""
    _replicas(emulator, 3)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=1))
    patched = await http.patch(f"{PDBS}/web-pdb", json={"spec": {"minAvailable": 3}}, headers=MERGE)
    assert (await patched.json())["status"] == _status(
        desired=3, current=3, expected=3, allowed=0, generation=2
    )
    assert await _get_status(http) == _status(desired=3, current=3, expected=3, allowed=0, generation=2)


async def test_watch_events_carry_the_status_and_pod_changes_emit_none(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """WATCH events show the computed status; a pod change alone sends no PodDisruptionBudget event."""
    _replicas(emulator, 2)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=1))
    async with http.get(PDBS, params={"watch": "true"}) as watch:
        [added] = await read_events(watch, 1)
        assert added["object"]["status"] == _status(desired=1, current=2, expected=2, allowed=1)
    rv = str(emulator.resource_version)
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "0.3"}
    async with http.get(PDBS, params=params) as quiet:
        emulator.put_object(pod("web-2", labels={"app": "web"}))
        assert await read_all_events(quiet) == []
    async with http.get(PDBS, params={"watch": "true", "resourceVersion": rv}) as watch:
        await http.patch(f"{PDBS}/web-pdb", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE)
        [modified] = await read_events(watch, 1)
    assert modified["type"] == "MODIFIED"
    assert modified["object"]["status"] == _status(desired=1, current=3, expected=3, allowed=2)
