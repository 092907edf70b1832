"""Every way an approval request expires ends its run the same way and gives its reservations back.

A medium-risk step (the crash-loop playbook's ``delete_pod``) waits for approval with its
blast-radius reservations taken when the request was opened: a unit of the namespace and cluster
write budgets, the playbook's rate-limit claim on the workload and the workload's lease. Its
request then expires, by each of the three paths that expire requests:

* ``inline``: someone approves just after the TTL. The approval is refused with 410, and the same
  call ends the run (before the fix the run stayed ``waiting_approval`` for ever, holding its
  rate-limit claim and workload lease, while ``aiops_approvals_pending`` said 0);
* ``sweeper``: the periodic sweep expires it;
* ``restart``: the operator was down when the TTL ran out; the restarted one expires it as it
  resumes its runs.

Each ends identically: request ``expired`` and no longer pending, step and run ``expired``, no
claim or lease left, the budget unit given back, ``aiops_approvals_pending`` 0.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiops.settings import ApprovalSettings
from aiops.store import Store
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, eventually, make_settings, step_of


async def _reservations(redis_url: str, store: Store, holder: str) -> dict[str, Any]:
    """The claims and leases under the store's prefix, and the budget windows holding ``holder``."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    prefix = store.prefix + "{guards}:"  # the guards' keys share one hash tag (aiops.store.reservations)
    try:
        claims = {
            key.removeprefix(prefix): await client.get(key)
            async for key in client.scan_iter(match=f"{prefix}claim:*")
            if ":rate:" in key or ":lease:" in key
        }
        windows = [
            key.removeprefix(prefix)
            async for key in client.scan_iter(match=f"{prefix}window:budget:*")
            if await client.zscore(key, holder) is not None
        ]
    finally:
        await client.aclose()
    return {"claims": claims, "budget": windows}


async def _wait_past(expires_at: str) -> None:
    left = (datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, left) + 0.05)


@pytest.mark.parametrize("path", ["inline", "sweeper", "restart"])
async def test_every_expiry_path_ends_the_run_and_gives_back_its_reservations(
    harness: Harness, store: Store, redis_url: str, path: str
) -> None:
    sweep = 0.2 if path == "sweeper" else 300.0  # 300: the sweeper runs once, at start
    harness.settings = make_settings(
        harness.emulator, approvals=ApprovalSettings(ttl_seconds_medium=2, sweep_interval_seconds=sweep)
    )
    workloads.seed_crash_loop(harness.emulator)
    await harness.start()

    async def one_pending() -> bool:
        return len(await harness.pending()) == 1

    await eventually(one_pending, what="one pending approval")
    (request,) = await harness.pending()
    holder = f"{request['run_id']}:{request['step_index']}"
    held = await _reservations(redis_url, store, holder)
    assert {name.split(":")[1] for name in held["claims"]} == {"rate", "lease"}, held
    assert set(held["claims"].values()) == {holder} and len(held["budget"]) == 2, held

    if path == "inline":
        await _wait_past(request["expires_at"])
        async with harness.api("alice") as api:
            answer = await api.post(f"/api/approvals/{request['id']}/approve")
        assert answer.status_code == 410, answer.text
        run = await harness.get(f"/api/runs/{request['run_id']}")  # ended by that same call
    else:
        if path == "restart":
            await harness.stop()
            await _wait_past(request["expires_at"])
            await harness.start()
        run = await harness.finished_run(request["run_id"])

    step = step_of(run, "delete_pod")
    assert (run["state"], run["reason"]) == ("expired", f"approval for step {step['name']!r} expired")
    assert (step["state"], step["approval_id"]) == ("expired", request["id"])
    assert (await harness.get(f"/api/approvals/{request['id']}"))["state"] == "expired"
    assert await harness.pending() == []
    assert await _reservations(redis_url, store, holder) == {"claims": {}, "budget": []}
    async with harness.api(None) as anonymous:
        assert "aiops_approvals_pending 0.0" in (await anonymous.get("/metrics")).text
