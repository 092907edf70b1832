"""POST pods/NAME/eviction against PodDisruptionBudgets, as the disruption controller computes them.

https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/ and
https://kubernetes.io/docs/tasks/run-application/configure-pdb/#rounding-logic-when-specifying-percentages
"""

from __future__ import annotations

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import read_events
from tests.support.kube_fixtures import pdb, pod

PODS = "/api/v1/namespaces/default/pods"


def _eviction(name: str) -> dict[str, object]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


def _replicas(emulator: ClusterEmulator, count: int, *, unready: int = 0, owned: bool = False) -> None:
    owner = None
    if owned:
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-rs", "namespace": "default"},
        }
        owner = emulator.put_object(
            rs | {"spec": {"replicas": count, "selector": {"matchLabels": {"app": "web"}}}}
        )
    for i in range(count):
        emulator.put_object(pod(f"web-{i}", labels={"app": "web"}, ready=i >= unready, owner=owner))


async def _evict(http: aiohttp.ClientSession, name: str) -> aiohttp.ClientResponse:
    return await http.post(f"{PODS}/{name}/eviction", json=_eviction(name))


async def test_eviction_without_budget_deletes_the_pod(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """No PDB covers the pod: 201 with a Success Status, and the pod's DELETED event is sent."""
    _replicas(emulator, 1)
    async with http.get(PODS, params={"watch": "true"}) as watch:
        await read_events(watch, 1)  # the synthetic ADDED
        resp = await _evict(http, "web-0")
        assert resp.status == 201
        assert (await resp.json())["status"] == "Success"
        [deleted] = await read_events(watch, 1)
    assert deleted["type"] == "DELETED" and deleted["object"]["metadata"]["name"] == "web-0"
    assert emulator.get_object("v1", "Pod", "default", "web-0") is None


async def test_min_available_blocks_with_the_api_server_message(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """minAvailable=2 with 2 healthy pods: 429 TooManyRequests naming the budget and the counts."""
    _replicas(emulator, 2)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=2))
    resp = await _evict(http, "web-0")
    assert resp.status == 429
    status = await resp.json()
    assert status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
        }
    ]
    assert emulator.get_object("v1", "Pod", "default", "web-0") is not None


@pytest.mark.parametrize(
    ("budget", "allowed"),
    [
        ({"min_available": 2}, 1),  # 3 healthy, need 2: one eviction
        ({"min_available": "50%"}, 1),  # ceil(1.5) = 2 needed
        ({"min_available": "34%"}, 1),  # ceil(1.02) = 2 needed
        ({"max_unavailable": 1}, 1),
        ({"max_unavailable": "50%"}, 2),  # ceil(1.5) = 2 may be unavailable
        ({"max_unavailable": 0}, 0),
    ],
)
async def test_budget_arithmetic(
    http: aiohttp.ClientSession, emulator: ClusterEmulator, budget: dict[str, object], allowed: int
) -> None:
    """Evictions allowed = healthy - desired; percentages of the controllers' replicas rounded up."""
    _replicas(emulator, 3, owned=True)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, **budget))  # type: ignore[arg-type]
    statuses = [(await _evict(http, f"web-{i}")).status for i in range(3)]
    assert statuses.count(201) == allowed
    assert statuses == [201] * allowed + [429] * (3 - allowed)


async def test_without_controllers_expected_is_the_matching_pods(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Pods without a known controller: expected = the covered pods, recounted at each eviction."""
    _replicas(emulator, 4)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available="50%"))
    statuses = [(await _evict(http, f"web-{i}")).status for i in range(4)]
    assert statuses == [201, 201, 201, 429]  # need ceil(50%) of 4, 3, 2, 1 pods: 2, 2, 1, 1


async def test_unready_pod_is_evicted_when_the_budget_is_healthy(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """IfHealthyBudget (default): a not-Ready pod may go when healthy >= desired, even at 0 allowed."""
    _replicas(emulator, 3, unready=1)  # web-0 unready; 2 healthy
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=2))
    assert (await _evict(http, "web-1")).status == 429
    assert (await _evict(http, "web-0")).status == 201


async def test_unhealthy_policy_always_allow(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """AlwaysAllow: a not-Ready pod is evicted even when the budget is not met."""
    _replicas(emulator, 2, unready=2)
    emulator.put_object(
        pdb("web-pdb", match_labels={"app": "web"}, min_available=2, unhealthy_policy="AlwaysAllow")
    )
    assert (await _evict(http, "web-0")).status == 201


async def test_pending_pod_ignores_the_budget(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """Pending, Succeeded and Failed pods are evicted without a budget check."""
    emulator.put_object(pod("web-0", labels={"app": "web"}, phase="Pending", ready=False))
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=5))
    assert (await _evict(http, "web-0")).status == 201


async def test_two_budgets_is_500_and_missing_pod_is_404(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """More than one budget for a pod is unsupported (500); evicting an absent pod is 404."""
    _replicas(emulator, 2)
    emulator.put_object(pdb("one", match_labels={"app": "web"}, min_available=0))
    emulator.put_object(pdb("two", match_labels={"app": "web"}, min_available=0))
    assert (await _evict(http, "web-0")).status == 500
    assert (await _evict(http, "ghost")).status == 404
