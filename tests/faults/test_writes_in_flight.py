"""Redis killed while approved writes are in flight: the operator reconciles the runs by itself.

Six crash-looping Deployments each get a run whose ``delete_pod`` step waits for approval. The
emulated API server holds every pod DELETE (a kmock reaction that waits, then lets the request
through to the emulation), so the test knows all six approved writes are in flight. Then Redis (a
private ``redis-server`` with its append-only file) is SIGKILLed and the DELETEs are let through:
the writes land, but the operator cannot record their outcome, so every approver gets 503.

Before the fix the six runs stayed ``running`` until the operator was restarted, with their
verification never started and their leases held. Now, once Redis is back and without any
restart, the operator records what it knows (each DELETE's answer, kept in memory, and each audit
entry, queued), starts the verification it owed, closes the requests and gives back the leases:
every run ends (here ``succeeded``: the emulated ReplicaSet controller replaces each pod), each
pod was deleted exactly once, and the audit log has one entry per write.

A second test covers a step this process claimed and then lost track of (its outcome is not in
memory): it is marked ``unknown``, escalated and released, and never run again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aiops.emulator import ClusterEmulator
from aiops.emulator.controllers import running_controllers
from aiops.settings import ApprovalSettings, SafetySettings
from aiops.store import Store
from tests.operator import workloads
from tests.support.operator_fixtures import Harness, make_settings, step_of, writes
from tests.support.redis_process import RedisProcess

BOUND = 20.0
DEPLOYMENTS = 6


def _settings(emulator: ClusterEmulator) -> Any:
    return make_settings(
        emulator,
        approvals=ApprovalSettings(sweep_interval_seconds=0.2),
        safety=SafetySettings(
            budget_per_namespace=100,
            budget_per_cluster=100,
            verify_poll_seconds=0.05,
            verify_settle_seconds=0.0,
            verify_timeout_seconds=5.0,
        ),
    )


@pytest.fixture
async def harness_on(
    emulator: ClusterEmulator, redis_process: RedisProcess
) -> AsyncIterator[tuple[Harness, Store]]:
    """The runtime in this process on the emulator and a private Redis with an append-only file."""
    store = Store.connect(redis_process.url, prefix="aiops:", timeout_seconds=2)
    harness = Harness(emulator, store, _settings(emulator))
    try:
        yield harness, store
    finally:
        await harness.stop()
        await store.close()


async def _until(what: str, predicate: Callable[[], Awaitable[bool]], harness: Harness) -> None:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        assert harness.serving, "the runtime ended"
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {BOUND} s waiting for {what}")


async def _pending(harness: Harness, count: int) -> list[dict[str, Any]]:
    async def ready() -> bool:
        return len(await harness.pending()) == count

    await _until(f"{count} pending approvals", ready, harness)
    return await harness.pending()


async def _runs_ended(harness: Harness, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}

    async def ended() -> bool:
        for run_id in run_ids:
            runs[run_id] = await harness.get(f"/api/runs/{run_id}")
        return all(run["state"] not in ("running", "waiting_approval") for run in runs.values())

    await _until("every run to end", ended, harness)
    return runs


async def _held_claims(store: Store) -> list[str]:
    """The concurrency leases held under the store's prefix (a rate-limit claim stays after a
    write: that is the rate limit)."""
    raw = store._r
    return [key async for key in raw.scan_iter(match=store.reservations.claim_key("lease:*"))]


async def test_writes_in_flight_when_redis_dies_are_reconciled_without_a_restart(
    harness_on: tuple[Harness, Store], redis_process: RedisProcess
) -> None:
    harness, store = harness_on
    emu = harness.emulator
    for i in range(DEPLOYMENTS):
        workloads.seed_crash_loop(emu, name=f"web-{i}")
    await harness.start()
    requests = await _pending(harness, DEPLOYMENTS)

    held: list[str] = []
    release = asyncio.Event()

    async def hold(request: Any) -> None:  # falls through to the emulated API once released
        held.append(request.url.path)
        await release.wait()

    emu["delete"][lambda request: "/pods/" in request.url.path] << (hold,)
    async with running_controllers(emu, interval_seconds=0.05), harness.api("alice") as api:
        approvals = [asyncio.create_task(api.post(f"/api/approvals/{r['id']}/approve")) for r in requests]

        async def all_in_flight() -> bool:
            return len(held) == DEPLOYMENTS

        await _until("every approved DELETE to be in flight", all_in_flight, harness)
        await redis_process.kill()
        release.set()
        answers = await asyncio.gather(*approvals)
        assert [a.status_code for a in answers] == [503] * DEPLOYMENTS, [a.text for a in answers]
        assert all("Redis did not answer" in a.json()["detail"] for a in answers)
        assert len(writes(emu, "DELETE", "/pods/")) == DEPLOYMENTS  # the writes landed
        assert harness.serving

        await redis_process.start()  # the same data, from the append-only file; no operator restart
        runs = await _runs_ended(harness, [r["run_id"] for r in requests])

    for request in requests:
        run = runs[request["run_id"]]
        step = step_of(run, "delete_pod")
        assert (run["state"], step["state"]) == ("succeeded", "succeeded"), run
        assert step["approved_by"] == "alice" and step["verification"]["state"] == "verified", step
        closed = (await harness.get(f"/api/approvals/{request['id']}"))["closed"]
        assert closed["outcome"] == "executed", closed
    deletes = [call.path for call in writes(emu, "DELETE", "/pods/")]
    assert len(deletes) == len(set(deletes)) == DEPLOYMENTS  # each pod once, never twice
    audit = await harness.get("/api/audit")
    assert sorted(e["run_id"] for e in audit) == sorted(r["run_id"] for r in requests)
    assert await _held_claims(store) == []
    async with harness.api(None) as anonymous:
        assert "aiops_approvals_pending 0.0" in (await anonymous.get("/metrics")).text


async def test_a_step_this_process_claimed_and_lost_is_unknown_escalated_and_never_rerun(
    harness_on: tuple[Harness, Store],
) -> None:
    harness, store = harness_on
    workloads.seed_crash_loop(harness.emulator)
    services = await harness.start()
    (request,) = await _pending(harness, 1)
    # The step as a write that died with its outcome unrecorded leaves it: marked running and
    # claimed by this very process, with no work behind it any more (e.g. the claim's answer was
    # lost with the connection). Written as the executor writes them.
    run = await services.runs.get(request["run_id"])
    assert run is not None
    rec = run.steps[request["step_index"]]
    rec.state = type(rec.state)("running")
    run.state = type(run.state)("running")
    await services.runs.save(run)
    assert await store.claim(f"step:{run.id}:{rec.index}", services.executor.instance_id)
    assert await _held_claims(store) != []

    (ended,) = (await _runs_ended(harness, [run.id])).values()
    step = step_of(ended, "delete_pod")
    assert (ended["state"], step["state"]) == ("failed", "unknown"), ended
    assert "not re-run" in step["error"]
    assert [e["kind"] for e in ended["escalations"]] == ["unknown"]
    assert writes(harness.emulator, "DELETE", "/pods/") == []
    assert await _held_claims(store) == []
    assert json.loads(json.dumps(ended))["reason"].startswith(f"step {step['name']!r} outcome unknown")
