"""dryRun=All: every check runs, nothing is stored, no watch event is sent.

https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import JSON_PATCH, MERGE, STRATEGIC, read_all_events
from tests.support.kube_fixtures import deployment, pdb, pod

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
DRY = {"dryRun": "All"}
EVICTION = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}


async def _quiet_watch(http: aiohttp.ClientSession, path: str, rv: int) -> aiohttp.ClientResponse:
    """A watch from ``rv`` that ends after 0.3s: read it with ``read_all_events`` to see every event."""
    params = {"watch": "true", "resourceVersion": str(rv), "timeoutSeconds": "0.3"}
    return await http.get(path, params=params)


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


@pytest.mark.parametrize(
    ("params", "body"),
    [(DRY, EVICTION), ({}, EVICTION | {"deleteOptions": {"dryRun": ["All"]}})],
    ids=["query", "deleteOptions"],
)
async def test_dry_run_eviction_answers_as_a_real_one_and_deletes_nothing(
    http: aiohttp.ClientSession, emulator: ClusterEmulator, params: dict[str, str], body: dict[str, Any]
) -> None:
    """dryRun=All in the query or in the Eviction's deleteOptions: 201 Success, 429 when a budget
    blocks, the pod stays, no resourceVersion is used and no event is sent."""
    emulator.put_object(pod("a", labels={"app": "web"}))
    emulator.put_object(pod("b", labels={"app": "web"}))
    emulator.put_object(pdb("web", match_labels={"app": "web"}, min_available=1))
    before, rv = emulator.snapshot(), emulator.resource_version
    watch = await _quiet_watch(http, PODS, rv)

    allowed = await http.post(f"{PODS}/a/eviction", json=body, params=params)
    assert allowed.status == 201 and (await allowed.json())["status"] == "Success"
    emulator.put_object(pdb("web", match_labels={"app": "web"}, min_available=2))
    blocked = await http.post(f"{PODS}/a/eviction", json=body, params=params)
    assert blocked.status == 429
    cause = (await blocked.json())["details"]["causes"][0]["message"]
    assert cause == "The disruption budget web needs 2 healthy pods and has 2 currently"

    assert emulator.get_object("v1", "Pod", "default", "a") == before["v1/Pod/default/a"]
    assert emulator.resource_version == rv + 1  # only the budget's put_object
    assert await read_all_events(watch) == []
    watch.release()
    evictions = emulator.calls_matching("POST", "/eviction")
    assert len(evictions) == 2 and all(c.dry_run for c in evictions)
    assert emulator.calls_matching("POST", "/eviction", dry_run=False) == []


async def test_dry_run_delete_checks_preconditions_and_stores_nothing(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """DELETE with preconditions under dryRun: a match answers 200, a mismatch 409; nothing changes,
    a pod with finalizers is answered terminating but stored untouched."""
    stored = emulator.put_object(pod("a"))
    held = emulator.put_object(
        pod("h") | {"metadata": {"name": "h", "namespace": "default", "finalizers": ["x/y"]}}
    )
    before, rv = emulator.snapshot(), emulator.resource_version
    watch = await _quiet_watch(http, PODS, rv)
    meta = stored["metadata"]
    matching = {"preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}}

    ok = await http.delete(f"{PODS}/a", json=matching, params=DRY)
    assert ok.status == 200 and (await ok.json())["metadata"]["name"] == "a"
    in_body = await http.delete(f"{PODS}/a", json=matching | {"dryRun": ["All"]})
    assert in_body.status == 200
    stale = await http.delete(f"{PODS}/a", json={"preconditions": {"resourceVersion": "999"}}, params=DRY)
    assert stale.status == 409
    wrong_uid = await http.delete(f"{PODS}/a", json={"preconditions": {"uid": "nope"}}, params=DRY)
    assert wrong_uid.status == 409
    terminating = await http.delete(f"{PODS}/h", params=DRY)
    assert terminating.status == 200 and (await terminating.json())["metadata"]["deletionTimestamp"]

    assert emulator.snapshot() == before
    assert emulator.get_object("v1", "Pod", "default", "h") == held
    assert await read_all_events(watch) == []
    watch.release()


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (MERGE, {"spec": {"replicas": 7}}),
        (STRATEGIC, {"spec": {"replicas": 7}}),
        (JSON_PATCH, [{"op": "replace", "path": "/spec/replicas", "value": 7}]),
    ],
    ids=["merge", "strategic", "json"],
)
async def test_dry_run_patch_of_object_and_scale(
    http: aiohttp.ClientSession, emulator: ClusterEmulator, headers: dict[str, str], body: Any
) -> None:
    """Every patch type under dryRun, on the Deployment and on its scale subresource: the answer shows
    replicas 7, the stored object, resourceVersion counter and watch stream do not move."""
    emulator.put_object(deployment("web", replicas=2))
    before, rv = emulator.snapshot(), emulator.resource_version
    watch = await _quiet_watch(http, DEPLOYS, rv)

    on_object = await http.patch(f"{DEPLOYS}/web", json=body, headers=headers, params=DRY)
    assert on_object.status == 200
    answer = await on_object.json()
    assert answer["spec"]["replicas"] == 7 and answer["metadata"]["generation"] == 2
    on_scale = await http.patch(f"{DEPLOYS}/web/scale", json=body, headers=headers, params=DRY)
    assert on_scale.status == 200 and (await on_scale.json())["spec"]["replicas"] == 7
    scale = await (await http.get(f"{DEPLOYS}/web/scale")).json()
    put_scale = await http.put(f"{DEPLOYS}/web/scale", json=scale | {"spec": {"replicas": 9}}, params=DRY)
    assert put_scale.status == 200 and (await put_scale.json())["spec"]["replicas"] == 9

    assert emulator.snapshot() == before
    assert emulator.resource_version == rv
    assert await read_all_events(watch) == []
    watch.release()
    assert len(emulator.calls_matching(dry_run=True)) == 3
    assert emulator.calls_matching("PATCH", dry_run=False) == []


async def test_calls_expose_the_query_string(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """Recorded calls keep their query; ``calls_matching`` filters on dry_run and on query pairs."""
    emulator.put_object(pod("a"))
    await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE, params=DRY)
    await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"x": "2"}}}, headers=MERGE)
    await http.get(PODS, params={"labelSelector": "x=2"})

    [dry] = emulator.calls_matching("PATCH", dry_run=True)
    [real] = emulator.calls_matching("PATCH", dry_run=False)
    assert dry.query == {"dryRun": "All"} and real.query == {}
    assert real.body == {"metadata": {"labels": {"x": "2"}}}
    assert len(emulator.calls_matching("PATCH")) == 2  # the old behaviour: both
    [listed] = emulator.calls_matching(query={"labelSelector": "x=2"})
    assert listed.method == "GET"
