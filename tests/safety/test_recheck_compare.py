"""The re-check's verdicts on an approved plan against a fresh one (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiops.actions.plan import Observation, Plan, PlannedCall
from aiops.safety.recheck import compare

WHEN = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def _call(path: str, rv: str, body: dict[str, Any] | None = None) -> PlannedCall:
    content = {"metadata": {"resourceVersion": rv}, **(body or {"spec": {"replicas": 3}})}
    return PlannedCall(method="PATCH", path=path, body=content, object="Deployment/shop/web")


def _plan(
    *, uid: str = "u1", rv: str = "10", replicas: int = 2, calls: list[PlannedCall] | None = None
) -> Plan:
    observed = Observation(
        api_version="apps/v1",
        kind="Deployment",
        namespace="shop",
        name="web",
        uid=uid,
        resource_version=rv,
        fields={"/spec/replicas": replicas},
    )
    return Plan(
        action="scale",
        target="Deployment/shop/web",
        planned_at=WHEN,
        calls=[_call("/apis/apps/v1/namespaces/shop/deployments/web/scale", rv)] if calls is None else calls,
        observed=[observed],
        summary="scaled",
    )


def test_only_the_resource_version_moved_proceeds() -> None:
    """An unrelated change (a label) moves the resourceVersion only: the approved intent holds."""
    assert compare(_plan(), _plan(rv="11")).verdict == "proceed"


def test_a_replaced_object_is_a_change() -> None:
    verdict = compare(_plan(), _plan(uid="u2", rv="12"))
    assert verdict.verdict == "changed" and "replaced (uid u1 → u2)" in verdict.reason


def test_a_moved_planned_field_is_a_change() -> None:
    verdict = compare(_plan(), _plan(rv="11", replicas=5))
    assert verdict.verdict == "changed"
    assert "/spec/replicas" in verdict.reason and "resourceVersion 10 → 11" in verdict.reason


def test_a_call_nobody_approved_is_a_change() -> None:
    """E.g. a new pod scheduled on the node to drain: its eviction was not in the approved plan."""
    fresh = _plan(
        calls=[_call("/apis/apps/v1/namespaces/shop/deployments/web/scale", "10", {"spec": {"replicas": 4}})]
    )
    verdict = compare(_plan(), fresh)
    assert verdict.verdict == "changed" and "not approved" in verdict.reason


def test_nothing_left_to_do_is_a_noop() -> None:
    verdict = compare(_plan(), _plan(calls=[]))
    assert verdict.verdict == "noop" and verdict.reason.startswith("nothing left to do")


def test_a_vanished_observation_is_a_change() -> None:
    fresh = _plan().model_copy(update={"observed": []})
    verdict = compare(_plan(), fresh)
    assert verdict.verdict == "changed" and "Deployment/shop/web" in verdict.reason
