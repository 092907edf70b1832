"""RBAC objects and SubjectAccessReviews over HTTP, as the API server serves them.

Covers: Roles, ClusterRoles, RoleBindings and ClusterRoleBindings are created, read, listed and
deleted like any kind (names such as ``system:node`` included) and seeded with ``put_object``;
``POST /apis/authorization.k8s.io/v1/subjectaccessreviews`` answers 201 with ``status.allowed``
and ``status.reason`` from whatever is stored at that moment, and stores nothing; a review
without user and groups, or without attributes, is 422 Invalid; other methods 405; discovery
lists the endpoint. Reference:
https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/
"""

from __future__ import annotations

from typing import Any

import aiohttp

from aiops.emulator import ClusterEmulator

RBAC = "/apis/rbac.authorization.k8s.io/v1"
REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
REF_ROLE = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"}


def review(user: str | None, groups: list[str] | None = None, **attributes: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"resourceAttributes": attributes}
    if user is not None:
        spec["user"] = user
    if groups is not None:
        spec["groups"] = groups
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


PATCH_WEB = {"namespace": "shop", "verb": "patch", "group": "apps", "resource": "deployments", "name": "web"}


async def ask(http: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(REVIEWS, json=body) as response:
        assert response.status == 201, await response.text()
        answer: dict[str, Any] = await response.json()
    assert answer["kind"] == "SubjectAccessReview" and answer["spec"] == body["spec"]
    return answer


async def test_rbac_objects_are_served_like_any_kind(http: aiohttp.ClientSession) -> None:
    role = {
        "metadata": {"name": "deployer"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}],
    }
    async with http.post(f"{RBAC}/namespaces/shop/roles", json=role) as response:
        assert response.status == 201
        created = await response.json()
    assert created["kind"] == "Role" and created["metadata"]["namespace"] == "shop"
    node_role = {"metadata": {"name": "system:node-ops"}, "rules": []}
    async with http.post(f"{RBAC}/clusterroles", json=node_role) as response:
        assert response.status == 201
    async with http.get(f"{RBAC}/clusterroles/system%3Anode-ops") as response:
        assert response.status == 200
        assert (await response.json())["kind"] == "ClusterRole"
    async with http.get(f"{RBAC}/roles") as response:
        listed = await response.json()
    assert listed["kind"] == "RoleList" and [i["metadata"]["name"] for i in listed["items"]] == ["deployer"]
    async with http.delete(f"{RBAC}/namespaces/shop/roles/deployer") as response:
        assert response.status == 200
    async with http.get(f"{RBAC}/namespaces/shop/roles/deployer") as response:
        assert response.status == 404
    async with http.get("/apis/authorization.k8s.io/v1") as response:
        found = {r["name"]: r for r in (await response.json())["resources"]}
    assert found["subjectaccessreviews"]["verbs"] == ["create"]
    assert found["subjectaccessreviews"]["namespaced"] is False


async def test_review_follows_bindings_created_and_deleted_through_the_api(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    assert (await ask(http, review("alice", **PATCH_WEB)))["status"] == {"allowed": False}
    role = {
        "metadata": {"name": "deployer"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}],
    }
    binding = {
        "metadata": {"name": "deployers"},
        "roleRef": REF_ROLE,
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    for path, body in (
        (f"{RBAC}/namespaces/shop/roles", role),
        (f"{RBAC}/namespaces/shop/rolebindings", binding),
    ):
        async with http.post(path, json=body) as response:
            assert response.status == 201
    before = emulator.snapshot()
    answer = await ask(http, review("alice", **PATCH_WEB))
    assert answer["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "deployers/shop" of Role "deployer" to User "alice"',
    }
    assert emulator.snapshot() == before  # a review is never stored
    assert (await ask(http, review("bob", **PATCH_WEB)))["status"]["allowed"] is False
    assert (await ask(http, review("alice", **(PATCH_WEB | {"verb": "delete"}))))["status"][
        "allowed"
    ] is False
    assert (await ask(http, review("alice", **(PATCH_WEB | {"namespace": "billing"}))))["status"][
        "allowed"
    ] is False
    async with http.delete(f"{RBAC}/namespaces/shop/rolebindings/deployers") as response:
        assert response.status == 200
    assert (await ask(http, review("alice", **PATCH_WEB)))["status"]["allowed"] is False


async def test_seeded_cluster_role_binding_grants_evictions_and_nodes(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    emulator.put_object(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "drainer"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]},
            ],
        }
    )
    emulator.put_object(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "sre-drain"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "drainer"},
            "subjects": [{"kind": "Group", "name": "sre"}],
        }
    )
    evict = {"verb": "create", "resource": "pods", "subresource": "eviction"}
    assert (await ask(http, review(None, ["sre"], **evict)))["status"]["allowed"] is True
    assert (await ask(http, review("carol", ["sre"], **(evict | {"namespace": "shop", "name": "web-1"}))))[
        "status"
    ]["allowed"] is True
    assert (await ask(http, review("carol", ["dev"], **evict)))["status"]["allowed"] is False
    # pods/eviction is not pods: deleting pods is not granted.
    assert (await ask(http, review("carol", ["sre"], verb="delete", resource="pods")))["status"][
        "allowed"
    ] is False
    node = await ask(http, review("carol", ["sre"], verb="patch", resource="nodes", name="n1"))
    assert node["status"]["reason"] == (
        'RBAC: allowed by ClusterRoleBinding "sre-drain" of ClusterRole "drainer" to Group "sre"'
    )


async def test_invalid_reviews_answer_422_and_other_methods_405(http: aiohttp.ClientSession) -> None:
    async with http.post(REVIEWS, json=review(None, **PATCH_WEB)) as response:
        assert response.status == 422
        status = await response.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert status["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: '
        'spec.user: Invalid value: "": at least one of user or group must be specified'
    )
    assert status["details"]["causes"][0]["field"] == "spec.user"
    async with http.post(REVIEWS, json={"spec": {"user": "alice"}}) as response:
        assert response.status == 422
        assert (
            "exactly one of nonResourceAttributes or resourceAttributes" in (await response.json())["message"]
        )
    both = {
        "spec": {
            "user": "alice",
            "resourceAttributes": {},
            "nonResourceAttributes": {"path": "/x", "verb": "get"},
        }
    }
    async with http.post(REVIEWS, json=both) as response:
        assert response.status == 422
        message = (await response.json())["message"]
    assert "spec.nonResourceAttributes: Invalid value: " in message
    assert "cannot be specified in combination with resourceAttributes" in message
    async with http.post(REVIEWS, json={"spec": {"user": "alice", "resourceAttributes": "pods"}}) as response:
        assert response.status == 400
    async with http.get(REVIEWS) as response:
        assert response.status == 405


async def test_non_resource_reviews(http: aiohttp.ClientSession, emulator: ClusterEmulator) -> None:
    emulator.put_object(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "health"},
            "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}],
        }
    )
    emulator.put_object(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "health"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "health"},
            "subjects": [{"kind": "User", "name": "alice"}],
        }
    )
    body = {"spec": {"user": "alice", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
    assert (await ask(http, body))["status"]["allowed"] is True
    body["spec"]["nonResourceAttributes"]["path"] = "/metrics"
    assert (await ask(http, body))["status"] == {"allowed": False}
