"""core/v1 Events are created in their involved object's namespace (Kubernetes API reference, Event v1:
a legacy Event, without ``eventTime``, whose ``involvedObject.namespace`` differs is 422 Invalid)."""

from __future__ import annotations

from typing import Any

import aiohttp

from aiops.emulator import ClusterEmulator


def event(name: str, namespace: str | None) -> dict[str, Any]:
    involved = {"apiVersion": "aiops.dev/v1alpha1", "kind": "Playbook", "name": "web"}
    if namespace is not None:
        involved["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": involved,
        "type": "Warning",
        "reason": "InvalidPlaybook",
        "message": "bad step",
    }


async def test_an_event_is_created_only_in_its_objects_namespace(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    created = await http.post("/api/v1/namespaces/shop/events", json=event("web.1", "shop"))
    assert created.status == 201
    assert emulator.get_object("v1", "Event", "shop", "web.1") is not None
    elsewhere = await http.post("/api/v1/namespaces/other/events", json=event("web.2", "shop"))
    assert elsewhere.status == 422
    answer = await elsewhere.json()
    assert answer["reason"] == "Invalid" and "does not match event.namespace" in answer["message"]
    cluster_scoped = await http.post("/api/v1/namespaces/shop/events", json=event("node.1", None))
    assert cluster_scoped.status == 422  # a cluster-scoped object's Events go to "default"
    assert (await http.post("/api/v1/namespaces/default/events", json=event("node.2", None))).status == 201
