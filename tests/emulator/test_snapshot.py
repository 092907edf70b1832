"""ClusterEmulator.snapshot(): the whole stored state, to assert that a run changed nothing.

Dry-run writes store nothing (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run),
so a snapshot taken before them equals one taken after; a real write changes it.
"""

from __future__ import annotations

import json

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import JSON_PATCH, MERGE, STRATEGIC
from tests.support.kube_fixtures import deployment, node, pdb, pod

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
DRY = {"dryRun": "All"}


def _seed(emulator: ClusterEmulator) -> None:
    emulator.put_object(pod("a", labels={"app": "web"}))
    emulator.put_object(pod("b", labels={"app": "web"}))
    emulator.put_object(deployment("web", replicas=2))
    emulator.put_object(node("n1"))
    emulator.put_object(pdb("web-pdb", match_labels={"app": "web"}, min_available=1))
    emulator.set_pod_log("default", "a", "hello\n")
    emulator.set_pod_log("default", "a", "crash\n", container="app", previous=True)


def test_snapshot_keys_objects_counter_and_logs(emulator: ClusterEmulator) -> None:
    """Keys are apiVersion/Kind/namespace/name ('-' for cluster scope); the counter and logs are included."""
    _seed(emulator)
    snap = emulator.snapshot()
    objects = {k for k in snap if not k.startswith("#")}
    assert objects == {
        "v1/Namespace/-/default",  # created with the first object stored in it
        "v1/Pod/default/a",
        "v1/Pod/default/b",
        "apps/v1/Deployment/default/web",
        "v1/Node/-/n1",
        "policy/v1/PodDisruptionBudget/default/web-pdb",
    }
    assert snap["v1/Pod/default/a"] == emulator.get_object("v1", "Pod", "default", "a")
    assert snap["#resourceVersion"] == {"counter": emulator.resource_version}
    assert snap["#podLogs"] == {"default/a/*/current": "hello\n", "default/a/app/previous": "crash\n"}
    assert snap["#json"]["v1/Node/-/n1"] == json.dumps(
        snap["v1/Node/-/n1"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert "status" not in snap["policy/v1/PodDisruptionBudget/default/web-pdb"]  # stored, not computed


def test_snapshot_is_a_deep_copy(emulator: ClusterEmulator) -> None:
    """Mutating a snapshot changes neither the emulator nor a later snapshot."""
    _seed(emulator)
    before = emulator.snapshot()
    taken = emulator.snapshot()
    taken["v1/Pod/default/a"]["metadata"]["labels"]["app"] = "changed"
    assert emulator.snapshot() == before


async def test_snapshot_unchanged_by_dry_runs_and_changed_by_a_real_write(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Every dry-run write kind leaves the snapshot equal; then one real PATCH makes it differ."""
    _seed(emulator)
    before = emulator.snapshot()
    labels = {"metadata": {"labels": {"x": "1"}}}
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    answers = [
        await http.post(PODS, json=pod("c"), params=DRY),
        await http.put(f"{PODS}/a", json=emulator.get_object("v1", "Pod", "default", "a"), params=DRY),
        await http.patch(f"{PODS}/a", json=labels, headers=MERGE, params=DRY),
        await http.patch(f"{PODS}/a", json=labels, headers=STRATEGIC, params=DRY),
        await http.patch(
            f"{PODS}/a",
            json=[{"op": "add", "path": "/metadata/labels/x", "value": "1"}],
            headers=JSON_PATCH,
            params=DRY,
        ),
        await http.patch(f"{PODS}/a/status", json={"status": {"phase": "Failed"}}, headers=MERGE, params=DRY),
        await http.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": 5}}, headers=MERGE, params=DRY),
        await http.delete(f"{PODS}/b", params=DRY),
        await http.delete(f"{PODS}/b", json={"kind": "DeleteOptions", "dryRun": ["All"]}),
        await http.post(f"{PODS}/a/eviction", json=eviction, params=DRY),
        await http.post(f"{PODS}/a/eviction", json=eviction | {"deleteOptions": {"dryRun": ["All"]}}),
    ]
    assert [r.status for r in answers] == [201, 200, 200, 200, 200, 200, 200, 200, 200, 201, 201]
    assert emulator.snapshot() == before
    assert all(c.dry_run for c in emulator.calls_matching() if c.method != "GET")

    assert (await http.patch(f"{PODS}/a", json=labels, headers=MERGE)).status == 200
    after = emulator.snapshot()
    assert after != before
    assert after["#resourceVersion"]["counter"] == before["#resourceVersion"]["counter"] + 1
    assert after["v1/Pod/default/a"]["metadata"]["labels"] == {"app": "web", "x": "1"}
    assert {k for k in after if after[k] != before[k]} == {"v1/Pod/default/a", "#resourceVersion", "#json"}


def test_a_write_that_is_undone_still_shows(emulator: ClusterEmulator) -> None:
    """Creating and deleting an object leaves the objects as they were, but not the counter."""
    _seed(emulator)
    before = emulator.snapshot()
    emulator.put_object(pod("tmp"))
    assert emulator.delete_object("v1", "Pod", "default", "tmp")
    after = emulator.snapshot()
    assert after != before
    assert {k: v for k, v in after.items() if k != "#resourceVersion"} == {
        k: v for k, v in before.items() if k != "#resourceVersion"
    }


def test_pod_logs_are_part_of_the_snapshot(emulator: ClusterEmulator) -> None:
    """Changing a stored log changes the snapshot."""
    _seed(emulator)
    before = emulator.snapshot()
    emulator.set_pod_log("default", "a", "other\n")
    assert emulator.snapshot() != before
