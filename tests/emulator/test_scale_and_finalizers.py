"""The Scale subresource and deletion with finalizers.

https://kubernetes.io/docs/reference/kubernetes-api/autoscaling-resources/scale-v1/ and
https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
"""

from __future__ import annotations

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import MERGE, read_events
from tests.support.kube_fixtures import deployment, pod

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


async def test_get_scale_is_an_autoscaling_v1_scale(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """GET scale: spec.replicas, status.replicas and the selector as a string."""
    stored = emulator.put_object(deployment("web", replicas=3))
    scale = await (await http.get(f"{DEPLOYS}/web/scale")).json()
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": "app=web"}
    assert scale["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


async def test_patch_and_put_scale_set_the_parent_replicas(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Writes to scale set the parent's spec.replicas; watchers of the parent see MODIFIED."""
    emulator.put_object(deployment("web", replicas=3))
    async with http.get(DEPLOYS, params={"watch": "true"}) as watch:
        await read_events(watch, 1)
        patched = await http.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": 5}}, headers=MERGE)
        assert (await patched.json())["spec"]["replicas"] == 5
        [modified] = await read_events(watch, 1)
    assert modified["type"] == "MODIFIED" and modified["object"]["spec"]["replicas"] == 5
    scale = await (await http.get(f"{DEPLOYS}/web/scale")).json()
    scale["spec"]["replicas"] = 1
    assert (await (await http.put(f"{DEPLOYS}/web/scale", json=scale)).json())["spec"]["replicas"] == 1
    assert emulator.get_object("apps/v1", "Deployment", "default", "web")["spec"]["replicas"] == 1  # type: ignore[index]


async def test_scale_checks_replicas_and_resource_version(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Negative replicas answer 422; a stale resourceVersion in the Scale answers 409."""
    emulator.put_object(deployment("web"))
    assert (
        await http.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": -1}}, headers=MERGE)
    ).status == 422
    stale = {"metadata": {"resourceVersion": "0"}, "spec": {"replicas": 2}}
    assert (await http.patch(f"{DEPLOYS}/web/scale", json=stale, headers=MERGE)).status == 409


async def test_delete_with_finalizers_waits_for_them(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Delete marks deletionTimestamp while finalizers remain; emptying them removes the object."""
    body = pod("x")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    emulator.put_object(body)
    marked = await (await http.delete("/api/v1/namespaces/default/pods/x")).json()
    assert marked["metadata"]["deletionTimestamp"]
    assert emulator.get_object("v1", "Pod", "default", "x") is not None
    resp = await http.patch(
        "/api/v1/namespaces/default/pods/x", json={"metadata": {"finalizers": None}}, headers=MERGE
    )
    assert resp.status == 200
    assert emulator.get_object("v1", "Pod", "default", "x") is None
