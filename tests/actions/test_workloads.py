"""rollout_restart, rollback, scale and patch_resources against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from aiops import errors
from aiops.emulator import ClusterEmulator
from tests.actions.conftest import MemoryAudit, Runner
from tests.support.kube_fixtures import deployment, replicaset


def _deployment(emulator: ClusterEmulator) -> dict[str, Any]:
    stored = emulator.get_object("apps/v1", "Deployment", "default", "web")
    assert stored is not None
    return stored


async def test_rollout_restart_sets_restarted_at(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """kubectl rollout restart: a strategic patch of the template's restartedAt annotation."""
    emulator.put_object(deployment("web"))
    result = await run("rollout_restart", namespace="default", name="web")
    assert result.ok
    template = _deployment(emulator)["spec"]["template"]
    assert (
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        == result.output["restartedAt"]
    )
    assert template["spec"]["containers"][0]["image"] == "app:1"
    assert _deployment(emulator)["metadata"]["generation"] == 2
    assert [e.target for e in audit.entries] == ["Deployment/default/web"]


async def test_rollout_restart_refuses_a_paused_deployment(run: Runner, emulator: ClusterEmulator) -> None:
    """kubectl refuses to restart a paused Deployment; so do we."""
    emulator.put_object(deployment("web", paused=True))
    with pytest.raises(errors.ActionRefused, match="paused"):
        await run("rollout_restart", namespace="default", name="web")


def _history(emulator: ClusterEmulator, *, current: int = 3, paused: bool = False) -> None:
    owner = emulator.put_object(deployment("web", image=f"app:{current}", revision=current, paused=paused))
    for rev in range(1, current + 1):
        rs = replicaset(owner, revision=rev, image=f"app:{rev}", hash_=f"h{rev}")
        rs["metadata"]["annotations"]["kubernetes.io/change-cause"] = f"deploy {rev}"
        emulator.put_object(rs)


async def test_rollback_restores_the_previous_revision(run: Runner, emulator: ClusterEmulator) -> None:
    """kubectl rollout undo: the previous revision's template (without pod-template-hash) and annotations,
    in a JSON patch that carries the resourceVersion read."""
    _history(emulator)
    before = _deployment(emulator)
    result = await run("rollback", namespace="default", name="web")
    assert result.ok, result.error
    assert result.output == {
        "from_revision": 3,
        "to_revision": 2,
        "replicaset": "web-h2",
        "images": ["app:2"],
    }
    after = _deployment(emulator)
    assert after["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "app:2"}]
    assert after["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert after["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "3",
        "kubernetes.io/change-cause": "deploy 2",
    }
    [patch] = emulator.calls_matching("PATCH")
    assert patch.body[0] == {
        "op": "replace",
        "path": "/metadata/resourceVersion",
        "value": before["metadata"]["resourceVersion"],
    }


async def test_rollback_to_a_given_revision(run: Runner, emulator: ClusterEmulator) -> None:
    """to_revision picks that revision; a revision that does not exist is refused."""
    _history(emulator)
    assert (await run("rollback", namespace="default", name="web", to_revision="1")).output["images"] == [
        "app:1"
    ]
    with pytest.raises(errors.ActionRefused, match="revision 7"):
        await run("rollback", namespace="default", name="web", to_revision=7)


async def test_rollback_refuses_paused_and_no_previous(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """A paused Deployment, or one with no earlier revision, is refused with no write (both audited)."""
    _history(emulator, paused=True)
    with pytest.raises(errors.ActionRefused, match="paused"):
        await run("rollback", namespace="default", name="web")
    emulator.delete_object("apps/v1", "Deployment", "default", "web")
    for rev in (1, 2, 3):
        emulator.delete_object("apps/v1", "ReplicaSet", "default", f"web-h{rev}")
    _history(emulator, current=1)
    with pytest.raises(errors.ActionRefused, match="no previous revision"):
        await run("rollback", namespace="default", name="web")
    assert emulator.calls_matching("PATCH") == []
    assert [e.ok for e in audit.entries] == [False, False]


async def test_scale_within_bounds_through_the_scale_subresource(
    run: Runner, emulator: ClusterEmulator
) -> None:
    """scale: replicas or delta, via PATCH .../scale with the Scale's resourceVersion."""
    emulator.put_object(deployment("web", replicas=3))
    result = await run("scale", namespace="default", name="web", delta="2", max_replicas="5")
    assert result.ok and result.output == {"from": 3, "to": 5}
    assert _deployment(emulator)["spec"]["replicas"] == 5
    [patch] = emulator.calls_matching("PATCH")
    assert patch.path.endswith("/deployments/web/scale") and patch.body["spec"] == {"replicas": 5}
    same = await run("scale", namespace="default", name="web", replicas=5, max_replicas=5)
    assert same.ok and len(emulator.calls_matching("PATCH")) == 1


@pytest.mark.parametrize("change", [{"replicas": 6}, {"delta": -4}])
async def test_scale_refuses_out_of_bounds(
    run: Runner, emulator: ClusterEmulator, change: dict[str, int]
) -> None:
    """Results below 0 or above max_replicas are refused; nothing is written."""
    emulator.put_object(deployment("web", replicas=3))
    with pytest.raises(errors.ActionRefused, match=r"outside the allowed range 0\.\.5"):
        await run("scale", namespace="default", name="web", max_replicas=5, **change)
    assert emulator.calls_matching("PATCH") == []


async def test_concurrent_change_surfaces_as_a_conflict(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    """Someone writes between our read and our write: the API answers 409 and the result is ok=False."""
    emulator.put_object(deployment("web", replicas=3))
    path = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    emulator[f"patch {path}"] >> (lambda: emulator.put_object(deployment("web", replicas=4)))
    result = await run("scale", namespace="default", name="web", replicas=5, max_replicas=10)
    assert not result.ok
    assert result.error is not None and "409 Conflict" in result.error
    assert _deployment(emulator)["spec"]["replicas"] == 4
    assert [e.ok for e in audit.entries] == [False]


def _sized(memory: str, request: str = "128Mi") -> dict[str, Any]:
    body = deployment(
        "web",
        resources={
            "limits": {"memory": memory, "cpu": "500m"},
            "requests": {"memory": request, "cpu": "250m"},
        },
    )
    body["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "proxy:2"})
    return body


async def test_patch_resources_keeps_the_image_and_other_containers(
    run: Runner, emulator: ClusterEmulator
) -> None:
    """A strategic merge patch by container name: only that container's limits change."""
    emulator.put_object(_sized("512Mi"))
    result = await run(
        "patch_resources", namespace="default", name="web", container="app", memory_factor="1.5"
    )
    assert result.ok, result.error
    assert result.output == {
        "container": "app",
        "clamped": False,
        "memory_limit": {"from": "512Mi", "to": "768Mi"},
    }
    app, proxy = _deployment(emulator)["spec"]["template"]["spec"]["containers"]
    assert app == {
        "name": "app",
        "image": "app:1",
        "resources": {
            "limits": {"memory": "768Mi", "cpu": "500m"},
            "requests": {"memory": "128Mi", "cpu": "250m"},
        },
    }
    assert proxy == {"name": "proxy", "image": "proxy:2"}
    [patch] = emulator.calls_matching("PATCH")
    assert patch.body["metadata"]["resourceVersion"]


async def test_patch_resources_clamps_to_the_maximum_and_keeps_request_below_limit(
    run: Runner, emulator: ClusterEmulator
) -> None:
    """The new limit is clamped to limits.max_memory_limit_bytes (2Gi here); requests stay <= limits."""
    emulator.put_object(_sized("1536Mi", request="1536Mi"))
    result = await run(
        "patch_resources",
        namespace="default",
        name="web",
        container="app",
        memory_limit="4Gi",
        cpu_limit="200m",
    )
    assert result.ok and result.output["clamped"] is True
    resources = _deployment(emulator)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"memory": "2Gi", "cpu": "200m"},
        "requests": {"memory": "1536Mi", "cpu": "200m"},
    }


async def test_patch_resources_refuses_at_the_maximum(run: Runner, emulator: ClusterEmulator) -> None:
    """Already at the configured maximum: refused, nothing written."""
    emulator.put_object(_sized("2Gi"))
    with pytest.raises(errors.ActionRefused, match="already at the configured maximum"):
        await run("patch_resources", namespace="default", name="web", container="app", memory_factor=2)
    with pytest.raises(errors.ActionRefused, match="no container named 'nope'"):
        await run("patch_resources", namespace="default", name="web", container="nope", memory_factor=2)
    assert emulator.calls_matching("PATCH") == []
