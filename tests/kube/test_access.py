"""SubjectAccessReview through the kube door (aiops.kube.access) against the emulator over HTTP.

Covers: the review body (empty attributes left out, the core group as ``""``); allowed with the
server's reason; denied with an empty reason; a review without user and groups raises
``aiops.kube.Invalid`` (422), as the API server answers it; the call is recorded like any other.
"""

from __future__ import annotations

import asyncio

import pytest

from aiops import kube as kube_mod
from aiops.emulator import ClusterEmulator
from aiops.kube.access import REVIEWS_PATH, ResourceAttributes, review_body, subject_access_review

RBAC = "rbac.authorization.k8s.io/v1"


def seed_pod_deleter(emu: ClusterEmulator) -> None:
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}]
    emu.put_object(
        {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "del", "namespace": "shop"}, "rules": rules}
    )
    emu.put_object(
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "del", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "del"},
            "subjects": [{"kind": "Group", "name": "oncall"}],
        }
    )


def test_review_body_leaves_empty_attributes_out() -> None:
    body = review_body(ResourceAttributes("create", "", "pods", "eviction"), user=None, groups=["sre"])
    assert body == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "groups": ["sre"],
            "resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "eviction"},
        },
    }


async def test_allowed_denied_and_invalid(emulator: ClusterEmulator, kube: kube_mod.Kube) -> None:
    seed_pod_deleter(emulator)
    ask = ResourceAttributes("delete", "", "pods", namespace="shop", name="web-1")
    async with asyncio.timeout(5):
        with kube.recording() as calls:
            allowed = await subject_access_review(kube, ask, user="alice", groups=["oncall"])
        denied = await subject_access_review(kube, ask, user="alice", groups=["dev"])
        with pytest.raises(kube_mod.Invalid, match="at least one of user or group"):
            await subject_access_review(kube, ask, user=None, groups=[])
    assert allowed == (True, 'RBAC: allowed by RoleBinding "del/shop" of Role "del" to Group "oncall"')
    assert denied == (False, "")
    assert [(c.method, c.path, c.status) for c in calls] == [("POST", REVIEWS_PATH, 201)]
