"""Watch streams: snapshot, resume from a resourceVersion, selectors, expiry.

https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes and
https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch
"""

from __future__ import annotations

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import MERGE, read_all_events, read_events
from tests.support.kube_fixtures import pod

PODS = "/api/v1/namespaces/default/pods"


async def test_watch_without_version_starts_with_added_for_existing_objects(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """No resourceVersion: synthetic ADDED for every existing object, then live changes."""
    emulator.put_object(pod("a"))
    async with http.get(PODS, params={"watch": "true"}) as resp:
        [added] = await read_events(resp, 1)
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "a"
        await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE)
        await http.delete(f"{PODS}/a")
        modified, deleted = await read_events(resp, 2)
    assert modified["type"] == "MODIFIED" and modified["object"]["metadata"]["labels"] == {"x": "y"}
    assert deleted["type"] == "DELETED"


async def test_watch_from_a_list_version_replays_only_later_changes(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """list → resourceVersion → watch from it: exactly the changes after the list, in order."""
    emulator.put_object(pod("a"))
    rv = (await (await http.get(PODS)).json())["metadata"]["resourceVersion"]
    emulator.put_object(pod("b"))
    emulator.delete_object("v1", "Pod", "default", "a")
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "0.3"}
    async with http.get(PODS, params=params) as resp:
        events = await read_all_events(resp)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) > int(rv)


async def test_label_selected_watch_sees_objects_enter_and_leave(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """With a selector, a change that makes an object match is ADDED, one that unmatches it is DELETED."""
    emulator.put_object(pod("a", labels={"app": "other"}))
    async with http.get(PODS, params={"watch": "true", "labelSelector": "app=web"}) as resp:
        await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"app": "web"}}}, headers=MERGE)
        await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"tier": "x"}}}, headers=MERGE)
        await http.patch(f"{PODS}/a", json={"metadata": {"labels": {"app": "gone"}}}, headers=MERGE)
        events = await read_events(resp, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


async def test_field_selected_watch_filters_by_node(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """fieldSelector applies to watch as to list."""
    async with http.get("/api/v1/pods", params={"watch": "1", "fieldSelector": "spec.nodeName=n1"}) as resp:
        emulator.put_object(pod("elsewhere", node="n2"))
        emulator.put_object(pod("here", node="n1"))
        [event] = await read_events(resp, 1)
    assert event["object"]["metadata"]["name"] == "here"


async def test_too_old_resource_version_is_410_expired(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """A resourceVersion older than the retained history answers an ERROR event with 410 Expired."""
    emulator.max_changes = 2
    for name in "abcd":
        emulator.put_object(pod(name))
    async with http.get(PODS, params={"watch": "true", "resourceVersion": "1"}) as resp:
        [error] = await read_events(resp, 1)
    assert error["type"] == "ERROR"
    assert error["object"]["code"] == 410 and error["object"]["reason"] == "Expired"


async def test_put_object_emits_watch_events(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    """Seeding through put_object is seen by watchers like any write (ADDED, then MODIFIED)."""
    async with http.get(PODS, params={"watch": "true"}) as resp:
        emulator.put_object(pod("a"))
        emulator.put_object(pod("a", phase="Failed"))
        events = await read_events(resp, 2)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED"]
    assert events[1]["object"]["status"]["phase"] == "Failed"
