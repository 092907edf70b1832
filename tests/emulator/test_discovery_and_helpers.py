"""Discovery of the served resources (kopf needs it) and the emulator's test helpers.

https://kubernetes.io/docs/reference/using-api/api-concepts/#discovery-api
"""

from __future__ import annotations

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator
from tests.support.kube_fixtures import pod


async def test_groups_and_resources_are_discoverable(http: aiohttp.ClientSession) -> None:
    """/apis lists the groups; /api/v1 and /apis/GROUP/VERSION list kinds, scope and subresources."""
    groups = {g["name"] for g in (await (await http.get("/apis")).json())["groups"]}
    assert {"apps", "batch", "policy", "apiextensions.k8s.io", "coordination.k8s.io", "aiops.dev"} <= groups
    core = {r["name"]: r for r in (await (await http.get("/api/v1")).json())["resources"]}
    assert {"pods", "pods/log", "pods/eviction", "pods/status", "namespaces", "nodes", "events"} <= set(core)
    assert core["pods"]["kind"] == "Pod" and core["pods"]["namespaced"] is True
    assert core["nodes"]["namespaced"] is False
    crds = (await (await http.get("/apis/apiextensions.k8s.io/v1")).json())["resources"]
    assert "customresourcedefinitions" in {r["name"] for r in crds}
    playbooks = (await (await http.get("/apis/aiops.dev/v1alpha1")).json())["resources"]
    assert sorted((r["name"], r["kind"]) for r in playbooks) == [
        ("playbooks", "Playbook"),
        ("playbooks/status", "Playbook"),
    ]


async def test_unknown_resource_is_404(http: aiohttp.ClientSession) -> None:
    """A resource the server does not serve answers 404 NotFound."""
    resp = await http.get("/apis/apps/v1/namespaces/default/widgets")
    assert resp.status == 404
    assert (await resp.json())["reason"] == "NotFound"


async def test_helpers_share_storage_with_the_api(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """put_object / get_object / list_objects read and write what the HTTP API serves."""
    emulator.put_object(pod("a", labels={"app": "web"}))
    served = await (await http.get("/api/v1/namespaces/default/pods/a")).json()
    assert emulator.get_object("v1", "pods", "default", "a") == served
    assert [p["metadata"]["name"] for p in emulator.list_objects("v1", "Pod", label_selector="app=web")] == [
        "a"
    ]
    with pytest.raises(KeyError):
        emulator.put_object({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


async def test_calls_record_method_path_query_and_body(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """emulator.calls lists every request as (method, path, query, body)."""
    await http.post("/api/v1/namespaces/default/pods", json=pod("a"), params={"dryRun": "All"})
    method, path, query, body = emulator.calls[-1]
    assert (method, path, query) == ("POST", "/api/v1/namespaces/default/pods", {"dryRun": "All"})
    assert body["metadata"]["name"] == "a"
    assert emulator.calls_matching("POST", "/pods") == [emulator.calls[-1]]
