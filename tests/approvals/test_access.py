"""The optional RBAC check for approvers (aiops.approvals.access) against the emulator's RBAC.

Covers: the plans of the real planners (rollout_restart, scale, drain) become one
SubjectAccessReview per distinct write; a Role + RoleBinding lets alice patch Deployments in
"shop" and nowhere else; bob, with no binding, is refused with the write named; the scale
subresource needs its own rule; a ClusterRoleBinding of a group allows a drain (node patch and
``pods/eviction`` in every namespace) while a namespaced grant does not; a person without a
Kubernetes identity is refused without a review; requests without a plan use the action table;
API failures raise the kube error types. Paths are parsed as the API server parses them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiops import kube as kube_mod
from aiops.actions import registry as actions_registry
from aiops.actions.base import ActionContext
from aiops.actions.catalog import Risk
from aiops.actions.plan import Plan
from aiops.approvals.access import KubeAccessReview, call_attributes, request_attributes
from aiops.approvals.model import ApprovalRequest
from aiops.audit import AuditLog
from aiops.emulator import ClusterEmulator
from aiops.events.model import ObjectRef
from aiops.kube.access import ResourceAttributes
from aiops.store import Store
from tests.support.kube_fixtures import deployment, node, pod, replicaset

RBAC = "rbac.authorization.k8s.io/v1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = {
    "alice": frozenset({"slack:T1/U1", "kubernetes:alice@corp"}),
    "bob": frozenset({"slack:T1/U2", "kubernetes:bob@corp"}),
    "carol": frozenset({"telegram:42", "kubernetes-group:sre"}),
    "dave": frozenset({"kubernetes:dave@corp", "kubernetes-group:dev"}),
    "erin": frozenset({"slack:T1/U5"}),
}


def seed_role(emu: ClusterEmulator, name: str, namespace: str | None, *rules: dict[str, Any]) -> None:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    kind = "Role" if namespace else "ClusterRole"
    emu.put_object({"apiVersion": RBAC, "kind": kind, "metadata": meta, "rules": list(rules)})


def seed_binding(
    emu: ClusterEmulator, name: str, namespace: str | None, role: tuple[str, str], *subjects: dict[str, str]
) -> None:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    emu.put_object(
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role[0], "name": role[1]},
            "subjects": list(subjects),
        }
    )


def rule(verbs: list[str], group: str, resources: list[str]) -> dict[str, Any]:
    return {"verbs": verbs, "apiGroups": [group], "resources": resources}


async def plan_of(kube: kube_mod.Kube, store: Store, action: str, params: dict[str, Any]) -> Plan:
    """The real planner's plan (reads the emulator, writes nothing)."""
    found = actions_registry.builtin_actions()[action]
    assert found.plan is not None
    ctx = ActionContext(kube=kube, audit=AuditLog(store), planned_at=T0)
    return await found.plan(ctx, found.params.model_validate(params))


def request_for(
    action: str, plan: Plan | None = None, target: ObjectRef | None = None, **params: Any
) -> ApprovalRequest:
    return ApprovalRequest(
        id="r1",
        run_id="run-1",
        incident_id="inc-1",
        playbook_id="pb",
        step_index=0,
        step_name=action,
        action=action,
        risk=Risk.HIGH,
        target=target,
        params=params,
        plan=plan,
        created_at=T0,
        expires_at=T0 + timedelta(minutes=15),
    )


def reviews(emu: ClusterEmulator) -> list[dict[str, Any]]:
    return [c.body for c in emu.calls_matching("POST", "/subjectaccessreviews")]


@pytest.fixture
def access(kube: kube_mod.Kube) -> KubeAccessReview:
    return KubeAccessReview(kube, PEOPLE)


async def test_role_binding_lets_alice_patch_deployments_in_shop_only(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store, access: KubeAccessReview
) -> None:
    seed_role(emulator, "deployer", "shop", rule(["get", "patch"], "apps", ["deployments"]))
    seed_binding(emulator, "deployers", "shop", ("Role", "deployer"), {"kind": "User", "name": "alice@corp"})
    emulator.put_object(deployment("web", "shop"))
    emulator.put_object(deployment("web", "billing"))
    plan = await plan_of(kube, store, "rollout_restart", {"namespace": "shop", "name": "web"})
    request = request_for("rollout_restart", plan)

    async with asyncio.timeout(5):
        allowed, reason = await access.allows("alice", request)
        denied, why = await access.allows("bob", request)
        elsewhere = await plan_of(kube, store, "rollout_restart", {"namespace": "billing", "name": "web"})
        other_ns = await access.allows("alice", request_for("rollout_restart", elsewhere))

    assert (allowed, reason) == (True, "Kubernetes RBAC allows alice@corp the step's write")
    assert denied is False
    assert why == "Kubernetes RBAC does not allow bob@corp to patch deployments.apps web in namespace shop"
    assert other_ns == (
        False,
        "Kubernetes RBAC does not allow alice@corp to patch deployments.apps web in namespace billing",
    )
    assert reviews(emulator)[0]["spec"] == {
        "user": "alice@corp",
        "resourceAttributes": {
            "namespace": "shop",
            "verb": "patch",
            "group": "apps",
            "resource": "deployments",
            "name": "web",
        },
    }


async def test_scale_needs_the_scale_subresource(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store, access: KubeAccessReview
) -> None:
    seed_role(emulator, "deployer", "shop", rule(["patch"], "apps", ["deployments"]))
    seed_binding(emulator, "deployers", "shop", ("Role", "deployer"), {"kind": "User", "name": "alice@corp"})
    emulator.put_object(deployment("web", "shop", replicas=2))
    scale = {"namespace": "shop", "name": "web", "replicas": 4, "max_replicas": 10}
    plan = await plan_of(kube, store, "scale", scale)
    request = request_for("scale", plan)
    async with asyncio.timeout(5):
        before = await access.allows("alice", request)
        seed_role(emulator, "deployer", "shop", rule(["patch"], "apps", ["deployments", "deployments/scale"]))
        after = await access.allows("alice", request)
    assert before == (
        False,
        "Kubernetes RBAC does not allow alice@corp to patch deployments/scale.apps web in namespace shop",
    )
    assert after[0] is True


async def test_cluster_role_binding_of_a_group_allows_a_drain(
    emulator: ClusterEmulator, kube: kube_mod.Kube, store: Store, access: KubeAccessReview
) -> None:
    seed_role(
        emulator, "drainer", None, rule(["create"], "", ["pods/eviction"]), rule(["patch"], "", ["nodes"])
    )
    seed_binding(emulator, "sre-drain", None, ("ClusterRole", "drainer"), {"kind": "Group", "name": "sre"})
    # dave may evict in "shop" only (a RoleBinding of the same ClusterRole) and patch no node.
    seed_binding(
        emulator, "dave-shop", "shop", ("ClusterRole", "drainer"), {"kind": "User", "name": "dave@corp"}
    )
    emulator.put_object(node("n1"))
    for name, namespace in (("web-1", "shop"), ("web-2", "shop"), ("api-1", "billing")):
        owner = emulator.put_object(deployment(name[:3], namespace))
        rs = emulator.put_object(replicaset(owner, revision=1, image="app:1", hash_="abc12"))
        emulator.put_object(pod(name, namespace, node="n1", owner=rs))
    plan = await plan_of(kube, store, "drain", {"node": "n1"})
    request = request_for("drain", plan)
    assert request_attributes(request) == [
        ResourceAttributes("patch", "", "nodes", "", None, "n1"),
        ResourceAttributes("create", "", "pods", "eviction", "billing", "api-1"),
        ResourceAttributes("create", "", "pods", "eviction", "shop", "web-1"),
        ResourceAttributes("create", "", "pods", "eviction", "shop", "web-2"),
    ]

    async with asyncio.timeout(5):
        carol = await access.allows("carol", request)
        count = len(reviews(emulator))
        dave = await access.allows("dave", request)

    assert carol == (True, "Kubernetes RBAC allows groups sre the step's 4 writes")
    assert count == 4 and reviews(emulator)[0]["spec"]["groups"] == ["sre"]
    assert "user" not in reviews(emulator)[0]["spec"]
    assert dave == (
        False,
        "Kubernetes RBAC does not allow dave@corp (groups: dev) to patch nodes n1 cluster-wide",
    )


async def test_no_kubernetes_identity_is_refused_without_asking(
    emulator: ClusterEmulator, access: KubeAccessReview
) -> None:
    target = ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web-1")
    async with asyncio.timeout(5):
        assert await access.allows("erin", request_for("delete_pod", target=target)) == (
            False,
            "no Kubernetes identity is configured for erin",
        )
        assert (await access.allows("nobody", request_for("delete_pod", target=target)))[0] is False
    assert reviews(emulator) == []


async def test_without_a_plan_the_action_table_names_the_writes(
    emulator: ClusterEmulator, access: KubeAccessReview
) -> None:
    seed_role(emulator, "pods", "shop", rule(["delete"], "", ["pods"]))
    seed_binding(emulator, "pods", "shop", ("Role", "pods"), {"kind": "User", "name": "alice@corp"})
    pod_ref = ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web-1")
    node_ref = ObjectRef(api_version="v1", kind="Node", name="n1")
    async with asyncio.timeout(5):
        assert (await access.allows("alice", request_for("delete_pod", target=pod_ref)))[0] is True
        selector = request_for("delete_pod", namespace="shop", selector="app=web")
        assert (await access.allows("alice", selector))[0] is True
        drain = await access.allows("alice", request_for("drain", target=node_ref))
        unknown = await access.allows("alice", request_for("my_custom_write", target=pod_ref))
    assert drain == (False, "Kubernetes RBAC does not allow alice@corp to patch nodes n1 cluster-wide")
    assert unknown[0] is False and "my_custom_write" in unknown[1]
    assert request_attributes(request_for("drain", target=node_ref)) == [
        ResourceAttributes("patch", "", "nodes", "", None, "n1"),
        ResourceAttributes("create", "", "pods", "eviction"),
    ]
    hpa = ObjectRef(
        api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", namespace="shop", name="web"
    )
    assert request_attributes(request_for("scale", target=hpa)) == [
        ResourceAttributes("patch", "autoscaling", "horizontalpodautoscalers", "", "shop", "web")
    ]
    sts = ObjectRef(api_version="apps/v1", kind="StatefulSet", namespace="shop", name="db")
    assert request_attributes(request_for("scale", target=sts)) == [
        ResourceAttributes("patch", "apps", "statefulsets", "scale", "shop", "db")
    ]


async def test_api_failures_raise_the_kube_errors(
    emulator: ClusterEmulator, access: KubeAccessReview
) -> None:
    emulator["post /apis/authorization.k8s.io/v1/subjectaccessreviews"] << 403
    target = ObjectRef(api_version="v1", kind="Pod", namespace="shop", name="web-1")
    async with asyncio.timeout(5):
        with pytest.raises(kube_mod.Forbidden):
            await access.allows("alice", request_for("delete_pod", target=target))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        (
            "POST",
            "/api/v1/namespaces/shop/pods/web-1/eviction",
            ("create", "", "pods", "eviction", "shop", "web-1"),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/web/scale",
            ("patch", "apps", "deployments", "scale", "shop", "web"),
        ),
        (
            "PATCH",
            "/api/v1/nodes/ip-10-0-0-1.ec2.internal",
            ("patch", "", "nodes", "", None, "ip-10-0-0-1.ec2.internal"),
        ),
        ("DELETE", "/api/v1/namespaces/shop/pods/web-1", ("delete", "", "pods", "", "shop", "web-1")),
        ("DELETE", "/api/v1/namespaces/shop/pods", ("deletecollection", "", "pods", "", "shop", None)),
        ("PUT", "/api/v1/namespaces/shop", ("update", "", "namespaces", "", "shop", "shop")),
        ("PUT", "/api/v1/namespaces/shop/status", ("update", "", "namespaces", "status", "shop", "shop")),
        (
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            ("create", "rbac.authorization.k8s.io", "clusterroles", "", None, None),
        ),
        (
            "PATCH",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode",
            ("patch", "rbac.authorization.k8s.io", "clusterroles", "", None, "system:node"),
        ),
    ],
)
def test_call_attributes_parse_paths_as_the_api_server(
    method: str, path: str, expected: tuple[Any, ...]
) -> None:
    assert call_attributes(method, path) == ResourceAttributes(*expected)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/nodes/n1"), ("PATCH", "/healthz"), ("PATCH", "/apis/apps")]
)
def test_call_attributes_refuse_what_is_not_a_resource_write(method: str, path: str) -> None:
    with pytest.raises(ValueError):
        call_attributes(method, path)
