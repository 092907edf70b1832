"""cordon, uncordon and drain (Eviction API, PodDisruptionBudgets, kubectl drain's filters)."""

from __future__ import annotations

import pytest

from aiops import errors
from aiops.emulator import ClusterEmulator
from tests.actions.conftest import MemoryAudit, Runner
from tests.support.kube_fixtures import node, pdb, pod


def _unschedulable(emulator: ClusterEmulator, name: str = "n1") -> bool:
    stored = emulator.get_object("v1", "Node", None, name)
    assert stored is not None
    return bool(stored["spec"].get("unschedulable"))


async def test_cordon_and_uncordon(run: Runner, emulator: ClusterEmulator, audit: MemoryAudit) -> None:
    """cordon sets spec.unschedulable; uncordon removes it; repeating is a no-op."""
    emulator.put_object(node("n1"))
    assert (await run("cordon", node="n1")).output == {"changed": True}
    assert _unschedulable(emulator)
    assert (await run("cordon", node="n1")).output == {"changed": False}
    assert (await run("uncordon", node="n1")).output == {"changed": True}
    assert not _unschedulable(emulator)
    assert [(e.action, e.target) for e in audit.entries] == [
        ("cordon", "Node/-/n1"),
        ("cordon", "Node/-/n1"),
        ("uncordon", "Node/-/n1"),
    ]


def _owned_pods(emulator: ClusterEmulator, count: int, node_name: str = "n1") -> dict[str, object]:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-rs", "namespace": "default"},
    }
    owner = emulator.put_object(
        rs | {"spec": {"replicas": count, "selector": {"matchLabels": {"app": "web"}}}}
    )
    for i in range(count):
        emulator.put_object(pod(f"web-{i}", labels={"app": "web"}, node=node_name, owner=owner))
    return owner


async def test_drain_evicts_through_the_eviction_api(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """Cordon, then one eviction POST per pod on the node; never a DELETE; other nodes untouched."""
    emulator.put_object(node("n1"))
    owner = _owned_pods(emulator, 2)
    emulator.put_object(pod("elsewhere", node="n2", owner=owner))
    result = await run("drain", node="n1")
    assert result.ok, result.summary
    assert sorted(result.output["evicted"]) == ["default/web-0", "default/web-1"]
    assert _unschedulable(emulator)
    evictions = emulator.calls_matching("POST", "/eviction")
    assert sorted(c.path for c in evictions) == [
        "/api/v1/namespaces/default/pods/web-0/eviction",
        "/api/v1/namespaces/default/pods/web-1/eviction",
    ]
    assert emulator.calls_matching("DELETE") == []
    assert emulator.get_object("v1", "Pod", "default", "elsewhere") is not None
    [entry] = audit.entries
    assert entry.ok and entry.target == "Node/-/n1"
    assert sum(1 for c in entry.api_calls if c.path.endswith("/eviction")) == 2


async def test_drain_stops_on_a_pdb_429_and_names_the_pods(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """A PodDisruptionBudget answers 429: retried with backoff until the timeout, then ok=False naming
    the pods and the budget's message; the pod stays, and no plain DELETE is ever sent."""
    emulator.put_object(node("n1"))
    _owned_pods(emulator, 2)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=2))
    result = await run("drain", node="n1", timeout_seconds="0.1")
    assert not result.ok
    assert result.output["evicted"] == []
    assert {f["pod"] for f in result.output["failed"]} == {"default/web-0", "default/web-1"}
    assert "The disruption budget web-pdb needs 2 healthy pods and has 2 currently" in result.summary
    attempts = emulator.calls_matching("POST", "/pods/web-0/eviction")
    assert len(attempts) >= 2  # retried
    assert emulator.calls_matching("DELETE") == []
    assert emulator.get_object("v1", "Pod", "default", "web-0") is not None
    assert [e.ok for e in audit.entries] == [False]


async def test_drain_evicts_what_the_budget_allows(run: Runner, emulator: ClusterEmulator) -> None:
    """maxUnavailable=1 of 3: one eviction succeeds, the others keep answering 429."""
    emulator.put_object(node("n1"))
    _owned_pods(emulator, 3)
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, max_unavailable=1))
    result = await run("drain", node="n1")
    assert not result.ok
    assert len(result.output["evicted"]) == 1 and len(result.output["failed"]) == 2


async def test_drain_skips_daemonset_and_mirror_pods(run: Runner, emulator: ClusterEmulator) -> None:
    """DaemonSet pods (ignore_daemonsets) and mirror pods are skipped, like kubectl drain."""
    emulator.put_object(node("n1"))
    ds = emulator.put_object(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
        }
    )
    emulator.put_object(pod("agent-x", "kube-system", node="n1", owner=ds))
    emulator.put_object(
        pod("etcd-n1", "kube-system", node="n1", annotations={"kubernetes.io/config.mirror": "abc"})
    )
    result = await run("drain", node="n1")
    assert result.ok
    assert [s["reason"] for s in result.output["skipped"]] == [
        "DaemonSet-managed",
        "mirror pod (managed by the kubelet)",
    ]
    assert emulator.calls_matching("POST", "/eviction") == []
    with pytest.raises(errors.ActionRefused, match="DaemonSet-managed"):
        await run("drain", node="n1", ignore_daemonsets="false")


async def test_drain_refuses_bare_pods_and_emptydir_data(run: Runner, emulator: ClusterEmulator) -> None:
    """Without --force-like options kubectl refuses pods with no controller or with emptyDir volumes."""
    emulator.put_object(node("n1"))
    owner = _owned_pods(emulator, 1)
    emulator.put_object(pod("scratch", node="n1", owner=owner, volumes=[{"name": "tmp", "emptyDir": {}}]))
    with pytest.raises(errors.ActionRefused, match="emptyDir"):
        await run("drain", node="n1")
    emulator.put_object(pod("bare", node="n1"))
    with pytest.raises(errors.ActionRefused, match="default/bare: no controller"):
        await run("drain", node="n1", delete_emptydir_data=True)
    assert emulator.calls_matching("POST", "/eviction") == []
    # Refused while planning, before anything is written (kubectl would have cordoned first).
    assert not _unschedulable(emulator)


async def test_drain_of_an_empty_node_is_a_successful_no_op(run: Runner, emulator: ClusterEmulator) -> None:
    """No pods to evict: ok, the node is cordoned."""
    emulator.put_object(node("n1"))
    result = await run("drain", node="n1")
    assert result.ok and result.output["evicted"] == [] and result.output["cordoned"] is True
