"""The three patch content types, as "API Concepts: Patch" and RFC 7386 / RFC 6902 define them.

https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply and
https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
"""

from __future__ import annotations

import aiohttp

from aiops.emulator import ClusterEmulator
from tests.emulator.helpers import JSON_PATCH, MERGE, STRATEGIC
from tests.support.kube_fixtures import deployment

DEPLOY = "/apis/apps/v1/namespaces/default/deployments/web"


def _two_containers() -> dict[str, object]:
    body = deployment("web")
    body["spec"]["template"]["spec"]["containers"] = [
        {
            "name": "app",
            "image": "app:1",
            "resources": {"limits": {"memory": "256Mi"}},
            "env": [{"name": "A", "value": "1"}],
        },
        {"name": "sidecar", "image": "proxy:2"},
    ]
    return body


async def test_strategic_patch_merges_containers_by_name(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Strategic merge: containers merge by name, so patching one container's resources keeps its image."""
    emulator.put_object(_two_containers())
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "512Mi"}}}]}
            }
        }
    }
    resp = await http.patch(DEPLOY, json=patch, headers=STRATEGIC)
    assert resp.status == 200
    containers = (await resp.json())["spec"]["template"]["spec"]["containers"]
    assert containers[0] == {
        "name": "app",
        "image": "app:1",
        "resources": {"limits": {"memory": "512Mi"}},
        "env": [{"name": "A", "value": "1"}],
    }
    assert containers[1] == {"name": "sidecar", "image": "proxy:2"}


async def test_strategic_patch_merges_env_by_name_and_deletes_with_directive(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Strategic merge: env merges by name; ``$patch: delete`` removes one item."""
    emulator.put_object(_two_containers())
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "env": [{"name": "B", "value": "2"}]},
                        {"name": "sidecar", "$patch": "delete"},
                    ]
                }
            }
        }
    }
    containers = (await (await http.patch(DEPLOY, json=patch, headers=STRATEGIC)).json())["spec"]["template"][
        "spec"
    ]["containers"]
    assert [c["name"] for c in containers] == ["app"]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


async def test_merge_patch_replaces_lists_and_null_deletes(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """RFC 7386: a list in the patch replaces the whole list; null removes a key."""
    emulator.put_object(_two_containers())
    patch = {
        "metadata": {"labels": {"app": None}},
        "spec": {"template": {"spec": {"containers": [{"name": "only"}]}}},
    }
    body = await (await http.patch(DEPLOY, json=patch, headers=MERGE)).json()
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]
    assert "app" not in body["metadata"]["labels"]


async def test_json_patch_applies_operations_and_a_failed_test_is_422(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """RFC 6902: operations apply in order; an operation that cannot apply answers 422 Invalid."""
    emulator.put_object(deployment("web"))
    ok = await http.patch(
        DEPLOY, json=[{"op": "replace", "path": "/spec/replicas", "value": 7}], headers=JSON_PATCH
    )
    assert (await ok.json())["spec"]["replicas"] == 7
    failed = await http.patch(
        DEPLOY, json=[{"op": "test", "path": "/spec/replicas", "value": 1}], headers=JSON_PATCH
    )
    assert failed.status == 422
    assert (await failed.json())["reason"] == "Invalid"


async def test_unknown_patch_content_type_is_415(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """A PATCH in a media type the server does not accept answers 415 UnsupportedMediaType."""
    emulator.put_object(deployment("web"))
    resp = await http.patch(DEPLOY, json={"spec": {}}, headers={"Content-Type": "application/json"})
    assert resp.status == 415


async def test_strategic_patch_on_a_custom_resource_is_415(
    http: aiohttp.ClientSession, emulator: ClusterEmulator
) -> None:
    """Custom resources have no patch strategy: strategic merge patch answers 415."""
    emulator.put_object(
        {
            "apiVersion": "aiops.dev/v1alpha1",
            "kind": "Playbook",
            "metadata": {"name": "p", "namespace": "default"},
        }
    )
    path = "/apis/aiops.dev/v1alpha1/namespaces/default/playbooks/p"
    assert (await http.patch(path, json={"spec": {"a": 1}}, headers=STRATEGIC)).status == 415
    assert (await http.patch(path, json={"spec": {"a": 1}}, headers=MERGE)).status == 200
