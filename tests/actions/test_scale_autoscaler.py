"""scale on a HorizontalPodAutoscaler moves its ceiling (spec.maxReplicas), never the workload it owns.

The HPA controller reverts a direct scale of its target at its next sync (Kubernetes API
reference, HorizontalPodAutoscaler v2), so scale_up_on_load raises the HPA's maxReplicas instead,
bounded by max_replicas below and by minReplicas above, with a resourceVersion precondition.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiops import errors
from aiops.emulator import ClusterEmulator
from tests.actions.conftest import MemoryAudit, Runner
from tests.support.kube_fixtures import deployment


def hpa(name: str = "web", *, minimum: int = 2, maximum: int = 10) -> dict[str, Any]:
    """An autoscaling/v2 HorizontalPodAutoscaler scaling Deployment ``name``, at its ceiling."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": minimum,
            "maxReplicas": maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {"currentReplicas": maximum, "desiredReplicas": maximum + 4},
    }


async def test_raises_the_ceiling_and_leaves_the_workload_alone(
    run: Runner, emulator: ClusterEmulator, audit: MemoryAudit
) -> None:
    emulator.put_object(deployment("web", replicas=10))
    emulator.put_object(hpa())
    result = await run(
        "scale", kind="HorizontalPodAutoscaler", namespace="default", name="web", delta="2", max_replicas="20"
    )
    assert result.ok and result.output == {"from": 10, "to": 12}
    stored = emulator.get_object("autoscaling/v2", "HorizontalPodAutoscaler", "default", "web")
    assert stored is not None and stored["spec"]["maxReplicas"] == 12
    assert stored["spec"]["minReplicas"] == 2  # a merge patch of one field
    [patch] = emulator.calls_matching("PATCH")
    assert "/horizontalpodautoscalers/web" in patch.path and "/scale" not in patch.path
    assert patch.body["metadata"]["resourceVersion"]  # optimistic concurrency
    assert emulator.calls_matching("PATCH", "/deployments/") == []
    [entry] = audit.entries
    assert entry.action == "scale" and entry.actor == "alice" and entry.ok


@pytest.mark.parametrize(("change", "message"), [({"delta": 12}, r"2\.\.20"), ({"replicas": 1}, r"2\.\.20")])
async def test_refuses_beyond_the_bound_or_below_min_replicas(
    run: Runner, emulator: ClusterEmulator, change: dict[str, int], message: str
) -> None:
    emulator.put_object(hpa())
    with pytest.raises(errors.ActionRefused, match=message):
        await run(
            "scale",
            kind="HorizontalPodAutoscaler",
            namespace="default",
            name="web",
            max_replicas=20,
            **change,
        )
    assert emulator.calls_matching("PATCH") == []
