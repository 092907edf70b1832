"""Approval decisions through the REST API against the running operator: exactly once, or never.

A second decision is refused with the first one named; 20 concurrent approvals run the step
once; an undecided request expires and its run stops; bad or missing tokens are refused.
"""

from __future__ import annotations

import asyncio

import httpx

from aiops.settings import ApprovalSettings
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, writes


async def _one_pending(harness: Harness) -> dict[str, object]:
    async def ready() -> bool:
        return len(await harness.pending()) == 1

    await eventually(ready, what="one pending approval")
    (request,) = await harness.pending()
    return request


async def test_second_decision_is_refused_naming_the_first(harness: Harness) -> None:
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request = await _one_pending(harness)
    async with harness.api("alice") as alice, harness.api("bob") as bob:
        first = await alice.post(f"/api/approvals/{request['id']}/approve")
        second = await bob.post(f"/api/approvals/{request['id']}/reject")
        third = await alice.post(f"/api/approvals/{request['id']}/approve")
    assert first.status_code == 200
    assert second.status_code == 409 and "already approved by alice" in second.json()["detail"]
    assert third.status_code == 409
    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1


async def test_twenty_concurrent_approvals_run_the_step_once(harness: Harness) -> None:
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request = await _one_pending(harness)

    async def approve(client: httpx.AsyncClient) -> int:
        response = await client.post(f"/api/approvals/{request['id']}/approve")
        return response.status_code

    clients = [harness.api("alice" if i % 2 else "bob") for i in range(20)]
    try:
        codes = await asyncio.gather(*(approve(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert sorted(codes) == [200] + [409] * 19
    assert len(writes(harness.emulator, "DELETE", "/pods/")) == 1
    assert len(await harness.get("/api/audit")) == 1


async def test_undecided_request_expires_and_cannot_be_approved_after(harness: Harness) -> None:
    harness.settings = make_settings(
        harness.emulator, approvals=ApprovalSettings(ttl_seconds_medium=1, sweep_interval_seconds=0.1)
    )
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request = await _one_pending(harness)

    async def expired() -> bool:
        got = await harness.get(f"/api/approvals/{request['id']}")
        return bool(got["state"] == "expired")

    await eventually(expired, timeout_seconds=10, what="the request to expire")
    async with harness.api("alice") as api:
        response = await api.post(f"/api/approvals/{request['id']}/approve")
    assert response.status_code in (409, 410)
    run = await harness.get(f"/api/runs/{request['run_id']}")
    assert run["state"] == "expired"
    assert writes(harness.emulator, "DELETE") == []


async def test_tokens_are_required_and_checked(harness: Harness) -> None:
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()
    request = await _one_pending(harness)
    async with harness.api(None) as anonymous:
        assert (await anonymous.get("/api/approvals")).status_code == 401
        forged = await anonymous.post(
            f"/api/approvals/{request['id']}/approve", headers={"Authorization": "Bearer not-a-token"}
        )
        assert forged.status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"kubernetes": "ok", "redis": "ok"}
        metrics = (await anonymous.get("/metrics")).text
        assert "aiops_approvals_pending 1.0" in metrics
        assert 'aiops_steps_total{outcome="awaiting_approval",risk="medium"} 1.0' in metrics
    assert writes(harness.emulator, "DELETE") == []
