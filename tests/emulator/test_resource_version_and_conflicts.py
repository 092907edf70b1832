"""resourceVersion, uid, generation and optimistic concurrency, as "API Concepts" describes them.

https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions and
https://kubernetes.io/docs/reference/using-api/api-concepts/#conflicts
"""

from __future__ import annotations

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import MERGE
from tests.support.kube_fixtures import deployment, pod

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


async def test_create_sets_uid_timestamp_generation_and_resource_version(http: aiohttp.ClientSession) -> None:
    """Create fills uid and creationTimestamp, starts generation at 1, and stores a resourceVersion."""
    resp = await http.post(PODS, json=pod("p1"))
    assert resp.status == 201
    meta = (await resp.json())["metadata"]
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert isinstance(meta["resourceVersion"], str) and meta["resourceVersion"].isdigit()


async def test_every_write_bumps_the_resource_version_and_lists_carry_it(http: aiohttp.ClientSession) -> None:
    """Each stored write gets a newer resourceVersion; a list reports the latest one."""
    first = await (await http.post(PODS, json=pod("p1"))).json()
    second = await (
        await http.patch(f"{PODS}/p1", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE)
    ).json()
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    listing = await (await http.get(PODS)).json()
    assert listing["kind"] == "PodList"
    assert listing["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]


async def test_put_with_a_stale_resource_version_is_a_409_conflict(http: aiohttp.ClientSession) -> None:
    """A PUT whose metadata.resourceVersion differs from the stored one answers 409 Conflict."""
    stored = await (await http.post(PODS, json=pod("x"))).json()
    await http.patch(f"{PODS}/x", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    resp = await http.put(f"{PODS}/x", json=stored)
    assert resp.status == 409
    status = await resp.json()
    assert status["kind"] == "Status" and status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on pods "x": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_patch_carrying_a_stale_resource_version_is_a_409_conflict(http: aiohttp.ClientSession) -> None:
    """A patch whose body carries metadata.resourceVersion acts as a precondition."""
    stored = await (await http.post(DEPLOYS, json=deployment("web"))).json()
    rv = stored["metadata"]["resourceVersion"]
    ok = await http.patch(
        f"{DEPLOYS}/web", json={"metadata": {"resourceVersion": rv}, "spec": {"replicas": 4}}, headers=MERGE
    )
    assert ok.status == 200
    stale = await http.patch(
        f"{DEPLOYS}/web", json={"metadata": {"resourceVersion": rv}, "spec": {"replicas": 5}}, headers=MERGE
    )
    assert stale.status == 409
    assert (await stale.json())["message"].startswith(
        'Operation cannot be fulfilled on deployments.apps "web"'
    )


async def test_put_with_the_current_resource_version_succeeds(http: aiohttp.ClientSession) -> None:
    """A PUT with the current resourceVersion is accepted and gets a new one."""
    stored = await (await http.post(PODS, json=pod("x"))).json()
    stored["metadata"]["labels"] = {"new": "label"}
    resp = await http.put(f"{PODS}/x", json=stored)
    assert resp.status == 200
    assert (await resp.json())["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]


async def test_generation_increments_on_spec_changes_only(http: aiohttp.ClientSession) -> None:
    """metadata.generation grows when the spec changes, not when only metadata does."""
    await http.post(DEPLOYS, json=deployment("web"))
    labelled = await (
        await http.patch(f"{DEPLOYS}/web", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    ).json()
    assert labelled["metadata"]["generation"] == 1
    scaled = await (await http.patch(f"{DEPLOYS}/web", json={"spec": {"replicas": 9}}, headers=MERGE)).json()
    assert scaled["metadata"]["generation"] == 2


async def test_a_write_that_changes_nothing_keeps_the_resource_version(http: aiohttp.ClientSession) -> None:
    """An update that leaves the object as it was stores nothing (no new resourceVersion)."""
    stored = await (await http.post(PODS, json=pod("x", labels={"a": "b"}))).json()
    same = await (
        await http.patch(f"{PODS}/x", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    ).json()
    assert same["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


async def test_create_of_an_existing_name_is_409_already_exists(http: aiohttp.ClientSession) -> None:
    """Creating a second object with the same name answers 409 AlreadyExists."""
    await http.post(PODS, json=pod("x"))
    resp = await http.post(PODS, json=pod("x"))
    assert resp.status == 409
    assert (await resp.json())["reason"] == "AlreadyExists"


async def test_missing_object_is_a_404_status(http: aiohttp.ClientSession) -> None:
    """GET of an absent object answers a Status with reason NotFound."""
    resp = await http.get(f"{PODS}/ghost")
    assert resp.status == 404
    body = await resp.json()
    assert body["reason"] == "NotFound" and body["message"] == 'pods "ghost" not found'


async def test_generate_name_gets_a_random_suffix(http: aiohttp.ClientSession) -> None:
    """metadata.generateName: the server appends a random suffix."""
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    created = await (await http.post(PODS, json=body)).json()
    assert created["metadata"]["name"].startswith("web-") and len(created["metadata"]["name"]) == 9


async def test_status_subresource_splits_spec_and_status_writes(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """With a status subresource, writes to the object ignore status and /status writes only status."""
    emulator.put_object(pod("x", phase="Running"))
    await http.patch(f"{PODS}/x", json={"status": {"phase": "Failed"}}, headers=MERGE)
    assert emulator.get_object("v1", "Pod", "default", "x")["status"]["phase"] == "Running"  # type: ignore[index]
    patch = {"status": {"phase": "Failed"}, "metadata": {"labels": {"ignored": "yes"}}}
    resp = await http.patch(f"{PODS}/x/status", json=patch, headers=MERGE)
    assert resp.status == 200
    stored = emulator.get_object("v1", "Pod", "default", "x")
    assert stored is not None and stored["status"]["phase"] == "Failed"
    assert "ignored" not in stored["metadata"]["labels"]


async def test_delete_preconditions_must_match(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """DeleteOptions.preconditions.uid that differs answers 409 and deletes nothing."""
    emulator.put_object(pod("x"))
    options = {"preconditions": {"uid": "not-the-uid"}}
    resp = await http.delete(f"{PODS}/x", json=options)
    assert resp.status == 409
    assert (await resp.json())["message"].startswith("Precondition failed: UID in precondition: not-the-uid")
    assert emulator.get_object("v1", "Pod", "default", "x") is not None
