"""Kubernetes fixtures: a running cluster emulator, a ``Kube`` client connected to it, object builders.

The builders return plain manifests (dicts) shaped as the API reference describes them; seed them
with ``emulator.put_object(...)``, which stores them as-is (status included) and emits watch events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from aiops import kube as kube_mod
from aiops.emulator import ClusterEmulator, running_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[ClusterEmulator]:
    """A running :class:`ClusterEmulator` on 127.0.0.1 (``emulator.url``), empty."""
    async with running_emulator() as emu:
        yield emu


@pytest.fixture
async def kube(emulator: ClusterEmulator) -> AsyncIterator[kube_mod.Kube]:
    """An :class:`aiops.kube.Kube` talking to :func:`emulator` over HTTP."""
    client = kube_mod.Kube.for_server(emulator.url)
    try:
        yield client
    finally:
        await client.close()


def owner_ref(owner: Mapping[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference to a stored ``owner`` object (needs its uid)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def pod(
    name: str,
    namespace: str = "default",
    *,
    labels: Mapping[str, str] | None = None,
    node: str | None = None,
    ready: bool = True,
    phase: str = "Running",
    owner: Mapping[str, Any] | None = None,
    containers: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A core/v1 Pod; ``owner`` (a stored object) becomes its controller ownerReference."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict[str, Any] = {"containers": containers or [{"name": "app", "image": "app:1"}]}
    if node:
        spec["nodeName"] = node
    if volumes:
        spec["volumes"] = volumes
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase, "conditions": [condition]},
    }


def deployment(
    name: str,
    namespace: str = "default",
    *,
    replicas: int = 3,
    image: str = "app:1",
    resources: Mapping[str, Any] | None = None,
    paused: bool = False,
    revision: int | None = None,
) -> dict[str, Any]:
    """An apps/v1 Deployment selecting ``app=NAME`` with one container ``app``."""
    container: dict[str, Any] = {"name": "app", "image": image}
    if resources is not None:
        container["resources"] = dict(resources)
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": name}}
    if revision is not None:
        meta["annotations"] = {"deployment.kubernetes.io/revision": str(revision)}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
    }
    if paused:
        spec["paused"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": spec,
        "status": {"replicas": replicas},
    }


def replicaset(owner: Mapping[str, Any], *, revision: int, image: str, hash_: str) -> dict[str, Any]:
    """An apps/v1 ReplicaSet of Deployment ``owner`` at ``revision`` running ``image``."""
    name = owner["metadata"]["name"]
    labels = {"app": name, "pod-template-hash": hash_}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{hash_}",
            "namespace": owner["metadata"]["namespace"],
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [owner_ref(owner)],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def node(name: str, *, unschedulable: bool = False, ready: bool = True) -> dict[str, Any]:
    """A core/v1 Node whose kubelet reports ``Ready`` (``True``, or ``False`` with ``ready=False``)."""
    spec = {"unschedulable": True} if unschedulable else {}
    condition = {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}
    if not ready:
        condition["reason"] = "KubeletNotReady"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": spec,
        "status": {"conditions": [condition]},
    }


def pdb(
    name: str,
    namespace: str = "default",
    *,
    match_labels: Mapping[str, str],
    min_available: int | str | None = None,
    max_unavailable: int | str | None = None,
    unhealthy_policy: str | None = None,
) -> dict[str, Any]:
    """A policy/v1 PodDisruptionBudget."""
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(match_labels)}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    if unhealthy_policy is not None:
        spec["unhealthyPodEvictionPolicy"] = unhealthy_policy
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta, "spec": spec}


def event(
    name: str,
    involved: Mapping[str, Any],
    *,
    reason: str,
    message: str,
    type_: str = "Warning",
    count: int = 1,
    last: str = "2024-01-01T00:00:00Z",
) -> dict[str, Any]:
    """A core/v1 Event about the stored object ``involved``."""
    meta = involved["metadata"]
    namespace = meta.get("namespace", "default")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "firstTimestamp": last,
        "lastTimestamp": last,
    }
