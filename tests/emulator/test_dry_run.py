"""dryRun=All: every check runs, nothing is stored, no watch event is sent.

https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
"""

from __future__ import annotations

import aiohttp

from aiops.testing import ClusterEmulator
from tests.emulator.helpers import MERGE, read_all_events
from tests.support.kube_fixtures import pdb, pod

PODS = "/api/v1/namespaces/default/pods"
DRY = {"dryRun": "All"}


async def test_dry_run_writes_answer_the_result_and_store_nothing(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Create, patch, put, delete and eviction under dryRun=All return the would-be result only."""
    stored = emulator.put_object(pod("a"))
    rv = stored["metadata"]["resourceVersion"]
    watch = await http.get(PODS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "0.3"})

    created = await http.post(PODS, json=pod("b"), params=DRY)
    assert created.status == 201 and (await created.json())["metadata"]["name"] == "b"
    patched = await http.patch(
        f"{PODS}/a", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE, params=DRY
    )
    assert (await patched.json())["metadata"]["labels"] == {"x": "1"}
    replaced = await http.put(f"{PODS}/a", json={**stored, "spec": {"containers": []}}, params=DRY)
    assert replaced.status == 200
    assert (await http.delete(f"{PODS}/a", params=DRY)).status == 200
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    assert (await http.post(f"{PODS}/a/eviction", json=eviction, params=DRY)).status == 201

    assert emulator.get_object("v1", "Pod", "default", "a") == stored
    assert emulator.get_object("v1", "Pod", "default", "b") is None
    assert emulator.resource_version == int(rv)
    assert await read_all_events(watch) == []
    watch.release()


async def test_dry_run_still_runs_the_checks(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """A dry-run eviction that a PDB forbids still answers 429; a dry-run create of a duplicate 409."""
    emulator.put_object(pod("a", labels={"app": "web"}))
    emulator.put_object(pdb("web", match_labels={"app": "web"}, min_available=1))
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    assert (await http.post(f"{PODS}/a/eviction", json=eviction, params=DRY)).status == 429
    assert (await http.post(PODS, json=pod("a"), params=DRY)).status == 409


async def test_unknown_dry_run_value_is_400(http: aiohttp.ClientSession) -> None:
    """Only ``All`` is a valid dryRun value."""
    assert (await http.post(PODS, json=pod("a"), params={"dryRun": "Yes"})).status == 400
