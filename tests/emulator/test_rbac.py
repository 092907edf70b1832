"""RBAC evaluation (aiops.emulator.rbac), as the API server's RBAC authorizer decides.

Covers, per https://kubernetes.io/docs/reference/access-authn-authz/rbac/: default deny; a
RoleBinding grants its Role or a ClusterRole only in its namespace and never cluster scope; a
ClusterRoleBinding grants everywhere; User, Group and ServiceAccount subjects; verbs, apiGroups,
resources (subresources, ``*/sub``), resourceNames and ``*``; non-resource URLs; a missing role
grants nothing and is named in the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops.emulator.rbac import Attributes, Policy, authorize, resource_matches, rule_allows

RBAC = "rbac.authorization.k8s.io/v1"


def role(name: str, namespace: str | None, *rules: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": RBAC,
        "kind": "Role" if namespace else "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
    }


def binding(
    name: str, namespace: str | None, ref_kind: str, ref_name: str, *subjects: dict[str, str]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": RBAC,
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
        "subjects": list(subjects),
    }


def rule(
    verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names is not None:
        found["resourceNames"] = names
    return found


USER_ALICE = {"kind": "User", "name": "alice"}
PATCH_DEPLOYMENTS = rule(["patch"], ["apps"], ["deployments"])


def patch_web(user: str = "alice", namespace: str = "shop", **extra: Any) -> Attributes:
    fields: dict[str, Any] = {
        "user": user,
        "verb": "patch",
        "group": "apps",
        "resource": "deployments",
        "namespace": namespace,
        "name": "web",
    }
    return Attributes(**(fields | extra))


def test_nothing_bound_is_denied_without_a_reason() -> None:
    policy = Policy.of([role("editor", "shop", PATCH_DEPLOYMENTS)])
    assert authorize(patch_web(), policy).allowed is False
    assert authorize(patch_web(), policy).reason == ""


def test_role_binding_grants_its_role_in_its_namespace_only() -> None:
    policy = Policy.of(
        [role("editor", "shop", PATCH_DEPLOYMENTS), binding("ed", "shop", "Role", "editor", USER_ALICE)]
    )
    allowed = authorize(patch_web(), policy)
    assert allowed.allowed
    assert allowed.reason == 'RBAC: allowed by RoleBinding "ed/shop" of Role "editor" to User "alice"'
    assert not authorize(patch_web(namespace="billing"), policy).allowed
    assert not authorize(patch_web(user="bob"), policy).allowed
    assert not authorize(patch_web(verb="delete"), policy).allowed
    # "every namespace" (no namespace) is cluster scope: a RoleBinding never grants it.
    assert not authorize(patch_web(namespace=""), policy).allowed


def test_role_binding_may_grant_a_cluster_role_within_its_namespace() -> None:
    policy = Policy.of(
        [role("editor", None, PATCH_DEPLOYMENTS), binding("ed", "shop", "ClusterRole", "editor", USER_ALICE)]
    )
    assert authorize(patch_web(), policy).allowed
    assert not authorize(patch_web(namespace="billing"), policy).allowed


def test_a_role_of_another_namespace_is_not_granted() -> None:
    policy = Policy.of(
        [role("editor", "billing", PATCH_DEPLOYMENTS), binding("ed", "shop", "Role", "editor", USER_ALICE)]
    )
    decision = authorize(patch_web(), policy)
    assert not decision.allowed
    assert decision.reason == 'RBAC: role.rbac.authorization.k8s.io "editor" not found'


def test_cluster_role_binding_grants_everywhere_including_cluster_scope() -> None:
    nodes = rule(["patch"], [""], ["nodes"])
    policy = Policy.of(
        [role("ops", None, PATCH_DEPLOYMENTS, nodes), binding("ops", None, "ClusterRole", "ops", USER_ALICE)]
    )
    assert authorize(patch_web(namespace="billing"), policy).allowed
    assert authorize(patch_web(namespace=""), policy).allowed
    node = Attributes(user="alice", verb="patch", group="", resource="nodes", name="n1")
    decision = authorize(node, policy)
    assert decision.allowed
    assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "ops" of ClusterRole "ops" to User "alice"'


def test_cluster_scope_is_never_granted_by_a_role_binding() -> None:
    policy = Policy.of(
        [
            role("nodes", None, rule(["patch"], [""], ["nodes"])),
            binding("n", "shop", "ClusterRole", "nodes", USER_ALICE),
        ]
    )
    assert not authorize(Attributes(user="alice", verb="patch", resource="nodes", name="n1"), policy).allowed


def test_group_subjects_match_any_of_the_groups() -> None:
    policy = Policy.of(
        [
            role("editor", "shop", PATCH_DEPLOYMENTS),
            binding("ed", "shop", "Role", "editor", {"kind": "Group", "name": "sre"}),
        ]
    )
    assert authorize(patch_web(user="", groups=("dev", "sre")), policy).allowed
    assert authorize(patch_web(user="carol", groups=("sre",)), policy).allowed
    assert not authorize(patch_web(user="carol", groups=("dev",)), policy).allowed
    # A user named like the group is not in it.
    assert not authorize(patch_web(user="sre"), policy).allowed


def test_service_account_subjects_are_their_user_name() -> None:
    sa = {"kind": "ServiceAccount", "name": "bot"}  # namespace defaults to the RoleBinding's
    policy = Policy.of(
        [role("editor", "shop", PATCH_DEPLOYMENTS), binding("ed", "shop", "Role", "editor", sa)]
    )
    decision = authorize(patch_web(user="system:serviceaccount:shop:bot"), policy)
    assert decision.allowed and 'to ServiceAccount "bot/shop"' in decision.reason
    assert not authorize(patch_web(user="system:serviceaccount:other:bot"), policy).allowed
    global_sa = {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}
    cluster = Policy.of(
        [role("ed", None, PATCH_DEPLOYMENTS), binding("ed", None, "ClusterRole", "ed", global_sa)]
    )
    assert authorize(patch_web(user="system:serviceaccount:ci:bot"), cluster).allowed
    # A ClusterRoleBinding's service account needs its namespace: none matches without it.
    bare = Policy.of([role("ed", None, PATCH_DEPLOYMENTS), binding("ed", None, "ClusterRole", "ed", sa)])
    assert not authorize(patch_web(user="system:serviceaccount:shop:bot"), bare).allowed


@pytest.mark.parametrize(
    ("resources", "resource", "subresource", "expected"),
    [
        (["deployments"], "deployments", "", True),
        (["deployments"], "deployments", "scale", False),
        (["deployments/scale"], "deployments", "scale", True),
        (["deployments/scale"], "deployments", "", False),
        (["*/scale"], "statefulsets", "scale", True),
        (["*/scale"], "statefulsets", "", False),
        (["*"], "pods", "eviction", True),
        (["pods/eviction"], "pods", "eviction", True),
        (["pods/eviction"], "pods", "log", False),
        (["pods"], "nodes", "", False),
    ],
)
def test_resources_and_subresources(
    resources: list[str], resource: str, subresource: str, expected: bool
) -> None:
    assert resource_matches(resources, resource, subresource) is expected


def test_verbs_groups_and_names() -> None:
    attrs = patch_web()
    assert rule_allows(attrs, rule(["*"], ["apps"], ["deployments"]))
    assert rule_allows(attrs, rule(["patch"], ["*"], ["deployments"]))
    assert not rule_allows(attrs, rule(["patch"], [""], ["deployments"]))  # core group is not apps
    assert not rule_allows(attrs, rule(["get", "update"], ["apps"], ["deployments"]))
    assert rule_allows(attrs, rule(["patch"], ["apps"], ["deployments"], ["web", "api"]))
    assert not rule_allows(attrs, rule(["patch"], ["apps"], ["deployments"], ["api"]))
    # resourceNames never match a request without a name (create, list, "any object").
    assert not rule_allows(patch_web(name=""), rule(["patch"], ["apps"], ["deployments"], ["web"]))
    assert not rule_allows(attrs, {"verbs": ["patch"]})


def test_non_resource_urls_through_cluster_role_bindings_only() -> None:
    health = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/metrics/*"]}
    attrs = Attributes(user="alice", verb="get", path="/healthz")
    granted = Policy.of(
        [role("health", None, health), binding("h", None, "ClusterRole", "health", USER_ALICE)]
    )
    assert authorize(attrs, granted).allowed
    assert authorize(Attributes(user="alice", verb="get", path="/metrics/cadvisor"), granted).allowed
    assert not authorize(Attributes(user="alice", verb="get", path="/livez"), granted).allowed
    assert not authorize(Attributes(user="alice", verb="post", path="/healthz"), granted).allowed
    namespaced = Policy.of(
        [role("health", None, health), binding("h", "shop", "ClusterRole", "health", USER_ALICE)]
    )
    assert not authorize(attrs, namespaced).allowed


def test_missing_cluster_roles_are_named_and_grant_nothing() -> None:
    policy = Policy.of(
        [
            binding("a", None, "ClusterRole", "gone", USER_ALICE),
            binding("b", "shop", "ClusterRole", "also-gone", USER_ALICE),
            binding("c", None, "ClusterRole", "not-mine", {"kind": "User", "name": "bob"}),
        ]
    )
    decision = authorize(patch_web(), policy)
    assert not decision.allowed
    assert decision.reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'clusterrole.rbac.authorization.k8s.io "also-gone" not found]'
    )
    # Once something allows it, missing roles elsewhere do not matter.
    allowed = Policy.of(
        [
            *policy.cluster_role_bindings,
            role("ok", None, PATCH_DEPLOYMENTS),
            binding("d", None, "ClusterRole", "ok", USER_ALICE),
        ]
    )
    assert authorize(patch_web(), allowed).allowed
